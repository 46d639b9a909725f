"""FastBPClassifier / FastBPRegressor against scikit-learn's MLPClassifier /
MLPRegressor at identical settings: fit time, and how far apart the fitted weights are.

    python bench/bench_estimators.py [--repeats 3] [--problems digits synthetic regression]

Each problem is fitted by both estimators in alternating runs (ours, theirs,
ours, ...) in this process, with one thread (threadpoolctl limits BLAS and
the OpenMP threads of fastbp's compiled path) and with the default threads; the
table gives the median fit time of each and their ratio, and the largest
difference of the two fits' weights relative to the largest weight. Writes
bench/results/estimators.md and prints it.
"""

import argparse
import datetime
import os
import platform
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import fastbp

HERE = os.path.dirname(os.path.abspath(__file__))


def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def synthetic():
    return make_classification(100_000, 20, n_informative=15, n_classes=10, random_state=0)


def regression():
    X, y = make_regression(20_000, 20, n_informative=15, noise=5.0, random_state=0)
    return X, y / y.std()


PROBLEMS = {
    "digits": ("load_digits standardised (1797 x 64), (100,), adam, max_iter=200", digits,
               fastbp.FastBPClassifier, MLPClassifier, dict(random_state=0)),
    "synthetic": ("make_classification N=100000, D=20, 10 classes, (256,), adam, 10 epochs", synthetic,
                  fastbp.FastBPClassifier, MLPClassifier, dict(hidden_layer_sizes=(256,), max_iter=10, random_state=0)),
    "regression": ("make_regression N=20000, D=20, (100,), adam, 20 epochs", regression,
                   fastbp.FastBPRegressor, MLPRegressor, dict(max_iter=20, random_state=0)),
}


def timed_fit(estimator, X, y):
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, y)
    return time.perf_counter() - started, estimator


def weight_difference(ours, theirs):
    return max(np.abs(a - b).max() / np.abs(b).max()
               for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_))


def measure(problem, repeats, threads):
    what, data, ours_class, theirs_class, params = PROBLEMS[problem]
    X, y = data()
    ours_times, theirs_times = [], []
    with threadpool_limits(threads):
        for _ in range(repeats):
            seconds, ours = timed_fit(ours_class(**params), X, y)
            ours_times.append(seconds)
            seconds, theirs = timed_fit(theirs_class(**params), X, y)
            theirs_times.append(seconds)
    return dict(problem=problem, what=what, threads=threads or "default", ours=statistics.median(ours_times),
                theirs=statistics.median(theirs_times), difference=weight_difference(ours, theirs),
                n_iter=(ours.n_iter_, theirs.n_iter_))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    args = parser.parse_args()
    rows = [measure(problem, args.repeats, threads) for problem in args.problems for threads in (1, None)]
    lines = ["# FastBPClassifier / FastBPRegressor against MLPClassifier / MLPRegressor", "",
             "%s, %s, %d cores, Python %s, fastbp %s; median of %d alternating fits each; %s." % (
                 platform.node(), platform.processor() or platform.machine(), os.cpu_count(),
                 platform.python_version(), fastbp.__version__, args.repeats,
                 datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")), "",
             "| problem | threads | fastbp (s) | scikit-learn (s) | speed-up | n_iter (ours, theirs) "
             "| largest weight difference (relative) |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| %s | %s | %.3f | %.3f | %.2fx | %s | %.1e |" % (
            row["what"], row["threads"], row["ours"], row["theirs"], row["theirs"] / row["ours"],
            "%d, %d" % row["n_iter"], row["difference"]))
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "estimators.md"), "w", encoding="utf-8") as file:
        file.write(text)
    print(text)


if __name__ == "__main__":
    main()
