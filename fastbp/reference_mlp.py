"""The NumPy reference of scikit-learn's multi-layer perceptrons: the
specification that :class:`fastbp.FastBPClassifier` and
:class:`fastbp.FastBPRegressor` compute.

Every function states the mathematics of :class:`sklearn.neural_network.MLPClassifier`
and ``MLPRegressor`` in the order scikit-learn evaluates it, so that the same
weights and the same batch give the same numbers, rounding included:

- the network: ``z_l = a_{l-1} @ W_l + b_l``; the hidden activation on every
  hidden layer, the output activation (softmax, logistic, identity or exp) on
  the last;
- the objective of a batch of samples with weights ``s`` (all 1 without
  sample weights): ``sum_i s_i * loss_i / sum(s) + alpha / (2 * sum(s)) * sum ||W_l||^2``;
- its gradient, by backpropagation: the output delta ``s_i * (a_L - y)`` (the
  canonical link of each output activation with its loss), then
  ``dW_l = (a_{l-1}.T @ delta_l + alpha * W_l) / sum(s)``, ``db_l = sum(delta_l) / sum(s)``;
- the optimisers' updates on the list ``coefs + intercepts``.

Arrays are (samples, units), row-major, in the precision of X (float32 or
float64). X may be a SciPy sparse matrix: only products touch it.
"""

import numpy as np
from scipy.special import expit, xlogy
from sklearn.utils.extmath import safe_sparse_dot

# ---------------------------------------------------------------- activations


def identity(z):
    """a = z (in place: nothing to do)."""


def logistic(z):
    """a = 1 / (1 + exp(-z)), in place."""
    expit(z, out=z)


def tanh(z):
    """a = tanh(z), in place."""
    np.tanh(z, out=z)


def relu(z):
    """a = max(z, 0), in place."""
    np.maximum(z, 0, out=z)


def softmax(z):
    """a = exp(z - max z) / sum(exp(z - max z)) row by row, in place."""
    shifted = z - z.max(axis=1)[:, np.newaxis]
    np.exp(shifted, out=z)
    z /= z.sum(axis=1)[:, np.newaxis]


def exp(z):
    """a = exp(z), in place (the Poisson regressor's output)."""
    np.exp(z, out=z)


ACTIVATIONS = {"identity": identity, "logistic": logistic, "tanh": tanh, "relu": relu,
               "softmax": softmax, "exp": exp}


def identity_backward(a, delta):
    """delta *= 1 (in place: nothing to do)."""


def logistic_backward(a, delta):
    """delta *= a * (1 - a), in place, as two products."""
    delta *= a
    delta *= 1 - a


def tanh_backward(a, delta):
    """delta *= 1 - a**2, in place."""
    delta *= 1 - a**2


def relu_backward(a, delta):
    """delta = 0 where a == 0, in place."""
    delta[a == 0] = 0


DERIVATIVES = {"identity": identity_backward, "logistic": logistic_backward, "tanh": tanh_backward,
               "relu": relu_backward}

# ---------------------------------------------------------------- losses (the data term, weighted mean)


def squared_loss(y, predicted, sample_weight=None):
    """mean over outputs of the weighted mean over samples of (y - p)**2, halved."""
    return 0.5 * np.average((y - predicted) ** 2, weights=sample_weight, axis=0).mean()


def poisson_loss(y, predicted, sample_weight=None):
    """sum over outputs of the weighted mean of y log(y / p) - y + p (the Poisson deviance / 2)."""
    return np.average(xlogy(y, y / predicted) - y + predicted, weights=sample_weight, axis=0).sum()


def log_loss(y, probabilities, sample_weight=None):
    """Cross-entropy of softmax (or one logistic unit, read as two classes), probabilities clipped to [eps, 1-eps]."""
    eps = np.finfo(probabilities.dtype).eps
    probabilities = np.clip(probabilities, eps, 1 - eps)
    if probabilities.shape[1] == 1:
        probabilities = np.append(1 - probabilities, probabilities, axis=1)
    if y.shape[1] == 1:
        y = np.append(1 - y, y, axis=1)
    return -np.average(xlogy(y, probabilities), weights=sample_weight, axis=0).sum()


def binary_log_loss(y, probabilities, sample_weight=None):
    """Sum over independent logistic outputs of their cross-entropy (multi-label, or one binary unit)."""
    eps = np.finfo(probabilities.dtype).eps
    probabilities = np.clip(probabilities, eps, 1 - eps)
    return -np.average(xlogy(y, probabilities) + xlogy(1 - y, 1 - probabilities),
                       weights=sample_weight, axis=0).sum()


LOSSES = {"squared_error": squared_loss, "poisson": poisson_loss, "log_loss": log_loss,
          "binary_log_loss": binary_log_loss}


def loss_name(loss, out_activation):
    """The loss function's name: log_loss on logistic outputs is the binary (per-unit) one."""
    return "binary_log_loss" if loss == "log_loss" and out_activation == "logistic" else loss


# ---------------------------------------------------------------- initialisation


def init_coefs(layer_units, activation, random_state, dtype):
    """Glorot-uniform weights and biases, drawn layer by layer (W_l, then b_l) from random_state.

    The bound is sqrt(6 / (fan_in + fan_out)), sqrt(2 / ...) for logistic
    hidden units; draws are float64, then cast to dtype."""
    coefs, intercepts = [], []
    factor = 2.0 if activation == "logistic" else 6.0
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        W = random_state.uniform(-bound, bound, (fan_in, fan_out))
        b = random_state.uniform(-bound, bound, fan_out)
        coefs.append(W.astype(dtype, copy=False))
        intercepts.append(b.astype(dtype, copy=False))
    return coefs, intercepts


# ---------------------------------------------------------------- the network


def forward(coefs, intercepts, X, activation, out_activation):
    """-> the list of every layer's output [X, a_1, ..., a_L]."""
    activations = [X]
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        z = safe_sparse_dot(activations[-1], W)
        z += b
        ACTIVATIONS[activation if l < len(coefs) - 1 else out_activation](z)
        activations.append(z)
    return activations


def loss_and_gradients(coefs, intercepts, X, y, sample_weight, alpha, activation, out_activation, loss):
    """-> (the objective, [dW_1 .. dW_L], [db_1 .. db_L]) on the batch (X, y)."""
    activations = forward(coefs, intercepts, X, activation, out_activation)
    value = LOSSES[loss_name(loss, out_activation)](y, activations[-1], sample_weight)
    squares = 0
    for W in coefs:
        W = W.ravel()
        squares += np.dot(W, W)
    weight_sum = X.shape[0] if sample_weight is None else sample_weight.sum()
    value += (0.5 * alpha) * squares / weight_sum
    delta = activations[-1] - y
    if sample_weight is not None:
        delta *= sample_weight.reshape(-1, 1)
    coef_grads, intercept_grads = [None] * len(coefs), [None] * len(coefs)
    for l in range(len(coefs) - 1, -1, -1):
        dW = safe_sparse_dot(activations[l].T, delta)
        dW += alpha * coefs[l]
        dW /= weight_sum
        coef_grads[l] = dW
        intercept_grads[l] = np.sum(delta, axis=0) / weight_sum
        if l > 0:
            delta = safe_sparse_dot(delta, coefs[l].T)
            DERIVATIVES[activation](activations[l], delta)
    return value, coef_grads, intercept_grads


# ---------------------------------------------------------------- the optimisers' updates


def sgd_update(params, grads, velocities, learning_rate, momentum, nesterov):
    """SGD with (Nesterov's) momentum, in place on params and velocities:
    v = momentum * v - learning_rate * g; params += v, or with Nesterov
    params += momentum * v - learning_rate * g (the new v)."""
    for param, grad, velocity in zip(params, grads, velocities):
        velocity[...] = momentum * velocity - learning_rate * grad
        if nesterov:
            param += momentum * velocity - learning_rate * grad
        else:
            param += velocity


def adam_learning_rate(learning_rate_init, beta_1, beta_2, t):
    """Adam's step at its step t (counted from 1), with the bias corrections folded in."""
    return learning_rate_init * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)


def adam_update(params, grads, ms, vs, learning_rate, beta_1, beta_2, epsilon):
    """Adam, in place on params and the moments: m = beta_1 m + (1 - beta_1) g;
    v = beta_2 v + (1 - beta_2) g**2; params += -learning_rate * m / (sqrt(v) + epsilon)."""
    for param, grad, m, v in zip(params, grads, ms, vs):
        m[...] = beta_1 * m + (1 - beta_1) * grad
        v[...] = beta_2 * v + (1 - beta_2) * (grad**2)
        param += -learning_rate * m / (np.sqrt(v) + epsilon)
