"""The report: per-point figures, the targets judged, the Markdown.

The targets are fastbp's own speed goals, stated where they are judged:
  - at every point of the sweep, at least as fast as the fastest peer, in both precisions;
  - at least 1.5x the fastest peer where a training step is small (under 10 million
    multiply-adds: there the peers' per-step overheads dominate);
  - at least 75% of the two-core DGEMM (SGEMM) rate measured in the same run where the input and
    every hidden layer are at least 256 wide;
  - FastBPClassifier faster than MLPClassifier at the same parameters, with the same weights;
  - threads never hurt: with another process spinning on one core, the default thread count at
    most 10% slower than one thread; on a quiet machine a B = 128 step of a 784-256-10 network
    at least 1.6x faster on two threads than on one; the same bits for every thread count.
"""

import statistics

from . import peers, shapes

SMALL_STEP_MULTIPLY_ADDS = 10_000_000
SMALL_STEP_LEAD = 1.5
WIDE = 256
WIDE_SHARE_OF_CEILING = 0.75
CONTENTION_SLOWDOWN = 1.10
MINIBATCH_THREAD_SPEEDUP = 1.6
# Loss agreement with fastbp in the same precision: float64 runs of the same computation agree
# to ~1e-12; float32 ones to the float32 rounding of a few hundred passes, ~1e-6
# (tests/kernels/test_float32.py measures it).
AGREE_RTOL = {"float64": 1e-6, "float32": 1e-4}
BUSY_CORES = 0.25  # other processes keeping at least this many cores busy make a figure suspect


def fmt_time(seconds):
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return "%.3g %s" % (seconds / scale, unit)
    return "%.3g ns" % (seconds * 1e9)


def fmt_ratio(ratio):
    if ratio is None:
        return "—"
    return "%.2g×" % ratio if ratio < 0.1 else "%.2f×" % ratio if ratio < 10 else "%.0f×" % ratio


def ceilings(report):
    """The two-core GEMM rate per precision (the higher of the run's measurements) and the most
    cores other processes kept busy while it was measured."""
    out = {}
    for dtype in ("float64", "float32"):
        runs = [g for g in report["gemm"] if g.get(dtype + "_2T")]
        best = max(runs, key=lambda g: g[dtype + "_2T"]) if runs else None
        out[dtype] = {"gflops": best[dtype + "_2T"] if best else None,
                      "other_cores": best.get("other_cores_%s_2T" % dtype) if best else None}
    return out


def summarise(report):
    """Add per-pass medians, GFLOP/s and ratios to every row of every section."""
    ceiling = ceilings(report)
    for section in report["sections"].values():
        by_name = {s["name"]: s for s in section["shapes"]}
        for r in section["rows"]:
            if r.get("status") != "ok":
                continue
            s = by_name[r["shape"]]
            per_pass = [t / r["passes"] for t in r["times"]]
            r["per_pass"] = statistics.median(per_pass)
            r["per_pass_min"], r["per_pass_max"] = min(per_pass), max(per_pass)
            r["per_sample"] = r["per_pass"] / s["N"]
            r["gflops"] = shapes.flops_per_pass(s) / r["per_pass"] / 1e9
            c = ceiling[r["dtype"]]["gflops"]
            r["share_of_ceiling"] = r["gflops"] / c if c else None
        for s in section["shapes"]:
            for dtype in ("float64", "float32"):
                point = [r for r in section["rows"] if r["shape"] == s["name"] and r["dtype"] == dtype]
                fastbp = row_of(point, "fastbp")
                peer_rows = [r for r in point if r["contender"] not in peers.FASTBP and r.get("status") == "ok"]
                fastest = min(peer_rows, key=lambda r: r["per_pass"]) if peer_rows else None
                for r in point:
                    if r.get("status") == "ok" and fastbp:
                        r["fastbp_speedup"] = r["per_pass"] / fastbp["per_pass"]
                        r["loss_rel_diff"] = loss_difference(r, fastbp)
                if fastbp:
                    fastbp["fastest_peer"] = fastest["contender"] if fastest else None
                    fastbp["vs_fastest_peer"] = fastest["per_pass"] / fastbp["per_pass"] if fastest else None
    return report


def row_of(rows, contender):
    return next((r for r in rows if r["contender"] == contender and r.get("status") == "ok"), None)


def loss_difference(r, fastbp):
    if r is fastbp or r.get("comparable") is False or r["check_passes"] != fastbp["check_passes"]:
        return None
    return abs(r["check_loss"] - fastbp["check_loss"]) / abs(fastbp["check_loss"])


# ---------------------------------------------------------------- targets

def point_targets(s, fastbp, ceiling):
    """The speed targets that apply at one point -> [(target, measured, met)]."""
    if fastbp is None or fastbp.get("vs_fastest_peer") is None:
        return []
    ratio = fastbp["vs_fastest_peer"]
    out = [("≥ fastest peer", fmt_ratio(ratio), ratio >= 1)]
    if shapes.multiply_adds_per_step(s) < SMALL_STEP_MULTIPLY_ADDS:
        out.append(("≥ %g× fastest peer (small step)" % SMALL_STEP_LEAD, fmt_ratio(ratio), ratio >= SMALL_STEP_LEAD))
    if min((s["D"],) + tuple(s["hidden"])) >= WIDE and fastbp.get("share_of_ceiling") is not None and ceiling:
        share = fastbp["share_of_ceiling"]
        out.append(("≥ %d%% of the GEMM ceiling (wide)" % (100 * WIDE_SHARE_OF_CEILING), "%.0f%%" % (100 * share),
                    share >= WIDE_SHARE_OF_CEILING))
    return out


def classifier_targets(rows):
    """FastBPClassifier against MLPClassifier at the same parameters: faster, and the same weights."""
    ours, theirs = row_of(rows, "FastBPClassifier"), row_of(rows, "scikit-learn MLPClassifier")
    if not ours or not theirs:
        return []
    ratio = theirs["per_pass"] / ours["per_pass"]
    return [("FastBPClassifier faster than MLPClassifier", fmt_ratio(ratio), ratio > 1),
            ("FastBPClassifier's weights MLPClassifier's", "%.1e" % ours["weights_vs_mlp"], ours["weights_agree"])]


def contention_targets(contention):
    """-> rows (shape, threads, quiet figures, spinning figures, slowdown, same bits) and the targets judged."""
    lines, judged = [], []
    quiet = {p["shape"]: p for p in contention["quiet"].get("points", [])}
    for p in contention["spinning"].get("points", []):
        q = quiet.get(p["shape"], {})
        slowdown = p["median_default"] / p["median_one"]
        speedup = q["median_one"] / q["median_default"] if q else None
        lines.append((p["shape"], p["default_threads"], q, p, slowdown, speedup))
        judged.append(("spinning neighbour, %s: default threads at most %d%% slower than one"
                       % (p["shape"], round(100 * (CONTENTION_SLOWDOWN - 1))), "%.2f×" % slowdown,
                       slowdown <= CONTENTION_SLOWDOWN))
        judged.append(("%s: the same bits on every thread count" % p["shape"], str(p["same_bits"]), p["same_bits"]))
        if "B=128" in p["shape"] and speedup is not None:
            judged.append(("no neighbour, %s: two threads ≥ %g× faster than one" % (p["shape"],
                                                                                   MINIBATCH_THREAD_SPEEDUP),
                           "%.2f×" % speedup, speedup >= MINIBATCH_THREAD_SPEEDUP))
    return lines, judged


def losses(report):
    """Every sweep point where fastbp is slower than the fastest peer, worst first."""
    out = []
    for section in report["sections"].values():
        for s in section["shapes"]:
            for dtype in ("float64", "float32"):
                fastbp = next((r for r in section["rows"] if r["shape"] == s["name"] and r["dtype"] == dtype
                               and r["contender"] == "fastbp" and r.get("status") == "ok"), None)
                if fastbp and fastbp.get("vs_fastest_peer") is not None and fastbp["vs_fastest_peer"] < 1:
                    out.append((fastbp["vs_fastest_peer"], s, dtype, fastbp))
    return sorted(out, key=lambda item: item[0])
