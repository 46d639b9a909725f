"""How the tests measure agreement between the compiled kernels and the reference.

The relative difference of two arrays is normwise: the largest absolute
difference over the largest absolute expected value. An elementwise ratio would
blow up on entries that are sums with cancellation (db2 of a 2-class softmax
sums to nearly zero), where a few ulp of the terms is a large part of the sum.
"""

import numpy as np

# One pass from the same state (docs/numerics.md, level 1): the kernels and NumPy's
# BLAS sum in different orders, and tanh/exp come from different libraries, each
# within 2 ulp: a few ulp of the largest term, far below this.
KERNEL_RTOL = 1e-13
# 1 and 1000 passes of the lecture's job, before its instability sets in
# (level 3): rounding differences grow with the passes, but stay near 1e-14.
EARLY_PASSES_RTOL = 1e-12
# Whole 20000-pass runs where gradient descent is stable (level 2): rounding
# differences are damped, not amplified; measured differences are ~1e-14.
STABLE_RUN_RTOL = 1e-9
# The lecture's H = 3 run ends on a period-2 cycle; whichever phase rounding
# picks, the loss is one of the cycle's two losses (level 3).
CYCLE_LOSS_RTOL = 1e-8


def max_relative_difference(actual, expected):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, "shape %s != expected %s" % (actual.shape, expected.shape)
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    if scale == 0.0:
        return float(np.max(np.abs(actual), initial=0.0))
    return float(np.max(np.abs(actual - expected)) / scale)


def assert_close(actual, expected, rtol, what=""):
    difference = max_relative_difference(actual, expected)
    assert difference <= rtol, "%s: relative difference %.3g exceeds %.0e" % (what, difference, rtol)


def assert_models_close(actual, expected, rtol, what=""):
    assert sorted(actual) == sorted(expected)
    for name in expected:
        if name == "activation":
            assert actual[name] == expected[name], what
            continue
        assert_close(actual[name], expected[name], rtol, "%s %s" % (what, name))


def assert_loss_records_agree(actual, expected, rtol, num_recorded):
    """Two training runs (fastbp.TrainingRun) recorded the same num_recorded passes,
    and each recorded loss agrees within rtol: a shorter record must not pass by
    comparing only its common prefix."""
    assert len(actual.losses) == len(expected.losses) == num_recorded, (
        "recorded %d and %d losses, expected %d" % (len(actual.losses), len(expected.losses), num_recorded))
    np.testing.assert_array_equal(actual.loss_passes, expected.loss_passes)
    for i, got, want in zip(actual.loss_passes, actual.losses, expected.losses):
        assert abs(got - want) <= rtol * abs(want), "loss after pass %d: %.17g vs reference %.17g" % (i, got, want)


# Central differences with step h have truncation error O(h^2 * f''') and
# rounding error O(eps * |loss| / h): with h = 1e-6 and summed losses of order
# 10, about 1e-9 absolute. Gradients are compared within FD_RTOL of their
# largest entry, plus FD_ATOL for the rounding floor (small gradients, such as
# those reaching the first layer through two sigmoids, sit near it).
FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-8


def central_difference_gradients(loss, model):
    """d loss(model) / d model[name] for every array in the model, by central differences."""
    gradients = {}
    for name, param in model.items():
        if name == "activation":
            continue
        numeric = np.empty_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + FD_STEP
            loss_plus = loss(model)
            param[index] = saved - FD_STEP
            loss_minus = loss(model)
            param[index] = saved
            numeric[index] = (loss_plus - loss_minus) / (2 * FD_STEP)
        gradients[name] = numeric
    return gradients


def assert_gradients_match_central_differences(analytic, loss, model, what=""):
    numeric = central_difference_gradients(loss, model)
    assert sorted(analytic) == sorted(numeric)
    for name in numeric:
        error = np.max(np.abs(analytic[name] - numeric[name]))
        bound = FD_RTOL * np.max(np.abs(numeric[name])) + FD_ATOL
        assert error <= bound, "%s %s: analytic vs central differences differ by %.3g > %.3g" % (
            what, name, error, bound)
