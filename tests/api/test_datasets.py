"""fastbp.datasets: every argument of each data set changes what it draws as documented.

Expected values: scikit-learn's make_moons after np.random.seed(seed) (the
documented contract of fastbp.datasets.make_moons), and the spiral's closed
form (arm k at radius r and angle 4k + 4r, Gaussian noise on the angle).
"""

import numpy as np
import pytest
import sklearn.datasets

from fastbp import datasets

# Noise on the spiral's angle: the sample standard deviation of 300 draws is
# within 4 standard errors (0.2 * 4 / sqrt(2 * 300) ~ 0.033) of the true one.
SPIRAL_NOISE_ATOL = 0.035


@pytest.mark.parametrize("n_samples, noise, seed", [(200, 0.20, 0), (51, 0.05, 7), (10, 0.0, 3)])
def test_make_moons_is_scikit_learns_after_np_random_seed(n_samples, noise, seed):
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        expected = sklearn.datasets.make_moons(n_samples, noise=noise)
    finally:
        np.random.set_state(state)
    X, y = datasets.make_moons(n_samples, noise=noise, seed=seed)
    np.testing.assert_array_equal(X, expected[0])
    np.testing.assert_array_equal(y, expected[1])


def test_make_moons_seed_and_noise_change_the_points():
    X, _ = datasets.make_moons(seed=0)
    assert not np.array_equal(X, datasets.make_moons(seed=1)[0])
    assert not np.array_equal(X, datasets.make_moons(noise=0.3)[0])
    np.testing.assert_array_equal(X, datasets.make_moons(seed=0)[0])  # the same seed, the same points


def spiral_angles(X, y, n_samples_per_class):
    """The angle of each point (from the spiral's x = r sin(angle), y = r cos(angle)), unwrapped
    towards the noiseless angle 4k + 4r."""
    radius = np.tile(np.linspace(0.0, 1.0, n_samples_per_class), int(y.max()) + 1)
    noiseless = 4.0 * y + 4.0 * radius
    angle = np.arctan2(X[:, 0], X[:, 1])
    return radius, noiseless, noiseless + np.angle(np.exp(1j * (angle - noiseless)))


def test_make_spiral_without_noise_is_its_closed_form():
    X, y = datasets.make_spiral(50, 4, noise=0.0, seed=1)
    assert X.shape == (200, 2) and np.array_equal(y, np.repeat(np.arange(4), 50))
    radius, noiseless, _ = spiral_angles(X, y, 50)
    np.testing.assert_array_equal(X, np.column_stack([radius * np.sin(noiseless), radius * np.cos(noiseless)]))


@pytest.mark.parametrize("noise", [0.2, 0.5])
def test_make_spiral_noise_is_the_angles_standard_deviation(noise):
    X, y = datasets.make_spiral(100, 3, noise=noise, seed=0)
    radius, noiseless, angle = spiral_angles(X, y, 100)
    inner = radius > 0  # the centre has no angle
    assert np.std(angle[inner] - noiseless[inner]) == pytest.approx(noise, abs=SPIRAL_NOISE_ATOL)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), radius, rtol=1e-15, atol=1e-15)


def test_make_spiral_seed_changes_the_noise_and_only_the_noise():
    X, _ = datasets.make_spiral(seed=0)
    assert not np.array_equal(X, datasets.make_spiral(seed=1)[0])
    np.testing.assert_array_equal(X, datasets.make_spiral(seed=0)[0])
    without_noise = [datasets.make_spiral(noise=0.0, seed=seed)[0] for seed in (0, 1)]
    np.testing.assert_array_equal(*without_noise)
