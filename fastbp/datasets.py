"""The lecture's data, drawn without touching the global NumPy random state."""

import numpy as np

from . import _validation as check


def make_moons(n_samples=200, noise=0.20, seed=0):
    """-> (X (N,2) float64, y (N,) int labels 0/1).

    Exactly what ``np.random.seed(seed); sklearn.datasets.make_moons(n_samples,
    noise=noise)`` returns: a private ``RandomState(seed)`` is in the state that
    ``np.random.seed(seed)`` puts the global generator in.
    """
    import sklearn.datasets  # here, not at the top: importing scikit-learn takes a second

    n_samples = check.check_int(n_samples, "n_samples", 2)
    noise = check.check_real(noise, "noise", positive=False)
    seed = check.check_int(seed, "seed", 0)
    return sklearn.datasets.make_moons(n_samples, noise=noise, random_state=np.random.RandomState(seed))


def make_spiral(n_samples_per_class=100, n_classes=3, noise=0.2, seed=0):
    """-> (X (K*n, 2) float64, y (K*n,) int labels 0..K-1): K interleaved spiral arms.

    The classic many-class problem (the lecture's exercise 4): arm k holds
    points at radius r from 0 to 1 and angle 4k + 4r, plus Gaussian noise of
    standard deviation ``noise`` on the angle, drawn from a generator seeded
    with ``seed``. No straight line separates any arm from the others.
    """
    n_samples_per_class = check.check_int(n_samples_per_class, "n_samples_per_class", 1)
    n_classes = check.check_int(n_classes, "n_classes", 2)
    noise = check.check_real(noise, "noise", positive=False)
    seed = check.check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.0, 1.0, n_samples_per_class), n_classes)
    y = np.repeat(np.arange(n_classes), n_samples_per_class)
    angle = 4.0 * y + 4.0 * radius + noise * rng.standard_normal(len(y))
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    return X, y
