"""``fastbp bench``: fastbp against the installed peers, every contender in its own process.

Writes benchmark.md (the tables), benchmark.json (every measurement) and the
charts into --out, by default a new folder; never into the results committed
with fastbp's source, unless --write-committed-results says so. The options are
parsed in fastbp/cli.py, as every subcommand's; run_bench does the work.
"""

import json
import os

PARTS = ("jobs", "sweep", "contention")


def run_bench(args, parser):
    from . import report, shapes, suite
    user_shape = None
    if args.shape is not None:
        try:
            user_shape = shapes.parse_shape(args.shape)
        except ValueError as err:
            parser.error(str(err))
    if args.render:
        out_dir = os.path.dirname(os.path.abspath(args.render))
        if suite.is_committed_results(out_dir) and not args.write_committed_results:
            parser.error("--render %s would redraw the committed results: add --write-committed-results"
                         % args.render)
        with open(args.render) as f:
            saved = json.load(f)
        return write_outputs(saved, out_dir, saved.get("command", "fastbp bench"))
    out_dir = args.out if args.out is not None else suite.default_out_dir()
    try:
        suite.check_out_dir(out_dir, args.write_committed_results)
    except suite.OutDirError as err:
        parser.error(str(err))
    parts = args.parts if args.parts is not None else (() if user_shape else PARTS)
    os.makedirs(out_dir, exist_ok=True)
    command = command_line(args, out_dir)
    def save(saved, partial):
        saved.update(note=args.note, command=command, partial=partial)
        with open(os.path.join(out_dir, "benchmark.json"), "w") as f:
            json.dump(saved, f, indent=1, default=float)

    saved = suite.run(parts, args.quick, user_shape, log=lambda row: suite.log_row(row) if isinstance(row, dict)
                      else print(row, flush=True), checkpoint=lambda saved: save(saved, True))
    save(report.summarise(saved), False)
    return write_outputs(saved, out_dir, command)


def command_line(args, out_dir):
    """The options of this run, as a command that repeats it."""
    words = ["fastbp bench"] + (["--quick"] if args.quick else [])
    if args.parts is not None:
        words += ["--parts"] + list(args.parts)
    if args.shape is not None:
        words += ["--shape", args.shape]
    words += ["--out", out_dir] + (["--write-committed-results"] if args.write_committed_results else [])
    return " ".join(words)


def write_outputs(saved, out_dir, command):
    from . import charts, markdown, report
    report.summarise(saved)
    text = markdown.write(saved, out_dir, command)
    pictures = charts.write(saved, out_dir)
    print()
    print(text)
    print("\nwrote %s" % ", ".join([os.path.join(out_dir, "benchmark.md"), os.path.join(out_dir, "benchmark.json")]
                                   + pictures))
    return 0
