"""fastbp against its peers: time per pass, ratios, GFLOP/s, share of DGEMM, peak memory.

    python bench/run.py [--quick] [--sizes lecture medium large] [--repeats 5]

Run from the repository root with fastbp built in place
(``python setup.py build_ext --inplace``) or installed. Every contender runs in
its own child process (bench/contenders.py): imports, data and setup, one
untimed warm-up run, then ``--repeats`` timed runs of a fixed number of passes.
Peers that are not installed are skipped with a note; a contender that fails
(import error, crash, out of memory, non-finite loss) is reported as such.
Writes bench/results/benchmark{,-quick}.{md,png,json} and prints the Markdown.
See bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from contenders import CONTENDERS, fastbp_of_precision, flops_per_pass, precision  # noqa: E402  (light: NumPy only)

# The three sizes of issue 8. The larger two take epsilon = 0.01 / N on the
# summed gradient (a mean-gradient step of 0.01), which keeps every contender
# finite, the lecture's unshifted softmax included.
SIZES = {
    "lecture": dict(name="lecture", N=200, D=2, H=3, C=2, data="moons", epsilon=0.01, reg_lambda=0.01,
                    what="make_moons(200, noise=0.20, seed=0), the lecture's job"),
    "medium": dict(name="medium", N=10_000, D=2, H=64, C=2, data="moons", epsilon=0.01 / 10_000, reg_lambda=0.01,
                   what="make_moons(10000, noise=0.20, seed=0)"),
    "large": dict(name="large", N=100_000, D=20, H=256, C=10, data="classification", epsilon=0.01 / 100_000,
                  reg_lambda=0.01, what="sklearn make_classification(100000, 20 features, 10 classes, random_state=0)"),
}
# passes per timed run, passes of the warm-up run, passes of the agreement check.
# The lecture job (H = 3, epsilon = 0.01) is at the edge of stability: after ~1000
# passes one-ulp differences grow to 1e-5 (docs/numerics.md), so its
# agreement check is a separate run of 500 passes.
PASSES = {"lecture": (5000, 5000, 500), "medium": (50, 50, 50), "large": (3, 1, 3)}
QUICK_PASSES = {"lecture": (200, 200, 200), "medium": (5, 5, 5), "large": (1, 0, 1)}
# --quick keeps, at every size, fastbp, JAX (the fastest peer) and at the
# lecture's size the lecture's own code; it leaves out PyTorch (torch.compile
# takes ~30 s per size here, and starting torch alone 5 s a child) and the
# NumPy-based peers at the larger sizes, to finish within about a minute.
QUICK_SKIP = {"PyTorch torch.compile": "all", "PyTorch eager": "all", "scikit-learn MLPClassifier": "all",
              "lecture NumPy code": "medium-large", "fastbp NumPy reference": "medium-large",
              "fastbp NumPy reference float32": "all", "PyTorch eager float32": "all",
              "PyTorch torch.compile float32": "all", "JAX jit + fori_loop float32": "all"}
FASTBP_THREADS = {"lecture": 1, "medium": 2, "large": 2}  # fastbp's num_threads at each size
# Loss agreement with fastbp in the same precision: float64 runs of the same
# computation agree to ~1e-12; float32 ones to the float32 rounding of a few
# hundred passes, ~1e-6 (tests/test_float32.py measures it).
AGREE_RTOL = {"float64": 1e-6, "float32": 1e-4}
SKLEARN_CHECK = dict(name="spiral C=3", N=300, D=2, H=16, C=3, data="spiral", epsilon=0.001, reg_lambda=0.01)
PEERS_SAME_ALGORITHM_NOTE = "scikit-learn at C = 2 has one logistic output unit: same algorithm, different network"


# ---------------------------------------------------------------- children

def run_child(spec, timeout):
    """Run bench/contenders.py on spec -> its result dict, or a failure record; never raises."""
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, result_path = os.path.join(tmp, "spec.json"), os.path.join(tmp, "result.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, os.path.join(HERE, "contenders.py"), spec_path, result_path],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": "failed", "note": "timed out after %d s" % timeout}
        wall = time.perf_counter() - start
        if os.path.exists(result_path):
            with open(result_path) as f:
                result = json.load(f)
        elif proc.returncode < 0:
            signal = -proc.returncode
            result = {"status": "failed", "note": "killed by signal %d%s" % (signal, " (out of memory?)" if signal == 9
                                                                             else "")}
        else:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
            result = {"status": "failed", "note": "exit code %d: %s" % (proc.returncode, tail[0][:200])}
        result["child_wall_s"] = wall
        return result


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
        info["simd_flags"] = sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    except (OSError, StopIteration):
        info["cpu"], info["simd"] = platform.processor() or "?", "?"
    info["cores"] = os.cpu_count()
    info["cores_usable"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            info["memory_gib"] = int(f.readline().split()[1]) / 2**20
    except OSError:
        pass
    from threadpoolctl import threadpool_info
    import numpy  # noqa: F401  (so that threadpoolctl sees NumPy's BLAS)
    info["blas"] = ["%s %s (%s, %d threads)" % (p.get("internal_api"), p.get("version"), p.get("architecture"),
                                                p.get("num_threads")) for p in threadpool_info()
                    if p.get("user_api") == "blas"]
    versions = {}
    for package in ("numpy", "scipy", "scikit-learn", "torch", "jax", "jaxlib", "Cython"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    info["versions"] = versions
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "fastbp"], cwd=ROOT,
                               capture_output=True, text=True)
        info["fastbp_commit"] = commit.stdout.strip() + (" (with local changes to src/ or fastbp/)"
                                                         if dirty.stdout.strip() else "")
    except OSError:
        info["fastbp_commit"] = "?"
    return info


def cpu_times():
    """Aggregate jiffies from /proc/stat -> (busy, steal, total) or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]
    steal = fields[7] if len(fields) > 7 else 0
    total = sum(fields[:8])
    return total - idle - steal, steal, total


def load_average():
    try:
        return os.getloadavg()
    except OSError:
        return None


# ---------------------------------------------------------------- formatting

def fmt_time(seconds):
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return "%.3g %s" % (seconds / scale, unit)
    return "%.3g ns" % (seconds * 1e9)


def fmt_range(lo, hi):
    return "%s–%s" % (fmt_time(lo), fmt_time(hi))


def summarise(result, size, dgemm_2t):
    """Add per-pass times, rates and agreement fields to a contender's result."""
    if result.get("status") != "ok":
        return result
    per_pass = [t / result["passes"] for t in result["times"]]
    result["per_pass_median"] = statistics.median(per_pass)
    result["per_pass_min"], result["per_pass_max"] = min(per_pass), max(per_pass)
    flops = flops_per_pass(size["N"], size["D"], size["H"], size["C"])
    result["gflops"] = flops / result["per_pass_median"] / 1e9
    result["pct_dgemm_2t"] = 100 * result["gflops"] / dgemm_2t if dgemm_2t else None
    return result


def agreement(result, fastbp_result, size):
    """The contender's check loss against fastbp's in the same precision."""
    if result.get("status") != "ok" or fastbp_result.get("status") != "ok":
        return None, "—"
    if result["contender"] == fastbp_result["contender"]:
        return None, "%.10g" % result["check_loss"]
    if result["contender"] == "scikit-learn MLPClassifier" and size["C"] == 2:
        return None, "%.10g (not comparable: 1 output unit)" % result["check_loss"]
    rel = abs(result["check_loss"] - fastbp_result["check_loss"]) / abs(fastbp_result["check_loss"])
    ok = rel <= AGREE_RTOL[precision(result["contender"])]
    return rel, "%.10g (rel. diff %.1e%s)" % (result["check_loss"], rel, "" if ok else ", DIFFERS")


def fastbp_row(results, contender):
    """fastbp's result in the contender's precision (the row its ratio and loss compare with)."""
    return next((r for r in results if r["contender"] == fastbp_of_precision(contender)), {})


def size_table(size, results, dgemm_2t):
    check_passes = fastbp_row(results, "fastbp").get("check_passes", 0)
    lines = ["| contender | threads | time/pass median (min–max) | fastbp is ×faster | GFLOP/s | %% of DGEMM-2T "
             "| peak memory added | loss after %d pass(es) (vs fastbp) | notes |" % check_passes,
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.get("status") != "ok":
            label = "skipped" if r.get("status") == "skipped" else "**%s**" % r.get("status", "failed")
            lines.append("| %s | — | %s | — | — | — | — | — | %s |" % (r["contender"], label, r.get("note", "")))
            continue
        fastbp_result = fastbp_row(results, r["contender"])
        base = fastbp_result.get("per_pass_median")
        if r["contender"] == fastbp_result.get("contender"):
            ratio = "1 (baseline)"
        else:
            ratio = "%.2f×" % (r["per_pass_median"] / base) if base else "—"
        _, loss_text = agreement(r, fastbp_result, size)
        mem = "%.1f MiB" % r["peak_added_mib"] if r.get("peak_added_mib") is not None else "?"
        notes = r.get("note", "")
        if r.get("other_cores", 0) >= 0.25:
            notes += "; other processes kept %.1f cores busy while timed" % r["other_cores"]
        if r["contender"] == "PyTorch torch.compile":
            notes += "; warm-up incl. compile %.1f s" % r["warmup_s"]
        lines.append("| %s | %s | %s (%s) | %s | %.3g | %s | %s | %s | %s |" % (
            r["contender"], r["threads"], fmt_time(r["per_pass_median"]),
            fmt_range(r["per_pass_min"], r["per_pass_max"]),
            ratio, r["gflops"], "%.1f%%" % r["pct_dgemm_2t"] if r.get("pct_dgemm_2t") is not None else "—",
            mem, loss_text, notes.strip("; ")))
    return lines


def targets(by_size, dgemm_2t):
    """Issue 8's targets for fastbp, each with the measured value (or why it could not be judged)."""
    def per_pass(size, contender):
        r = next((r for r in by_size.get(size, []) if r["contender"] == contender), None)
        return r.get("per_pass_median") if r and r.get("status") == "ok" else None

    lines = []
    for size, peer, want in (("lecture", "JAX jit + fori_loop", 2.5), ("lecture", "lecture NumPy code", 25),
                             ("medium", "JAX jit + fori_loop", 2.0), ("large", "JAX jit + fori_loop", 1.5)):
        if size not in by_size:
            continue
        ours, theirs = per_pass(size, "fastbp"), per_pass(size, peer)
        got = "%.2f×" % (theirs / ours) if ours and theirs else "not measured"
        met = "met" if ours and theirs and theirs / ours >= want else "not met" if ours and theirs else "—"
        lines.append("| %s | ≥ %g× faster than %s | %s | %s |" % (size, want, peer, got, met))
    for size, want in (("medium", 1.3), ("large", 1.6)):  # issue 9: what halving the bytes should buy
        if size not in by_size:
            continue
        double, single = per_pass(size, "fastbp"), per_pass(size, "fastbp float32")
        got = "%.2f×" % (double / single) if double and single else "not measured"
        met = "met" if double and single and double / single >= want else "not met" if double and single else "—"
        lines.append("| %s | float32 ≥ %g× faster than float64 | %s | %s |" % (size, want, got, met))
    if "large" in by_size:
        rows = {r["contender"]: r for r in by_size["large"] if r.get("status") == "ok"}
        if rows.get("fastbp", {}).get("peak_added_mib") and rows.get("fastbp float32", {}).get("peak_added_mib"):
            ratio = rows["fastbp float32"]["peak_added_mib"] / rows["fastbp"]["peak_added_mib"]
            lines.append("| large | float32 peak memory added roughly half of float64's "
                         "| %.1f vs %.1f MiB (%.2f) | %s |"
                         % (rows["fastbp float32"]["peak_added_mib"], rows["fastbp"]["peak_added_mib"], ratio,
                            "met" if ratio <= 0.6 else "not met"))
    if "large" in by_size:
        r = next((r for r in by_size["large"] if r["contender"] == "fastbp"), {})
        if r.get("status") == "ok":
            pct = r.get("pct_dgemm_2t")
            lines.append("| large | effective rate ≥ 40%% of DGEMM-2T (%.1f GFLOP/s) | %.1f%% (%.2f GFLOP/s) | %s |"
                         % (dgemm_2t, pct, r["gflops"], "met" if pct >= 40 else "not met"))
            if r.get("peak_added_mib") is not None:
                limit = r["X_mib"] + 64
                lines.append("| large | peak memory added ≤ size of X + 64 MiB = %.1f MiB | %.1f MiB | %s |"
                             % (limit, r["peak_added_mib"], "met" if r["peak_added_mib"] <= limit else "not met"))
    if not lines:
        return []
    return ["| size | target | measured | |", "|---|---|---|---|"] + lines


def steal_text(report):
    start, end = report.get("cpu_start"), report.get("cpu_end")
    if not start or not end or end[2] == start[2]:
        return "?"
    return "%.1f%% of all CPU time (a VM whose host is busy shows it here)" % (
        100 * (end[1] - start[1]) / (end[2] - start[2]))


def markdown(report):
    m, d = report["machine"], report["dgemm"]
    out = ["# fastbp benchmark%s" % (" (--quick)" if report["quick"] else ""), "",
           "Run on %s with `%s` (%.0f s in all). fastbp commit %s."
           % (report["date"], " ".join(["python bench/run.py"] + report["argv"]), report["total_s"],
              m.get("fastbp_commit", "?")), "",
           "## Machine", "",
           "- CPU: %s; SIMD: %s; %d cores (%d usable), %.1f GiB"
           % (m["cpu"], m["simd"], m["cores"], m["cores_usable"], m.get("memory_gib", 0)),
           "- BLAS (NumPy): %s" % ("; ".join(m["blas"]) or "?"),
           "- Python %s; %s" % (m["python"], ", ".join("%s %s" % kv for kv in m["versions"].items())),
           "- Load average (1 min) at start / end: %s / %s (the machine is shared: other jobs add noise)"
           % tuple("%.2f" % la[0] if la else "?" for la in (report["load_start"], report["load_end"])),
           "- CPU time stolen by the hypervisor during the run: %s" % steal_text(report),
           "- DGEMM (NumPy `A @ B`, %d×%d float64, median of %d): %s"
           % (d["n"], d["n"], d["repeats"], "; ".join(
               "%s: 1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s" % (when, r["gflops_1T"], r["gflops_2T"])
               for when, r in d["runs"].items() if r.get("gflops_2T"))),
           "  — \"%% of DGEMM-2T\" divides by the higher two-thread figure, %.1f GFLOP/s." % d["best_2T"], ""]
    out += ["## What is measured", "",
            "Every contender trains the same network (tanh hidden layer, softmax output, float64; the rows whose "
            "name ends in float32 compute in float32 from the same data and weights rounded to float32) from the same "
            "weights (`fastbp.reference.init_params((D, H, C), seed=0)`) by the same full-batch gradient descent: "
            "`W -= epsilon * (dW_sum + reg_lambda * W)`, `b -= epsilon * db_sum`. Each runs in its own process: "
            "imports, data, setup, one untimed warm-up run, then the timed runs, each from the initial weights. "
            "Time/pass is a timed run's wall time divided by its passes (median, and min–max, over the runs). "
            "\"fastbp is ×faster\" is this contender's time/pass over fastbp's in the same precision. GFLOP/s counts "
            "2N(DH + HC) forward + 2N(DH + 2HC) backward per pass. \"Peak memory added\" is the peak resident set "
            "size during the timed runs minus the resident size just before them (after the warm-up, with freed "
            "heap returned to the OS): memory the training calls themselves allocate, not data or libraries. "
            "The loss column is `fastbp.reference.calculate_loss` on each contender's final weights after the "
            "passes named in the header, and its relative difference from fastbp's (they ran the same computation "
            "if it is ~1e-12 in float64, ~1e-6 in float32; the check flags differences above %g and %g). %s."
            % (AGREE_RTOL["float64"], AGREE_RTOL["float32"], PEERS_SAME_ALGORITHM_NOTE),
            ""]
    for name, results in report["sizes"].items():
        size = SIZES[name]
        passes, warmup, check = report["passes"][name]
        flops = flops_per_pass(size["N"], size["D"], size["H"], size["C"])
        fastbp_result = next((r for r in results if r["contender"] == "fastbp"), {})
        out += ["## %s: N=%d, D=%d, H=%d, C=%d" % (name, size["N"], size["D"], size["H"], size["C"]), "",
                "%s; epsilon = %g, reg_lambda = %g; %d pass(es) per timed run, %d repeats after %s; "
                "%.4g GFLOP per pass. Initial loss %s." % (
                    size["what"], size["epsilon"], size["reg_lambda"], passes, report["repeats"],
                    "a %d-pass warm-up" % warmup if warmup else "no warm-up run", flops / 1e9,
                    "%.10g" % fastbp_result["initial_loss"] if "initial_loss" in fastbp_result else "?"), ""]
        if check != passes:
            out += ["The loss check uses a separate run of %d passes: the lecture's job is at the edge of stability "
                    "after ~1000 passes, where one-ulp differences grow to 1e-5 (docs/numerics.md). fastbp's loss "
                    "after the %d timed passes: %s." % (check, passes, "%.10g" % fastbp_result["final_loss"]
                                                        if "final_loss" in fastbp_result else "?"), ""]
        out += size_table(size, results, d["best_2T"]) + [""]
    sk = report.get("sklearn_check")
    if sk:
        out += ["## scikit-learn's losses from the same weights", ""]
        if sk.get("status") == "failed":
            out += ["Check failed: %s" % sk.get("note"), ""]
        else:
            s = sk["size"]
            out += ["`MLPClassifier(solver=\"sgd\", batch_size=N, momentum=0, learning_rate_init=epsilon*N, "
                    "alpha=reg_lambda, shuffle=False, tol=0, n_iter_no_change=10**9, early_stopping=False)`, its "
                    "weights set to fastbp's initial weights (warm_start after a 1-iteration fit), on %s "
                    "(N=%d, D=%d, H=%d, C=%d, epsilon=%g), %d passes. sklearn's `loss_curve_[k]` is the loss before "
                    "update k, compared with the initial loss and fastbp's `losses[k-1]` (loss_every=1): "
                    "max relative difference **%.1e** over the %d losses (first %.10g vs %.10g, last %.10g vs "
                    "%.10g); final weights differ by at most %.1e relative. At C = 2 sklearn uses one logistic "
                    "output unit instead of a 2-unit softmax, a different network, so there it is timed as the same "
                    "algorithm but its losses are not compared." % (
                        s["name"], s["N"], s["D"], s["H"], s["C"], s["epsilon"], sk["passes"], sk["max_rel_diff"],
                        sk["passes"], sk["sklearn_first"], sk["fastbp_first"], sk["sklearn_last"], sk["fastbp_last"],
                        sk["final_weights_max_rel_diff"]), ""]
    t = targets(report["sizes"], d["best_2T"])
    if t:
        out += ["## Targets for fastbp (issues 8 and 9)", ""] + t + [""]
    out += ["![time per pass](%s)" % os.path.basename(report["png"]), ""]
    return "\n".join(out)


def chart(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = list(report["sizes"])
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 4.2), squeeze=False)
    names = list(CONTENDERS)
    colors = {name: plt.cm.tab20(i % 20) for i, name in enumerate(names)}
    for ax, name in zip(axes[0], sizes):
        results = report["sizes"][name]
        size = SIZES[name]
        labels, values, cols = [], [], []
        for r in results:
            labels.append(r["contender"] + ("" if r.get("status") == "ok" else " (%s)" % r.get("status")))
            values.append(r.get("per_pass_median") or 0)
            cols.append(colors[r["contender"]])
        ypos = range(len(labels))
        ax.barh(ypos, [v if v else float("nan") for v in values], color=cols)
        for y, r in zip(ypos, results):
            if r.get("status") == "ok":
                err = [[r["per_pass_median"] - r["per_pass_min"]], [r["per_pass_max"] - r["per_pass_median"]]]
                ax.errorbar(r["per_pass_median"], y, xerr=err, color="black", capsize=2, lw=0.8)
                base_row = fastbp_row(results, r["contender"])
                base = base_row.get("per_pass_median")
                ratio = (" (%.2g×)" % (r["per_pass_median"] / base)
                         if base and r["contender"] != base_row["contender"] else "")
                ax.text(r["per_pass_max"] * 1.15, y, fmt_time(r["per_pass_median"]) + ratio, va="center", fontsize=8)
        ax.set_yticks(list(ypos))
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        ok = [v for v in values if v]
        if ok:  # a size where every contender failed keeps a linear, empty axis
            ax.set_xscale("log")
            ax.set_xlim(min(ok) / 2, max(ok) * 20)
        ax.set_xlabel("s per pass (log): median, min–max; (×) vs fastbp in the same precision", fontsize=8)
        ax.set_title("%s: N=%d D=%d H=%d C=%d" % (name, size["N"], size["D"], size["H"], size["C"]), fontsize=10)
        ax.grid(axis="x", which="both", alpha=0.3)
    m = report["machine"]
    fig.suptitle("fastbp vs peers, time per full-batch pass (lower is better) — %s, %s, %d cores, %s"
                 % (m["cpu"], m["simd"], m["cores"], report["date"]), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer passes and repeats, skip the slowest peers "
                                                              "(under a minute)")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per contender (default 5; 3 with --quick)")
    parser.add_argument("--contenders", nargs="+", choices=list(CONTENDERS), default=list(CONTENDERS))
    parser.add_argument("--render", metavar="JSON", help="only redraw the Markdown and PNG from a saved JSON")
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="output folder (default bench/results)")
    args = parser.parse_args(argv)
    if args.render:
        with open(args.render) as f:
            report = json.load(f)
        write_outputs(report, os.path.splitext(args.render)[0])
        return
    repeats = args.repeats or (3 if args.quick else 5)
    if repeats < 1:
        parser.error("--repeats must be >= 1")
    passes = QUICK_PASSES if args.quick else PASSES
    timeout = 300 if args.quick else 900
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, "benchmark-quick" if args.quick else "benchmark")

    start = time.perf_counter()
    report = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "quick": args.quick,
              "argv": (argv if argv is not None else sys.argv[1:]), "repeats": repeats,
              "passes": {name: passes[name] for name in args.sizes}, "load_start": load_average(),
              "cpu_start": cpu_times(),
              "machine": machine_info(), "sizes": {}, "png": stem + ".png"}
    m = report["machine"]
    print("%s, %s, %d cores; BLAS %s" % (m["cpu"], m["simd"], m["cores"], "; ".join(m["blas"])), flush=True)

    dgemm_spec = {"kind": "dgemm", "n": 2000 if args.quick else 3000, "repeats": 3 if args.quick else 5}
    report["dgemm"] = dict(dgemm_spec, runs={"start": run_child(dgemm_spec, timeout)})
    print("DGEMM %d: %s" % (dgemm_spec["n"], report["dgemm"]["runs"]["start"]), flush=True)

    for name in args.sizes:
        size = SIZES[name]
        results = []
        for contender in args.contenders:
            skip = QUICK_SKIP.get(contender) if args.quick else None
            if skip == "all" or name in (skip or "").split("-"):
                results.append({"contender": contender, "status": "skipped", "note": "left out by --quick"})
                print("  %-8s %-28s skipped (--quick)" % (name, contender), flush=True)
                continue
            p, warmup, check = passes[name]
            spec = {"kind": "contender", "contender": contender, "size": size, "passes": p, "warmup_passes": warmup,
                    "check_passes": check, "repeats": repeats, "fastbp_threads": FASTBP_THREADS[name]}
            result = run_child(spec, timeout)
            result.setdefault("contender", contender)
            results.append(result)
            if result.get("status") == "ok":
                per = statistics.median(result["times"]) / p
                print("  %-8s %-28s %10s/pass  loss %.12g  peak added %s MiB  (%.1f s; cores used %.2f, by others %.2f)"
                      % (name, contender, fmt_time(per), result["check_loss"],
                         "%.1f" % result["peak_added_mib"] if result.get("peak_added_mib") is not None else "?",
                         result["child_wall_s"], result["own_cores"], result.get("other_cores") or float("nan")),
                      flush=True)
            else:
                print("  %-8s %-28s %s: %s" % (name, contender, result.get("status"), result.get("note")), flush=True)
        report["sizes"][name] = results

    if "scikit-learn MLPClassifier" in args.contenders:
        report["sklearn_check"] = run_child({"kind": "sklearn_check", "size": SKLEARN_CHECK, "passes": 500}, timeout)
        print("sklearn loss check: %s" % {k: v for k, v in report["sklearn_check"].items() if k != "size"}, flush=True)
    if not args.quick:
        report["dgemm"]["runs"]["end"] = run_child(dgemm_spec, timeout)
        print("DGEMM %d at the end: %s" % (dgemm_spec["n"], report["dgemm"]["runs"]["end"]), flush=True)
    report["dgemm"]["best_2T"] = max((r.get("gflops_2T") or 0) for r in report["dgemm"]["runs"].values())
    for name, results in report["sizes"].items():
        for r in results:
            summarise(r, SIZES[name], report["dgemm"]["best_2T"])
    report["load_end"] = load_average()
    report["cpu_end"] = cpu_times()
    report["total_s"] = time.perf_counter() - start

    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=1, default=float)
    write_outputs(report, stem)


def write_outputs(report, stem):
    chart(report, report["png"])
    text = markdown(report)
    with open(stem + ".md", "w") as f:
        f.write(text)
    print()
    print(text)
    print("\nwrote %s.md, %s.png, %s.json" % (stem, stem, stem))


if __name__ == "__main__":
    main()
