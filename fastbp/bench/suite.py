"""The parent: plans the runs, starts every contender in its own process, collects the report.

Parts: "jobs" (the three jobs the kernels were first tuned on), "sweep" (the
shape sweep), "contention" (default threads against one, with and without a
process spinning on one core), or a user's own shape. The machine's DGEMM and
SGEMM rates are measured in the same run, before and after the contenders,
and the higher is the ceiling; the load while they were measured is reported.
"""

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata

from . import peers, shapes

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The results the developers commit, in a source checkout; fastbp bench never writes there
# unless told to with --write-committed-results.
COMMITTED_RESULTS = os.path.join(PACKAGE_ROOT, "bench", "results")
RESULT_FILES = ("benchmark.md", "benchmark.json", "benchmark.png", "benchmark-sweep.png")

JOB_CONTENDERS = ("fastbp", "fastbp NumPy reference", "lecture NumPy code", "scikit-learn MLPClassifier",
                  "FastBPClassifier",
                  "PyTorch eager", "PyTorch torch.compile", "JAX jit + fori_loop")
# In this order, so that a stopped run has kept fastbp and its fastest peers; torch.compile,
# which compiles for seconds per shape, last.
SWEEP_CONTENDERS = ("fastbp", "JAX jit + fori_loop", "PyTorch eager", "scikit-learn MLPClassifier",
                    "FastBPClassifier", "fastbp NumPy reference", "PyTorch torch.compile")
# --quick: fastbp, the fastest peer (JAX) and NumPy, a few shapes, to finish in about a minute;
# PyTorch alone takes seconds to start per child, torch.compile tens of seconds per shape.
QUICK_CONTENDERS = ("fastbp", "fastbp NumPy reference", "JAX jit + fori_loop")
QUICK_LECTURE_ONLY = ("fastbp NumPy reference",)  # seconds per pass at the larger jobs
DTYPES = ("float64", "float32")
# passes of the loss check: the lecture's job is at the edge of stability after ~1000 passes
# (docs/numerics.md), where one-ulp differences grow to 1e-5, so it is checked after 500.
CHECK_PASSES = {"lecture": 500, "medium": 20, "large": 2}
SWEEP_CHECK_PASSES = 1
TARGET_S = {"full": 0.2, "quick": 0.05}  # the length of one timed run
SWEEP_TARGET_S = {"full": 0.1, "quick": 0.05}
REPEATS = {"full": 5, "quick": 3}
SWEEP_REPEATS = 3
CONTENTION_SHAPES = (shapes.JOBS["medium"],
                     shapes.shape("N=4096 D=784 H=256 C=10 B=128", 4096, 784, 256, 10, 128))


class OutDirError(ValueError):
    """--out names a folder the benchmark must not write to."""


def default_out_dir(now=None):
    """A new folder in the current directory, named after the date and time."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = path = os.path.abspath("fastbp-bench-%s" % stamp)
    n = 1
    while os.path.exists(path):
        n += 1
        path = "%s-%d" % (base, n)
    return path


def is_committed_results(out):
    return os.path.isdir(COMMITTED_RESULTS) and os.path.realpath(out) == os.path.realpath(COMMITTED_RESULTS)


def check_out_dir(out, write_committed):
    """Refuse the committed results (unless write_committed) and a folder holding results already."""
    if is_committed_results(out):
        if not write_committed:
            raise OutDirError("--out %s is the results committed with fastbp's source: write your run elsewhere "
                              "(the default is a new folder); only the developers replace them, with "
                              "--write-committed-results" % out)
        return
    if write_committed:
        raise OutDirError("--write-committed-results is only for --out %s" % COMMITTED_RESULTS)
    existing = [name for name in RESULT_FILES if os.path.exists(os.path.join(out, name))]
    if existing:
        raise OutDirError("--out %s already holds benchmark results (%s): choose a new folder"
                          % (out, ", ".join(existing)))


# ---------------------------------------------------------------- children

def run_child(spec, timeout):
    """Run python -m fastbp.bench.child on spec -> its result dict, or a failure record; never raises."""
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, result_path = os.path.join(tmp, "spec.json"), os.path.join(tmp, "result.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([PACKAGE_ROOT] + [p for p in [os.environ.get("PYTHONPATH")]
                                                                            if p]))
        failure = None
        try:
            proc = subprocess.run([sys.executable, "-m", "fastbp.bench.child", spec_path, result_path], env=env,
                                  capture_output=True, text=True, timeout=timeout)
            if proc.returncode < 0:
                failure = "killed by signal %d%s" % (-proc.returncode, " (out of memory?)" if proc.returncode == -9
                                                     else "")
            elif proc.returncode:
                tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
                failure = "exit code %d: %s" % (proc.returncode, tail[0][:200])
        except subprocess.TimeoutExpired:
            failure = "timed out after %d s" % timeout
        result = {}
        if os.path.exists(result_path):
            with open(result_path) as f:
                result = json.load(f)
        if failure:
            result.setdefault("status", "failed")
            result["note"] = failure
        return result


def run_contender(contender, dtype, shape_list, spec, timeout, log):
    """One child for a contender in one precision over shape_list -> one result per shape."""
    reason = peers.missing(contender)
    todo = [s for s in shape_list if not peers.cannot_express(contender, s, dtype)]
    results = {}
    if reason is None and todo:
        child = run_child(dict(spec, kind="contender", contender=contender, dtype=dtype, shapes=todo), timeout)
        results = {r["shape"]: r for r in child.get("points", [])}
        died = child.get("note", "child failed")
    rows = []
    for s in shape_list:
        if reason:
            row = {"status": "skipped", "note": reason}
        elif peers.cannot_express(contender, s, dtype):
            row = {"status": "skipped", "note": peers.cannot_express(contender, s, dtype)}
        else:
            row = results.get(s["name"], {"status": "failed", "note": died})
        row.update(contender=contender, dtype=dtype, shape=s["name"])
        rows.append(row)
        log(row)
    return rows


# ---------------------------------------------------------------- machine

def machine_info():
    info = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as f:
            cpuinfo = f.read()
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                           if line.startswith("model name"))
        flags = set(next(line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")))
        info["simd"] = ("AVX-512 (avx512f)" if "avx512f" in flags else "AVX2" if "avx2" in flags
                        else "AVX" if "avx" in flags else "SSE")
    except (OSError, StopIteration):
        info["cpu"], info["simd"] = platform.processor() or "?", "?"
    info["cores"] = os.cpu_count()
    info["cores_usable"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            info["memory_gib"] = int(f.readline().split()[1]) / 2**20
    except OSError:
        pass
    import numpy  # noqa: F401  (so that threadpoolctl sees NumPy's BLAS)
    from threadpoolctl import threadpool_info
    info["blas"] = ["%s %s (%s, %d threads)" % (p.get("internal_api"), p.get("version"), p.get("architecture"),
                                                p.get("num_threads")) for p in threadpool_info()
                    if p.get("user_api") == "blas"]
    versions = {}
    for package in ("fastbp", "numpy", "scipy", "scikit-learn", "torch", "jax", "jaxlib"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    from .. import __version__
    versions["fastbp"] = __version__
    info["versions"] = versions
    info["fastbp_commit"] = _commit()
    return info


def _commit():
    if not os.path.isdir(os.path.join(PACKAGE_ROOT, ".git")) and not os.path.isfile(os.path.join(PACKAGE_ROOT, ".git")):
        return None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PACKAGE_ROOT, capture_output=True,
                                text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "fastbp"], cwd=PACKAGE_ROOT,
                               capture_output=True, text=True)
    except OSError:
        return None
    return commit.stdout.strip() + (" (with local changes to src/ or fastbp/)" if dirty.stdout.strip() else "")


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


# ---------------------------------------------------------------- the contention test

def spinner():
    """A process spinning on the last usable core -> the Popen (kill it when done)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, {max(os.sched_getaffinity(0))})
    return proc


def contention(quick, timeout):
    spec = {"kind": "contention", "dtype": "float64", "shapes": list(CONTENTION_SHAPES),
            "target_s": TARGET_S["quick" if quick else "full"], "repeats": 3 if quick else 7}
    quiet = run_child(spec, timeout)
    neighbour = spinner()
    try:
        busy = run_child(spec, timeout)
    finally:
        neighbour.kill()
        neighbour.wait()
    return {"quiet": quiet, "spinning": busy}


# ---------------------------------------------------------------- the whole run

def run(parts, quick, user_shape, log=print, checkpoint=lambda report: None):
    """-> the report dict (not yet written); checkpoint(report) after each part, to save it so far."""
    mode = "quick" if quick else "full"
    start = time.perf_counter()
    gemm_spec = {"kind": "gemm", "n": 1000 if quick else 2000, "repeats": 3 if quick else 5}
    report = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "quick": quick,
              "parts": list(parts), "machine": machine_info(), "load_start": load_average(), "sections": {},
              "gemm": [run_child(gemm_spec, 300)], "target_s": TARGET_S[mode]}
    m = report["machine"]
    log("%s, %s, %d cores; BLAS %s" % (m["cpu"], m["simd"], m["cores"], "; ".join(m["blas"])))
    contenders = QUICK_CONTENDERS if quick else None
    base = {"target_s": TARGET_S[mode], "repeats": REPEATS[mode]}

    def section(name, shape_list, names, spec, timeout):
        rows = []
        for contender in names:
            for dtype in DTYPES:
                rows += run_contender(contender, dtype, shape_list, spec, timeout, log)
        report["sections"][name] = {"shapes": shape_list, "rows": rows}
        checkpoint(report)

    if "contention" in parts:
        report["contention"] = contention(quick, 600)
        for key, result in report["contention"].items():
            for p in result.get("points", []):
                log("  contention, %s neighbour: %-30s default threads %.3g s/pass, one thread %.3g s/pass"
                    % ("a spinning" if key == "spinning" else "no", p["shape"], p["median_default"], p["median_one"]))
            if result.get("status") == "failed":
                log("  contention, %s: failed: %s" % (key, result.get("note")))
        checkpoint(report)
    if user_shape is not None:
        section("your shape", [user_shape], contenders or SWEEP_CONTENDERS,
                dict(base, check_passes=SWEEP_CHECK_PASSES), 1800)
    if "jobs" in parts:
        for name, s in shapes.JOBS.items():
            names = [c for c in QUICK_CONTENDERS if name == "lecture" or c not in QUICK_LECTURE_ONLY] if quick \
                else JOB_CONTENDERS
            section(name, [s], names, dict(base, check_passes=CHECK_PASSES[name]), 900)
    if "sweep" in parts:
        # One series at a time, every contender and precision in its own child
        # for the series: the contenders of a shape are timed within a minute or
        # two of each other, not the whole sweep apart (on a shared or virtual
        # machine a core's speed changes over minutes). The order of the
        # children alternates from series to series, so that no contender is
        # always timed first or last.
        widths = shapes.QUICK_WIDTHS if quick else shapes.SWEEP_WIDTHS
        series = {name: shapes.sweep_shapes(name, widths)
                  for name in (shapes.QUICK_SERIES if quick else shapes.SWEEP_SERIES)}
        spec = dict(base, check_passes=SWEEP_CHECK_PASSES, repeats=min(REPEATS[mode], SWEEP_REPEATS),
                    target_s=SWEEP_TARGET_S[mode])
        runs = [(contender, dtype) for contender in contenders or SWEEP_CONTENDERS for dtype in DTYPES]
        for index, (name, shape_list) in enumerate(series.items()):
            rows = {}
            for contender, dtype in (runs if index % 2 == 0 else runs[::-1]):
                rows[contender, dtype] = run_contender(contender, dtype, shape_list, spec, 120 * len(shape_list), log)
            # the tables' and charts' column order is the contenders' own, whatever order they ran in
            report["sections"]["sweep: " + name] = {"shapes": shape_list,
                                                    "rows": [row for run in runs for row in rows[run]]}
            checkpoint(report)
    report["gemm"].append(run_child(gemm_spec, 300))
    report["load_end"] = load_average()
    report["total_s"] = time.perf_counter() - start
    return report


def log_row(row):
    if row.get("status") == "ok":
        median = sorted(row["times"])[len(row["times"]) // 2] / row["passes"]
        print("  %-45s %-28s %-7s %10.3g s/pass  loss %.10g  (cores used %.2f)" % (
            row["shape"][:45], row["contender"], row["dtype"], median, row["check_loss"], row["own_cores"]),
            flush=True)
    else:
        print("  %-45s %-28s %-7s %s: %s" % (row["shape"][:45], row["contender"], row["dtype"], row.get("status"),
                                              row.get("note")), flush=True)
