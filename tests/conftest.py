"""Fixtures shared by several test files."""

from dataclasses import dataclass

import pytest

import fastbp
from fastbp import reference

LECTURE_PASSES = 20000


@pytest.fixture(scope="module")
def moons():
    """The lecture's data: make_moons(200, noise=0.20) after np.random.seed(0).
    Module scope: each test file gets its own arrays."""
    return fastbp.datasets.make_moons(200, noise=0.20, seed=0)


@dataclass
class ReferenceCycle:
    """The NumPy reference's lecture run (H = 3, 20000 passes) and the period-2
    cycle it ends on (docs/numerics.md): the state after pass 20000 and after
    one more pass, with the loss of each."""

    model: dict
    next_model: dict
    losses: tuple


@pytest.fixture(scope="session")
def lecture_reference_cycle():
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    model = fastbp.train(X, y, 3, num_passes=LECTURE_PASSES, backend="numpy").model
    next_model = {name: value.copy() for name, value in model.items()}
    reference.train_pass(next_model, X, y, 0.01, 0.01)
    losses = (reference.calculate_loss(model, X, y, 0.01), reference.calculate_loss(next_model, X, y, 0.01))
    # the two points really differ: a check against them cannot pass by accident
    assert abs(losses[0] - losses[1]) > 1e-4
    return ReferenceCycle(model, next_model, losses)
