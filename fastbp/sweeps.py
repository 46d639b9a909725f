"""Sweeps: train one network per setting of a grid (hidden size x step size x
seed x activation), in parallel through joblib, locally or on a Dask cluster;
write the results as ``sweep.csv`` and a heat map ``sweep.png``.

Locally the settings run in joblib's threads (the compiled kernels release the
GIL) or processes. With a scheduler address they run on an existing Dask
cluster through joblib's Dask backend (``pip install "fastbp[dask]"``); every
setting computes the same numbers wherever it runs.
"""

import csv
import numbers
import os
import re
import time
from dataclasses import dataclass

import numpy as np

from . import _validation as check
from . import datasets, diagnostics, lecture, progress, trainer

DEFAULT_HIDDEN = (1, 2, 3, 5, 20)
DATA_SETS = ("moons", "spiral")
BACKENDS = ("threads", "processes")
COLUMNS = ("hidden", "epsilon", "seed", "activation", "final_loss", "train_accuracy", "test_accuracy",
           "run_class", "seconds")
# An unreachable scheduler is reported after this long, not waited for forever.
SCHEDULER_TIMEOUT_SECONDS = 10.0
# The run_class of a setting whose training diverged (fastbp.DivergenceError); its losses and accuracies are NaN.
DIVERGED = "diverged"
SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|inproc|ucx)://\S+$")


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler did not answer within the timeout."""


@dataclass(frozen=True)
class Setting:
    hidden: int
    epsilon: float
    seed: int
    activation: str


# ---------------------------------------------------------------- the grid

def _values(values, name, check_one):
    if isinstance(values, (str, numbers.Number)):
        values = [values]
    try:
        values = list(values)
    except TypeError:
        raise TypeError("%s must be a value or a list of values, got %r" % (name, values)) from None
    if not values:
        raise ValueError("%s is empty: a sweep needs at least one value of each parameter" % name)
    return [check_one(value) for value in values]


def make_grid(hidden, epsilon, seed, activation=("tanh",)):
    """-> the settings, every combination, in the order hidden, epsilon, seed, activation."""
    hidden = _values(hidden, "hidden", lambda h: check.check_int(h, "hidden", 1))
    epsilon = _values(epsilon, "epsilon", lambda e: check.check_real(e, "epsilon", positive=True))
    seed = _values(seed, "seed", lecture.check_seed)
    activation = _values(activation, "activation", check.check_activation)
    return [Setting(h, e, s, a) for h in hidden for e in epsilon for s in seed for a in activation]


def load_data(data, seed):
    """-> (X, y, X_test, y_test): the training sample drawn with seed, the test sample with seed + 1."""
    if data == "moons":
        draw = lambda s: datasets.make_moons(lecture.DATA_SIZE, noise=lecture.DATA_NOISE, seed=s)  # noqa: E731
    elif data == "spiral":
        draw = lambda s: datasets.make_spiral(lecture.SPIRAL_SAMPLES_PER_CLASS, lecture.SPIRAL_CLASSES, seed=s)  # noqa: E731
    else:
        raise ValueError("data must be one of %s, got %r" % (DATA_SETS, data))
    return draw(seed) + draw(seed + lecture.TEST_SEED_OFFSET)


def run_setting(setting, data, passes):
    """Train one network -> its row of sweep.csv (a dict keyed by COLUMNS)."""
    X, y, X_test, y_test = load_data(data, setting.seed)
    start = time.perf_counter()
    # One kernel thread per network: the sweep's parallelism is across networks.
    try:
        run = trainer.train(X, y, setting.hidden, num_passes=passes, epsilon=setting.epsilon,
                            reg_lambda=lecture.REG_LAMBDA, seed=setting.seed, loss_every=lecture.RECORD_EVERY,
                            activation=setting.activation, num_threads=1)
    except trainer.DivergenceError:
        # a setting whose step size is too large is a result of the sweep, not a failure of it
        return {"hidden": setting.hidden, "epsilon": setting.epsilon, "seed": setting.seed,
                "activation": setting.activation, "final_loss": float("nan"), "train_accuracy": float("nan"),
                "test_accuracy": float("nan"), "run_class": DIVERGED, "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    return {"hidden": setting.hidden, "epsilon": setting.epsilon, "seed": setting.seed,
            "activation": setting.activation,
            "final_loss": float(trainer.calculate_loss(run.model, X, y, lecture.REG_LAMBDA, num_threads=1)),
            "train_accuracy": float(np.mean(trainer.predict(run.model, X, num_threads=1) == y)),
            "test_accuracy": float(np.mean(trainer.predict(run.model, X_test, num_threads=1) == y_test)),
            "run_class": diagnostics.classify_end(run.loss_passes, run.losses, passes), "seconds": seconds}


# ---------------------------------------------------------------- running it

def _dask_client(scheduler, timeout):
    if not isinstance(scheduler, str) or not SCHEDULER_ADDRESS.match(scheduler):
        raise ValueError("scheduler must be a Dask scheduler address such as tcp://HOST:PORT, got %r" % (scheduler,))
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("running a sweep on a Dask cluster needs dask.distributed: "
                          "pip install \"fastbp[dask]\"") from None
    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as err:
        raise SchedulerUnreachable("cannot reach the Dask scheduler at %s within %g s: %s"
                                   % (scheduler, timeout, err)) from None


def _run_settings(settings, data, passes, n_jobs, backend, scheduler, scheduler_timeout, show_progress):
    from joblib import Parallel, delayed, parallel_config

    tasks = [delayed(run_setting)(setting, data, passes) for setting in settings]
    rows = []
    with progress.progress_bar(len(tasks), "sweep", "network", enabled=None if show_progress else False) as bar:
        def collect(results):
            for row in results:
                rows.append(row)
                bar.set_postfix(last="H=%d eps=%g: %s" % (row["hidden"], row["epsilon"], row["run_class"]),
                                refresh=False)
                bar.update(1)

        if scheduler is None:
            collect(Parallel(n_jobs=n_jobs, prefer="threads" if backend == "threads" else "processes",
                             return_as="generator")(tasks))
        else:
            with _dask_client(scheduler, scheduler_timeout), parallel_config(backend="dask"):
                collect(Parallel(n_jobs=n_jobs, return_as="generator")(tasks))
    return rows


def sweep(hidden=DEFAULT_HIDDEN, epsilon=(lecture.EPSILON,), seed=(lecture.SEED,), passes=lecture.NUM_PASSES,
          activation=("tanh",), data="moons",
          out=None, n_jobs=None, backend="threads", scheduler=None, scheduler_timeout=SCHEDULER_TIMEOUT_SECONDS,
          progress=False):
    """Train a network for every setting of the grid -> its rows (dicts keyed
    by COLUMNS), in grid order.

    hidden, epsilon, seed, activation: the values of each (a value or a list).
    Each network trains on the data set ``data`` ("moons": make_moons(200,
    noise=0.2); "spiral": three arms of 100) drawn with its seed, and is tested
    on a fresh sample drawn with seed + 1; L2 strength 0.01. run_class is
    :func:`fastbp.diagnostics.classify_end`: classify_run on the last 2000
    passes, or "too short to classify" for fewer than 6000 passes.
    out: a directory to write sweep.csv and the heat map sweep.png into.
    n_jobs: joblib workers (-1: one per core; None: 1 here, every worker of a
        Dask cluster); backend: "threads" or "processes".
    scheduler: a Dask scheduler address (tcp://HOST:PORT): run on that cluster
        instead. An unreachable scheduler
        raises SchedulerUnreachable after scheduler_timeout seconds.
    progress: a bar over the networks, on a terminal.
    """
    settings = make_grid(hidden, epsilon, seed, activation)
    passes = check.check_int(passes, "passes", lecture.MIN_PASSES)
    if data not in DATA_SETS:
        raise ValueError("data must be one of %s, got %r" % (DATA_SETS, data))
    if backend not in BACKENDS:
        raise ValueError("backend must be one of %s, got %r" % (BACKENDS, backend))
    if n_jobs is None:
        n_jobs = 1 if scheduler is None else -1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0 or n_jobs < -1:
        raise ValueError("n_jobs must be a positive number of workers or -1 (one per core), got %r" % (n_jobs,))
    scheduler_timeout = check.check_real(scheduler_timeout, "scheduler_timeout", positive=True)
    if out is not None:
        out = _prepare_out_dir(out)
    rows = _run_settings(settings, data, passes, n_jobs, backend, scheduler, scheduler_timeout, progress)
    if out is not None:
        write_csv(rows, os.path.join(out, "sweep.csv"))
        draw_heat_map(rows, os.path.join(out, "sweep.png"), "%s, %d passes" % (data, passes))
    return rows


def _prepare_out_dir(out):
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError("out %s exists and is not a directory" % out)
    os.makedirs(out, exist_ok=True)
    return out


# ---------------------------------------------------------------- the outputs

def write_csv(rows, path):
    """One row per setting; floats written with repr, so they read back exactly."""
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: repr(value) if isinstance(value, float) else value for key, value in row.items()})


# The printed table: the CSV's columns, each as wide as its header or its widest value.
TABLE_FORMATS = {"hidden": "%d", "epsilon": "%g", "seed": "%d", "activation": "%s", "final_loss": "%.6f",
                 "train_accuracy": "%.3f", "test_accuracy": "%.3f", "run_class": "%s", "seconds": "%.2f"}


def format_table(rows):
    """-> the rows as a text table whose header is the CSV's (COLUMNS)."""
    cells = [list(COLUMNS)] + [[TABLE_FORMATS[column] % row[column] for column in COLUMNS] for row in rows]
    widths = [max(len(line[k]) for line in cells) for k in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


def read_csv(path):
    """-> the rows of a sweep.csv, with their numbers as numbers."""
    kinds = {"hidden": int, "seed": int, "epsilon": float, "final_loss": float, "train_accuracy": float,
             "test_accuracy": float, "seconds": float}
    with open(path, newline="") as file:
        return [{key: kinds.get(key, str)(value) for key, value in row.items()} for row in csv.DictReader(file)]


# The heat map's colour scale spans the accuracies shown, widened to whole steps
# of this size: a fixed 0.5-1.0 scale gives 0.83 and 0.97 nearly the same colour.
COLOR_STEP = 0.05
HEAT_MAP_DPI = 150
STEP_ROUNDING = 1e-9  # in steps: far above the rounding of value / step, far below any real difference


def color_limits(values, step=COLOR_STEP):
    """-> (low, high): the finite values' range widened to multiples of step, within 0..1."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return 0.0, 1.0
    # a value on a step (0.8 / 0.05 = 15.999999999999998) opens the scale there
    low = max(0.0, np.floor(finite.min() / step + STEP_ROUNDING) * step)
    high = min(1.0, max(np.ceil(finite.max() / step - STEP_ROUNDING) * step, low + step))
    return float(low), float(high)


def draw_heat_map(rows, path, title):
    """Test accuracy, averaged over seeds: hidden size down, step size across,
    one panel per activation; each cell also names its runs' classes."""
    from matplotlib.figure import Figure

    activations = sorted({row["activation"] for row in rows})
    hidden = sorted({row["hidden"] for row in rows})
    epsilon = sorted({row["epsilon"] for row in rows}, reverse=True)
    seeds = sorted({row["seed"] for row in rows})
    low, high = color_limits([row["test_accuracy"] for row in rows])
    fig = Figure(figsize=(2.5 + 2.6 * len(epsilon) * len(activations), 1.8 + 0.75 * len(hidden)), dpi=HEAT_MAP_DPI)
    for panel, activation in enumerate(activations, start=1):
        ax = fig.add_subplot(1, len(activations), panel)
        accuracy = np.full((len(hidden), len(epsilon)), np.nan)
        for i, h in enumerate(hidden):
            for j, e in enumerate(epsilon):
                cell = [row for row in rows if (row["hidden"], row["epsilon"], row["activation"]) == (h, e, activation)]
                if cell:
                    accuracy[i, j] = np.mean([row["test_accuracy"] for row in cell])
                    classes = "\n".join(sorted({row["run_class"] for row in cell}))
                    # dark text on the light (high) end of viridis, white on the dark end
                    shade = (accuracy[i, j] - low) / (high - low) if np.isfinite(accuracy[i, j]) else 0.0
                    ax.text(j, i, "%.3f\n%s" % (accuracy[i, j], classes), ha="center", va="center", fontsize=8,
                            color="black" if shade > 0.6 else "white")
        image = ax.imshow(accuracy, cmap="viridis", vmin=low, vmax=high, aspect="auto")
        ax.set_xticks(range(len(epsilon)), ["%g" % e for e in epsilon])
        ax.set_yticks(range(len(hidden)), [str(h) for h in hidden])
        ax.set_xlabel("step size epsilon")
        ax.set_ylabel("hidden layer size H")
        ax.set_title("%s: test accuracy,\nmean over %d seed%s (%s)"
                     % (activation, len(seeds), "" if len(seeds) == 1 else "s", " ".join(map(str, seeds))))
        fig.colorbar(image, ax=ax, fraction=0.05).set_label("test accuracy (mean over seeds)")
    fig.suptitle("Sweep (%s)" % title)
    fig.tight_layout()
    fig.savefig(path)
    return fig
