"""``fastbp demo``: the backprop lecture end to end, printed and drawn.

The data, the linear baseline, the H = 3 network with the lecture's printed
losses, the sweep of hidden-layer sizes with a stability report, a 3-class
spiral, and a summary table; the pictures go to PNG files. :func:`run` does it
all; the command line (:mod:`fastbp.cli`) only parses the options.
"""

import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from . import datasets, diagnostics, lecture, progress, trainer
from .lecture import DATA_NOISE, DATA_SIZE, REG_LAMBDA, SPIRAL_CLASSES, SPIRAL_SAMPLES_PER_CLASS, TEST_SEED_OFFSET

SWEEP_HIDDEN_SIZES = (1, 2, 3, 4, 5, 20, 50)  # the lecture's sweep
# The sweep's networks record their loss every lecture.RECORD_EVERY passes; the
# main network records every pass, for its loss curve's last passes one by one.
# The sweep trains in worker threads while the main thread draws: the compiled
# loop releases the GIL. Two threads for the two cores this demo is sized for.
SWEEP_THREADS = 2
FIGURE_SIZE = (10, 8)  # the lecture's rcParams['figure.figsize']
LOSS_FIGURE_SIZE = (14, 5)
LOSS_FIGURE_MARGINS = dict(left=0.06, right=0.98, bottom=0.11, top=0.92, wspace=0.18)  # cheaper than tight_layout
# The last passes of the main run, drawn one by one: a few dozen show a period-2
# cycle as an alternation; thousands would blur it into two bands.
LAST_PASSES_SHOWN = 40
SWEEP_ROWS, SWEEP_COLUMNS = 4, 2  # seven boundaries, then accuracy against H
SWEEP_FIGURE_SIZE = (13, 22)
# Training and test accuracy against H: black and grey, solid and dashed, so that
# neither reads as one of the classes' colours in the panels above.
ACCURACY_STYLES = (dict(color="#1a1a1a", marker="o", linestyle="-"),
                   dict(color="#808080", marker="s", linestyle="--"))
# Fixed margins: room for the two-line panel titles and the axis labels, and
# cheaper than tight_layout.
SWEEP_FIGURE_MARGINS = dict(left=0.06, right=0.97, bottom=0.04, top=0.94, hspace=0.4, wspace=0.18)
# The many-class picture (the lecture's exercise 4): three spiral arms, a step
# size at which this network settles (docs/numerics.md: smaller steps are stable).
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


def train_and_diagnose(X, y, hidden, num_passes, epsilon, seed, print_loss=False, loss_every=lecture.RECORD_EVERY):
    """Train with the compiled backend, then measure sharpness and classify the run."""
    start = time.perf_counter()
    run = trainer.train(X, y, hidden, num_passes=num_passes, epsilon=epsilon, reg_lambda=REG_LAMBDA,
                        seed=seed, backend="cython", loss_every=loss_every, print_loss=print_loss)
    seconds = time.perf_counter() - start
    return NetworkResult(hidden, run, seconds, diagnostics.sharpness(run.model, X, y, REG_LAMBDA),
                         diagnostics.classify_end(run.loss_passes, run.losses, num_passes))


def train_spiral(seed):
    X, y = datasets.make_spiral(SPIRAL_SAMPLES_PER_CLASS, SPIRAL_CLASSES, seed=seed)
    model = trainer.train(X, y, SPIRAL_HIDDEN, num_passes=SPIRAL_PASSES, epsilon=SPIRAL_EPSILON,
                          reg_lambda=REG_LAMBDA, seed=seed).model
    return X, y, model


def accuracy(predicted, y):
    return float(np.mean(predicted == y))


class OutDirError(ValueError):
    """The output directory cannot be used."""


def prepare_out_dir(out):
    """Create ``out`` if missing; OutDirError if it is a file or cannot be created."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutDirError("--out %s exists and is not a directory" % out)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        raise OutDirError("cannot create --out %s: %s" % (out, err.strerror)) from None


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


@dataclass
class Setting:
    """What every network of the demo shares, for the pictures' titles."""

    epsilon: float
    passes: int
    seed: int

    def __str__(self):
        return "epsilon %g, %d passes, seed %d" % (self.epsilon, self.passes, self.seed)


# ---------------------------------------------------------------- the pictures
# Each function returns a matplotlib Figure (rendered with Agg, no display).


def data_figure(X, y, seed):
    from matplotlib.figure import Figure

    from . import plot

    fig = Figure(figsize=FIGURE_SIZE)
    plot.plot_data(X, y, fig.add_subplot()).set_title(
        "The data: make_moons(%d, noise=%.2f), seed %d" % (len(X), DATA_NOISE, seed))
    return fig


def boundary_figure(predict_fn, X, y, title):
    from matplotlib.figure import Figure

    from . import plot

    fig = Figure(figsize=FIGURE_SIZE)
    plot.plot_decision_boundary(predict_fn, X, y, fig.add_subplot()).set_title(title)
    return fig


def _accuracies_title(name, train_accuracy, test_accuracy):
    return "%s\ntraining accuracy %.3f, test accuracy %.3f" % (name, train_accuracy, test_accuracy)


def loss_figure(result, setting):
    """The whole run's loss, and its last LAST_PASSES_SHOWN passes one by one.

    The run must have recorded every pass at its end (loss_every=1).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import ScalarFormatter

    from . import plot

    run = result.run
    fig = Figure(figsize=LOSS_FIGURE_SIZE)
    whole, last = fig.subplots(1, 2)
    plot.plot_loss_curve(run.loss_passes, run.losses, whole, linewidth=0.8,
                         title="Loss of the H = %d run (%s)" % (result.hidden, setting))
    # Log axes: the descent of the first hundred passes gets as much room as the long end.
    plot.log_loss_axes(whole)
    shown = run.loss_passes >= setting.passes - LAST_PASSES_SHOWN
    # Markers joined by a thin line: a period-2 cycle reads as a zigzag, one pass per step.
    plot.plot_loss_curve(run.loss_passes[shown], run.losses[shown], last, marker="o", markersize=4,
                         linewidth=0.6, title="Its last %d passes, one by one: %s"
                         % (np.count_nonzero(shown), result.run_class))
    # The losses themselves on the axis, not matplotlib's "1e-7 + 6.7882e-2" offset
    # (a converged run's last losses differ in the 7th digit).
    last.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    fig.subplots_adjust(**LOSS_FIGURE_MARGINS)
    return fig


def sweep_figure():
    """-> (Figure, {H: Axes} for the boundaries, Axes for accuracy against H); panels drawn later."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=SWEEP_FIGURE_SIZE)
    fig.subplots_adjust(**SWEEP_FIGURE_MARGINS)
    panels = {hidden: fig.add_subplot(SWEEP_ROWS, SWEEP_COLUMNS, panel)
              for panel, hidden in enumerate(SWEEP_HIDDEN_SIZES, start=1)}
    accuracy_panel = fig.add_subplot(SWEEP_ROWS, SWEEP_COLUMNS, len(SWEEP_HIDDEN_SIZES) + 1)
    return fig, panels, accuracy_panel


def draw_sweep_panel(ax, result, X, y, X_test, y_test, epsilon):
    from . import plot

    model = result.run.model
    plot.plot_decision_boundary(lambda points: trainer.predict(model, points), X, y, ax)
    ax.set_title(_accuracies_title("H = %d" % result.hidden, accuracy(trainer.predict(model, X), y),
                                   accuracy(trainer.predict(model, X_test), y_test))
                 + "\n" + _stability_line(result, epsilon))


def draw_accuracy_against_hidden(ax, results, X, y, X_test, y_test, setting):
    """Training and test accuracy of every network of the sweep, against its hidden-layer size."""
    sizes = sorted(results)
    positions = np.arange(len(sizes))  # evenly spaced: the sizes run from 1 to 50
    for label, data, labels, style in (("training", X, y, ACCURACY_STYLES[0]), ("test", X_test, y_test,
                                                                                ACCURACY_STYLES[1])):
        values = [accuracy(trainer.predict(results[hidden].run.model, data), labels) for hidden in sizes]
        ax.plot(positions, values, label="%s accuracy" % label, **style)
    ax.set_xticks(positions, [str(hidden) for hidden in sizes])
    ax.set_xlabel("hidden-layer size H")
    ax.set_ylabel("accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Accuracy against H (%s)\ntest: a fresh make_moons sample, seed %d"
                 % (setting, setting.seed + TEST_SEED_OFFSET))


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


# What the animation's last frames show, by how the run ended.
ANIMATION_ENDINGS = {diagnostics.CONVERGED: "settling on its minimum at the end",
                     diagnostics.PERIOD_2: "the 2-cycle at the end",
                     diagnostics.IRREGULAR: "still moving at the end",
                     diagnostics.TOO_SHORT: "the last two passes at the end"}


def animation_hint(run_class):
    """What `fastbp animate` will show of a run that ended as run_class."""
    return "the boundary moving, the loss falling, %s" % ANIMATION_ENDINGS[run_class]


def _save_figure(fig, path):
    fig.savefig(path)


def run(out="fastbp-demo", hidden=lecture.HIDDEN, passes=lecture.NUM_PASSES, seed=lecture.SEED,
        epsilon=lecture.EPSILON):
    """The whole demo: print its report, write its pictures into ``out``; -> exit status 0."""
    prepare_out_dir(out)
    setting = Setting(epsilon, passes, seed)
    X, y = datasets.make_moons(DATA_SIZE, noise=DATA_NOISE, seed=seed)
    test_seed = seed + TEST_SEED_OFFSET
    X_test, y_test = datasets.make_moons(DATA_SIZE, noise=DATA_NOISE, seed=test_seed)
    written = []

    def save(fig, name):
        path = os.path.join(out, name)
        _save_figure(fig, path)
        written.append(path)

    # The demo runs its own threads; BLAS threads (in the sharpness and the
    # baseline) would only compete with them for the two cores.
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max_workers=SWEEP_THREADS) as pool:
        # Started first, largest networks first: they take longest.
        sweep_jobs = [pool.submit(train_and_diagnose, X, y, size, passes, epsilon, seed)
                      for size in sorted(SWEEP_HIDDEN_SIZES, reverse=True) if size != hidden]
        spiral_job = pool.submit(train_spiral, seed)

        print("fastbp demo: the backprop lecture end to end (%s)\n" % setting)

        print("The data: make_moons(%d, noise=%.2f), two interleaved half moons" % (DATA_SIZE, DATA_NOISE))
        save(data_figure(X, y, seed), "data.png")

        start = time.perf_counter()
        logistic = _fit_logistic_regression(X, y)
        logistic_seconds = time.perf_counter() - start
        print("Logistic Regression (LogisticRegressionCV): training accuracy %.3f; a line cannot follow the moons"
              % accuracy(logistic.predict(X), y))
        save(boundary_figure(logistic.predict, X, y, _accuracies_title(
            "Logistic regression (LogisticRegressionCV)", accuracy(logistic.predict(X), y),
            accuracy(logistic.predict(X_test), y_test))), "logistic_regression.png")

        print("\nThe network with a hidden layer of size %d (compiled backend):" % hidden)
        main_result = train_and_diagnose(X, y, hidden, passes, epsilon, seed, print_loss=True, loss_every=1)
        main_model = main_result.run.model
        print("training accuracy %.3f" % accuracy(trainer.predict(main_model, X), y))
        save(boundary_figure(lambda points: trainer.predict(main_model, points), X, y, _accuracies_title(
            "Network with hidden layer size %d (%s)" % (hidden, setting), accuracy(trainer.predict(main_model, X), y),
            accuracy(trainer.predict(main_model, X_test), y_test))), "decision_boundary_h%d.png" % hidden)
        save(loss_figure(main_result, setting), "loss_curve_h%d.png" % hidden)

        # Everything that does not need the sweep is drawn first; then the sweep's
        # panels, as their networks finish, while the largest still trains.
        results = {hidden: main_result}
        sweep_fig, panels, accuracy_panel = sweep_figure()
        if hidden in panels:
            draw_sweep_panel(panels[hidden], main_result, X, y, X_test, y_test, epsilon)
        # A bar (on a terminal, once the wait passes half a second) while the
        # sweep's networks finish; each one ticks it.
        with progress.progress_bar(len(sweep_jobs), "hidden-layer sweep", "network") as bar:
            for job in as_completed(sweep_jobs):
                result = job.result()
                results[result.hidden] = result
                draw_sweep_panel(panels[result.hidden], result, X, y, X_test, y_test, epsilon)
                bar.update(1)

    print("\nThe hidden-layer sweep %s; gradient descent can settle only if sharpness < 2/epsilon:"
          % ", ".join(map(str, SWEEP_HIDDEN_SIZES)))
    for size in sorted(results):
        print("  H = %2d: %s" % (size, _stability_line(results[size], epsilon)))
    draw_accuracy_against_hidden(accuracy_panel, {size: results[size] for size in SWEEP_HIDDEN_SIZES},
                                 X, y, X_test, y_test, setting)
    sweep_fig.suptitle("The hidden-layer sweep (%s)" % setting, fontsize="x-large")
    save(sweep_fig, "hidden_layer_sweep.png")

    X_spiral, y_spiral, spiral_model = spiral_job.result()
    spiral_accuracy = accuracy(trainer.predict(spiral_model, X_spiral), y_spiral)
    print("\nMore than two classes: %d spiral arms, hidden layer size %d (epsilon %g, %d passes): "
          "training accuracy %.3f" % (SPIRAL_CLASSES, SPIRAL_HIDDEN, SPIRAL_EPSILON, SPIRAL_PASSES, spiral_accuracy))
    save(boundary_figure(lambda points: trainer.predict(spiral_model, points), X_spiral, y_spiral,
                         "%d spiral arms, hidden layer size %d (epsilon %g, %d passes, seed %d)\n"
                         "training accuracy %.3f" % (SPIRAL_CLASSES, SPIRAL_HIDDEN, SPIRAL_EPSILON, SPIRAL_PASSES,
                                                     seed, spiral_accuracy)),
         "spiral_3_classes.png")

    _print_summary(logistic, logistic_seconds, results, X, y, X_test, y_test, test_seed)
    print("\nThe training as an animation (%s):" % animation_hint(main_result.run_class))
    print("  fastbp animate --hidden %d --epsilon %g --passes %d --seed %d --out training.gif"
          % (hidden, epsilon, passes, seed))
    print("\nFiles written:")
    for path in written:
        print("  " + path)
    return 0
