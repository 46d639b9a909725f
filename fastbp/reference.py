"""The lecture's network, solved, in plain NumPy: the specification of fastbp.

Every compiled kernel in ``src/layers.pxd`` and ``src/driver.pxi`` mirrors one function here, with the
same name and the same inputs in the same order (kernels take their outputs
first, then sizes last). Shapes use the same letters everywhere:

    N samples, D inputs, H hidden units, C classes;
    a dense layer maps J inputs to K outputs.

A model is the lecture's dict: ``W1, b1, W2, b2`` for one hidden layer, and in
general ``W1..WL, b1..bL`` for L dense layers, ``Wl`` of shape (J,K) and ``bl``
of shape (1,K). Hidden layers use tanh, or the activation named by the
optional key ``"activation"`` (see ACTIVATIONS); the output layer is softmax.

Nothing here reads a global: data, labels and hyperparameters are arguments.
The functions assume validated input (float64 arrays, or float32 arrays
throughout, integer labels in 0..C-1); :mod:`fastbp.trainer` validates before
it calls them. Given float32 arrays, every intermediate stays float32 (Python
float scalars are rounded to the arrays' dtype), so the reference is also the
specification of the float32 kernels.
"""

import threading

import numpy as np

LOSS_PRINT_EVERY = 1000  # the lecture prints the loss every 1000 passes


def num_layers(model):
    """L, the number of dense layers (weight matrices) of a model dict."""
    return sum(1 for name in model if name.startswith("W"))


def parameter_names(num_layers):
    """W1..WL, then b1..bL: also the order of the compiled kernels' flat parameter buffer."""
    return ["W%d" % l for l in range(1, num_layers + 1)] + ["b%d" % l for l in range(1, num_layers + 1)]


def activation_of(model):
    return model.get("activation", "tanh")


_GENERATORS = threading.local()


def _legacy_generator():
    # One RandomState per thread, reseeded by each call: seed(seed) puts it in
    # the state RandomState(seed) starts in, in 2 us instead of the 150 us a new
    # RandomState takes (most of a short training call on the lecture's data).
    if not hasattr(_GENERATORS, "rng"):
        _GENERATORS.rng = np.random.RandomState()
    return _GENERATORS.rng


def init_params(sizes, seed=0, dtype=np.float64):
    """The lecture's initialisation, generalised to ``sizes = (D, H1, ..., C)``.

    ``Wl = randn(J, K) / sqrt(J)`` in layer order from one generator, biases zero.
    ``RandomState(seed)`` draws exactly what ``np.random.seed(seed)`` followed by
    ``np.random.randn`` draws, without touching the caller's global state.
    With dtype float32 the same float64 values are rounded to float32, so both
    precisions start from the same weights.
    """
    rng = _legacy_generator()
    rng.seed(seed)
    model = {}
    for l, (J, K) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        model["W%d" % l] = (rng.randn(J, K) / np.sqrt(J)).astype(dtype)
    for l, K in enumerate(sizes[1:], start=1):
        model["b%d" % l] = np.zeros((1, K), dtype=dtype)
    return model


# ---------------------------------------------------------------- forward / backward pairs

def dense_forward(inp, W, b):
    """inp is (N,J), W is (J,K), b is (1,K) -> z is (N,K)."""
    return inp.dot(W) + b


def dense_backward(delta, inp):
    """delta is (N,K), inp is (N,J) -> dW is (J,K), db is (1,K).

    Forward: ``z = inp.dot(W) + b``. Gradients are summed over the batch, as in
    the lecture (``dW2 = a1.T.dot(delta3)``, ``db2 = sum(delta3, axis=0)``).
    """
    dW = inp.T.dot(delta)
    db = np.sum(delta, axis=0, keepdims=True)
    return dW, db


def dense_backward_input(delta, W):
    """delta is (N,K), W is (J,K) -> dinp is (N,J).

    Forward: ``z = inp.dot(W) + b``; the lecture's ``delta3.dot(W2.T)``.
    """
    return delta.dot(W.T)


def tanh_forward(z):
    """z is (N,K) -> a is (N,K)."""
    return np.tanh(z)


def tanh_backward(dout, a):
    """dout is (N,K), a is (N,K) the forward output -> dz is (N,K).

    Forward: ``a = tanh(z)``; tanh' = 1 - tanh**2 is written from the forward
    output, so nothing is recomputed (the lecture's ``* (1 - np.power(a1, 2))``).
    """
    return dout * (1 - np.power(a, 2))


def sigmoid_forward(z):
    """z is (N,K) -> a is (N,K). exp(-z) overflows to inf for z < -709, giving
    exactly 0, the right limit; the overflow warning is expected there."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_backward(dout, a):
    """dout is (N,K), a is (N,K) the forward output -> dz is (N,K); sigmoid' = a (1 - a)."""
    return dout * (a * (1 - a))


def relu_forward(z):
    """z is (N,K) -> a is (N,K)."""
    return np.maximum(z, 0.0)


def relu_backward(dout, a):
    """dout is (N,K), a is (N,K) the forward output -> dz is (N,K).

    relu' is 1 where the output is positive and 0 elsewhere (0 at z = 0 too).
    """
    return dout * (a > 0)


# Hidden-layer activations by name: (forward, backward from the forward output).
ACTIVATIONS = {
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "relu": (relu_forward, relu_backward),
}


def softmax_forward(z):
    """z is (N,C) -> probs is (N,C).

    The row max is subtracted before ``exp``: the lecture's plain form
    overflows to inf/inf = NaN once a logit passes ~709.
    """
    shifted = z - z.max(axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    return exp_scores / np.sum(exp_scores, axis=1, keepdims=True)


def softmax_cross_entropy_backward(probs, y):
    """probs is (N,C), y is (N,) -> delta is (N,C).

    Forward: ``loss = sum(-log(probs[range(N), y]))``; its gradient with respect
    to the logits is ``probs - onehot(y)`` (the lecture's delta3).
    """
    delta = probs.copy()
    delta[np.arange(len(y)), y] -= 1
    return delta


def cross_entropy_loss(z, y):
    """z is (N,C), y is (N,) -> sum over samples of -log softmax(z)[y].

    Written as log-sum-exp of the shifted logits minus the shifted true logit:
    equal to the lecture's ``-log(probs[range(N), y])``, but finite when a
    probability underflows to 0.
    """
    shifted = z - z.max(axis=1, keepdims=True)
    log_sum_exp = np.log(np.sum(np.exp(shifted), axis=1))
    return np.sum(log_sum_exp - shifted[np.arange(len(y)), y])


def sgd_update(param, dparam, epsilon, reg_lambda):
    """param and dparam of one shape; updates both in place.

    ``dparam += reg_lambda * param`` is the L2 term (reg_lambda = 0 for biases,
    which the lecture leaves unregularised), then the lecture's step
    ``param += -epsilon * dparam``, in the lecture's order of operations.
    """
    # As Python floats, epsilon and reg_lambda are rounded to the arrays' dtype
    # (NumPy's rule for Python scalars), so float32 parameters are updated in
    # float32; a NumPy float64 scalar here would compute the step in float64.
    epsilon, reg_lambda = float(epsilon), float(reg_lambda)
    dparam += reg_lambda * param
    param += -epsilon * dparam


# ---------------------------------------------------------------- whole network

def forward(model, X):
    """X is (N,D) -> list of every layer's output: hidden activations, then logits z (N,C)."""
    activation_forward, _ = ACTIVATIONS[activation_of(model)]
    L = num_layers(model)
    outputs = []
    inp = X
    for l in range(1, L + 1):
        z = dense_forward(inp, model["W%d" % l], model["b%d" % l])
        inp = activation_forward(z) if l < L else z
        outputs.append(inp)
    return outputs


def backward(model, X, y, outputs):
    """The lecture's solved backprop, for any depth -> dict of the data term's gradients.

    For one hidden layer this is, line by line, ``delta3 = probs - onehot(y)``,
    ``dW2 = a1.T.dot(delta3)``, ``db2 = sum(delta3)``,
    ``delta2 = delta3.dot(W2.T) * (1 - a1**2)``, ``dW1 = X.T.dot(delta2)``,
    ``db1 = sum(delta2)``. The L2 term ``dW += reg_lambda * W`` is added by
    :func:`gradients`, or by :func:`sgd_update` in training, as in the lecture.
    """
    _, activation_backward = ACTIVATIONS[activation_of(model)]
    grads = {}
    delta = softmax_cross_entropy_backward(softmax_forward(outputs[-1]), y)
    for l in range(num_layers(model), 0, -1):
        inp = outputs[l - 2] if l > 1 else X
        W = model["W%d" % l]
        grads["W%d" % l], grads["b%d" % l] = dense_backward(delta, inp)
        if l > 1:
            delta = activation_backward(dense_backward_input(delta, W), inp)
    return grads


def gradients(model, X, y, reg_lambda):
    """Gradients of the summed loss, L2 included (the lecture's dW1, db1, dW2, db2, ...)."""
    grads = backward(model, X, y, forward(model, X))
    for l in range(1, num_layers(model) + 1):
        grads["W%d" % l] += reg_lambda * model["W%d" % l]
    return grads


def train_pass(model, X, y, epsilon, reg_lambda):
    """One full-batch gradient-descent pass, updating ``model`` in place.

    Every gradient is computed before any parameter moves, as in the lecture.
    """
    grads = backward(model, X, y, forward(model, X))
    for name, dparam in grads.items():
        sgd_update(model[name], dparam, epsilon, reg_lambda if name[0] == "W" else 0.0)


def gather_batch(X, y, batch):
    """X is (N,D), y is (N,), batch is (B,) sample indices -> X_batch (B,D), y_batch (B,)."""
    return X[batch], y[batch]


def train_epoch(model, X, y, order, batch_size, epsilons, reg_lambda):
    """One epoch of minibatch gradient descent, updating ``model`` in place.

    ``order`` is (N,) a permutation of the samples; the batches are its
    consecutive runs of ``batch_size`` (the last may be shorter), and batch k
    steps with ``epsilons[k]``. Each step is the lecture's pass on the batch:
    its gradient is summed over the batch's B samples, and the L2 term is
    scaled by B / N, so that an epoch applies the weight decay of one
    full-batch pass. With batch_size = N this is ``train_pass`` exactly.
    """
    N = len(y)
    for step, start in enumerate(range(0, N, batch_size)):
        X_batch, y_batch = gather_batch(X, y, order[start:start + batch_size])
        train_pass(model, X_batch, y_batch, epsilons[step], reg_lambda * (len(y_batch) / N))


def calculate_loss(model, X, y, reg_lambda):
    """The lecture's loss: (sum of -log p[y] + reg/2 * sum of |Wl|^2) / N."""
    data_loss = cross_entropy_loss(forward(model, X)[-1], y)
    data_loss += reg_lambda / 2 * sum(np.sum(np.square(model["W%d" % l])) for l in range(1, num_layers(model) + 1))
    return 1.0 / len(y) * data_loss


def predict_proba(model, X):
    return softmax_forward(forward(model, X)[-1])


def predict(model, X):
    return np.argmax(predict_proba(model, X), axis=1)
