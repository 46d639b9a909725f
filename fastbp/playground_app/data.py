"""The playground's data: the five data sets, the train/test split, the input features.

Moons are the lecture's points exactly (:func:`fastbp.datasets.make_moons`);
every data set is drawn from generators seeded with the page's seed, so a
link reproduces the same points.
"""

from dataclasses import dataclass

import numpy as np

from .. import datasets
from .settings import test_size

# The pictures cover the data with this margin around it, as the lecture's plot does.
PLANE_MARGIN = 0.5


@dataclass
class Data:
    """The points (raw coordinates, N x 2) split into train and test, and the
    plane the pictures show."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    bounds: tuple  # (x_min, x_max, y_min, y_max)
    num_classes: int


def _circles(n, noise, rng):
    """Two rings, radius 1 and 0.5, each point moved by Gaussian noise."""
    y = np.arange(n) % 2
    angle = rng.uniform(0.0, 2 * np.pi, n)
    radius = np.where(y == 0, 1.0, 0.5)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X + noise * rng.standard_normal((n, 2)), y


def _xor(n, noise, rng):
    """Points uniform in the square [-1, 1]^2, labelled by the sign of x1 * x2, then moved by noise."""
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.intp)
    return X + noise * rng.standard_normal((n, 2)), y


BLOB_CENTRES = np.array([[-1.0, -0.6], [1.0, -0.6], [0.0, 1.0]])
BLOB_SPREAD = 0.25  # the blobs' standard deviation at noise 0; noise adds to it


def _blobs(n, noise, rng):
    """Three Gaussian blobs, a class each: the softmax output with C = 3."""
    y = np.arange(n) % len(BLOB_CENTRES)
    return BLOB_CENTRES[y] + (BLOB_SPREAD + noise) * rng.standard_normal((n, 2)), y


def _spiral(n, noise, seed):
    """Two spiral arms (fastbp.datasets.make_spiral), n points in all."""
    X, y = datasets.make_spiral(-(-n // 2), n_classes=2, noise=noise, seed=seed)
    return X[:n], y[:n]


def make_points(settings):
    """-> (X (N,2), y (N,)) of the data set the settings name."""
    n, noise, seed = settings.samples, settings.noise, settings.seed
    if settings.dataset == "moons":
        return datasets.make_moons(n, noise, seed)
    if settings.dataset == "spiral":
        return _spiral(n, noise, seed)
    rng = np.random.default_rng(seed)
    return {"circles": _circles, "xor": _xor, "blobs": _blobs}[settings.dataset](n, noise, rng)


class DataError(ValueError):
    """Settings whose split leaves the training points without some class."""


def make_data(settings):
    """The points, split: the test points are a random share drawn with the seed;
    with no test share the training points are the data set in its own order
    (the lecture's)."""
    X, y = make_points(settings)
    num_test = test_size(settings)
    if num_test:
        order = np.random.default_rng(settings.seed).permutation(len(X))
        test, train = np.sort(order[:num_test]), np.sort(order[num_test:])
    else:
        train, test = np.arange(len(X)), np.arange(0)
    num_classes = int(y.max()) + 1
    missing = sorted(set(range(num_classes)) - set(y[train].tolist()))
    if missing:
        raise DataError("the training points have no point of class %s: use more samples or a smaller test share"
                        % ", ".join(map(str, missing)))
    low, high = X.min(axis=0) - PLANE_MARGIN, X.max(axis=0) + PLANE_MARGIN
    return Data(X[train], y[train], X[test], y[test], (low[0], high[0], low[1], high[1]), num_classes)


FEATURE_FUNCTIONS = {
    "x1": lambda X: X[:, 0],
    "x2": lambda X: X[:, 1],
    "x1^2": lambda X: X[:, 0] ** 2,
    "x2^2": lambda X: X[:, 1] ** 2,
    "x1*x2": lambda X: X[:, 0] * X[:, 1],
    "sin(x1)": lambda X: np.sin(X[:, 0]),
    "sin(x2)": lambda X: np.sin(X[:, 1]),
}


def features(X, names):
    """The network's inputs (N, len(names)) from the raw coordinates X (N, 2)."""
    return np.column_stack([FEATURE_FUNCTIONS[name](X) for name in names])


def grid(bounds, resolution):
    """-> (points (resolution**2, 2) of a regular grid over the plane, row by row from the bottom)."""
    xs = np.linspace(bounds[0], bounds[1], resolution)
    ys = np.linspace(bounds[2], bounds[3], resolution)
    xx, yy = np.meshgrid(xs, ys)
    return np.column_stack([xx.ravel(), yy.ravel()])
