"""The report as Markdown: the machine, what is measured, the tables, the targets, where fastbp loses."""

import os

from . import child, peers, shapes
from . import report as figures
from .report import fmt_ratio, fmt_time

WHAT_IS_MEASURED = (
    "Every contender trains the same network (tanh hidden layers, softmax output) from the same weights "
    "(`fastbp.reference.init_params(sizes, seed=0)`, rounded to float32 for the float32 rows, which compute in "
    "float32 throughout) by the same gradient descent on the summed loss: a full batch steps "
    "`W -= epsilon * (dW_sum + reg_lambda * W)` once per pass; minibatches step once per batch of B samples, in "
    "fastbp's sample order, with the L2 term scaled by B/N (scikit-learn's MLPClassifier and fastbp's drop-in "
    "FastBPClassifier with the same parameters: the equivalent `learning_rate_init = epsilon * B`, "
    "`alpha = reg_lambda * B / N`, plain SGD, no momentum, `random_state=0`; both shuffle with scikit-learn's "
    "generator and at C = 2 have one logistic output unit, so their losses are compared with fastbp's only where "
    "neither applies; FastBPClassifier's weights are compared with MLPClassifier's after "
    + "%d passes, at the estimator tests' tolerance, %g relative in float64 and %g in float32" % (
        peers.AGREEMENT_PASSES, peers.WEIGHTS_RTOL["float64"], peers.WEIGHTS_RTOL["float32"])
    + "). Each contender runs in its own process (in the sweep, one per series, every contender's before the "
    "next series, in an order that alternates from series to series, so that the contenders of a shape are timed "
    "within minutes of each other): imports, data, set-up and compilation, an "
    "untimed warm-up, a calibration that sets the passes per timed run to last about %s s and to be at least "
    + "%d, an untimed run of that length, then the timed runs, each from the initial weights; compilation is never "
    "timed, and what a call does once (fastbp.train and the estimators check their input and allocate in every "
    "call) is spread over its passes. " % child.MIN_PASSES_PER_RUN
    + "Time per pass (one epoch over the N samples) is the median over the timed runs. GFLOP/s counts 2N·ΣJK "
    "forward, 2N·ΣJK for the weight gradients and 2N·ΣJK over all layers but the first for the deltas, per "
    "pass. \"vs fastbp\" is the contender's time over fastbp's in the same precision. The loss check is "
    "`fastbp.reference.calculate_loss` after a separate run of a fixed number of passes, as a relative "
    "difference from fastbp's (runs of the same computation agree to ~1e-12 in float64 and ~1e-6 in float32; "
    "differences above %g and %g are flagged). Cores used: this contender's CPU time over the wall time of its "
    "timed runs.")


def machine_lines(report):
    m = report["machine"]
    ceiling = figures.ceilings(report)
    out = ["## Machine", "",
           "- CPU: %s; SIMD: %s; %d cores (%d usable), %.1f GiB"
           % (m["cpu"], m["simd"], m["cores"], m["cores_usable"], m.get("memory_gib", 0)),
           "- BLAS (NumPy): %s" % ("; ".join(m["blas"]) or "?"),
           "- Python %s; %s" % (m["python"], ", ".join("%s %s" % kv for kv in m["versions"].items())),
           "- Load average (1 min) at start / end: %s / %s" % tuple(
               "%.2f" % v if v is not None else "?" for v in (report["load_start"], report.get("load_end")))]
    for when, g in zip(("start", "end"), report["gemm"]):
        if g.get("float64_2T"):
            out.append("- GEMM at the %s (NumPy `A @ B`, %d×%d): DGEMM %.1f GFLOP/s on 1 thread, %.1f on 2; "
                       "SGEMM %.1f on 1, %.1f on 2" % (when, g["n"], g["n"], g["float64_1T"], g["float64_2T"],
                                                      g["float32_1T"], g["float32_2T"]))
    for dtype, name in (("float64", "DGEMM"), ("float32", "SGEMM")):
        c = ceiling[dtype]
        if c["gflops"]:
            busy = c["other_cores"]
            out.append("- The %s ceiling is the higher two-thread %s rate, %.1f GFLOP/s; %s" % (
                dtype, name, c["gflops"],
                "other processes kept %.1f cores busy while it was measured, so it is likely under-estimated and "
                "\"met\" against it is too generous" % busy if busy is not None and busy >= figures.BUSY_CORES
                else "measured with the other cores idle (other processes below %.2f cores)" % figures.BUSY_CORES
                if busy is not None else "the load while it was measured is unknown"))
    return out + [""]


def row_notes(r):
    notes = [r.get("note", "")]
    if r.get("status") == "ok":
        notes.append("cores used %.2f" % r["own_cores"])
        if (r.get("other_cores") or 0) >= figures.BUSY_CORES:
            notes.append("other processes kept %.1f cores busy" % r["other_cores"])
    return "; ".join(n for n in notes if n)


def loss_text(r):
    if r.get("loss_rel_diff") is None:
        return "%.10g" % r["check_loss"] + ("" if r["contender"] == "fastbp" else " (not compared)")
    tol = figures.AGREE_RTOL[r["dtype"]]
    return "%.10g (%.1e%s)" % (r["check_loss"], r["loss_rel_diff"], ", DIFFERS" if r["loss_rel_diff"] > tol else "")


def job_table(section):
    s = section["shapes"][0]
    out = ["| contender | precision | threads | time/pass median (min–max) | vs fastbp | GFLOP/s | % of ceiling "
           "| peak memory added | loss after check passes (rel. diff.) | notes |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in section["rows"]:
        if r.get("status") != "ok":
            out.append("| %s | %s | — | %s | — | — | — | — | — | %s |" % (r["contender"], r["dtype"], r.get("status"),
                                                                      r.get("note", "")))
            continue
        out.append("| %s | %s | %s | %s (%s–%s) | %s | %.3g | %s | %s | %s | %s |" % (
            r["contender"], r["dtype"], r.get("threads", "?"), fmt_time(r["per_pass"]), fmt_time(r["per_pass_min"]),
            fmt_time(r["per_pass_max"]), "1" if r["contender"] == "fastbp" else fmt_ratio(r.get("fastbp_speedup")),
            r["gflops"], "%.0f%%" % (100 * r["share_of_ceiling"]) if r.get("share_of_ceiling") else "—",
            "%.1f MiB" % r["peak_added_mib"] if r.get("peak_added_mib") is not None else "?", loss_text(r),
            row_notes(r)))
    return ["%s; N=%d, D=%d, hidden %s, C=%d, %s; epsilon %g, reg_lambda %g; %.4g GFLOP per pass; loss check "
            "after %d passes." % (s["what"], s["N"], s["D"], "-".join(map(str, s["hidden"])), s["C"],
                                  "minibatches of %d" % s["B"] if s["B"] else "full batch", s["epsilon"],
                                  s["reg_lambda"], shapes.flops_per_pass(s) / 1e9,
                                  next((r["check_passes"] for r in section["rows"] if r.get("check_passes")), 0)),
            ""] + out + [""]


def sweep_table(section, contenders, ceiling):
    head = ("| width | precision | " + " | ".join(contenders) + " | fastest peer | fastbp vs fastest peer | targets |")
    out = [head, "|" + "---|" * (len(contenders) + 5)]
    for s in section["shapes"]:
        for dtype in ("float64", "float32"):
            rows = [r for r in section["rows"] if r["shape"] == s["name"] and r["dtype"] == dtype]
            cells = []
            for name in contenders:
                r = next((r for r in rows if r["contender"] == name), None)
                cells.append("%.3g" % r["gflops"] if r and r.get("status") == "ok" else
                             "—" if r is None or r.get("status") == "skipped" else r.get("status", "?"))
            fastbp = figures.row_of(rows, "fastbp")
            judged = figures.point_targets(s, fastbp, ceiling[dtype]["gflops"])
            judged += figures.classifier_targets(rows)
            out.append("| %d | %s | %s | %s | %s | %s |" % (
                s["hidden"][0], dtype, " | ".join(cells), (fastbp or {}).get("fastest_peer") or "—",
                fmt_ratio((fastbp or {}).get("vs_fastest_peer")),
                "; ".join("%s: %s" % (t, "met" if met else "**not met**") for t, _, met in judged) or "—"))
    return out + [""]


def summary_lines(report):
    out = ["## Targets met", ""]
    counts = {}
    for section in report["sections"].values():
        for s in section["shapes"]:
            for dtype in ("float64", "float32"):
                rows = [r for r in section["rows"] if r["shape"] == s["name"] and r["dtype"] == dtype]
                judged = figures.point_targets(s, figures.row_of(rows, "fastbp"),
                                               figures.ceilings(report)[dtype]["gflops"])
                for target, _, met in judged + figures.classifier_targets(rows):
                    counts.setdefault(target, [0, 0])
                    counts[target][0] += met
                    counts[target][1] += 1
    out += ["| target (at every point of the sweep and the jobs where it applies) | met at |", "|---|---|"]
    out += ["| %s | %d of %d points |" % (t, met, n) for t, (met, n) in counts.items()]
    out.append("")
    lost = figures.losses(report)
    out += ["## Where fastbp is slower than the fastest peer", ""]
    if not lost:
        out += ["Nowhere in this run.", ""]
    else:
        out += ["| shape | precision | fastbp time/pass | fastest peer | its time/pass | fastbp vs it |",
                "|---|---|---|---|---|---|"]
        for ratio, s, dtype, fastbp in lost:
            out.append("| %s | %s | %s | %s | %s | %s |" % (s["name"], dtype, fmt_time(fastbp["per_pass"]),
                                                             fastbp["fastest_peer"],
                                                             fmt_time(fastbp["per_pass"] * ratio), fmt_ratio(ratio)))
        out.append("")
    return out


def contention_lines(contention):
    rows, judged = figures.contention_targets(contention)
    out = ["## Threads against a busy neighbour", "",
           "fastbp with its default thread count and with one thread, alternately in one process, first on a "
           "quiet machine (as quiet as it was), then with another process spinning on one core "
           "(`python -c \"while True: pass\"`, pinned to the last core). Time per pass, medians.", "",
           "| shape | default threads | no neighbour: default / one thread | two threads' speed-up "
           "| spinning neighbour: default / one thread | slowdown of the default |", "|---|---|---|---|---|---|"]
    for shape, threads, q, p, slowdown, speedup in rows:
        out.append("| %s | %d | %s / %s | %s | %s / %s | %.2f× |" % (
            shape, threads, fmt_time(q.get("median_default")), fmt_time(q.get("median_one")), fmt_ratio(speedup),
            fmt_time(p["median_default"]), fmt_time(p["median_one"]), slowdown))
    for key in ("quiet", "spinning"):
        if contention[key].get("status") == "failed":
            out.append("The %s run failed: %s" % (key, contention[key].get("note")))
    out += ["", "| target | measured | |", "|---|---|---|"]
    out += ["| %s | %s | %s |" % (t, got, "met" if met else "**not met**") for t, got, met in judged]
    return out + [""]


def markdown(report, command):
    ceiling = figures.ceilings(report)
    out = ["# fastbp benchmark%s" % (" (--quick)" if report["quick"] else ""), "",
           "Run on %s with `%s` (%s)%s." % (
               report["date"], command, "%.0f s in all" % report["total_s"] if report.get("total_s") else
               "stopped before the end: the parts it finished",
               ", fastbp commit %s" % report["machine"]["fastbp_commit"] if report["machine"].get("fastbp_commit")
               else "")]
    if report.get("note"):
        out += ["", "**%s**" % report["note"]]
    out += [""] + machine_lines(report)
    out += ["## What is measured", "", WHAT_IS_MEASURED % (report["target_s"], figures.AGREE_RTOL["float64"],
                                                          figures.AGREE_RTOL["float32"]), ""]
    sweep = {name: section for name, section in report["sections"].items() if name.startswith("sweep: ")}
    if report["sections"]:
        out += summary_lines(report)
    if sweep:
        out += ["## The shape sweep: GFLOP/s per contender", "",
                "Each series varies the hidden width (every hidden layer as wide); GFLOP/s as defined above, "
                "higher is better. Targets: at least as fast as the fastest peer everywhere; at least %g× the "
                "fastest peer where a training step is under %d million multiply-adds; at least %d%% of the "
                "two-thread GEMM ceiling (%s) where the input and every hidden layer are at least %d wide; "
                "FastBPClassifier faster than MLPClassifier at the same parameters, ending with the same weights."
                % (figures.SMALL_STEP_LEAD, figures.SMALL_STEP_MULTIPLY_ADDS // 10**6,
                   100 * figures.WIDE_SHARE_OF_CEILING, ", ".join(
                       "%s %.1f GFLOP/s" % (d, c["gflops"]) for d, c in ceiling.items() if c["gflops"]),
                   figures.WIDE), "",
                "![GFLOP/s against hidden width](benchmark-sweep.png)", ""]
        for name, section in sweep.items():
            contenders = list(dict.fromkeys(r["contender"] for r in section["rows"]))
            out += ["### %s" % name[len("sweep: "):], ""] + sweep_table(section, contenders, ceiling)
    for name, section in report["sections"].items():
        if not name.startswith("sweep: "):
            out += ["## %s" % name, ""] + job_table(section)
    if any(not name.startswith("sweep: ") for name in report["sections"]):
        out += ["![time per pass](benchmark.png)", ""]
    if report.get("contention"):
        out += contention_lines(report["contention"])
    return "\n".join(out)


def write(report, out_dir, command):
    text = markdown(report, command)
    with open(os.path.join(out_dir, "benchmark.md"), "w") as f:
        f.write(text)
    return text
