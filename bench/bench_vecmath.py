"""Prints ns/element of fastbp's own exp / tanh / sigmoid (src/vecmath.h), per
dispatch path, against NumPy's np.exp / np.tanh, on 10^5 elements, in float64
and in float32.

    python bench/bench_vecmath.py        (after python setup.py build_ext --inplace)
    python bench/bench_vecmath.py --float32-exhaustive

Nothing is asserted; the numbers depend on the machine and its load.
--float32-exhaustive instead measures the float32 tanh on every float in
[2^-126, 10] (about 1.1e9 of them; above 10 the result is 1, below 2^-126 it is
x), per path, against the float64 np.tanh rounded to float32 (the correctly
rounded value except in ties closer than 2^-28 ulp), and prints the largest
error in ulp and how many results are not correctly rounded: the measurement
behind the bound stated in src/vecmath.h.
"""

import functools
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


def float32_exhaustive(chunk=1 << 24):
    lo = np.float32(2.0**-126).view(np.uint32)
    hi = np.float32(10.0).view(np.uint32)
    for p in vm.available_paths():
        worst, worst_x, not_rounded, total = 0, None, 0, 0
        for start in range(int(lo), int(hi) + 1, chunk):
            bits = np.arange(start, min(start + chunk, int(hi) + 1), dtype=np.uint32)
            x = bits.view(np.float32)
            got = np.empty_like(x)
            vm.tanh_path(p, got, x)
            expected = np.tanh(x.astype(np.float64)).astype(np.float32)
            # positive results: ulp distance is the distance of the bit patterns
            error = np.abs(got.view(np.int32).astype(np.int64) - expected.view(np.int32).astype(np.int64))
            i = int(error.argmax())
            if error[i] > worst:
                worst, worst_x = int(error[i]), float(x[i])
            not_rounded += int(np.count_nonzero(error))
            total += len(x)
        print(f"tanh float32, {p}: {total} inputs in [2^-126, 10]; max {worst} ulp (at x = {worst_x!r}); "
              f"{not_rounded} ({100 * not_rounded / total:.2f}%) not correctly rounded", flush=True)


def main():
    if "--float32-exhaustive" in sys.argv[1:]:
        float32_exhaustive()
        return
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
        ("sigmoid",
         lambda: np.divide(1.0, np.add(1.0, np.exp(np.negative(x_tanh, out=out), out=out), out=out), out=out),
         vm.sigmoid_path, x_tanh),
    ]
    x_tanh32, x_exp32 = x_tanh.astype(np.float32), rng.uniform(-87.0, 88.0, N).astype(np.float32)
    out32 = np.empty(N, dtype=np.float32)
    rows += [
        ("tanh f32", lambda: np.tanh(x_tanh32, out=out32), vm.tanh_path, x_tanh32),
        ("exp f32", lambda: np.exp(x_exp32, out=out32), vm.exp_path, x_exp32),
    ]
    for name, numpy_fn, path_fn, x in rows:
        target = out if x.dtype == np.float64 else out32
        cells = [ns_per_element(numpy_fn, 50)]
        for p in paths:
            cells.append(ns_per_element(functools.partial(path_fn, p, target, x), 50))
        print(f"{name:10s} " + " ".join(f"{c:8.3f}" for c in cells))
    print("(ns per element, best of", REPEAT, "runs of 50 calls)")


if __name__ == "__main__":
    main()
