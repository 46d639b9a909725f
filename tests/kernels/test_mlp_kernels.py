"""src/_mlp.pyx against its NumPy twin fastbp/reference_mlp.py, and the
reference against scikit-learn: the objective and gradient of a batch for every
output layer and hidden activation, with and without sample weights, in both
precisions; one epoch of each optimiser; the finite-difference gradient."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from fastbp import FastBPClassifier, FastBPRegressor, _layers, _mlp, reference_mlp
from fastbp.estimators import _compiled

# The compiled gradient sums each product in another order than BLAS and takes
# exp, tanh and the logistic within 2 ulp (vecmath.h): a few ulp per entry,
# relative to the largest entry of the array. float32 rounds at 6e-8.
KERNEL_RTOL = {np.float64: 1e-13, np.float32: 2e-5}
# One epoch of 5 minibatch steps compounds those differences a few times.
EPOCH_RTOL = {np.float64: 1e-12, np.float32: 1e-4}
# Central differences with step h: truncation error h**2 times the third
# derivative, rounding 1e-16 / h; at h = 1e-6 both are near 1e-10 of the gradient.
FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_RTOL = 1e-6

OUTPUTS = {"softmax": "log_loss", "logistic": "log_loss", "identity": "squared_error", "exp": "poisson"}


def problem(output, dtype, num_samples=300, num_features=7, num_outputs=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(num_samples, num_features)).astype(dtype)
    if output == "softmax":
        y = np.eye(num_outputs, dtype=bool)[rng.randint(num_outputs, size=num_samples)]
    elif output == "logistic":
        y = rng.rand(num_samples, num_outputs) < 0.4
    else:
        y = np.abs(rng.normal(size=(num_samples, num_outputs))).astype(dtype)
    return X, y


def compiled_loss_and_gradient(coefs, intercepts, X, y, weights, alpha, activation, output):
    layer_units = [W.shape[0] for W in coefs] + [coefs[-1].shape[1]]
    workspace = _mlp.MLPWorkspace(layer_units, activation, output, np.ascontiguousarray(X).ravel(),
                                  np.ascontiguousarray(y, dtype=X.dtype).ravel(),
                                  None if weights is None else weights.astype(X.dtype), alpha, len(X))
    flat = np.concatenate([array.ravel() for array in coefs + intercepts])
    return workspace.loss_and_gradient(flat)


def assert_close(mine, expected, rtol):
    np.testing.assert_allclose(mine, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("output", OUTPUTS)
def test_batch_gradient_is_the_references(output, activation, weighted, dtype):
    # expected: reference_mlp.loss_and_gradients; two hidden layers, one wide (tiled products), 300 rows (two blocks)
    X, y = problem(output, dtype)
    weights = np.random.RandomState(1).uniform(0.2, 2.0, len(X)).astype(dtype) if weighted else None
    coefs, intercepts = reference_mlp.init_coefs([7, 40, 5, 3], activation, np.random.RandomState(2), dtype)
    alpha = 0.3
    expected_loss, coef_grads, intercept_grads = reference_mlp.loss_and_gradients(
        coefs, intercepts, X, y, weights, alpha, activation, output, OUTPUTS[output])
    loss, gradient = compiled_loss_and_gradient(coefs, intercepts, X, y, weights, alpha, activation, output)
    assert gradient.dtype == dtype
    np.testing.assert_allclose(loss, expected_loss, rtol=KERNEL_RTOL[dtype])
    assert_close(gradient, np.concatenate([g.ravel() for g in coef_grads + intercept_grads]), KERNEL_RTOL[dtype])


# Two hidden layers of at least 64 units each side: the first two layers take the
# packed products of src/gemm.h (gemm.use_packed), the top one the tiles.
PACKED_LAYER_UNITS = [70, 96, 80, 3]
# A hidden layer too narrow for the packed forward and backward-input products
# whose weight gradient is packed all the same (gemm.packs_weight_gradient):
# 80 x 40, between the tiles of 20 x 80 and 40 x 3.
GRADIENT_PACKED_UNITS = [20, 80, 40, 3]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("units", [PACKED_LAYER_UNITS, GRADIENT_PACKED_UNITS])
@pytest.mark.parametrize("num_samples", [300, 200])
def test_a_packed_layers_gradient_is_the_references(units, activation, dtype, num_samples):
    # expected: reference_mlp.loss_and_gradients; weighted samples; 300 rows (two
    # blocks: the packed weight gradients added block after block), or 200 (one
    # block: written, not added). The workspace first computes the gradient at other
    # weights, which a gradient that adds instead of writing would carry along.
    layers = list(zip(units[:-1], units[1:]))
    if units is PACKED_LAYER_UNITS:
        assert _layers.use_packed(*layers[0]) and _layers.use_packed(*layers[1])
    else:
        assert [_layers.packs_weight_gradient(*layer) for layer in layers] == [False, True, False]
        assert not any(_layers.use_packed(*layer) for layer in layers)
    X, y = problem("softmax", dtype, num_samples=num_samples, num_features=units[0], num_outputs=units[-1])
    weights = np.random.RandomState(1).uniform(0.2, 2.0, len(X)).astype(dtype)
    coefs, intercepts = reference_mlp.init_coefs(units, activation, np.random.RandomState(2), dtype)
    expected_loss, coef_grads, intercept_grads = reference_mlp.loss_and_gradients(
        coefs, intercepts, X, y, weights, 0.3, activation, "softmax", "log_loss")
    workspace = _mlp.MLPWorkspace(units, activation, "softmax", np.ascontiguousarray(X).ravel(),
                                  y.astype(dtype).ravel(), weights, 0.3, len(X))
    flat = np.concatenate([array.ravel() for array in coefs + intercepts])
    workspace.loss_and_gradient(flat * dtype(1.5))
    loss, gradient = workspace.loss_and_gradient(flat)
    np.testing.assert_allclose(loss, expected_loss, rtol=KERNEL_RTOL[dtype])
    assert_close(gradient, np.concatenate([g.ravel() for g in coef_grads + intercept_grads]), KERNEL_RTOL[dtype])


def test_the_reference_gradient_is_the_objectives_derivative():
    # expected: central differences of reference_mlp's objective itself
    X, y = problem("softmax", np.float64, num_samples=40)
    weights = np.random.RandomState(3).uniform(0.2, 2.0, len(X))
    coefs, intercepts = reference_mlp.init_coefs([7, 6, 3], "tanh", np.random.RandomState(4), np.float64)
    _, coef_grads, intercept_grads = reference_mlp.loss_and_gradients(coefs, intercepts, X, y, weights, 0.1, "tanh",
                                                                      "softmax", "log_loss")
    for params, grads in ((coefs, coef_grads), (intercepts, intercept_grads)):
        for param, grad in zip(params, grads):
            for index in np.ndindex(param.shape):
                saved = param[index]
                param[index] = saved + FINITE_DIFFERENCE_STEP
                above = reference_mlp.loss_and_gradients(coefs, intercepts, X, y, weights, 0.1, "tanh", "softmax",
                                                         "log_loss")[0]
                param[index] = saved - FINITE_DIFFERENCE_STEP
                below = reference_mlp.loss_and_gradients(coefs, intercepts, X, y, weights, 0.1, "tanh", "softmax",
                                                         "log_loss")[0]
                param[index] = saved
                numeric = (above - below) / (2 * FINITE_DIFFERENCE_STEP)
                assert abs(numeric - grad[index]) <= FINITE_DIFFERENCE_RTOL * max(1e-3, abs(numeric))


def adam_in_double(params, grads, ms, vs, rate, beta_1, beta_2, epsilon):
    # src/adam.h's update replayed by NumPy: every operation in double, in its
    # order, each result rounded to the arrays' precision where it is stored
    real = params.dtype
    wide = np.float64
    ms = (beta_1 * ms.astype(wide) + (1.0 - beta_1) * grads.astype(wide)).astype(real)
    vs = (beta_2 * vs.astype(wide) + (1.0 - beta_2) * (grads * grads).astype(wide)).astype(real)
    params = (params.astype(wide) + ((-rate) * ms.astype(wide)) / (np.sqrt(vs.astype(wide)) + epsilon)).astype(real)
    return params, ms, vs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", _mlp.available_paths())
def test_adams_update_is_its_replay_in_double_exactly(path, dtype):
    # 37 parameters: the vector paths' 4 or 8 at a time, then the rest one at a time
    rng = np.random.default_rng(5)
    params, grads, ms = (rng.standard_normal(37).astype(dtype) for _ in range(3))
    vs = np.abs(rng.standard_normal(37)).astype(dtype) * 1e-3
    settings = dict(rate=3e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    expected = adam_in_double(params, grads, ms, vs, **settings)
    _mlp.adam_update_on_path(path, params, grads, ms, vs, **settings)
    for name, mine, replay in zip(("params", "m", "v"), (params, ms, vs), expected):
        np.testing.assert_array_equal(mine, replay, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("params", [dict(solver="adam"), dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
                                    dict(solver="sgd", momentum=0.5, nesterovs_momentum=False),
                                    dict(solver="sgd", momentum=0)], ids=["adam", "nesterov", "momentum", "plain"])
def test_a_compiled_epoch_is_the_references(monkeypatch, params, dtype):
    # expected: the same fit on the NumPy reference (the compiled path switched off)
    X, y = problem("softmax", dtype, num_samples=250)
    labels = y.argmax(axis=1)
    settings = dict(hidden_layer_sizes=(40,), max_iter=1, batch_size=50, random_state=5, learning_rate_init=0.01,
                    **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        compiled = FastBPClassifier(**settings).fit(X, labels)
        monkeypatch.setattr(_compiled, "ENABLED", False)
        reference = FastBPClassifier(**settings).fit(X, labels)
    for mine, expected in zip(compiled.coefs_ + compiled.intercepts_, reference.coefs_ + reference.intercepts_):
        assert_close(mine, expected, EPOCH_RTOL[dtype])
    np.testing.assert_allclose(compiled.loss_, reference.loss_, rtol=EPOCH_RTOL[dtype])
    assert not np.allclose(compiled.coefs_[0], reference_mlp.init_coefs(
        [7, 40, 3], "relu", np.random.RandomState(5), dtype)[0][0])  # the epoch moved the weights


@pytest.mark.parametrize("estimator, sklearns, data", [
    (FastBPClassifier, MLPClassifier, "softmax"), (FastBPClassifier, MLPClassifier, "logistic"),
    (FastBPRegressor, MLPRegressor, "identity")])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_the_reference_path_is_scikit_learns_bit_for_bit(monkeypatch, estimator, sklearns, data, solver):
    # expected: scikit-learn itself; reference_mlp follows its order of operations, so its fits are its bits
    monkeypatch.setattr(_compiled, "ENABLED", False)
    X, y = problem(data, np.float64, num_samples=120)
    if data == "softmax":
        y = y.argmax(axis=1)
    weights = np.random.RandomState(6).uniform(0.5, 2.0, len(X))
    settings = dict(hidden_layer_sizes=(9,), solver=solver, max_iter=8, random_state=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = estimator(**settings).fit(X, y, sample_weight=weights)
        theirs = sklearns(**settings).fit(X, y, sample_weight=weights)
    for mine, expected in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_array_equal(mine, expected)
    assert ours.loss_ == theirs.loss_
