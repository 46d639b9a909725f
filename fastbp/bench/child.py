"""The child-process side of the suite: ``python -m fastbp.bench.child SPEC.json RESULT.json``.

A contender child trains one contender, in one precision, on a list of
shapes, one after the other, and rewrites RESULT.json after each, so that a
crash loses only the shape it happened on. Per shape: set-up and an untimed
warm-up run (imports, compilation, first-touch of memory), a calibration run
that sets the passes per timed run to last about ``target_s`` (at least
``MIN_PASSES_PER_RUN``), one untimed run
of that many passes (a JIT compiles for it here), then ``repeats`` timed runs,
each from the initial weights; then a separate run of ``check_passes`` whose
final loss is compared between contenders.

Memory: before the timed runs the child frees what it can (gc, glibc
``malloc_trim``), reads its resident set size as the baseline and resets the
kernel's peak mark (``/proc/self/clear_refs``); "peak memory added" is VmHWM
after the timed runs minus that baseline.
"""

import ctypes
import gc
import json
import math
import os
import statistics
import sys
import time
import traceback

import numpy as np

from .peers import CONTENDERS
from .shapes import make_data, sizes_of

MAX_PASSES_PER_RUN = 1_000_000
# What a call does once (fastbp.train and the estimators' fit check their input,
# copy the weights and allocate inside every call) would otherwise be half of a
# one-pass run at the widest shapes: at least this many passes per timed run
# make it at most a fifth.
MIN_PASSES_PER_RUN = 5
# /proc/stat counts in clock ticks of 10 ms: a shorter window says nothing about other processes.
MIN_CPU_WINDOW_S = 0.5


def system_busy_s():
    """CPU seconds all processes on the machine have used (from /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    return (sum(fields[:8]) - fields[3] - fields[4] - fields[7]) / os.sysconf("SC_CLK_TCK")


class CpuWindow:
    """Cores this process kept busy over a window (from its own high-resolution CPU clock, so that
    a short window cannot read more cores than exist), and cores the other processes kept busy."""

    def __enter__(self):
        self.busy, self.own, self.wall = system_busy_s(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        own = time.process_time() - self.own
        self.own_cores = own / wall
        self.other_cores = None
        busy = system_busy_s()
        if self.busy is not None and busy is not None and wall >= MIN_CPU_WINDOW_S:
            self.other_cores = max(0.0, (busy - self.busy) - own) / wall
        return False


def _status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def _free_and_reset_peak():
    """Return freed heap to the OS, read RSS, reset the peak-RSS mark -> (baseline KiB, reset worked)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    baseline = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return baseline, True
    except OSError:
        return baseline, False


def timed(run, passes):
    start = time.perf_counter()
    model = run(passes)
    return time.perf_counter() - start, model


def measure(spec, s):
    """One contender on one shape -> its result dict."""
    from .. import reference
    dtype = spec["dtype"]
    result = {"contender": spec["contender"], "dtype": dtype, "shape": s["name"]}
    X, y = make_data(s)
    init = reference.init_params(sizes_of(s), 0, np.dtype(dtype))
    X = X.astype(dtype)
    run, info = CONTENDERS[spec["contender"]](X, y, s, init, dtype)
    result.update(info)

    start = time.perf_counter()
    run(1)  # imports, compilation, first touch of memory
    once, _ = timed(run, 1)
    passes = spec.get("passes") or int(min(MAX_PASSES_PER_RUN, max(MIN_PASSES_PER_RUN,
                                                                    round(spec["target_s"] / once))))
    if passes != 1:
        run(passes)  # a JIT specialised on the run's length compiles here
    result["warmup_s"] = time.perf_counter() - start
    baseline, reset = _free_and_reset_peak()
    times, model = [], None
    with CpuWindow() as window:
        for _ in range(spec["repeats"]):
            model = None
            elapsed, model = timed(run, passes)
            times.append(elapsed)
    peak = _status_kib("VmHWM") if reset else None
    result.update(passes=passes, times=times, own_cores=window.own_cores, other_cores=window.other_cores,
                  peak_added_mib=(peak - baseline) / 1024 if peak else None, X_mib=X.nbytes / 2**20)
    result["final_loss"] = float(reference.calculate_loss(model, X, y, s["reg_lambda"]))
    check = run(spec["check_passes"]) if spec["check_passes"] != passes else model
    result["check_passes"] = spec["check_passes"]
    result["check_loss"] = float(reference.calculate_loss(check, X, y, s["reg_lambda"]))
    finite = all(np.all(np.isfinite(v)) for v in model.values()) and math.isfinite(result["final_loss"])
    result["status"] = "ok" if finite else "diverged"
    if not finite:
        result["note"] = (result.get("note", "") + "; non-finite weights or loss").lstrip("; ")
    return result


def contender(spec, result_path):
    results = []
    for s in spec["shapes"]:
        try:
            results.append(measure(spec, s))
        except MemoryError:
            results.append({"status": "failed", "note": "MemoryError"})
        except Exception as error:  # reported in the table; the child goes on with the next shape
            traceback.print_exc()
            results.append({"status": "failed", "note": "%s: %s" % (type(error).__name__,
                                                                     str(error).splitlines()[0][:200]
                                                                     if str(error) else "")})
        results[-1].update(contender=spec["contender"], dtype=spec["dtype"], shape=s["name"])
        write(result_path, {"points": results})
    return {"points": results}


def gemm(spec, result_path):
    """Median rate of A @ B (n x n) in float64 (DGEMM) and float32 (SGEMM), 1 and 2 BLAS threads."""
    from threadpoolctl import threadpool_limits
    n = spec["n"]
    rng = np.random.default_rng(0)
    result = {"n": n}
    for dtype in ("float64", "float32"):
        A, B = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
        for threads in (1, 2):
            with threadpool_limits(limits=threads, user_api="blas"), CpuWindow() as window:
                A @ B
                times = []
                for _ in range(spec["repeats"]):
                    start = time.perf_counter()
                    A @ B
                    times.append(time.perf_counter() - start)
            key = "%s_%dT" % (dtype, threads)
            result[key] = 2 * n**3 / statistics.median(times) / 1e9
            result["other_cores_" + key] = window.other_cores
    return result


def contention(spec, result_path):
    """fastbp with its default threads and with one, alternately, on each shape -> medians and
    whether both gave the same bits."""
    return {"points": [contention_point(spec, s) for s in spec["shapes"]]}


def contention_point(spec, s):
    from .. import trainer
    X, y = make_data(s)
    X = X.astype(spec["dtype"])

    def run(num_threads, passes):
        return trainer.train(X, y, hidden=s["hidden"], num_passes=passes, epsilon=s["epsilon"],
                             reg_lambda=s["reg_lambda"], seed=0, batch_size=s["B"], num_threads=num_threads,
                             dtype=spec["dtype"]).model
    run(None, 1)
    once, _ = timed(lambda p: run(1, p), 1)
    passes = int(max(1, round(spec["target_s"] / once)))
    times, models = {"default": [], "one": []}, {}
    with CpuWindow() as window:
        for _ in range(spec["repeats"]):
            for key, threads in (("default", None), ("one", 1)):
                elapsed, models[key] = timed(lambda p, t=threads: run(t, p), passes)
                times[key].append(elapsed / passes)
    same_bits = all(np.array_equal(models["default"][k], models["one"][k]) for k in models["one"])
    return {"shape": s["name"], "passes": passes, "times": times, "default_threads": trainer.default_num_threads(),
            "same_bits": same_bits, "median_default": statistics.median(times["default"]),
            "median_one": statistics.median(times["one"]), "other_cores": window.other_cores}


def write(path, result):
    with open(path, "w") as f:
        json.dump(result, f, default=float)


KINDS = {"contender": contender, "gemm": gemm, "contention": contention}


def main(spec_path, result_path):
    with open(spec_path) as f:
        spec = json.load(f)
    for s in spec.get("shapes", []):
        s["hidden"] = tuple(s["hidden"])
    try:
        result = KINDS[spec["kind"]](spec, result_path)
    except MemoryError:
        result = {"status": "failed", "note": "MemoryError"}
    except Exception as error:
        traceback.print_exc()
        result = {"status": "failed", "note": "%s: %s" % (type(error).__name__, str(error)[:200])}
    write(result_path, result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
