"""A minibatch workspace built from the sample-major X alone (src/_driver.pyx).

Expected values: the bits of the same workspace given the feature-major X as
well (the batches are gathered from the sample-major X either way; the loss
over all rows reads the feature-major copy, made when first needed), and the
refusal of a full-batch workspace without the feature-major X.
"""

import numpy as np
import pytest

from fastbp import _driver, reference
from fastbp._backend import flat_params

SIZES = (70, 96, 10)


def workspaces_and_params():
    rng = np.random.default_rng(40)
    X, y = rng.standard_normal((500, SIZES[0])), rng.integers(0, SIZES[-1], 500).astype(np.intp)
    params = flat_params(reference.init_params(SIZES, 0), reference.parameter_names(len(SIZES) - 1))
    both = _driver.Workspace(SIZES, 0, _driver.feature_major(X, 1), y, 128, 2, X_rows=X)
    rows_only = _driver.Workspace(SIZES, 0, None, y, 128, 2, X_rows=X)
    return both, rows_only, params


def test_the_loss_recorded_from_the_rows_alone_is_the_same_bits():
    both, rows_only, params = workspaces_and_params()
    orders = np.concatenate([np.random.default_rng(p).permutation(500) for p in range(3)]).astype(np.intp)
    epsilons = np.full(3 * 4, 1e-3)
    results = []
    for workspace in (both, rows_only):
        p, losses = params.copy(), np.empty(3)
        workspace.train_passes(p, orders, epsilons, 0.01, 0, 3, 1, losses)
        results.append((p, losses, workspace.loss(p, 0.01)))
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_array_equal(got, expected)


def test_a_full_batch_workspace_needs_the_feature_major_X():
    X, y = np.zeros((10, 3)), np.zeros(10, dtype=np.intp)
    with pytest.raises(ValueError, match="feature-major X"):
        _driver.Workspace((3, 4, 2), 0, None, y, 10, 1, X_rows=X)
