"""The ``fastbp`` command line (also ``python -m fastbp``).

Each subcommand is one ``add_<name>_command(subcommands)`` function that adds
its parser and sets ``run`` to the function doing the work; list it in
SUBCOMMANDS. ``run(args, parser)`` returns the exit status and reports bad
arguments with ``parser.error`` (status 2, one line).
"""

import argparse
import sys

from . import _validation as check
from . import animate, demo, trainer
from .sweeps import add_sweep_command

# ---------------------------------------------------------------- the parser


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and status 2), no usage dump."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


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
    command.add_argument("--hidden", type=check.int_argument(1),
                         default=3, help="hidden-layer size of the main network (default: 3)")
    command.add_argument("--passes", type=check.int_argument(demo.MIN_PASSES),
                         default=20000, help="gradient-descent passes for every network (default: 20000)")
    command.add_argument("--seed", type=check.argument_type(int, _check_seed), default=0,
                         help="seed of the data and of the initial weights (default: 0)")
    command.add_argument("--epsilon", type=check.positive_real_argument(),
                         default=0.01, help="gradient-descent step size (default: 0.01, the lecture's); at 0.002 "
                                            "the networks with H >= 3 settle")
    command.set_defaults(run=run_demo, command_parser=command)


def _check_seed(seed):
    seed = check.check_int(seed, "value", 0)
    if seed + demo.TEST_SEED_OFFSET > trainer.MAX_SEED:
        raise ValueError("value must be <= %d, got %d" % (trainer.MAX_SEED - demo.TEST_SEED_OFFSET, seed))
    return seed


# ---------------------------------------------------------------- fastbp animate

def run_animate(args, parser):
    try:
        animate.check_out_path(args.out)
    except ValueError as err:
        parser.error(str(err))
    return animate.run(args.out, hidden=args.hidden, epsilon=args.epsilon, passes=args.passes)


def add_animate_command(subcommands):
    command = subcommands.add_parser(
        "animate", help="the lecture's training as an animated GIF: the boundary moving, the loss growing",
        description="Train the lecture's network and write an animated GIF: its decision boundary after "
                    "logarithmically spaced passes (and at the top of each spike of the loss) beside the "
                    "loss curve up to that pass, ending with the last two passes, one pass apart.")
    command.add_argument("--hidden", type=check.int_argument(1),
                         default=3, help="hidden-layer size (default: 3)")
    command.add_argument("--epsilon", type=check.positive_real_argument(),
                         default=0.01, help="gradient-descent step size (default: 0.01, the lecture's)")
    command.add_argument("--passes", type=check.int_argument(animate.MIN_PASSES),
                         default=20000, help="gradient-descent passes (default: 20000)")
    command.add_argument("--out", default="training.gif", help="the GIF file to write (default: training.gif)")
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


SUBCOMMANDS = (add_demo_command, add_animate_command, add_check_command, add_sweep_command)


def build_parser():
    parser = _OneLineErrorParser(prog="fastbp", description="The backprop lecture's network, compiled.")
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
