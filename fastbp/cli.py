"""The ``fastbp`` command line (also ``python -m fastbp``).

Each subcommand is one ``add_<name>_command(subcommands)`` function that adds
its parser and sets ``run`` to the function doing the work; list it in
SUBCOMMANDS. ``run(args, parser)`` returns the exit status and reports bad
arguments with ``parser.error`` (status 2, one line).
"""

import argparse
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from . import _validation as check
from . import datasets, diagnostics, trainer
from .sweeps import add_sweep_command

# ---------------------------------------------------------------- the parser


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and status 2), no usage dump."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def _argument_type(convert, validate):
    """An argparse type: convert the string, then check it with a fastbp._validation check."""
    def parse(text):
        try:
            return validate(convert(text))
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return parse


# ---------------------------------------------------------------- fastbp demo

SWEEP_HIDDEN_SIZES = (1, 2, 3, 4, 5, 20, 50)  # the lecture's sweep
REG_LAMBDA = 0.01  # the lecture's regularisation strength
DATA_SIZE = 200  # the lecture's make_moons(200, noise=0.20)
DATA_NOISE = 0.20
TEST_SEED_OFFSET = 1  # the fresh test sample is drawn with seed + 1
# Losses are recorded every RECORD_EVERY passes: fine enough for the loss curve,
# and odd, so that a period-2 cycle still alternates in the record
# (diagnostics.classify_run). Recording every pass would cost a call into the
# compiled loop per pass and double the sweep's time.
RECORD_EVERY = 25
MIN_PASSES = RECORD_EVERY * diagnostics.MIN_LOSSES  # classify_run needs MIN_LOSSES losses
# The sweep trains in worker threads while the main thread draws: the compiled
# loop releases the GIL. Two threads for the two cores this demo is sized for.
SWEEP_THREADS = 2
FIGURE_SIZE = (10, 8)  # the lecture's rcParams['figure.figsize']
LOSS_FIGURE_SIZE = (14, 5)
SWEEP_ROWS, SWEEP_COLUMNS = 4, 2
SWEEP_FIGURE_SIZE = (13, 21)
# Fixed margins: room for the three-line panel titles, and cheaper than tight_layout.
SWEEP_FIGURE_MARGINS = dict(left=0.05, right=0.97, bottom=0.03, top=0.95, hspace=0.35, wspace=0.12)
# The many-class picture (the lecture's exercise 4): three spiral arms, a step
# size at which this network settles (docs/numerics.md: smaller steps are stable).
SPIRAL_SAMPLES_PER_CLASS, SPIRAL_CLASSES = 100, 3
SPIRAL_HIDDEN = 20
SPIRAL_EPSILON = 0.002
SPIRAL_PASSES = 5000


@dataclass
class NetworkResult:
    hidden: int
    run: trainer.TrainingRun
    seconds: float
    sharpness: float
    run_class: str


def train_and_diagnose(X, y, hidden, num_passes, epsilon, seed, print_loss=False):
    """Train with the compiled backend, then measure sharpness and classify the run."""
    start = time.perf_counter()
    run = trainer.train(X, y, hidden, num_passes=num_passes, epsilon=epsilon, reg_lambda=REG_LAMBDA,
                        seed=seed, backend="cython", loss_every=RECORD_EVERY, print_loss=print_loss)
    seconds = time.perf_counter() - start
    window = run.loss_passes >= num_passes - diagnostics.CLASSIFY_WINDOW
    return NetworkResult(hidden, run, seconds, diagnostics.sharpness(run.model, X, y, REG_LAMBDA),
                         diagnostics.classify_run(run.losses[window]))


def train_spiral(seed):
    X, y = datasets.make_spiral(SPIRAL_SAMPLES_PER_CLASS, SPIRAL_CLASSES, seed=seed)
    model = trainer.train(X, y, SPIRAL_HIDDEN, num_passes=SPIRAL_PASSES, epsilon=SPIRAL_EPSILON,
                          reg_lambda=REG_LAMBDA, seed=seed).model
    return X, y, model


def accuracy(predicted, y):
    return float(np.mean(predicted == y))


def _prepare_out_dir(out, parser):
    if os.path.exists(out) and not os.path.isdir(out):
        parser.error("--out %s exists and is not a directory" % out)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        parser.error("cannot create --out %s: %s" % (out, err.strerror))


def _fit_logistic_regression(X, y):
    from sklearn.linear_model import LogisticRegressionCV

    # Newer scikit-learn warns that some defaults will change; the lecture's
    # baseline is the estimator with today's defaults.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return LogisticRegressionCV().fit(X, y)


def _stability_line(result, epsilon):
    limit = 2 / epsilon
    relation = "<" if result.sharpness < limit else ">="
    return "sharpness %.1f %s 2/epsilon = %g: %s" % (result.sharpness, relation, limit, result.run_class)


def _draw_sweep_panel(ax, result, X, y, epsilon):
    from . import plot

    model = result.run.model
    plot.plot_decision_boundary(lambda points: trainer.predict(model, points), X, y, ax)
    ax.set_title("Hidden Layer size %d\ntraining accuracy %.3f\n%s"
                 % (result.hidden, accuracy(trainer.predict(model, X), y), _stability_line(result, epsilon)))


def _draw_loss_curve(fig, result, num_passes):
    from . import plot

    run = result.run
    last = run.loss_passes >= num_passes - diagnostics.CLASSIFY_WINDOW
    plot.plot_loss_curve(run.loss_passes, run.losses, fig.add_subplot(1, 2, 1),
                         title="Loss of the H = %d run, every %d passes" % (result.hidden, RECORD_EVERY))
    # Dots, not a line: joined, a period-2 cycle sampled every RECORD_EVERY passes
    # would look like a slower zigzag.
    plot.plot_loss_curve(run.loss_passes[last], run.losses[last], fig.add_subplot(1, 2, 2),
                         title="Its last %d passes, every %d: %s"
                         % (min(diagnostics.CLASSIFY_WINDOW, num_passes), RECORD_EVERY, result.run_class),
                         marker=".", linestyle="none")


def _print_summary(logistic, logistic_seconds, results, X, y, X_test, y_test, test_seed):
    print("\nSummary (test set: a fresh make_moons sample drawn with seed %d)" % test_seed)
    print("  %-22s %10s %10s %11s %9s" % ("model", "train acc", "test acc", "final loss", "time (s)"))
    print("  %-22s %10.3f %10.3f %11s %9.2f"
          % ("Logistic Regression", accuracy(logistic.predict(X), y), accuracy(logistic.predict(X_test), y_test),
             "-", logistic_seconds))
    for hidden in sorted(results):
        model = results[hidden].run.model
        print("  %-22s %10.3f %10.3f %11.6f %9.2f"
              % ("network, H = %d" % hidden, accuracy(trainer.predict(model, X), y),
                 accuracy(trainer.predict(model, X_test), y_test), trainer.calculate_loss(model, X, y, REG_LAMBDA),
                 results[hidden].seconds))
    print("  (the sweep trains %d networks at a time, so their times overlap)" % SWEEP_THREADS)


def run_demo(args, parser):
    _prepare_out_dir(args.out, parser)
    X, y = datasets.make_moons(DATA_SIZE, noise=DATA_NOISE, seed=args.seed)
    test_seed = args.seed + TEST_SEED_OFFSET
    X_test, y_test = datasets.make_moons(DATA_SIZE, noise=DATA_NOISE, seed=test_seed)
    written = []

    def save(fig, name):
        path = os.path.join(args.out, name)
        fig.savefig(path)
        written.append(path)

    # The demo runs its own threads; BLAS threads (in the sharpness and the
    # baseline) would only compete with them for the two cores.
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=SWEEP_THREADS) as pool:
        # Started first, largest networks first: they take longest.
        sweep_jobs = [pool.submit(train_and_diagnose, X, y, hidden, args.passes, args.epsilon, args.seed)
                      for hidden in sorted(SWEEP_HIDDEN_SIZES, reverse=True) if hidden != args.hidden]
        spiral_job = pool.submit(train_spiral, args.seed)
        # matplotlib is imported here, not at the top, so that neither `fastbp --help`
        # nor the sweep waits for it. Figure renders PNG with Agg: no display involved.
        from matplotlib.figure import Figure

        from . import plot

        print("fastbp demo: the backprop lecture end to end (epsilon %g, %d passes, seed %d)\n"
              % (args.epsilon, args.passes, args.seed))

        print("The data: make_moons(%d, noise=%.2f), two interleaved half moons" % (DATA_SIZE, DATA_NOISE))
        fig = Figure(figsize=FIGURE_SIZE)
        plot.plot_data(X, y, fig.add_subplot()).set_title("The data set")
        save(fig, "data.png")

        start = time.perf_counter()
        logistic = _fit_logistic_regression(X, y)
        logistic_seconds = time.perf_counter() - start
        print("Logistic Regression (LogisticRegressionCV): training accuracy %.3f; a line cannot follow the moons"
              % accuracy(logistic.predict(X), y))
        fig = Figure(figsize=FIGURE_SIZE)
        plot.plot_decision_boundary(logistic.predict, X, y, fig.add_subplot()).set_title("Logistic Regression")
        save(fig, "logistic_regression.png")

        print("\nThe network with a hidden layer of size %d (compiled backend):" % args.hidden)
        main_result = train_and_diagnose(X, y, args.hidden, args.passes, args.epsilon, args.seed, print_loss=True)
        print("training accuracy %.3f" % accuracy(trainer.predict(main_result.run.model, X), y))
        fig = Figure(figsize=FIGURE_SIZE)
        plot.plot_decision_boundary(lambda points: trainer.predict(main_result.run.model, points), X, y,
                                    fig.add_subplot()).set_title("Decision Boundary for hidden layer size %d"
                                                                 % args.hidden)
        save(fig, "decision_boundary_h%d.png" % args.hidden)
        fig = Figure(figsize=LOSS_FIGURE_SIZE)
        _draw_loss_curve(fig, main_result, args.passes)
        fig.tight_layout()
        save(fig, "loss_curve_h%d.png" % args.hidden)

        # Everything that does not need the sweep is drawn first; then the sweep's
        # panels, as their networks finish, while the largest still trains.
        results = {args.hidden: main_result}
        sweep_fig = Figure(figsize=SWEEP_FIGURE_SIZE)
        sweep_fig.subplots_adjust(**SWEEP_FIGURE_MARGINS)
        panels = {hidden: sweep_fig.add_subplot(SWEEP_ROWS, SWEEP_COLUMNS, panel)
                  for panel, hidden in enumerate(SWEEP_HIDDEN_SIZES, start=1)}
        if args.hidden in panels:
            _draw_sweep_panel(panels[args.hidden], main_result, X, y, args.epsilon)
        for job in as_completed(sweep_jobs):
            result = job.result()
            results[result.hidden] = result
            _draw_sweep_panel(panels[result.hidden], result, X, y, args.epsilon)

    print("\nThe hidden-layer sweep %s; gradient descent can settle only if sharpness < 2/epsilon:"
          % ", ".join(map(str, SWEEP_HIDDEN_SIZES)))
    for hidden in sorted(results):
        print("  H = %2d: %s" % (hidden, _stability_line(results[hidden], args.epsilon)))
    save(sweep_fig, "hidden_layer_sweep.png")

    X_spiral, y_spiral, spiral_model = spiral_job.result()
    print("\nMore than two classes: %d spiral arms, hidden layer size %d (epsilon %g, %d passes): "
          "training accuracy %.3f" % (SPIRAL_CLASSES, SPIRAL_HIDDEN, SPIRAL_EPSILON, SPIRAL_PASSES,
                                       accuracy(trainer.predict(spiral_model, X_spiral), y_spiral)))
    fig = Figure(figsize=FIGURE_SIZE)
    plot.plot_decision_boundary(lambda points: trainer.predict(spiral_model, points), X_spiral, y_spiral,
                                fig.add_subplot()).set_title("Decision Boundary for %d classes (spiral), hidden "
                                                             "layer size %d" % (SPIRAL_CLASSES, SPIRAL_HIDDEN))
    save(fig, "spiral_3_classes.png")

    _print_summary(logistic, logistic_seconds, results, X, y, X_test, y_test, test_seed)
    print("\nFiles written:")
    for path in written:
        print("  " + path)
    return 0


def add_demo_command(subcommands):
    demo = subcommands.add_parser(
        "demo", help="the whole lecture: data, baseline, network, hidden-layer sweep, stability report",
        description="Run the backprop lecture end to end and save its pictures as PNG files.")
    demo.add_argument("--out", default="fastbp-demo", help="directory for the pictures, created if missing "
                                                           "(default: ./fastbp-demo)")
    demo.add_argument("--hidden", type=_argument_type(int, lambda v: check.check_int(v, "value", 1)),
                      default=3, help="hidden-layer size of the main network (default: 3)")
    demo.add_argument("--passes", type=_argument_type(int, lambda v: check.check_int(v, "value", MIN_PASSES)),
                      default=20000, help="gradient-descent passes for every network (default: 20000)")
    demo.add_argument("--seed", type=_argument_type(int, _check_seed), default=0,
                      help="seed of the data and of the initial weights (default: 0)")
    demo.add_argument("--epsilon", type=_argument_type(float, lambda v: check.check_real(v, "value", True)),
                      default=0.01, help="gradient-descent step size (default: 0.01, the lecture's); at 0.002 "
                                         "the networks with H >= 3 settle")
    demo.set_defaults(run=run_demo, command_parser=demo)


def _check_seed(seed):
    seed = check.check_int(seed, "value", 0)
    if seed + TEST_SEED_OFFSET > trainer.MAX_SEED:
        raise ValueError("value must be <= %d, got %d" % (trainer.MAX_SEED - TEST_SEED_OFFSET, seed))
    return seed


# ---------------------------------------------------------------- fastbp check

def run_check(args, parser):
    from . import exercise

    return exercise.check_file(args.file)


def add_check_command(subcommands):
    command = subcommands.add_parser(
        "check", help="check a student's backprop function against the reference",
        description="Load the function backprop from FILE.py, run it on small random problems and judge "
                    "each gradient it returns against the reference and central differences (see "
                    "examples/backprop_template.py for the signature). Exit status 0: all correct; "
                    "1: some gradient wrong; 2: the file could not be checked.")
    command.add_argument("file", metavar="FILE.py",
                         help="a Python file defining backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda)")
    command.set_defaults(run=run_check, command_parser=command)


SUBCOMMANDS = (add_demo_command, add_check_command, add_sweep_command)


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
        parser.print_help()
        return 0
    try:
        return args.run(args, args.command_parser)
    except trainer.DivergenceError as err:  # a step size too large: a message and status 1, not a traceback
        print("fastbp %s: %s" % (args.command, err), file=sys.stderr)
        return 1
