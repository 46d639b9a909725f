"""Finite-difference Hessians of the reference's loss, shared by the tests of
fastbp.diagnostics (tests/api/test_diagnostics.py) and of the playground's
sharpness (tests/apps/test_playground_sharpness.py).

Central differences of the gradient with step FD_STEP: truncation error about
FD_STEP**2 times the third derivative (~1e-10 relative on these problems) and
rounding about 1e-16 |grad| / FD_STEP (~1e-10 relative); HVP_FD_RTOL leaves
three orders of margin on both, for each activation. Power iteration stops at
a residual of diagnostics.EIGEN_RESIDUAL_RTOL (1e-6) of the eigenvalue, which
bounds the eigenvalue's error by as much; the finite-difference Hessian adds
~1e-9: SHARPNESS_RTOL.
"""

import numpy as np

from fastbp import reference

FD_STEP = 1e-5
HVP_FD_RTOL = 1e-7
SHARPNESS_RTOL = 1e-5


def names_of(model):
    return reference.parameter_names(reference.num_layers(model))


def flatten(params, names):
    return np.concatenate([params[name].ravel() for name in names])


def units_on(model, X):
    """Which hidden units are active (output > 0) at each point: ReLU's piece of the loss."""
    return [output > 0 for output in reference.forward(model, X)[:-1]]


def gradient_difference(model, X, y, reg_lambda, direction):
    """(grad(params + h v) - grad(params - h v)) / 2h from the reference's gradients, checking
    that a ReLU network stays on one smooth piece between the two points."""
    plus = dict(model, **{name: model[name] + FD_STEP * direction[name] for name in direction})
    minus = dict(model, **{name: model[name] - FD_STEP * direction[name] for name in direction})
    if reference.activation_of(model) == "relu":
        for on, on_plus, on_minus in zip(units_on(model, X), units_on(plus, X), units_on(minus, X)):
            assert (on == on_plus).all() and (on == on_minus).all(), "a difference step crosses a kink"
    g_plus, g_minus = reference.gradients(plus, X, y, reg_lambda), reference.gradients(minus, X, y, reg_lambda)
    return {name: (g_plus[name] - g_minus[name]) / (2 * FD_STEP) for name in direction}


def dense_hessian(model, X, y, reg_lambda):
    """The Hessian of the loss in the flat order of names_of, column by column from
    gradient_difference, symmetrised."""
    names = names_of(model)
    size = sum(model[name].size for name in names)
    columns = []
    for unit in np.eye(size):
        direction, offset = {}, 0
        for name in names:
            direction[name] = unit[offset:offset + model[name].size].reshape(model[name].shape)
            offset += model[name].size
        columns.append(flatten(gradient_difference(model, X, y, reg_lambda, direction), names))
    hessian = np.array(columns).T
    return (hessian + hessian.T) / 2
