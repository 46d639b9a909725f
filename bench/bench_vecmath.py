"""Prints ns/element of fastbp's own exp / tanh / sigmoid (src/vecmath.h), per
dispatch path, against NumPy's float64 np.exp / np.tanh, on 10^5 elements.

    python bench/bench_vecmath.py        (after python setup.py build_ext --inplace)

Nothing is asserted; the numbers depend on the machine and its load.
"""

import pathlib
import sys
import timeit

import numpy as np

# run from a source checkout with the in-place build, as tests do
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from fastbp import _vecmath as vm  # noqa: E402

N = 100_000
REPEAT = 7


def ns_per_element(fn, number):
    """Best of REPEAT timings of `number` calls, in ns per element."""
    best = min(timeit.repeat(fn, number=number, repeat=REPEAT))
    return best / number / N * 1e9


def main():
    rng = np.random.default_rng(0)
    # hidden-layer pre-activations are mostly O(1); exp's inputs span its range
    x_tanh = rng.normal(0.0, 2.0, N)
    x_exp = rng.uniform(-700.0, 700.0, N)
    out = np.empty(N)
    paths = vm.available_paths()
    print(f"N = {N}; paths this CPU runs: {paths}; dispatch selects {vm.selected_path()!r}")
    print(f"{'function':10s} {'numpy':>8s} " + " ".join(f"{p:>8s}" for p in paths))
    rows = [
        ("tanh", lambda: np.tanh(x_tanh, out=out), vm.tanh_path, x_tanh),
        ("exp", lambda: np.exp(x_exp, out=out), vm.exp_path, x_exp),
        ("sigmoid", lambda: np.divide(1.0, np.add(1.0, np.exp(np.negative(x_tanh, out=out), out=out), out=out), out=out),
         vm.sigmoid_path, x_tanh),
    ]
    for name, numpy_fn, path_fn, x in rows:
        cells = [ns_per_element(numpy_fn, 50)]
        for p in paths:
            cells.append(ns_per_element(lambda: path_fn(p, out, x), 50))
        print(f"{name:10s} " + " ".join(f"{c:8.3f}" for c in cells))
    print("(ns per element, best of", REPEAT, "runs of 50 calls)")


if __name__ == "__main__":
    main()
