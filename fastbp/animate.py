"""``fastbp animate``: the lecture's training as an animated GIF.

Each frame shows the network's decision boundary after some number of passes,
beside the loss curve drawn up to that pass with a marker on it. The frames
are spaced logarithmically in the pass (the early descent happens in the first
few hundred passes, the spikes of the lecture's H = 3 run near passes
1000-2000, and then nothing changes but a 2-cycle), with an extra frame at the
top of each spike of the loss. The animation ends by alternating the last two
passes, one pass apart: on a period-2 cycle the boundary and the loss flip
between the cycle's two points.

The state after p passes is trained afresh for every frame by the compiled
backend (``fastbp.train(num_passes=p)``): full-batch gradient descent from the
same seed is deterministic, so this is exactly the state the full run passes
through, and it costs a few times the full run, well under a second for the
lecture's network.
"""

import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from . import datasets, trainer

REG_LAMBDA = 0.01  # the lecture's
DATA_SIZE, DATA_NOISE = 200, 0.20  # the lecture's make_moons(200, noise=0.20)
# Frames at passes spaced evenly in log(pass): about 12 a decade, so the first
# hundred passes, where the loss falls fastest, get as many frames as the last 18 000.
LOG_FRAMES = 48
# A spike: a pass whose loss is a local maximum above the lowest loss so far by
# this factor. Each spike gets a frame at its top (at most MAX_SPIKE_FRAMES, the highest).
SPIKE_FACTOR = 1.2
MAX_SPIKE_FRAMES = 12
# Peaks closer than this belong to one spike (a spike alternates as it decays).
SPIKE_SEPARATION = 20
# The closing frames, alternating the last two passes this many times each.
CLOSING_REPEATS = 3
FRAMES_PER_SECOND = 8
ZOOMED_PASSES = 20
ZOOM_BOUNDS = (0.1, 0.1, 0.36, 0.36)  # lower left of the loss panel, under the early descent
FIGURE_SIZE = (11, 4.5)
DPI = 72
MIN_PASSES = 2  # two closing frames one pass apart


@dataclass
class Frame:
    """The network after ``passes`` passes of gradient descent, and its loss then."""

    passes: int
    model: dict
    loss: float


def spike_passes(losses, factor=SPIKE_FACTOR, separation=SPIKE_SEPARATION, limit=MAX_SPIKE_FRAMES):
    """-> passes (counted from 1) at the top of the loss's spikes, at most ``limit``, the highest kept.

    losses[k] is the loss after k + 1 passes.
    """
    losses = np.asarray(losses, dtype=np.float64)
    if len(losses) < 3:
        return []
    lowest_so_far = np.minimum.accumulate(losses)
    inner = np.arange(1, len(losses) - 1)
    is_peak = (losses[inner] >= losses[inner - 1]) & (losses[inner] >= losses[inner + 1]) & (
        losses[inner] > factor * lowest_so_far[inner])
    peaks = inner[is_peak]
    tops = []  # (height above the lowest so far, index), one per spike
    for index in peaks:
        height = losses[index] / lowest_so_far[index]
        if tops and index - tops[-1][1] <= separation:
            if height > tops[-1][0]:
                tops[-1] = (height, index)
        else:
            tops.append((height, index))
    highest = sorted(tops, reverse=True)[:limit]
    return sorted(int(index) + 1 for _, index in highest)


def frame_passes(losses, log_frames=LOG_FRAMES):
    """-> increasing pass counts of the frames: log-spaced from 1, the spikes' tops, and the last two passes.

    losses[k] is the loss after k + 1 passes; len(losses) is the run's length.
    """
    num_passes = len(losses)
    if num_passes < MIN_PASSES:
        raise ValueError("an animation needs at least %d passes, got %d" % (MIN_PASSES, num_passes))
    log_spaced = np.unique(np.round(np.logspace(0, np.log10(num_passes), log_frames)).astype(int))
    chosen = set(log_spaced.tolist()) | set(spike_passes(losses)) | {num_passes - 1, num_passes}
    return sorted(passes for passes in chosen if 1 <= passes <= num_passes)


def training_frames(X, y, hidden, epsilon, num_passes, seed):
    """-> (the run with the loss after every pass, [Frame] at :func:`frame_passes`)."""
    common = dict(epsilon=epsilon, reg_lambda=REG_LAMBDA, seed=seed, backend="cython")
    # A step size far too large makes the run diverge: it is animated up to its
    # last finite state (run.model, after len(run.losses) passes).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", trainer.DivergenceWarning)
        run = trainer.train(X, y, hidden, num_passes=num_passes, loss_every=1, on_divergence="warn", **common)
    finite_passes = len(run.losses)
    if finite_passes < MIN_PASSES:
        raise ArithmeticError("training diverged at pass %d at epsilon %g: too early to animate"
                              % (run.diverged_at, epsilon))
    frames = []
    for passes in frame_passes(run.losses):
        model = run.model if passes == finite_passes else trainer.train(X, y, hidden, num_passes=passes,
                                                                        **common).model
        frames.append(Frame(passes, model, float(run.losses[passes - 1])))
    return run, frames


def _closing_order(frames):
    """The frames in showing order: each once, then the last two alternating CLOSING_REPEATS times."""
    return frames + (frames[-2:] * CLOSING_REPEATS if len(frames) >= 2 else [])


def check_out_path(out):
    """ValueError unless a file can be written at ``out``: not a directory, in a directory that exists."""
    if os.path.isdir(out):
        raise ValueError("--out %s is a directory; give the GIF's file name" % out)
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise ValueError("--out %s: the directory %s does not exist" % (out, directory))


def render(out="training.gif", hidden=3, epsilon=0.01, passes=20000, seed=0):
    """Train, draw every frame and write the GIF to ``out``; -> number of frames written."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from . import plot

    X, y = datasets.make_moons(DATA_SIZE, noise=DATA_NOISE, seed=seed)
    run, frames = training_frames(X, y, hidden, epsilon, passes, seed)
    shown = _closing_order(frames)

    fig = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    boundary_ax, loss_ax = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=(1, 1.2)))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.13, top=0.85, wspace=0.22)
    fig.suptitle("Training the lecture's network: H = %d, epsilon %g, %d passes, seed %d"
                 % (hidden, epsilon, passes, seed))
    # Passes done on a log axis: the descent, the spikes and the long flat end all get room.
    # A diverged run has its losses only up to its last finite pass.
    done = np.arange(1, len(run.losses) + 1)
    loss_ax.set_xscale("log")
    loss_ax.set_yscale("log")
    loss_ax.set_xlim(1, passes * 1.05)
    finite = run.losses[np.isfinite(run.losses)]  # a step size far too large overflows the loss
    if len(finite):
        loss_ax.set_ylim(finite.min() / 1.1, finite.max() * 1.1)
    loss_ax.set_xlabel("passes done (log scale)")
    loss_ax.set_ylabel("loss (log scale)")
    loss_ax.grid(True, which="major", alpha=0.3)
    # Plain tick labels: the default 10^k ones are typeset as mathematics on every frame.
    for axis in (loss_ax.xaxis, loss_ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda value, _: "%g" % value))
        axis.set_minor_formatter(NullFormatter())
    curve, = loss_ax.plot([], [], linewidth=0.8, color=plot.CLASS_COLORS[0])
    marker, = loss_ax.plot([], [], marker="o", markersize=8, color=plot.CLASS_COLORS[3],
                           markeredgecolor=plot.EDGE_COLOR, linestyle="none")

    # The closing frames add a zoom on the last passes, one by one: on the whole
    # curve the two losses of a 2-cycle are a hair apart.
    zoom = loss_ax.inset_axes(ZOOM_BOUNDS)
    zoomed = slice(max(len(done) - ZOOMED_PASSES, 0), len(done))
    zoom.plot(done[zoomed], run.losses[zoomed], marker=".", linewidth=0.6, color=plot.CLASS_COLORS[0])
    zoom_marker, = zoom.plot([], [], marker="o", markersize=8, color=plot.CLASS_COLORS[3],
                             markeredgecolor=plot.EDGE_COLOR, linestyle="none")
    zoom.set_title("the last %d passes, one by one" % (zoomed.stop - zoomed.start), fontsize="small")
    zoom.tick_params(labelsize="x-small")
    zoom.set_visible(False)

    # The data, labels and legend are drawn once; each frame replaces only the regions.
    plot.plot_data(X, y, boundary_ax)
    regions = []

    def draw(index):
        frame = shown[index]
        if regions:
            regions.pop().remove()
        regions.append(plot.fill_decision_regions(lambda points: trainer.predict(frame.model, points), X,
                                                  boundary_ax, num_classes=int(y.max()) + 1))
        training_accuracy = float(np.mean(trainer.predict(frame.model, X) == y))
        boundary_ax.set_title("after %d passes: training accuracy %.3f" % (frame.passes, training_accuracy))
        curve.set_data(done[:frame.passes], run.losses[:frame.passes])
        marker.set_data([frame.passes], [frame.loss])
        closing = index >= len(frames) - 2
        zoom.set_visible(closing)
        zoom_marker.set_data([frame.passes], [frame.loss])
        loss_ax.set_title("loss after pass %d: %.6f%s" % (frame.passes, frame.loss,
                                                          "  (the last two passes)" if closing else ""))
        return []

    animation = FuncAnimation(fig, draw, frames=len(shown), blit=False, repeat=False)
    # Losses near the float64 limit (a step size far too large) overflow the log axis's tick search.
    with np.errstate(over="ignore"):
        animation.save(out, writer=PillowWriter(fps=FRAMES_PER_SECOND))
    return len(shown)


def run(out="training.gif", hidden=3, epsilon=0.01, passes=20000, seed=0):
    """``fastbp animate``: render, then say what was written; -> exit status 0, or 1 if nothing could be drawn."""
    start = time.perf_counter()
    try:
        count = render(out, hidden=hidden, epsilon=epsilon, passes=passes, seed=seed)
    except ArithmeticError as err:
        print("fastbp animate: %s" % err, file=sys.stderr)
        return 1
    print("Wrote %s: %d frames of the H = %d network's training (epsilon %g, %d passes), %.1f s"
          % (out, count, hidden, epsilon, passes, time.perf_counter() - start))
    return 0
