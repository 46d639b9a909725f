"""The thin trainer: validate and convert once, run the kernels, package the result.

``backend="cython"`` runs the fused compiled loop (src/_kernels.pyx) on one
parameter buffer and one workspace allocated per training call;
``backend="numpy"`` runs the reference (fastbp/reference.py) pass by pass. Both
start from the same initialisation and record and print the loss at the same
passes, so their runs can be compared line by line.
"""

from dataclasses import dataclass

import numpy as np

from . import _kernels, reference
from . import _validation as check

BACKENDS = ("cython", "numpy")
MAX_SEED = 2**32 - 1  # numpy.random.RandomState accepts seeds 0..2**32-1


@dataclass
class TrainingRun:
    """A trained model and the losses recorded on the way.

    ``losses[k]`` is the loss after pass ``loss_passes[k]`` (passes count from
    0, the lecture's ``Loss after iteration i``).
    """

    model: dict
    loss_passes: np.ndarray
    losses: np.ndarray


def _weight_and_bias_names(num_layers):
    return ["W%d" % l for l in range(1, num_layers + 1)] + ["b%d" % l for l in range(1, num_layers + 1)]


class _CythonNetwork:
    """Flat parameters (weights then biases, the kernels' layout) and the workspace."""

    def __init__(self, model, sizes, X, y):
        names = _weight_and_bias_names(len(sizes) - 1)
        self.params = np.concatenate([model[name].ravel() for name in names])
        self.model = {}
        offset = 0
        for name in names:
            shape = model[name].shape
            self.model[name] = self.params[offset:offset + model[name].size].reshape(shape)
            offset += model[name].size
        self.grads = np.empty_like(self.params)
        self.outputs = np.empty(len(X) * sum(sizes[1:]))
        self.deltas = np.empty_like(self.outputs)
        self.sizes = np.array(sizes, dtype=np.intp)
        self.X_flat = _feature_major(X)
        self.y = y

    def run(self, num_passes, epsilon, reg_lambda):
        _kernels.train_passes(self.params, self.grads, self.outputs, self.deltas, self.X_flat, self.y,
                              self.sizes, len(self.y), epsilon, reg_lambda, num_passes)

    def loss(self, reg_lambda):
        return _kernels.calculate_loss(self.params, self.outputs, self.X_flat, self.y, self.sizes,
                                       len(self.y), reg_lambda)


class _NumpyNetwork:
    def __init__(self, model, sizes, X, y):
        self.model, self.X, self.y = model, X, y

    def run(self, num_passes, epsilon, reg_lambda):
        for _ in range(num_passes):
            reference.train_pass(self.model, self.X, self.y, epsilon, reg_lambda)

    def loss(self, reg_lambda):
        return reference.calculate_loss(self.model, self.X, self.y, reg_lambda)


_NETWORKS = {"cython": _CythonNetwork, "numpy": _NumpyNetwork}


def train(X, y, hidden=3, num_passes=20000, epsilon=0.01, reg_lambda=0.01, seed=0,
          backend="cython", loss_every=0, print_loss=False):
    """Train the lecture's network by full-batch gradient descent.

    hidden: the hidden-layer size, or a tuple of sizes for a deeper network
        (tanh on every hidden layer, softmax on the output).
    D is taken from X and C from y (labels 0..C-1, every class present).
    loss_every: record the loss after every pass i with i % loss_every == 0
        (0 records none). print_loss prints the lecture's line every 1000 passes.
    The compiled backend runs the passes between two recorded or printed
    losses in one call, so recording and printing cost no speed.
    Returns a :class:`TrainingRun`. The global NumPy random state is untouched.
    """
    X = check.check_X(X)
    y, num_classes = check.check_training_labels(y, len(X))
    hidden = check.check_hidden(hidden, "hidden")
    num_passes = check.check_int(num_passes, "num_passes", 0)
    epsilon = check.check_real(epsilon, "epsilon", positive=True)
    reg_lambda = check.check_real(reg_lambda, "reg_lambda", positive=False)
    seed = check.check_int(seed, "seed", 0)
    if seed > MAX_SEED:
        raise ValueError("seed must be <= %d, got %d" % (MAX_SEED, seed))
    loss_every = check.check_int(loss_every, "loss_every", 0)
    if backend not in BACKENDS:
        raise ValueError("backend must be one of %s, got %r" % (BACKENDS, backend))

    sizes = (X.shape[1],) + hidden + (num_classes,)
    network = _NETWORKS[backend](reference.init_params(sizes, seed), sizes, X, y)
    recorded = range(0, num_passes, loss_every) if loss_every else range(0)
    printed = range(0, num_passes, reference.LOSS_PRINT_EVERY) if print_loss else range(0)
    losses = []
    passes_done = 0
    for i in sorted(set(recorded) | set(printed)):
        network.run(i + 1 - passes_done, epsilon, reg_lambda)
        passes_done = i + 1
        loss = network.loss(reg_lambda)
        if i in recorded:
            losses.append(loss)
        if i in printed:
            print("Loss after iteration %i: %f" % (i, loss), flush=True)
    network.run(num_passes - passes_done, epsilon, reg_lambda)
    return TrainingRun(network.model, np.array(recorded, dtype=np.intp), np.array(losses, dtype=np.float64))


def build_model(X, y, nn_hdim, num_passes=20000, print_loss=False, epsilon=0.01, reg_lambda=0.01,
                seed=0, backend="cython"):
    """The lecture's ``build_model``, solved: -> dict ``W1 (D,H), b1 (1,H), W2 (H,C), b2 (1,C)``."""
    nn_hdim = check.check_int(nn_hdim, "nn_hdim", 1)
    return train(X, y, nn_hdim, num_passes=num_passes, epsilon=epsilon, reg_lambda=reg_lambda,
                 seed=seed, backend=backend, print_loss=print_loss).model


def _feature_major(X):
    """X (N,D) -> X.T as one contiguous flat buffer: the kernels' layout, see src/_kernels.pyx."""
    return np.ascontiguousarray(X.T).ravel()


def _flat_inputs(model, X):
    """Check a model and X once -> (flat params, sizes as intp, X as float64 (N,D))."""
    model, sizes = check.check_model(model)
    X = check.check_X(X)
    check.check_X_fits(X, sizes)
    names = _weight_and_bias_names(len(sizes) - 1)
    params = np.concatenate([model[name].ravel() for name in names])
    return params, np.array(sizes, dtype=np.intp), X


def predict_proba(model, X):
    """Class probabilities (N,C): softmax of the network's output."""
    params, sizes, X = _flat_inputs(model, X)
    N, C = len(X), sizes[-1]
    outputs = np.empty(N * sizes[1:].sum())
    _kernels.network_forward(outputs, params, _feature_major(X), sizes, N)
    probs = outputs[len(outputs) - N * C:]
    _kernels.softmax_forward(probs, probs, N, C)
    return np.ascontiguousarray(probs.reshape(C, N).T)


def predict(model, X):
    """The lecture's ``predict``: the most probable class of each row of X, (N,)."""
    return np.argmax(predict_proba(model, X), axis=1)


def calculate_loss(model, X, y, reg_lambda=0.01):
    """The lecture's loss: (sum of -log p[y] + reg_lambda/2 * sum of |Wl|^2) / N."""
    params, sizes, X = _flat_inputs(model, X)
    y = check.check_y(y, len(X))
    check.check_labels_fit(y, sizes[-1])
    reg_lambda = check.check_real(reg_lambda, "reg_lambda", positive=False)
    outputs = np.empty(len(X) * sizes[1:].sum())
    return _kernels.calculate_loss(params, outputs, _feature_major(X), y, sizes, len(X), reg_lambda)
