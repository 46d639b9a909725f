"""The pictures: GFLOP/s against hidden width per sweep series (the GEMM rate as the ceiling),
and time per pass per contender for the jobs and a user's shape.

One colour per contender in every chart and both precisions (float32 drawn dashed or hatched).
"""

import math
import os

from . import report as figures
from .peers import CONTENDERS
from .report import fmt_ratio, fmt_time

COLOURS = dict(zip(CONTENDERS, ("#d62728", "#1f77b4", "#8c564b", "#ff7f0e", "#2ca02c", "#9467bd", "#e377c2",
                                "#17becf", "#bcbd22")))
LINESTYLE = {"float64": "-", "float32": "--"}
HATCH = {"float64": None, "float32": "///"}
GEMM_NAME = {"float64": "DGEMM", "float32": "SGEMM"}
FONT = 10


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": FONT})
    return plt


def _title(report):
    m = report["machine"]
    return "%s, %s, %d cores, %s" % (m["cpu"], m["simd"], m["cores"], report["date"])


def _plain_log_ticks(axis, decades):
    from matplotlib.ticker import FuncFormatter, LogLocator
    axis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5) if decades <= 3 else (1,)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: "%g" % value))
    axis.set_minor_formatter(FuncFormatter(lambda value, _: ""))


def sweep_chart(report, path):
    plt = _pyplot()
    sweep = {name[len("sweep: "):]: s for name, s in report["sections"].items() if name.startswith("sweep: ")}
    ceiling = figures.ceilings(report)
    fig, axes = plt.subplots(len(sweep), 2, figsize=(12, 3.3 * len(sweep) + 1.0), squeeze=False,
                             layout="constrained")
    for row, (series, section) in zip(axes, sweep.items()):
        for ax, dtype in zip(row, ("float64", "float32")):
            values = []
            for contender in dict.fromkeys(r["contender"] for r in section["rows"]):
                points = [(s["hidden"][0], r["gflops"]) for s in section["shapes"] for r in section["rows"]
                          if r["shape"] == s["name"] and r["dtype"] == dtype and r["contender"] == contender
                          and r.get("status") == "ok"]
                if points:
                    ax.plot(*zip(*points), LINESTYLE[dtype], marker="o", color=COLOURS[contender], label=contender,
                            lw=2.4 if contender == "fastbp" else 1.4, zorder=3 if contender == "fastbp" else 2)
                    values += [v for _, v in points]
            top = ceiling[dtype]["gflops"]
            if top:
                ax.axhline(top, color="black", lw=1.2, ls=":")
                ax.annotate("%s ceiling, 2 threads: %.0f GFLOP/s" % (GEMM_NAME[dtype], top), (0.01, top),
                            xycoords=("axes fraction", "data"), xytext=(0, 3), textcoords="offset points",
                            fontsize=FONT - 1)
                values.append(top)
            if values:
                ax.set_yscale("log")
                ax.set_ylim(min(values) / 2, max(values) * 2.5)
                _plain_log_ticks(ax.yaxis, math.log10(max(values) / min(values)))
            ax.set_xscale("log", base=2)
            widths = [s["hidden"][0] for s in section["shapes"]]
            ax.set_xticks(widths)
            ax.set_xticklabels([str(w) for w in widths])
            ax.set_xlim(min(widths) / 1.5, max(widths) * 1.5)
            ax.set_xlabel("hidden width (every hidden layer)")
            ax.set_ylabel("GFLOP/s")
            ax.set_title("%s, %s" % (series, dtype), fontsize=FONT)
            ax.grid(which="major", alpha=0.3)
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("GFLOP/s against hidden width, higher is better (float64 solid, float32 dashed)\n%s"
                 % _title(report), fontsize=FONT + 1)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def time_chart(report, path):
    plt = _pyplot()
    sections = {name: s for name, s in report["sections"].items() if not name.startswith("sweep: ")}
    heights = [0.42 * len(s["rows"]) + 1.4 for s in sections.values()]
    fig, axes = plt.subplots(len(sections), 1, figsize=(11, sum(heights) + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": heights}, layout="constrained")
    for ax, (name, section) in zip(axes[:, 0], sections.items()):
        rows = section["rows"]
        labels = ["%s, %s" % (r["contender"], r["dtype"]) + ("" if r.get("status") == "ok"
                                                             else " (%s)" % r.get("status")) for r in rows]
        values = [r.get("per_pass") or float("nan") for r in rows]
        ax.barh(range(len(rows)), values, color=[COLOURS[r["contender"]] for r in rows],
                hatch=None, edgecolor="white")
        for y, r in enumerate(rows):
            if HATCH[r["dtype"]]:
                ax.patches[y].set_hatch(HATCH[r["dtype"]])
            if r.get("status") == "ok":
                ax.errorbar(r["per_pass"], y, xerr=[[r["per_pass"] - r["per_pass_min"]],
                                                     [r["per_pass_max"] - r["per_pass"]]],
                            color="black", capsize=2, lw=0.8)
                ratio = ("" if r["contender"] == "fastbp"
                         else "  (%s fastbp's time)" % fmt_ratio(r.get("fastbp_speedup")))
                ax.text(r["per_pass_max"] * 1.12, y, fmt_time(r["per_pass"]) + ratio, va="center",
                        fontsize=FONT - 1)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(labels)
        ax.invert_yaxis()
        ok = [v for v in values if v == v]
        if ok:
            ax.set_xscale("log")
            ax.set_xlim(min(ok) / 2, max(ok) * 12)
        s = section["shapes"][0]
        ax.set_title("%s: N=%d D=%d hidden %s C=%d, %s" % (name, s["N"], s["D"], "-".join(map(str, s["hidden"])),
                                                          s["C"], "B=%d" % s["B"] if s["B"] else "full batch"),
                     fontsize=FONT)
        ax.set_xlabel("seconds per pass, log scale (median, min–max bar; lower is better)")
        ax.grid(axis="x", which="both", alpha=0.3)
    fig.suptitle("fastbp and its peers, time per pass — %s" % _title(report), fontsize=FONT + 1)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(report, out_dir):
    written = []
    if any(name.startswith("sweep: ") for name in report["sections"]):
        written.append(os.path.join(out_dir, "benchmark-sweep.png"))
        sweep_chart(report, written[-1])
    if any(not name.startswith("sweep: ") for name in report["sections"]):
        written.append(os.path.join(out_dir, "benchmark.png"))
        time_chart(report, written[-1])
    return written
