"""The three products of a dense layer by the packed GEMM (src/gemm.h), by the
register tiles (src/tiled_products.h) and by NumPy's BLAS, in GFLOP/s.

    python bench/bench_gemm.py [--repeats 5] [--shapes 784x512,64x64] [--rows 128,10000]
    python bench/bench_gemm.py --contention [--repeats 3]

For each layer shape J x K (inputs x outputs) and each number of samples n,
the products of one block of n samples, all in the kernels' feature-major
layout ((n,K)^T):

    forward   z (K,n)    = W.T @ inp + b      (W (J,K), inp (J,n))
    input     dinp (J,n) = W @ delta          (delta (K,n))
    weights   dW (J,K)  += inp @ delta.T

- gemm1 / gemm2: the packed GEMM on one thread and sharing the rows of its
  output between two (the driver does this within a step that is one block);
- tiles: tiled_products.h's tiles, one thread (the driver runs them one block per
  thread); the weight gradient includes folding its partial sums, once;
- blas1 / blas2: NumPy's matmul on the same arrays with one and two BLAS
  threads (threadpoolctl), as a reference for the machine's rate.
With --contention, instead: time per pass of two training jobs through the
compiled workspace on one and on two threads, while another process spins on
a core (started and stopped here): the medium job of bench/run.py (make_moons
10 000, 64 tanh units, full batch) and a minibatch epoch of 784-256-10 on 4096
samples in steps of 128 (one block a step: two threads share its products).

Every figure is the best of --repeats runs of the methods in turn (they
alternate, so that each sees the same machine). The one-thread methods are
timed in the CPU time of the calling thread (time.thread_time), which leaves
out the time other processes hold its core, so that their figures hold on a
shared machine; the two-thread ones can only be timed on the wall clock, and
on a busy machine show the time the second thread waited for a core.
2 * J * K * n floating-point operations per product.
"""

import argparse
import subprocess
import sys
import time

import numpy as np

import fastbp
from fastbp import _backend, _driver, _layers, _vecmath, reference

SHAPES = ((784, 512), (784, 256), (256, 256), (1024, 1024), (64, 64), (20, 10))
ROWS = (128, 10000)
METHODS = ("gemm1", "gemm2", "tiles", "blas1", "blas2")
PRODUCTS = ("forward", "input", "weights")


def blas_threads(count):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(count, user_api="blas")


def runners(J, K, n, dtype, path):
    """-> {(product, method): a function that computes it once}"""
    rng = np.random.default_rng(J + K + n)
    inp, delta = rng.standard_normal((J, n)).astype(dtype), rng.standard_normal((K, n)).astype(dtype)
    W, b = rng.standard_normal((J, K)).astype(dtype), rng.standard_normal(K).astype(dtype)
    Wf, inpf, deltaf = W.ravel(), inp.ravel(), delta.ravel()
    z, dinp, dW = np.empty(K * n, dtype), np.empty(J * n, dtype), np.zeros(J * K, dtype)
    unused = np.zeros(1, dtype)
    calls = {}
    for threads in (1, 2):
        method = "gemm%d" % threads
        calls["forward", method] = lambda t=threads: _layers.packed_gemm(
            path, z, n, Wf, 1, K, inpf, n, 1, K, n, J, False, b, True, unused, False, 0, t)
        calls["input", method] = lambda t=threads: _layers.packed_gemm(
            path, dinp, n, Wf, K, 1, deltaf, n, 1, J, n, K, False, unused, False, unused, False, 0, t)
        calls["weights", method] = lambda t=threads: _layers.packed_gemm(
            path, dW, K, inpf, n, 1, deltaf, 1, n, J, K, n, True, unused, False, unused, False, 0, t)
    calls["forward", "tiles"] = lambda: _layers.combine_features(path, z, inpf, Wf, K, 1, b, True, unused, False,
                                                                 n, J, K)
    calls["input", "tiles"] = lambda: _layers.combine_features(path, dinp, deltaf, Wf, 1, K, unused, False, unused,
                                                               False, n, K, J)
    calls["weights", "tiles"] = lambda: _layers.correlate_features(path, dW, inpf, deltaf, n, J, K)
    for threads in (1, 2):
        method = "blas%d" % threads
        calls["forward", method] = lambda: np.add(W.T @ inp, b[:, None])
        calls["input", method] = lambda: W @ delta
        calls["weights", method] = lambda: np.add(dW.reshape(J, K), inp @ delta.T)
    return calls


def rates(J, K, n, dtype, repeats, path):
    calls = runners(J, K, n, dtype, path)
    flops = 2.0 * J * K * n
    inner = max(1, int(2e8 // flops))  # calls per timing: about 0.1 s at 2 GFLOP/s
    best = {key: float("inf") for key in calls}
    for _ in range(repeats):
        for key, call in calls.items():
            limits = blas_threads(int(key[1][-1])) if key[1].startswith("blas") else None
            clock = time.perf_counter if key[1].endswith("2") else time.thread_time
            call()
            start = clock()
            for _ in range(inner):
                call()
            best[key] = min(best[key], (clock() - start) / inner)
            if limits is not None:
                limits.unregister()
    return {key: flops / seconds / 1e9 for key, seconds in best.items()}


def seconds_per_pass(sizes, X, y, batch_size, num_threads, repeats, passes):
    N = len(y)
    network = _driver.Workspace(sizes, _driver.ACTIVATION_CODES["tanh"], _driver.feature_major(X, 1),
                                np.ascontiguousarray(y, dtype=np.intp), batch_size, num_threads)
    initial = _backend.flat_params(reference.init_params(sizes, 0), reference.parameter_names(len(sizes) - 1))
    rng = np.random.default_rng(0)
    orders = (np.concatenate([rng.permutation(N) for _ in range(passes)]).astype(np.intp) if batch_size < N
              else np.empty(0, dtype=np.intp))
    epsilons = np.full(passes * -(-N // batch_size), 1e-9)
    best = float("inf")
    for _ in range(repeats):
        params = initial.copy()
        start = time.perf_counter()
        network.train_passes(params, orders, epsilons, 0.01, 0, passes, 0, np.empty(0))
        best = min(best, time.perf_counter() - start)
    return best / passes


def contention(repeats):
    """One and two threads with a spinning neighbour: the ratio two / one should stay near 1 or below."""
    rng = np.random.default_rng(0)
    X_moons, y_moons = fastbp.datasets.make_moons(10000, noise=0.20, seed=0)
    jobs = {"medium, full batch": ((2, 64, 2), X_moons, y_moons, 10000, 20),
            "784-256-10, B = 128": ((784, 256, 10), rng.standard_normal((4096, 784)), rng.integers(0, 10, 4096),
                                    128, 1)}
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        print("ms per pass with a process spinning on one core, best of %d" % repeats)
        for name, (sizes, X, y, batch_size, passes) in jobs.items():
            one, two = (seconds_per_pass(sizes, X, y, batch_size, threads, repeats, passes) for threads in (1, 2))
            print("  %-22s 1 thread %8.2f, 2 threads %8.2f: two / one = %.2f" % (name, one * 1e3, two * 1e3, two / one))
    finally:
        neighbour.kill()
        neighbour.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shapes", default=",".join("%dx%d" % shape for shape in SHAPES))
    parser.add_argument("--rows", default=",".join(str(n) for n in ROWS))
    parser.add_argument("--float32-only", action="store_true")
    parser.add_argument("--contention", action="store_true",
                        help="only time one and two threads on two training jobs beside a spinning process")
    args = parser.parse_args(argv)
    if args.contention:
        contention(args.repeats)
        return
    shapes = [tuple(int(part) for part in shape.split("x")) for shape in args.shapes.split(",")]
    rows = [int(n) for n in args.rows.split(",")]
    path = _vecmath.selected_path()
    dtypes = (np.float32,) if args.float32_only else (np.float64, np.float32)
    print("GFLOP/s, best of %d; path %s; one thread: CPU time, two: wall clock; threadpoolctl %s" % (
        args.repeats, path, "found" if blas_threads(1) is not None else "missing: blas1/blas2 use BLAS's default"))
    print("%-8s %-10s %6s %-8s" % ("dtype", "J x K", "n", "product") + "".join("%8s" % m for m in METHODS))
    for dtype in dtypes:
        for J, K in shapes:
            for n in rows:
                result = rates(J, K, n, dtype, args.repeats, path)
                for product in PRODUCTS:
                    print("%-8s %-10s %6d %-8s" % (np.dtype(dtype).name, "%dx%d" % (J, K), n, product)
                          + "".join("%8.1f" % result[product, method] for method in METHODS), flush=True)


if __name__ == "__main__":
    main()
