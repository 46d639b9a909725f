"""Each compiled kernel against the reference function of the same name
(NUMERICS.md contract 1: one step from the same state, within a few ulp).

The kernels hold per-sample arrays feature-major (see src/_kernels.pyx): an
(N,K) reference array z is passed as the flat buffer of z.T.
"""

import importlib.machinery

import numpy as np
import pytest

from agreement import KERNEL_RTOL, assert_close
from fastbp import _kernels, reference

# (N, J, K): one sample, one unit, three classes, odd sizes, the lecture's shape
SHAPES = [(1, 2, 3), (1, 1, 1), (7, 3, 1), (5, 1, 3), (13, 4, 5), (200, 2, 3), (200, 3, 2), (31, 50, 7)]


def feature_major(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64).T).ravel()


def sample_major(flat, N, K):
    return flat.reshape(K, N).T


def random_problem(N, J, K, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, J)) * 2, rng.standard_normal((J, K)), rng.standard_normal((1, K)),
            rng.integers(0, K, size=N).astype(np.intp))


def test_the_compiled_module_is_loaded():
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    assert _kernels.__file__.endswith(suffixes), "fastbp._kernels is not a compiled extension"


@pytest.mark.parametrize("N,J,K", SHAPES)
def test_dense_forward(N, J, K):
    inp, W, b, _ = random_problem(N, J, K, 1)
    z = np.empty(N * K)
    _kernels.dense_forward(z, feature_major(inp), W.ravel(), b.ravel(), N, J, K)
    assert_close(sample_major(z, N, K), reference.dense_forward(inp, W, b), KERNEL_RTOL)


@pytest.mark.parametrize("N,J,K", SHAPES)
def test_dense_backward(N, J, K):
    inp, _, _, _ = random_problem(N, J, K, 2)
    delta = np.random.default_rng(3).standard_normal((N, K))
    dW_expected, db_expected = reference.dense_backward(delta, inp)
    # the kernel accumulates: start from a known gradient and check the sum
    previous_dW, previous_db = np.full((J, K), 0.5), np.full((1, K), -0.25)
    dW, db = previous_dW.ravel().copy(), previous_db.ravel().copy()
    _kernels.dense_backward(dW, db, feature_major(delta), feature_major(inp), N, J, K)
    assert_close(dW.reshape(J, K), previous_dW + dW_expected, KERNEL_RTOL, "dW")
    assert_close(db.reshape(1, K), previous_db + db_expected, KERNEL_RTOL, "db")


@pytest.mark.parametrize("N,J,K", SHAPES)
def test_dense_backward_input(N, J, K):
    _, W, _, _ = random_problem(N, J, K, 4)
    delta = np.random.default_rng(5).standard_normal((N, K))
    dinp = np.empty(N * J)
    _kernels.dense_backward_input(dinp, feature_major(delta), W.ravel(), N, J, K)
    assert_close(sample_major(dinp, N, J), reference.dense_backward_input(delta, W), KERNEL_RTOL)


@pytest.mark.parametrize("N,J,K", SHAPES)
def test_tanh_forward_and_backward(N, J, K):
    z = np.random.default_rng(6).standard_normal((N, K)) * 3
    a = np.empty(N * K)
    _kernels.tanh_forward(a, feature_major(z), N * K)
    # the kernel runs NumPy's own float64 tanh loop: identical code, exact
    np.testing.assert_array_equal(sample_major(a, N, K), reference.tanh_forward(z))
    dout = np.random.default_rng(7).standard_normal((N, K))
    dz = np.empty(N * K)
    _kernels.tanh_backward(dz, feature_major(dout), a, N * K)
    expected = reference.tanh_backward(dout, reference.tanh_forward(z))
    assert_close(sample_major(dz, N, K), expected, KERNEL_RTOL, "tanh_backward")


@pytest.mark.parametrize("N,J,C", [(1, 2, 3), (7, 3, 2), (200, 3, 2), (13, 4, 5), (4, 2, 1)])
def test_softmax_forward_and_loss(N, J, C):
    z = np.random.default_rng(8).standard_normal((N, C)) * 5
    z[0, 0] = 800.0  # the lecture's plain exp would overflow here
    y = np.random.default_rng(9).integers(0, C, size=N).astype(np.intp)
    probs = np.empty(N * C)
    _kernels.softmax_forward(probs, feature_major(z), N, C)
    assert_close(sample_major(probs, N, C), reference.softmax_forward(z), KERNEL_RTOL, "softmax")
    loss = _kernels.cross_entropy_loss(feature_major(z), y, N, C)
    assert_close(loss, reference.cross_entropy_loss(z, y), KERNEL_RTOL, "loss")
    assert np.isfinite(loss)


@pytest.mark.parametrize("N,C", [(1, 3), (7, 2), (200, 2), (13, 5)])
def test_softmax_cross_entropy_backward(N, C):
    probs = reference.softmax_forward(np.random.default_rng(10).standard_normal((N, C)))
    y = np.random.default_rng(11).integers(0, C, size=N).astype(np.intp)
    delta = np.empty(N * C)
    _kernels.softmax_cross_entropy_backward(delta, feature_major(probs), y, N, C)
    # subtracting 1 from a copied value is one IEEE operation on both sides: exact
    np.testing.assert_array_equal(sample_major(delta, N, C), reference.softmax_cross_entropy_backward(probs, y))


def test_sgd_update():
    rng = np.random.default_rng(12)
    param, dparam = rng.standard_normal(17), rng.standard_normal(17)
    expected_param, expected_dparam = param.copy(), dparam.copy()
    reference.sgd_update(expected_param, expected_dparam, 0.01, 0.03)
    _kernels.sgd_update(param, dparam, 0.01, 0.03, 17)
    # the same two elementwise operations in the same order: exact
    np.testing.assert_array_equal(param, expected_param)
    np.testing.assert_array_equal(dparam, expected_dparam)


@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
@pytest.mark.parametrize("N,J,K", SHAPES)
def test_activation_forward_and_backward(N, J, K, activation):
    z = np.random.default_rng(14).standard_normal((N, K)) * 3
    z.flat[0] = -800.0  # sigmoid's exp(-z) overflows here; the limit 0 is exact
    forward, backward = reference.ACTIVATIONS[activation]
    a = np.empty(N * K)
    getattr(_kernels, activation + "_forward")(a, feature_major(z), N * K)
    assert_close(sample_major(a, N, K), forward(z), KERNEL_RTOL, activation + "_forward")
    dout = np.random.default_rng(15).standard_normal((N, K))
    dz = np.empty(N * K)
    getattr(_kernels, activation + "_backward")(dz, feature_major(dout), a, N * K)
    assert_close(sample_major(dz, N, K), backward(dout, forward(z)), KERNEL_RTOL, activation + "_backward")


def test_gather_batch():
    rng = np.random.default_rng(16)
    X, y = rng.standard_normal((11, 3)), rng.integers(0, 4, size=11).astype(np.intp)
    batch = np.array([7, 0, 10, 3], dtype=np.intp)
    X_batch, y_batch = np.empty(4 * 3), np.empty(4, dtype=np.intp)
    _kernels.gather_batch(X_batch, y_batch, feature_major(X), y, batch, 11, 3)
    X_expected, y_expected = reference.gather_batch(X, y, batch)
    # copies, no arithmetic: exact
    np.testing.assert_array_equal(sample_major(X_batch, 4, 3), X_expected)
    np.testing.assert_array_equal(y_batch, y_expected)


def flatten(model, sizes):
    num_layers = len(sizes) - 1
    names = ["W%d" % l for l in range(1, num_layers + 1)] + ["b%d" % l for l in range(1, num_layers + 1)]
    return np.concatenate([model[name].ravel() for name in names]), names


@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
@pytest.mark.parametrize("sizes", [(2, 3, 2), (2, 1, 3), (5, 4, 4), (3, 4, 5, 6, 2), (1, 1, 1, 2)])
@pytest.mark.parametrize("N", [1, 9, 200])
def test_network_forward_and_backward(sizes, N, activation):
    rng = np.random.default_rng(13)
    X = rng.standard_normal((N, sizes[0]))
    y = rng.integers(0, sizes[-1], size=N).astype(np.intp)
    model = reference.init_params(sizes, seed=3)
    for name in model:
        model[name] += 0.1 * rng.standard_normal(model[name].shape)
    model["activation"] = activation
    code = int(_kernels.Activation[activation.upper()])
    params, names = flatten(model, sizes)
    sizes_array = np.array(sizes, dtype=np.intp)
    outputs = np.empty(N * sum(sizes[1:]))
    deltas = np.empty_like(outputs)
    _kernels.network_forward(outputs, params, feature_major(X), sizes_array, N, code)
    offset = 0
    for output, K in zip(reference.forward(model, X), sizes[1:]):
        assert_close(sample_major(outputs[offset:offset + N * K], N, K), output, KERNEL_RTOL, "forward")
        offset += N * K

    grads = np.full_like(params, np.nan)  # the kernel must zero them itself
    _kernels.network_backward(grads, outputs, deltas, params, feature_major(X), y, sizes_array, N, code)
    expected = reference.gradients(model, X, y, reg_lambda=0.0)
    offset = 0
    for name in names:
        size = expected[name].size
        assert_close(grads[offset:offset + size].reshape(expected[name].shape), expected[name],
                     KERNEL_RTOL, name)
        offset += size
