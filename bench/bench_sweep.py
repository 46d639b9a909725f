"""Time the same sweep grid with one joblib worker and with two -> the speed-up.

    python bench/bench_sweep.py                 # threads, 5 runs each
    python bench/bench_sweep.py --backend processes --repeats 3

The grid is the README's: hidden 1 2 3 5 20 x epsilon 0.01 0.002 x seed 0 1,
here at 5000 passes (20 networks). Each worker count is timed ``--repeats``
times, alternating, after one warm-up run of each; the medians are compared.
Threads can run side by side because the compiled kernels release the GIL.
"""

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fastbp  # noqa: E402
from fastbp import sweeps  # noqa: E402

GRID = dict(hidden=[1, 2, 3, 5, 20], epsilon=[0.01, 0.002], seed=[0, 1])


def time_sweep(passes, n_jobs, backend):
    start = time.perf_counter()
    rows = sweeps.sweep(**GRID, passes=passes, n_jobs=n_jobs, backend=backend)
    return time.perf_counter() - start, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", choices=sweeps.BACKENDS, default="threads")
    args = parser.parse_args()

    cpu = "unknown CPU"
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print("fastbp %s, Python %s, %s, %d cores available, load average %s"
          % (fastbp.__version__, platform.python_version(), cpu, len(os.sched_getaffinity(0)),
             " ".join("%.2f" % load for load in os.getloadavg())))
    networks = len(GRID["hidden"]) * len(GRID["epsilon"]) * len(GRID["seed"])
    print("grid: %d networks x %d passes, joblib backend %s, %d timed runs per worker count"
          % (networks, args.passes, args.backend, args.repeats))

    times = {1: [], 2: []}
    results = {}
    for n_jobs in times:  # warm-up: imports, thread or process pools
        results[n_jobs] = time_sweep(args.passes, n_jobs, args.backend)[1]
    for _ in range(args.repeats):
        for n_jobs in times:
            seconds, _rows = time_sweep(args.passes, n_jobs, args.backend)
            times[n_jobs].append(seconds)
    same = [{k: v for k, v in row.items() if k != "seconds"} for row in results[1]] == \
           [{k: v for k, v in row.items() if k != "seconds"} for row in results[2]]
    for n_jobs, runs in times.items():
        print("  %d worker%s: median %.3f s (runs: %s)" % (n_jobs, "" if n_jobs == 1 else "s", statistics.median(runs),
                                                         ", ".join("%.3f" % t for t in runs)))
    print("speed-up of 2 workers over 1: %.2fx; rows identical: %s"
          % (statistics.median(times[1]) / statistics.median(times[2]), same))


if __name__ == "__main__":
    main()
