"""Measure the driver's tuning constants on this machine (src/workspace.pxi).

    python bench/bench_kernels.py [--repeats 5] [--precisions]

1. Rows per block: time per full-batch pass of the medium and large jobs of
   fastbp bench and of a wide network whose layers take the packed products
   (1024-1024-10 on 2048 rows) for several block sizes (BLOCK_BYTES and
   PACKED_BLOCK_ROWS pick one from the layer sizes).
2. Threads: time per pass with 1 and 2 threads for small to medium amounts of
   work, with the driver's own partition, to find where a second thread starts
   to pay (MIN_PARALLEL_WORK). Below MIN_PARALLEL_WORK the driver runs one
   thread whatever is asked, so rows under it show no gain by construction.
3. With --precisions, only this: float32 against float64 on the medium and
   large jobs, through fastbp.train, alternating in one process (medians).
4. With --products, only this: the layer products on one block of rows, by the
   loops of src/narrow_products.pxd (the path of layers with fewer than MIN_TILED_WEIGHTS weights)
   and by the tiled kernels of src/tiled_products.h (the path of wider ones), both
   called directly, for layer shapes either side of the threshold.

Parts 1 and 2 call the compiled workspace (fastbp._driver.Workspace)
directly, so only the passes are timed; each figure is the best of --repeats
runs.
"""

import argparse
import time

import numpy as np

import fastbp
from fastbp import _backend, _driver, reference


def flat_parameters(sizes, seed=0):
    return _backend.flat_params(reference.init_params(sizes, seed), reference.parameter_names(len(sizes) - 1))


def seconds_per_pass(X, y, sizes, num_threads, repeats, passes, block_rows=None):
    network = _driver.Workspace(sizes, _driver.ACTIVATION_CODES["tanh"], np.ascontiguousarray(X.T).ravel(),
                                np.ascontiguousarray(y, dtype=np.intp), len(y), num_threads, block_rows=block_rows)
    initial = flat_parameters(sizes)
    best = float("inf")
    for _ in range(repeats):
        params = initial.copy()
        start = time.perf_counter()
        network.train_passes(params, np.empty(0, dtype=np.intp), np.full(passes, 1e-9), 0.01, 0, passes, 0,
                             np.empty(0))
        best = min(best, time.perf_counter() - start)
    return best / passes


def compare_precisions(repeats):
    """float32 against float64 on the medium and large jobs of bench/run.py:
    fastbp.train (2 threads) in one process, the two precisions alternating
    run after run, so that both see the same machine; medians of the runs."""
    rng = np.random.default_rng(0)
    jobs = {"medium": fastbp.datasets.make_moons(10000, noise=0.20, seed=0) + (64, 20),
            "large": (rng.standard_normal((100000, 20)), rng.integers(0, 10, 100000), 256, 6)}
    print("float32 vs float64, fastbp.train with 2 threads, median of %d alternating runs" % repeats)
    for name, (X, y, hidden, passes) in jobs.items():
        data = {"float64": X, "float32": X.astype(np.float32)}
        times = {"float64": [], "float32": []}
        for _ in range(repeats):
            for dtype in ("float64", "float32"):
                start = time.perf_counter()
                fastbp.train(data[dtype], y, hidden, num_passes=passes, epsilon=0.01 / len(y), num_threads=2,
                             dtype=dtype)
                times[dtype].append((time.perf_counter() - start) / passes)
        double, single = np.median(times["float64"]), np.median(times["float32"])
        print("  %-6s float64 %9.1f us/pass, float32 %9.1f us/pass: float32 %.2fx faster"
              % (name, double * 1e6, single * 1e6, double / single))


def product_rates(J, K, n, repeats, calls=200):
    """-> GFLOP/s of the forward product (inp (n,J)^T by W) and of the weight
    gradient (inp against delta (n,K)^T), by the loops and by the tiles, best of
    repeats; the two paths alternate, so that both see the same machine."""
    from fastbp import _layers, _vecmath
    path = _vecmath.selected_path()
    rng = np.random.default_rng(J * K)
    inp, W, b = rng.standard_normal(n * J), rng.standard_normal(J * K), rng.standard_normal(K)
    delta, z, dW = rng.standard_normal(n * K), np.empty(n * K), np.zeros(J * K)
    runs = {
        "forward loops": lambda: _layers.dense_forward_by_loops(z, inp, W, b, n, J, K),
        "forward tiles": lambda: _layers.combine_features(path, z, inp, W, K, 1, b, True, b, False, n, J, K),
        "gradient loops": lambda: _layers.dense_backward_by_loops(dW, delta, inp, n, J, K),
        "gradient tiles": lambda: _layers.correlate_features(path, dW, inp, delta, n, J, K),
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            best[name] = min(best[name], (time.perf_counter() - start) / calls)
    return {name: 2.0 * n * J * K / seconds / 1e9 for name, seconds in best.items()}


def compare_products(repeats):
    n = 256
    print("layer products on a block of %d rows, GFLOP/s (loops: src/narrow_products.pxd; tiles: src/tiled_products.h);"
          " layers of at least MIN_TILED_WEIGHTS weights take the tiles" % n)
    print("  %-10s %14s %14s %15s %15s" % ("J x K", "forward loops", "forward tiles", "gradient loops",
                                            "gradient tiles"))
    for J, K in [(2, 3), (3, 2), (2, 5), (2, 8), (4, 4), (3, 8), (2, 16), (16, 2), (6, 6), (2, 64), (64, 2),
                 (16, 16), (20, 256), (256, 10), (64, 64)]:
        rates = product_rates(J, K, n, repeats)
        print("  %-10s %14.2f %14.2f %15.2f %15.2f" % ("%d x %d" % (J, K), rates["forward loops"],
                                                         rates["forward tiles"], rates["gradient loops"],
                                                         rates["gradient tiles"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precisions", action="store_true",
                        help="only compare float32 with float64 (medium and large jobs)")
    parser.add_argument("--products", action="store_true",
                        help="only time the layer products by loops and by tiles (MIN_TILED_WEIGHTS)")
    args = parser.parse_args(argv)
    if args.precisions:
        compare_precisions(args.repeats)
        return
    if args.products:
        compare_products(args.repeats)
        return

    print("rows per block (2 threads); the driver's default is marked *")
    rng = np.random.default_rng(0)
    medium = fastbp.datasets.make_moons(10000, noise=0.20, seed=0) + ((2, 64, 2), 20)
    large = (rng.standard_normal((100000, 20)), rng.integers(0, 10, 100000)) + ((20, 256, 10), 2)
    wide = (rng.standard_normal((2048, 1024)), rng.integers(0, 10, 2048)) + ((1024, 1024, 10), 2)
    for name, (X, y, sizes, passes) in (("medium", medium), ("large", large), ("wide", wide)):
        default = _driver.block_rows_for(sizes, len(y))
        for block_rows in sorted({32, 64, 128, 256, 512, 1024, default}):
            t = seconds_per_pass(X, y, sizes, 2, args.repeats, passes, block_rows)
            print("  %-6s %5d rows%s %9.1f us/pass" % (name, block_rows, "*" if block_rows == default else " ",
                                                      t * 1e6))

    print("1 vs 2 threads (D = 2, C = 2)")
    for H in (3, 16, 64):
        for N in (200, 500, 1000, 2000, 4000):
            X, y = rng.standard_normal((N, 2)), rng.integers(0, 2, N)
            sizes = (2, H, 2)
            passes = max(20, 2000000 // (N * H))
            one, two = (seconds_per_pass(X, y, sizes, T, args.repeats, passes) for T in (1, 2))
            print("  H=%3d N=%5d %8d multiply-adds/pass: 1 thread %8.1f us, 2 threads %8.1f us (%.2fx)"
                  % (H, N, N * 2 * (2 * H), one * 1e6, two * 1e6, one / two))


if __name__ == "__main__":
    main()
