"""The lecture's pictures, without globals: the data, a decision boundary, a loss curve.

Every function draws on the matplotlib Axes it is given, or on a new pyplot
figure when ``ax`` is None, and returns the Axes. On a machine without a
display pyplot falls back to the non-interactive Agg backend by itself; the
demo (:mod:`fastbp.demo`) never uses pyplot and renders with Agg directly.
Importing :mod:`fastbp` does not import this module or matplotlib.

The colours are the Okabe-Ito palette, which stays distinguishable with every
common colour-vision deficiency. The decision regions are pale tints of the
class colours and the samples are the full colours with a dark edge, so a
sample stands out from the region it lies in, whichever class that region is.
"""

import numpy as np

# Okabe & Ito (2008), "Color Universal Design": blue, orange, bluish green,
# vermillion, reddish purple, sky blue, yellow. Blue and orange first: the two
# classes of the moons are the pair least confused by any kind of colour blindness.
CLASS_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
# A region is its class colour mixed with this much white: pale enough that the
# samples' full colours stand out on it, dark enough to tell the regions apart.
REGION_WHITE_SHARE = 0.7
EDGE_COLOR = "#1a1a1a"  # the samples' outline and the boundary line: near black
EDGE_WIDTH = 0.7
BOUNDARY_WIDTH = 1.2
GRID_PADDING = 0.5  # the lecture's "- .5" / "+ .5" around the data
LECTURE_GRID_STEP = 0.01  # the lecture's h
DATA_MARKER_SIZE = 40  # the lecture's scatter of the data set, s=40
# Labelled ticks of a log loss axis at these multiples of each power of ten: a
# loss curve often spans less than one decade, where powers of ten alone would
# label one tick or none.
LOSS_TICK_MULTIPLES = (1, 1.5, 2, 3, 4, 5, 7)
# The pass axis is linear from 0 to 1 (so that pass 0 has a place), logarithmic
# beyond; this is the width of that linear stretch in decades.
PASS_AXIS_LINEAR_WIDTH = 0.3
# Unicode subscripts, not mathtext: typesetting "$x_1$" costs about a second on first use.
X_LABEL, Y_LABEL = "x₁ (first input)", "x₂ (second input)"


def _new_axes():
    import matplotlib.pyplot as plt

    return plt.figure().add_subplot()


def class_colors(num_classes):
    """The full colours of classes 0..num_classes-1."""
    if num_classes > len(CLASS_COLORS):
        raise ValueError("the palette has %d colours, %d classes asked" % (len(CLASS_COLORS), num_classes))
    return list(CLASS_COLORS[:num_classes])


def region_colors(num_classes):
    """The pale tints of the class colours that fill the decision regions, as RGB triples."""
    from matplotlib.colors import to_rgb

    return [tuple(REGION_WHITE_SHARE + (1 - REGION_WHITE_SHARE) * channel for channel in to_rgb(color))
            for color in class_colors(num_classes)]


def _num_classes(*labels):
    return int(max(np.max(np.asarray(label)) for label in labels)) + 1


def decision_grid(predict_fn, X, h=LECTURE_GRID_STEP):
    """-> (xx, yy, Z): the lecture's grid of step h around X, padded by 0.5, and
    predict_fn's labels on it, Z[i, j] = predict_fn([[xx[i, j], yy[i, j]]]).

    This is exactly what :func:`plot_decision_boundary` fills with colour.
    """
    x_min, x_max = X[:, 0].min() - GRID_PADDING, X[:, 0].max() + GRID_PADDING
    y_min, y_max = X[:, 1].min() - GRID_PADDING, X[:, 1].max() + GRID_PADDING
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Z = np.asarray(predict_fn(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    return xx, yy, Z


def plot_data(X, y, ax=None, num_classes=None):
    """The data set, one colour per class with a dark edge, axis labels and a legend of the classes."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    ax = _new_axes() if ax is None else ax
    num_classes = _num_classes(y) if num_classes is None else num_classes
    colors = class_colors(num_classes)
    # One scatter for all classes, coloured through a colormap with one colour per label.
    ax.scatter(X[:, 0], X[:, 1], s=DATA_MARKER_SIZE, c=y, cmap=ListedColormap(colors), vmin=-0.5,
               vmax=num_classes - 0.5, edgecolors=EDGE_COLOR, linewidths=EDGE_WIDTH, zorder=3)
    handles = [Line2D([], [], marker="o", linestyle="none", markersize=7, markerfacecolor=color,
                      markeredgecolor=EDGE_COLOR, markeredgewidth=EDGE_WIDTH, label="class %d" % label)
               for label, color in enumerate(colors)]
    ax.legend(handles=handles, loc="best", framealpha=0.9)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    return ax


def plot_decision_boundary(predict_fn, X, y, ax=None, h=None):
    """The lecture's helper: predict_fn's labels on a grid of step h, filled with
    pale class colours, the boundary as a dark line, and the data on top.
    predict_fn maps points (M,2) to labels (M,). h=None: see :func:`pixel_step`.
    """
    ax = _new_axes() if ax is None else ax
    regions = fill_decision_regions(predict_fn, X, ax, h, num_classes=_num_classes(y))
    plot_data(X, y, ax, regions.num_classes)
    return ax


def pixel_step(X, ax, h=LECTURE_GRID_STEP):
    """The lecture's grid step h, or a finer one so that no grid cell is wider or
    taller than one pixel of ``ax`` as it will be drawn: a boundary traced on the
    grid then has its corners below the pixel, and no stair steps show."""
    box = ax.get_window_extent()
    x_range = np.ptp(X[:, 0]) + 2 * GRID_PADDING
    y_range = np.ptp(X[:, 1]) + 2 * GRID_PADDING
    return min(h, x_range / max(box.width, 1), y_range / max(box.height, 1))


class DecisionRegions:
    """The filled regions and the boundary line drawn by :func:`fill_decision_regions`."""

    def __init__(self, fill, boundary, num_classes):
        self.fill, self.boundary, self.num_classes = fill, boundary, num_classes

    def remove(self):
        """Take both off their Axes (an animation redraws them frame by frame)."""
        self.fill.remove()
        self.boundary.remove()


def fill_decision_regions(predict_fn, X, ax, h=None, num_classes=0):
    """predict_fn's labels on the lecture's grid of step h around X, as pale class
    colours with the boundary between them as a dark line; -> DecisionRegions.
    h=None: the step of :func:`pixel_step`, at most one pixel.

    The fill's levels lie halfway between labels, so each region is one flat
    colour with a smooth edge; letting contourf pick its own levels between two
    integer labels draws thin bands along the boundary that look like stair steps.
    num_classes: at least this many colours (the data's classes), more if predicted.
    """
    xx, yy, Z = decision_grid(predict_fn, X, pixel_step(X, ax) if h is None else h)
    num_classes = max(num_classes, _num_classes(Z))
    levels = np.arange(num_classes + 1) - 0.5
    fill = ax.contourf(xx, yy, Z, levels=levels, colors=region_colors(num_classes))
    boundary = ax.contour(xx, yy, Z, levels=levels[1:-1], colors=EDGE_COLOR, linewidths=BOUNDARY_WIDTH)
    return DecisionRegions(fill, boundary, num_classes)


def plot_loss_curve(loss_passes, losses, ax=None, title="Loss during training", **line_options):
    """Loss against pass: losses[k] is the loss after pass loss_passes[k].

    line_options go to ``ax.plot`` (marker, label, ...)."""
    ax = _new_axes() if ax is None else ax
    ax.plot(loss_passes, losses, **line_options)
    ax.set_xlabel("pass")
    ax.set_ylabel("loss")
    ax.set_title(title)
    return ax


def _plain_number(value, _position=None):
    return "%g" % value


def log_loss_axes(ax):
    """Passes on a symmetric log axis (0, then logarithmic from 1) and losses on a
    log axis, both with plain tick labels (not 10^k typeset as mathematics), the
    losses labelled at LOSS_TICK_MULTIPLES of each power of ten; -> ax."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    ax.set_xscale("symlog", linthresh=1, linscale=PASS_AXIS_LINEAR_WIDTH)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=LOSS_TICK_MULTIPLES))
    ax.yaxis.set_minor_locator(NullLocator())
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(_plain_number))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("pass (from 0; log scale from 1)")
    ax.set_ylabel("loss (log scale)")
    return ax
