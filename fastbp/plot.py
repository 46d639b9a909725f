"""The lecture's pictures, without globals: the data, a decision boundary, a loss curve.

Every function draws on the matplotlib Axes it is given, or on a new pyplot
figure when ``ax`` is None, and returns the Axes. On a machine without a
display pyplot falls back to the non-interactive Agg backend by itself; the
demo (:mod:`fastbp.cli`) never uses pyplot and renders with Agg directly.
Importing :mod:`fastbp` does not import this module or matplotlib.
"""

import numpy as np

CMAP = "Spectral"  # the lecture's plt.cm.Spectral
GRID_PADDING = 0.5  # the lecture's "- .5" / "+ .5" around the data
DATA_MARKER_SIZE = 40  # the lecture's scatter of the data set, s=40


def _new_axes():
    import matplotlib.pyplot as plt

    return plt.figure().add_subplot()


def decision_grid(predict_fn, X, h=0.01):
    """-> (xx, yy, Z): the lecture's grid of step h around X, padded by 0.5, and
    predict_fn's labels on it, Z[i, j] = predict_fn([[xx[i, j], yy[i, j]]]).

    This is exactly what :func:`plot_decision_boundary` fills with colour.
    """
    x_min, x_max = X[:, 0].min() - GRID_PADDING, X[:, 0].max() + GRID_PADDING
    y_min, y_max = X[:, 1].min() - GRID_PADDING, X[:, 1].max() + GRID_PADDING
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Z = np.asarray(predict_fn(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    return xx, yy, Z


def plot_data(X, y, ax=None):
    """The lecture's scatter of the data set, coloured by class."""
    ax = _new_axes() if ax is None else ax
    ax.scatter(X[:, 0], X[:, 1], s=DATA_MARKER_SIZE, c=y, cmap=CMAP)
    return ax


def plot_decision_boundary(predict_fn, X, y, ax=None, h=0.01):
    """The lecture's helper: predict_fn's labels on a grid of step h, filled with
    colour, and the data on top. predict_fn maps points (M,2) to labels (M,)."""
    ax = _new_axes() if ax is None else ax
    xx, yy, Z = decision_grid(predict_fn, X, h)
    ax.contourf(xx, yy, Z, cmap=CMAP)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=CMAP)
    return ax


def plot_loss_curve(loss_passes, losses, ax=None, title="Loss during training", **line_options):
    """Loss against pass: losses[k] is the loss after pass loss_passes[k].

    line_options go to ``ax.plot`` (marker, label, ...)."""
    ax = _new_axes() if ax is None else ax
    ax.plot(loss_passes, losses, **line_options)
    ax.set_xlabel("pass")
    ax.set_ylabel("loss")
    ax.set_title(title)
    return ax
