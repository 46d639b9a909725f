"""Time the lecture's job (H = 3, 20000 passes) with the NumPy reference and the
compiled kernels, in one process, and print the time per pass and the ratio.

    python bench/bench_lecture.py [--repeats 5] [--passes 20000] [--hidden 3 [20 50 ...]]

Backends alternate within each repeat so that a noisy neighbour on the shared
machine slows both alike; the figures are medians over the repeats.
"""

import argparse
import statistics
import time

import fastbp


def time_build_model(X, y, hidden, backend, num_passes):
    start = time.perf_counter()
    fastbp.build_model(X, y, hidden, num_passes=num_passes, backend=backend)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--passes", type=int, default=20000)
    parser.add_argument("--hidden", type=int, nargs="+", default=[3], help="hidden-layer sizes (default: 3)")
    args = parser.parse_args(argv)

    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    backends = ("numpy", "cython")
    for hidden in args.hidden:
        times = {backend: [] for backend in backends}
        for _ in range(args.repeats):
            for backend in backends:
                times[backend].append(time_build_model(X, y, hidden, backend, args.passes))

        print("lecture job: make_moons(200, noise=0.20), H = %d, %d passes, median of %d runs"
              % (hidden, args.passes, args.repeats))
        medians = {backend: statistics.median(times[backend]) for backend in backends}
        for backend in backends:
            print("  %-7s %9.2f us/pass  (%.3f s per run)"
                  % (backend, medians[backend] / args.passes * 1e6, medians[backend]))
        print("  cython is %.1fx faster than the numpy reference" % (medians["numpy"] / medians["cython"]))


if __name__ == "__main__":
    main()
