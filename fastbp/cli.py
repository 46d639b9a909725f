"""The ``fastbp`` command line (also ``python -m fastbp``).

Each subcommand is one ``add_<name>_command(subcommands)`` function that adds
its parser and sets ``run`` to the function doing the work; list it in
SUBCOMMANDS. ``run(args, parser)`` returns the exit status and reports bad
arguments with ``parser.error`` (status 2, one line).
"""

import argparse
import os
import sys

from . import _validation as check
from . import animate, demo, diagnostics, lecture, reference, sweeps, trainer
from ._version import __version__
from .bench import command as bench_command

# ---------------------------------------------------------------- the parser


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and status 2), no usage dump."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


# Every command's --seed: the seed of the training sample and of the initial weights.
SEED_ARGUMENT = check.argument_type(int, lambda value: lecture.check_seed(value, "value"))


# ---------------------------------------------------------------- fastbp demo

def run_demo(args, parser):
    try:
        demo.prepare_out_dir(args.out)
    except demo.OutDirError as err:
        parser.error(str(err))
    return demo.run(args.out, hidden=args.hidden, passes=args.passes, seed=args.seed, epsilon=args.epsilon)


def add_demo_command(subcommands):
    command = subcommands.add_parser(
        "demo", help="the whole lecture: data, baseline, network, hidden-layer sweep, stability report",
        description="Run the backprop lecture end to end and save its pictures as PNG files.")
    command.add_argument("--out", default="fastbp-demo", help="directory for the pictures, created if missing "
                                                              "(default: ./fastbp-demo)")
    command.add_argument("--hidden", type=check.int_argument(1), default=lecture.HIDDEN,
                         help="hidden-layer size of the main network (default: %d)" % lecture.HIDDEN)
    command.add_argument("--passes", type=check.int_argument(lecture.MIN_PASSES), default=lecture.NUM_PASSES,
                         help="gradient-descent passes for every network, at least %d (default: %d)"
                              % (lecture.MIN_PASSES, lecture.NUM_PASSES))
    command.add_argument("--seed", type=SEED_ARGUMENT, default=lecture.SEED,
                         help="seed of the data and of the initial weights (default: %d)" % lecture.SEED)
    command.add_argument("--epsilon", type=check.positive_real_argument(), default=lecture.EPSILON,
                         help="gradient-descent step size (default: %g, the lecture's); at 0.002 "
                              "the networks with H >= 3 settle" % lecture.EPSILON)
    command.set_defaults(run=run_demo, command_parser=command)


# ---------------------------------------------------------------- fastbp animate

def run_animate(args, parser):
    try:
        animate.prepare_out_path(args.out)
    except ValueError as err:
        parser.error(str(err))
    return animate.run(args.out, hidden=args.hidden, epsilon=args.epsilon, passes=args.passes, seed=args.seed)


def add_animate_command(subcommands):
    command = subcommands.add_parser(
        "animate", help="the lecture's training as an animated GIF: the boundary moving, the loss falling",
        description="Train the lecture's network and write an animated GIF: its decision boundary after "
                    "logarithmically spaced passes (and at the top of each spike of the loss) beside the "
                    "loss curve up to that pass, ending with the last two passes, one pass apart, and what "
                    "changes between them. Passes count from 0, as in the lecture's printed losses.")
    command.add_argument("--hidden", type=check.int_argument(1), default=lecture.HIDDEN,
                         help="hidden-layer size (default: %d)" % lecture.HIDDEN)
    command.add_argument("--epsilon", type=check.positive_real_argument(), default=lecture.EPSILON,
                         help="gradient-descent step size (default: %g, the lecture's)" % lecture.EPSILON)
    command.add_argument("--passes", type=check.int_argument(animate.MIN_ANIMATED_PASSES), default=lecture.NUM_PASSES,
                         help="gradient-descent passes, at least %d (default: %d)"
                              % (animate.MIN_ANIMATED_PASSES, lecture.NUM_PASSES))
    command.add_argument("--seed", type=SEED_ARGUMENT, default=lecture.SEED,
                         help="seed of the data and of the initial weights (default: %d)" % lecture.SEED)
    command.add_argument("--out", default="training.gif",
                         help="the GIF file to write, its folder created if missing (default: training.gif)")
    command.set_defaults(run=run_animate, command_parser=command)


# ---------------------------------------------------------------- fastbp check

def run_check(args, parser):
    from . import exercise

    if args.template is not None:
        if args.file is not None:
            parser.error("--template writes a new file to fill in: give it no FILE.py to check")
        try:
            exercise.write_template(args.template)
        except exercise.StudentFileError as err:
            parser.error(str(err))
        print("wrote %s: fill in backprop, then run: fastbp check %s" % (args.template, args.template))
        return 0
    if args.file is None:
        parser.error("the following arguments are required: FILE.py (or --template NEW.py to start one)")
    return exercise.check_file(args.file)


def add_check_command(subcommands):
    command = subcommands.add_parser(
        "check", help="check a student's backprop function against the reference",
        description="Load the function backprop from FILE.py, run it on small random problems and judge "
                    "each gradient it returns against the reference and central differences (fastbp check "
                    "--template NEW.py writes a file with the signature to fill in). Exit status 0: all correct; "
                    "1: some gradient wrong; 2: the file could not be checked.")
    command.add_argument("file", metavar="FILE.py", nargs="?",
                         help="a Python file defining backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda)")
    command.add_argument("--template", metavar="NEW.py",
                         help="write the lecture's backprop template to NEW.py (never over an existing file)")
    command.set_defaults(run=run_check, command_parser=command)


# ---------------------------------------------------------------- fastbp sweep

def run_sweep(args, parser):
    try:
        rows = sweeps.sweep(args.hidden, args.epsilon, args.seed, args.passes, args.activation, args.data, args.out,
                            args.n_jobs, args.backend, args.scheduler, args.scheduler_timeout, progress=True)
    except (sweeps.SchedulerUnreachable, ImportError) as err:
        parser.exit(1, "%s: error: %s\n" % (parser.prog, err))
    except ValueError as err:
        parser.error(str(err))
    print(sweeps.format_table(rows))
    print("\nFiles written:\n  %s\n  %s" % (os.path.join(args.out, "sweep.csv"), os.path.join(args.out, "sweep.png")))
    return 0


def _n_jobs(value):
    return value if value == -1 else check.check_int(value, "value", 1)


def add_sweep_command(subcommands):
    command = subcommands.add_parser(
        "sweep", help="train a grid of networks in parallel, locally or on a Dask cluster",
        description="Train one network per combination of the values given, through joblib (threads or "
                    "processes here, or an existing Dask cluster with --scheduler), and write DIR/sweep.csv "
                    "and the heat map DIR/sweep.png.")
    command.add_argument("--hidden", nargs="+", type=check.int_argument(1), default=list(sweeps.DEFAULT_HIDDEN),
                         help="hidden-layer sizes (default: %s)" % " ".join(map(str, sweeps.DEFAULT_HIDDEN)))
    command.add_argument("--epsilon", nargs="+", type=check.positive_real_argument(), default=[lecture.EPSILON],
                         help="step sizes (default: %g)" % lecture.EPSILON)
    command.add_argument("--seed", nargs="+", type=SEED_ARGUMENT, default=[lecture.SEED],
                         help="seeds of the data and the initial weights (default: %d)" % lecture.SEED)
    command.add_argument("--passes", type=check.int_argument(lecture.MIN_PASSES), default=lecture.NUM_PASSES,
                         help="passes per network, at least %d; runs shorter than %d are too short for their "
                              "run_class (default: %d)"
                              % (lecture.MIN_PASSES, diagnostics.MIN_CLASSIFIED_PASSES, lecture.NUM_PASSES))
    command.add_argument("--activation", nargs="+", choices=sorted(reference.ACTIVATIONS), default=["tanh"],
                         help="hidden-layer activations (default: tanh)")
    command.add_argument("--data", choices=sweeps.DATA_SETS, default="moons", help="data set (default: moons)")
    command.add_argument("--out", default="fastbp-sweep", help="directory for sweep.csv and sweep.png, created "
                                                               "if missing (default: ./fastbp-sweep)")
    command.add_argument("--n-jobs", type=check.argument_type(int, _n_jobs), default=None,
                         help="parallel workers, -1 for one per core (default: 1 here, "
                              "every worker of the cluster with --scheduler)")
    command.add_argument("--backend", choices=sweeps.BACKENDS, default="threads",
                         help="local workers: threads (the kernels release the GIL) or processes "
                              "(default: threads)")
    command.add_argument("--scheduler", metavar="ADDRESS", default=None,
                         help="run on the Dask cluster whose scheduler is at ADDRESS, e.g. tcp://10.0.0.5:8786")
    command.add_argument("--scheduler-timeout", type=check.positive_real_argument(),
                         default=sweeps.SCHEDULER_TIMEOUT_SECONDS, metavar="SECONDS",
                         help="give up on an unreachable scheduler after this long (default: %g)"
                              % sweeps.SCHEDULER_TIMEOUT_SECONDS)
    command.set_defaults(run=run_sweep, command_parser=command)


# ---------------------------------------------------------------- fastbp bench

def add_bench_command(subcommands):
    command = subcommands.add_parser(
        "bench", help="fastbp against its installed peers (JAX, PyTorch, scikit-learn, NumPy): tables and charts",
        description="Time fastbp and every installed peer, each in its own process, on the three jobs, a sweep "
                    "of shapes and a contention test (or on your own --shape), with the machine's GEMM rate "
                    "measured in the same run as the ceiling. The full run takes about 20 minutes on 2 cores; "
                    "--quick about a minute. Peers not installed are listed as skipped.")
    command.add_argument("--quick", action="store_true",
                         help="a few shapes, fastbp, NumPy and JAX only, shorter runs (about a minute)")
    command.add_argument("--parts", nargs="+", choices=bench_command.PARTS, default=None,
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
    command.set_defaults(run=bench_command.run_bench, command_parser=command)


# ---------------------------------------------------------------- fastbp playground

def add_playground_command(subcommands):
    """``fastbp playground``: the live page in the browser (needs the optional extra fastbp[playground])."""
    def run_playground(args, parser):
        try:
            from .playground_app import server
        except ModuleNotFoundError as err:
            if err.name not in ("panel", "bokeh", "param"):
                raise
            print('fastbp playground needs the optional web libraries: pip install "fastbp[playground]"',
                  file=sys.stderr)
            return 2
        from .exercise import StudentFileError
        try:
            return server.serve(args.host, args.port, not args.no_browser, args.backprop)
        except StudentFileError as err:
            parser.error(str(err))
        except OSError as err:  # the port is taken, or the address is not this machine's
            parser.error("cannot listen on %s:%d: %s" % (args.host, args.port, err.strerror or err))

    command = subcommands.add_parser(
        "playground", help="watch the lecture's network learn, live, in the browser",
        description="Start a local web page that trains the lecture's network (or any of its generalisations) "
                    "live with fastbp's compiled kernels and draws the decision boundary, every unit, the loss "
                    "and the sharpness as it trains. Ctrl-C stops it.")
    def port(text):
        value = check.int_argument(0)(text)
        if value > 65535:
            raise argparse.ArgumentTypeError("a port is at most 65535, got %d" % value)
        return value

    command.add_argument("--port", type=port, default=5006,
                         help="the port to listen on (default: 5006; 0: any free port)")
    command.add_argument("--host", default="127.0.0.1",
                         help="the address to listen on (default: 127.0.0.1, this machine only; another address "
                              "lets other machines train here, with a warning)")
    command.add_argument("--no-browser", action="store_true", help="do not open the page in the browser")
    command.add_argument("--backprop", metavar="FILE.py",
                         help="train the function backprop of FILE.py (the signature of fastbp check) beside "
                              "the reference and show where the two runs part")
    command.set_defaults(run=run_playground, command_parser=command)


SUBCOMMANDS = (add_demo_command, add_animate_command, add_check_command, add_sweep_command, add_bench_command,
               add_playground_command)


def build_parser():
    parser = _OneLineErrorParser(prog="fastbp", description="The backprop lecture's network, compiled.")
    parser.add_argument("--version", action="version", version="fastbp " + __version__)
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in SUBCOMMANDS:
        add_command(subcommands)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # No command is a usage error, as for any command-line tool with subcommands.
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args, args.command_parser)
    except trainer.DivergenceError as err:  # a step size too large: a message and status 1, not a traceback
        print("fastbp %s: %s" % (args.command, err), file=sys.stderr)
        return 1
