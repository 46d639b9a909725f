"""The lecture's data, drawn without touching the global NumPy random state."""

import numpy as np
import sklearn.datasets

from . import _validation as check


def make_moons(n_samples=200, noise=0.20, seed=0):
    """-> (X (N,2) float64, y (N,) int labels 0/1).

    Exactly what ``np.random.seed(seed); sklearn.datasets.make_moons(n_samples,
    noise=noise)`` returns: a private ``RandomState(seed)`` is in the state that
    ``np.random.seed(seed)`` puts the global generator in.
    """
    n_samples = check.check_int(n_samples, "n_samples", 2)
    noise = check.check_real(noise, "noise", positive=False)
    seed = check.check_int(seed, "seed", 0)
    return sklearn.datasets.make_moons(n_samples, noise=noise, random_state=np.random.RandomState(seed))
