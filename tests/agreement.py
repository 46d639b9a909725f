"""How the tests measure agreement between the compiled kernels and the reference.

The relative difference of two arrays is normwise: the largest absolute
difference over the largest absolute expected value. An elementwise ratio would
blow up on entries that are sums with cancellation (db2 of a 2-class softmax
sums to nearly zero), where a few ulp of the terms is a large part of the sum.
"""

import numpy as np

# One pass from the same state (NUMERICS.md, contract 1): the kernels and NumPy's
# BLAS sum in different orders, and tanh/exp come from different libraries, each
# within 2 ulp: a few ulp of the largest term, far below this.
KERNEL_RTOL = 1e-13
# 1 and 1000 passes of the lecture's job, before its instability sets in
# (contract 3): rounding differences grow with the passes, but stay near 1e-14.
EARLY_PASSES_RTOL = 1e-12
# Whole 20000-pass runs where gradient descent is stable (contract 2): rounding
# differences are damped, not amplified; measured differences are ~1e-14.
STABLE_RUN_RTOL = 1e-9
# The lecture's H = 3 run ends on a period-2 cycle; whichever phase rounding
# picks, the loss is one of the cycle's two losses (contract 3).
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
        assert_close(actual[name], expected[name], rtol, "%s %s" % (what, name))
