"""``fastbp animate``: the lecture's training as an animated GIF.

Each frame shows the network's decision boundary after some pass i, beside the
loss curve drawn up to that pass with a marker on it. Passes count from 0, as
in the lecture's "Loss after iteration i" and ``TrainingRun.loss_passes``: the
state after pass i is the one ``fastbp.train(num_passes=i + 1)`` returns. The
frames are spaced logarithmically in the pass (the early descent happens in the
first few hundred passes, the spikes of the lecture's H = 3 run near passes
1000-2000, and then nothing changes but a 2-cycle), with an extra frame at the
top of each spike of the loss. The animation ends by alternating the last two
passes, one pass apart, showing what changes between them: the other pass's
boundary as a dashed line and the training points whose label flips.

The state after every framed pass is trained afresh by the compiled backend:
full-batch gradient descent from the same seed is deterministic, so this is
exactly the state the full run passes through, and it costs a few times the
full run, well under a second for the lecture's network.
"""

import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from . import datasets, lecture, trainer

# Frames at passes spaced evenly in log(pass + 1): about 12 a decade, so the first
# hundred passes, where the loss falls fastest, get as many frames as the last 18 000.
LOG_FRAMES = 48
# A spike: a pass whose loss is a local maximum above the lowest loss so far by
# this factor. Each spike gets a frame at its top (at most MAX_SPIKE_FRAMES, the highest).
SPIKE_FACTOR = 1.2
MAX_SPIKE_FRAMES = 12
# Peaks at most this many passes apart belong to one spike (a spike alternates as it decays).
SPIKE_SEPARATION = 20
# The closing frames, alternating the last two passes this many times each.
CLOSING_REPEATS = 3
FRAMES_PER_SECOND = 8
ZOOMED_PASSES = 20
# The loss curve fills the lower CURVE_HEIGHT_SHARE of its panel (on the log
# axis); the zoom on the last passes sits in the band above it, ZOOM_BOUNDS in
# the panel's fractions (left, bottom, width, height), where it hides nothing.
CURVE_HEIGHT_SHARE = 0.58
ZOOM_BOUNDS = (0.4, 0.66, 0.57, 0.2)
FIGURE_SIZE = (11, 4.8)
DPI = 72
MIN_ANIMATED_PASSES = 2  # two closing frames one pass apart
FLIP_COLOR = "#D55E00"  # Okabe-Ito vermillion: the points whose label flips in the closing frames
FLIP_MARKER_SIZE = 160


@dataclass
class Frame:
    """The network after pass ``pass_index`` (counted from 0) and its loss then."""

    pass_index: int
    model: dict
    loss: float


def spike_passes(losses, factor=SPIKE_FACTOR, separation=SPIKE_SEPARATION, limit=MAX_SPIKE_FRAMES):
    """-> the passes at the top of the loss's spikes, at most ``limit``, the highest kept.

    losses[i] is the loss after pass i.
    """
    losses = np.asarray(losses, dtype=np.float64)
    if len(losses) < 3:
        return []
    lowest_so_far = np.minimum.accumulate(losses)
    inner = np.arange(1, len(losses) - 1)
    is_peak = (losses[inner] >= losses[inner - 1]) & (losses[inner] >= losses[inner + 1]) & (
        losses[inner] > factor * lowest_so_far[inner])
    tops = []  # (height above the lowest so far, pass), one per spike
    for pass_index in inner[is_peak]:
        height = losses[pass_index] / lowest_so_far[pass_index]
        if tops and pass_index - tops[-1][1] <= separation:
            if height > tops[-1][0]:
                tops[-1] = (height, pass_index)
        else:
            tops.append((height, pass_index))
    highest = sorted(tops, reverse=True)[:limit]
    return sorted(int(pass_index) for _, pass_index in highest)


def frame_passes(losses, log_frames=LOG_FRAMES):
    """-> increasing passes of the frames: log-spaced from pass 0, the spikes' tops, and the last two passes.

    losses[i] is the loss after pass i; len(losses) is the run's length.
    """
    num_passes = len(losses)
    if num_passes < MIN_ANIMATED_PASSES:
        raise ValueError("an animation needs at least %d passes, got %d" % (MIN_ANIMATED_PASSES, num_passes))
    log_spaced = np.unique(np.round(np.logspace(0, np.log10(num_passes), log_frames)).astype(int) - 1)
    chosen = set(log_spaced.tolist()) | set(spike_passes(losses)) | {num_passes - 2, num_passes - 1}
    return sorted(pass_index for pass_index in chosen if 0 <= pass_index < num_passes)


def training_frames(X, y, hidden, epsilon, num_passes, seed):
    """-> (the run with the loss after every pass, [Frame] at :func:`frame_passes`)."""
    common = dict(epsilon=epsilon, reg_lambda=lecture.REG_LAMBDA, seed=seed, backend="cython")
    # A step size far too large makes the run diverge: it is animated up to its
    # last finite state (run.model, after pass len(run.losses) - 1).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", trainer.DivergenceWarning)
        run = trainer.train(X, y, hidden, num_passes=num_passes, loss_every=1, on_divergence="warn", **common)
    finite_passes = len(run.losses)
    if finite_passes < MIN_ANIMATED_PASSES:
        raise ArithmeticError("training diverged at pass %d at epsilon %g: too early to animate"
                              % (run.diverged_at, epsilon))
    frames = []
    for pass_index in frame_passes(run.losses):
        model = run.model if pass_index == finite_passes - 1 else trainer.train(
            X, y, hidden, num_passes=pass_index + 1, **common).model
        frames.append(Frame(pass_index, model, float(run.losses[pass_index])))
    return run, frames


def _closing_order(frames):
    """The frames in showing order: each once, then the last two alternating CLOSING_REPEATS times."""
    return frames + (frames[-2:] * CLOSING_REPEATS if len(frames) >= 2 else [])


def prepare_out_path(out):
    """Create the folder of ``out`` if missing; ValueError if ``out`` is a directory or its folder cannot be made."""
    if os.path.isdir(out):
        raise ValueError("--out %s is a directory; give the GIF's file name" % out)
    directory = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise ValueError("--out %s: cannot create the folder %s: %s" % (out, directory, err.strerror)) from None


def loss_title(frame, closing=False):
    """The loss panel's title: the lecture's "Loss after iteration i" for the frame's pass."""
    return "loss after pass %d: %.6f%s" % (frame.pass_index, frame.loss, "  (the last two passes)" if closing else "")


def loss_limits(losses, share=CURVE_HEIGHT_SHARE):
    """-> (bottom, top) of a log axis on which the finite losses fill the lower ``share`` of the height."""
    finite = np.asarray(losses, dtype=np.float64)
    finite = np.log10(finite[np.isfinite(finite) & (finite > 0)])
    if not len(finite):
        return 0.1, 1.0
    bottom = finite.min() - 0.02  # the lowest marker's half
    top = bottom + max(finite.max() - bottom, 0.05) / share
    return 10.0 ** bottom, 10.0 ** min(top, 307.0)  # 1e307: far below float64's limit


def build_figure(X, y, run, frames, title):
    """-> (Figure, draw(index), frames in showing order): draw(index) puts the index-th frame on the figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from . import plot

    shown = _closing_order(frames)
    fig = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    boundary_ax, loss_ax = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=(1, 1.2)))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.13, top=0.85, wspace=0.22)
    fig.suptitle(title)
    # A diverged run has its losses only up to its last finite pass.
    done = np.arange(len(run.losses))
    plot.log_loss_axes(loss_ax)
    loss_ax.set_xlim(0, len(run.losses) * 1.05)
    loss_ax.set_ylim(*loss_limits(run.losses))
    loss_ax.grid(True, which="major", alpha=0.3)
    curve, = loss_ax.plot([], [], linewidth=0.8, color=plot.CLASS_COLORS[0])
    # Not clipped: the first frame's marker sits on the curve's highest point.
    marker, = loss_ax.plot([], [], marker="o", markersize=8, color=plot.CLASS_COLORS[3],
                           markeredgecolor=plot.EDGE_COLOR, linestyle="none", clip_on=False, zorder=4)

    # The closing frames add a zoom on the last passes, one by one: on the whole
    # curve the two losses of a 2-cycle are a hair apart.
    zoom = loss_ax.inset_axes(ZOOM_BOUNDS)
    zoomed = slice(max(len(done) - ZOOMED_PASSES, 0), len(done))
    zoom.plot(done[zoomed], run.losses[zoomed], marker=".", linewidth=0.6, color=plot.CLASS_COLORS[0])
    zoom_marker, = zoom.plot([], [], marker="o", markersize=8, color=plot.CLASS_COLORS[3],
                             markeredgecolor=plot.EDGE_COLOR, linestyle="none")
    zoom.set_title("the last %d passes, one by one" % (zoomed.stop - zoomed.start), fontsize="small")
    zoom.tick_params(labelsize="x-small")
    zoom.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    zoom.yaxis.set_major_locator(MaxNLocator(nbins=3))
    zoom.set_visible(False)

    # The data, labels and legend are drawn once; each frame replaces only the regions.
    plot.plot_data(X, y, boundary_ax)
    num_classes = int(y.max()) + 1
    step = plot.pixel_step(X, boundary_ax)
    # What changes between the last two passes: the other pass's boundary, dashed,
    # and the training points whose predicted label differs, ringed.
    last_two = frames[-2:]
    labels = {frame.pass_index: trainer.predict(frame.model, X) for frame in last_two}
    flipped = X[labels[last_two[0].pass_index] != labels[last_two[-1].pass_index]]
    rings = boundary_ax.scatter(flipped[:, 0], flipped[:, 1], s=FLIP_MARKER_SIZE, facecolors="none",
                                edgecolors=FLIP_COLOR, linewidths=2, zorder=4,
                                label="label flips between the last two passes")
    rings.set_visible(False)
    other_boundaries = {}
    for frame, other in zip(last_two, last_two[::-1]):
        xx, yy, Z = plot.decision_grid(lambda points, model=other.model: trainer.predict(model, points), X, step)
        contour = boundary_ax.contour(xx, yy, Z, levels=np.arange(num_classes - 1) + 0.5, colors=plot.EDGE_COLOR,
                                      linewidths=plot.BOUNDARY_WIDTH, linestyles="dashed")
        contour.set_visible(False)
        other_boundaries[frame.pass_index] = contour
    regions = []

    def draw(index):
        frame = shown[index]
        if regions:
            regions.pop().remove()
        regions.append(plot.fill_decision_regions(lambda points: trainer.predict(frame.model, points), X,
                                                  boundary_ax, step, num_classes=num_classes))
        training_accuracy = float(np.mean(trainer.predict(frame.model, X) == y))
        closing = index >= len(frames) - 2
        boundary_title = "after pass %d: training accuracy %.3f" % (frame.pass_index, training_accuracy)
        if closing:
            other = last_two[0] if frame is last_two[-1] else last_two[-1]
            boundary_title += "\ndashed: the boundary after pass %d; ringed: %d point%s changing label" % (
                other.pass_index, len(flipped), "" if len(flipped) == 1 else "s")
        boundary_ax.set_title(boundary_title, fontsize="medium")
        rings.set_visible(closing)
        for pass_index, contour in other_boundaries.items():
            contour.set_visible(closing and pass_index == frame.pass_index)
        curve.set_data(done[:frame.pass_index + 1], run.losses[:frame.pass_index + 1])
        marker.set_data([frame.pass_index], [frame.loss])
        zoom.set_visible(closing)
        zoom_marker.set_data([frame.pass_index], [frame.loss])
        loss_ax.set_title(loss_title(frame, closing))
        return []

    return fig, draw, shown


def render(out="training.gif", hidden=lecture.HIDDEN, epsilon=lecture.EPSILON, passes=lecture.NUM_PASSES,
           seed=lecture.SEED):
    """Train, draw every frame and write the GIF to ``out``; -> number of frames written."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    X, y = datasets.make_moons(lecture.DATA_SIZE, noise=lecture.DATA_NOISE, seed=seed)
    run, frames = training_frames(X, y, hidden, epsilon, passes, seed)
    fig, draw, shown = build_figure(X, y, run, frames, "Training the lecture's network: H = %d, epsilon %g, "
                                    "%d passes, seed %d" % (hidden, epsilon, passes, seed))
    animation = FuncAnimation(fig, draw, frames=len(shown), blit=False, repeat=False)
    # Losses near the float64 limit (a step size far too large) overflow the log axis's tick search.
    with np.errstate(over="ignore"):
        animation.save(out, writer=PillowWriter(fps=FRAMES_PER_SECOND))
    return len(shown)


def run(out="training.gif", hidden=lecture.HIDDEN, epsilon=lecture.EPSILON, passes=lecture.NUM_PASSES,
        seed=lecture.SEED):
    """``fastbp animate``: render, then say what was written; -> exit status 0, or 1 if nothing could be drawn."""
    prepare_out_path(out)
    start = time.perf_counter()
    try:
        count = render(out, hidden=hidden, epsilon=epsilon, passes=passes, seed=seed)
    except ArithmeticError as err:
        print("fastbp animate: %s" % err, file=sys.stderr)
        return 1
    print("Wrote %s: %d frames of the H = %d network's training (epsilon %g, %d passes, seed %d), %.1f s"
          % (out, count, hidden, epsilon, passes, seed, time.perf_counter() - start))
    return 0
