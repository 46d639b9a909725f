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
from . import datasets, diagnostics, progress, reference, trainer

REG_LAMBDA = 0.01  # the lecture's regularisation strength
MOONS_SAMPLES, MOONS_NOISE = 200, 0.20  # the lecture's make_moons(200, noise=0.20)
SPIRAL_SAMPLES_PER_CLASS, SPIRAL_CLASSES = 100, 3
TEST_SEED_OFFSET = 1  # a setting's test sample is drawn with its seed + 1, as in the demo
# Losses are recorded every RECORD_EVERY passes for classify_run: odd, so that a
# period-2 cycle still alternates in the record (see fastbp/diagnostics.py).
RECORD_EVERY = 25
MIN_PASSES = RECORD_EVERY * diagnostics.MIN_LOSSES
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


def _check_seed(seed):
    seed = check.check_int(seed, "seed", 0)
    if seed + TEST_SEED_OFFSET > trainer.MAX_SEED:
        raise ValueError("seed must be <= %d, got %d" % (trainer.MAX_SEED - TEST_SEED_OFFSET, seed))
    return seed


def make_grid(hidden, epsilon, seed, activation=("tanh",)):
    """-> the settings, every combination, in the order hidden, epsilon, seed, activation."""
    hidden = _values(hidden, "hidden", lambda h: check.check_int(h, "hidden", 1))
    epsilon = _values(epsilon, "epsilon", lambda e: check.check_real(e, "epsilon", positive=True))
    seed = _values(seed, "seed", _check_seed)
    activation = _values(activation, "activation", check.check_activation)
    return [Setting(h, e, s, a) for h in hidden for e in epsilon for s in seed for a in activation]


def load_data(data, seed):
    """-> (X, y, X_test, y_test): the training sample drawn with seed, the test sample with seed + 1."""
    if data == "moons":
        draw = lambda s: datasets.make_moons(MOONS_SAMPLES, noise=MOONS_NOISE, seed=s)  # noqa: E731
    elif data == "spiral":
        draw = lambda s: datasets.make_spiral(SPIRAL_SAMPLES_PER_CLASS, SPIRAL_CLASSES, seed=s)  # noqa: E731
    else:
        raise ValueError("data must be one of %s, got %r" % (DATA_SETS, data))
    return draw(seed) + draw(seed + TEST_SEED_OFFSET)


def run_setting(setting, data, passes):
    """Train one network -> its row of sweep.csv (a dict keyed by COLUMNS)."""
    X, y, X_test, y_test = load_data(data, setting.seed)
    start = time.perf_counter()
    # One kernel thread per network: the sweep's parallelism is across networks.
    try:
        run = trainer.train(X, y, setting.hidden, num_passes=passes, epsilon=setting.epsilon, reg_lambda=REG_LAMBDA,
                            seed=setting.seed, loss_every=RECORD_EVERY, activation=setting.activation, num_threads=1)
    except trainer.DivergenceError:
        # a setting whose step size is too large is a result of the sweep, not a failure of it
        return {"hidden": setting.hidden, "epsilon": setting.epsilon, "seed": setting.seed,
                "activation": setting.activation, "final_loss": float("nan"), "train_accuracy": float("nan"),
                "test_accuracy": float("nan"), "run_class": DIVERGED, "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    window = run.loss_passes >= passes - diagnostics.CLASSIFY_WINDOW
    return {"hidden": setting.hidden, "epsilon": setting.epsilon, "seed": setting.seed,
            "activation": setting.activation,
            "final_loss": float(trainer.calculate_loss(run.model, X, y, REG_LAMBDA, num_threads=1)),
            "train_accuracy": float(np.mean(trainer.predict(run.model, X, num_threads=1) == y)),
            "test_accuracy": float(np.mean(trainer.predict(run.model, X_test, num_threads=1) == y_test)),
            "run_class": diagnostics.classify_run(run.losses[window]), "seconds": seconds}


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


def sweep(hidden=(1, 2, 3, 5, 20), epsilon=(0.01,), seed=(0,), passes=2000, activation=("tanh",), data="moons",
          out=None, n_jobs=None, backend="threads", scheduler=None, scheduler_timeout=SCHEDULER_TIMEOUT_SECONDS,
          progress=False):
    """Train a network for every setting of the grid -> its rows (dicts keyed
    by COLUMNS), in grid order.

    hidden, epsilon, seed, activation: the values of each (a value or a list).
    Each network trains on the data set ``data`` ("moons": make_moons(200,
    noise=0.2); "spiral": three arms of 100) drawn with its seed, and is tested
    on a fresh sample drawn with seed + 1; L2 strength 0.01. run_class is
    :func:`fastbp.diagnostics.classify_run` on the last 2000 passes.
    out: a directory to write sweep.csv and the heat map sweep.png into.
    n_jobs: joblib workers (-1: one per core; None: 1 here, every worker of a
        Dask cluster); backend: "threads" or "processes".
    scheduler: a Dask scheduler address (tcp://HOST:PORT): run on that cluster
        instead. An unreachable scheduler
        raises SchedulerUnreachable after scheduler_timeout seconds.
    progress: a bar over the networks, on a terminal.
    """
    settings = make_grid(hidden, epsilon, seed, activation)
    passes = check.check_int(passes, "passes", MIN_PASSES)
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


def read_csv(path):
    """-> the rows of a sweep.csv, with their numbers as numbers."""
    kinds = {"hidden": int, "seed": int, "epsilon": float, "final_loss": float, "train_accuracy": float,
             "test_accuracy": float, "seconds": float}
    with open(path, newline="") as file:
        return [{key: kinds.get(key, str)(value) for key, value in row.items()} for row in csv.DictReader(file)]


def draw_heat_map(rows, path, title):
    """Test accuracy, averaged over seeds: hidden size down, step size across,
    one panel per activation; each cell also names its runs' classes."""
    from matplotlib.figure import Figure

    activations = sorted({row["activation"] for row in rows})
    hidden = sorted({row["hidden"] for row in rows})
    epsilon = sorted({row["epsilon"] for row in rows}, reverse=True)
    fig = Figure(figsize=(1.5 + 2.2 * len(epsilon) * len(activations), 1.2 + 0.6 * len(hidden)))
    for panel, activation in enumerate(activations, start=1):
        ax = fig.add_subplot(1, len(activations), panel)
        accuracy = np.full((len(hidden), len(epsilon)), np.nan)
        for i, h in enumerate(hidden):
            for j, e in enumerate(epsilon):
                cell = [row for row in rows if (row["hidden"], row["epsilon"], row["activation"]) == (h, e, activation)]
                if cell:
                    accuracy[i, j] = np.mean([row["test_accuracy"] for row in cell])
                    classes = ", ".join(sorted({row["run_class"] for row in cell}))
                    ax.text(j, i, "%.3f\n%s" % (accuracy[i, j], classes), ha="center", va="center", fontsize=8)
        image = ax.imshow(accuracy, cmap="viridis", vmin=0.5, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(epsilon)), ["%g" % e for e in epsilon])
        ax.set_yticks(range(len(hidden)), [str(h) for h in hidden])
        ax.set_xlabel("epsilon")
        ax.set_ylabel("hidden layer size")
        ax.set_title("%s: test accuracy" % activation)
        fig.colorbar(image, ax=ax, fraction=0.05)
    fig.suptitle("Sweep (%s)" % title)
    fig.tight_layout()
    fig.savefig(path)


# ---------------------------------------------------------------- fastbp sweep



def run_sweep(args, parser):
    try:
        rows = sweep(args.hidden, args.epsilon, args.seed, args.passes, args.activation, args.data, args.out,
                     args.n_jobs, args.backend, args.scheduler, args.scheduler_timeout, progress=True)
    except (SchedulerUnreachable, ImportError) as err:
        parser.exit(1, "%s: error: %s\n" % (parser.prog, err))
    except ValueError as err:
        parser.error(str(err))
    print("%-7s %-9s %-5s %-10s %-11s %-10s %-9s %-22s %s" % (
        "hidden", "epsilon", "seed", "activation", "final_loss", "train_acc", "test_acc", "run_class", "seconds"))
    for row in rows:
        print("%-7d %-9g %-5d %-10s %-11.6f %-10.3f %-9.3f %-22s %.2f" % (
            row["hidden"], row["epsilon"], row["seed"], row["activation"], row["final_loss"], row["train_accuracy"],
            row["test_accuracy"], row["run_class"], row["seconds"]))
    print("\nFiles written:\n  %s\n  %s" % (os.path.join(args.out, "sweep.csv"), os.path.join(args.out, "sweep.png")))
    return 0


def add_sweep_command(subcommands):
    command = subcommands.add_parser(
        "sweep", help="train a grid of networks in parallel, locally or on a Dask cluster",
        description="Train one network per combination of the values given, through joblib (threads or "
                    "processes here, or an existing Dask cluster with --scheduler), and write DIR/sweep.csv "
                    "and the heat map DIR/sweep.png.")
    positive_int = check.int_argument(1)
    command.add_argument("--hidden", nargs="+", type=positive_int, default=[1, 2, 3, 5, 20],
                         help="hidden-layer sizes (default: 1 2 3 5 20)")
    command.add_argument("--epsilon", nargs="+", type=check.positive_real_argument(),
                         default=[0.01], help="step sizes (default: 0.01)")
    command.add_argument("--seed", nargs="+", type=check.argument_type(int, _check_seed), default=[0],
                         help="seeds of the data and the initial weights (default: 0)")
    command.add_argument("--passes", type=check.int_argument(MIN_PASSES),
                         default=2000, help="passes per network, at least %d (default: 2000)" % MIN_PASSES)
    command.add_argument("--activation", nargs="+", choices=sorted(reference.ACTIVATIONS), default=["tanh"],
                         help="hidden-layer activations (default: tanh)")
    command.add_argument("--data", choices=DATA_SETS, default="moons", help="data set (default: moons)")
    command.add_argument("--out", default="fastbp-sweep", help="directory for sweep.csv and sweep.png "
                                                               "(default: ./fastbp-sweep)")
    command.add_argument("--n-jobs", type=check.argument_type(int, lambda v: v if v == -1 else check.check_int(v, "value", 1)),
                         default=None, help="parallel workers, -1 for one per core (default: 1 here, "
                                            "every worker of the cluster with --scheduler)")
    command.add_argument("--backend", choices=BACKENDS, default="threads",
                         help="local workers: threads (the kernels release the GIL) or processes "
                              "(default: threads)")
    command.add_argument("--scheduler", metavar="ADDRESS", default=None,
                         help="run on the Dask cluster whose scheduler is at ADDRESS, e.g. tcp://10.0.0.5:8786")
    command.add_argument("--scheduler-timeout", type=check.positive_real_argument(),
                         default=SCHEDULER_TIMEOUT_SECONDS, metavar="SECONDS",
                         help="give up on an unreachable scheduler after this long (default: %g)"
                              % SCHEDULER_TIMEOUT_SECONDS)
    command.set_defaults(run=run_sweep, command_parser=command)
