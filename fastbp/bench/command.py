"""``fastbp bench``: fastbp against the installed peers, every contender in its own process.

Writes benchmark.md (the tables), benchmark.json (every measurement) and the
charts into --out, by default a new folder; never into the results committed
with fastbp's source, unless --write-committed-results says so.
"""

import json
import os

PARTS = ("jobs", "sweep", "contention")


def add_bench_command(subcommands):
    command = subcommands.add_parser(
        "bench", help="fastbp against its installed peers (JAX, PyTorch, scikit-learn, NumPy): tables and charts",
        description="Time fastbp and every installed peer, each in its own process, on the three jobs, a sweep "
                    "of shapes and a contention test (or on your own --shape), with the machine's GEMM rate "
                    "measured in the same run as the ceiling. The full run takes about 20 minutes on 2 cores; "
                    "--quick about a minute. Peers not installed are listed as skipped.")
    command.add_argument("--quick", action="store_true",
                         help="a few shapes, fastbp, NumPy and JAX only, shorter runs (about a minute)")
    command.add_argument("--parts", nargs="+", choices=PARTS, default=None,
                         help="which parts to run (default: all three; only your shape with --shape)")
    command.add_argument("--shape", metavar="N,D,H1[,H2...],C[,bB]",
                         help="your own shape: N samples, D inputs, the hidden widths, C classes and, marked "
                              "with b, a minibatch size (e.g. 20000,784,256,10,b128; full batch without it)")
    command.add_argument("--out", metavar="DIR", default=None,
                         help="folder for benchmark.md, benchmark.json and the charts (default: a new folder "
                              "fastbp-bench-DATE-TIME here); never one holding results already")
    command.add_argument("--note", default=None, help="a sentence printed at the top of the results "
                                                      "(for example the conditions of the run)")
    command.add_argument("--render", metavar="JSON", default=None,
                         help="only redraw the Markdown and the charts of a saved benchmark.json, beside it")
    command.add_argument("--write-committed-results", action="store_true",
                         help="for fastbp's developers: allow --out to be the results committed with the source "
                              "(bench/results), replacing them")
    command.set_defaults(run=run_bench, command_parser=command)


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
