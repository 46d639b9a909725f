"""The thin trainer: validate and convert once, run a backend, package the result.

``backend="cython"`` runs the fused compiled loop (fastbp._driver) on one
parameter buffer and one workspace allocated per training call;
``backend="numpy"`` runs the reference (fastbp/reference.py) pass by pass
(both in fastbp/_backend.py). Both start from the same initialisation and
record and print the loss at the same passes, in the same time slices
(fastbp/_slices.py), so their runs can be compared line by line.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from . import _backend, reference, schedules
from . import _validation as check
from . import progress as progress_bars
from ._backend import _driver as _kernels  # noqa: F401  (bench/bench_kernels.py reads trainer._kernels)
from ._backend import default_num_threads
from ._backend import flat_params as _flat_params  # noqa: F401  (bench/bench_kernels.py reads it)
from ._slices import MAX_PASSES_PER_CALL, ON_DIVERGENCE, DivergenceError, DivergenceWarning, Diverged
from ._slices import Shuffler, SlicedRun, divergence_message

BACKENDS = ("cython", "numpy")
MAX_SEED = 2**32 - 1  # numpy.random.RandomState accepts seeds 0..2**32-1


@dataclass
class TrainingRun:
    """A trained model and the losses recorded on the way.

    ``losses[k]`` is the loss after pass ``loss_passes[k]`` (passes count from
    0, the lecture's ``Loss after iteration i``). ``diverged_at`` is None, or,
    for a run with ``on_divergence="warn"`` that diverged, the pass whose
    result was not finite: the model is then the one before that pass and the
    losses stop there.
    """

    model: dict
    loss_passes: np.ndarray
    losses: np.ndarray
    diverged_at: int | None = None


def _check_num_threads(num_threads):
    if num_threads is None:
        return default_num_threads()
    return check.check_int(num_threads, "num_threads", 1)


def check_model_memory(sizes):
    """Refuse, before drawing it, a network whose initial weights (float64 draws and their copies) would not fit."""
    num_params = sum(J * K + K for J, K in zip(sizes[:-1], sizes[1:]))
    check.check_memory(8 * num_params * 3, "a network of layers %s" % (list(sizes),))


def _check_training_memory(X, sizes, backend, num_passes, steps_per_pass, loss_every, batch_size, num_threads):
    """Refuse, before anything big is allocated, a run whose arrays would not fit in memory."""
    N, itemsize = len(X), X.itemsize
    num_params = sum(J * K + K for J, K in zip(sizes[:-1], sizes[1:]))
    units = sum(sizes[1:])
    needed = (
        8 * num_params * 3  # the float64 initial draws, the model and a slice's saved copy
        + itemsize * num_params * 2  # the flat parameters
        + 8 * num_passes * steps_per_pass  # the step sizes
        + 8 * (-(-num_passes // loss_every) if loss_every else 0)  # the recorded losses
        + 8 * N * min(num_passes, MAX_PASSES_PER_CALL) * (batch_size < N))  # minibatch orders
    if backend == "cython":
        needed += (_backend.feature_major_bytes(X)  # X feature-major
                   + _backend.workspace_bytes(sizes, N, batch_size, itemsize, num_threads))
    else:
        # the reference's full-batch (or batch) arrays: activations, deltas, probabilities, gradients
        needed += itemsize * (4 * batch_size * units + 2 * num_params)
    check.check_memory(needed, "training a network of layers %s on %d samples for %d passes"
                       % (list(sizes), N, num_passes))


def _check_batch_size(batch_size, num_samples):
    if batch_size is None:
        return num_samples
    batch_size = check.check_int(batch_size, "batch_size", 1)
    if batch_size > num_samples:
        raise ValueError("batch_size must be <= the number of samples %d, got %d" % (num_samples, batch_size))
    return batch_size


def _step_sizes(schedule, epsilon, num_steps):
    epsilons = np.ascontiguousarray(schedule.rates(epsilon, num_steps), dtype=np.float64)
    if epsilons.shape != (num_steps,) or not np.all(np.isfinite(epsilons)) or np.any(epsilons <= 0):
        raise ValueError("schedule must give %d finite positive step sizes" % num_steps)
    return epsilons


def _check_initial_model(initial_model, X, y, hidden, activation, dtype):
    """-> (the model to continue from, its layer sizes), checked against the run asked for. Its
    arrays are the caller's: each backend trains on its own copy (_backend)."""
    if isinstance(initial_model, dict):
        wrong_dtype = [name for name, value in initial_model.items()
                       if name != "activation" and getattr(value, "dtype", None) != dtype]
        if wrong_dtype:
            raise TypeError("initial_model's arrays must be %s NumPy arrays (the dtype asked for); %s are not"
                            % (np.dtype(dtype).name, sorted(wrong_dtype)))
    model, sizes = check.check_model(initial_model, "initial_model")
    if sizes[1:-1] != hidden:
        raise ValueError("initial_model has hidden layers %s but hidden is %s" % (sizes[1:-1], hidden))
    if reference.activation_of(model) != activation:
        raise ValueError("initial_model uses activation %r but activation is %r"
                         % (reference.activation_of(model), activation))
    check.check_X_fits(X, sizes)
    check.check_labels_fit(y, sizes[-1])
    return model, sizes


def train(X, y, hidden=3, num_passes=20000, epsilon=0.01, reg_lambda=0.01, seed=0, backend="cython",
          loss_every=0, print_loss=False, activation="tanh", batch_size=None, schedule="constant",
          num_threads=None, dtype="float64", progress=False, initial_model=None, on_divergence="raise"):
    """Train the lecture's network, or any of its generalisations, by gradient descent.

    hidden: the hidden-layer size, or a tuple of sizes for a deeper network.
    D is taken from X and C from y (labels 0..C-1, every class present).
    activation: "tanh" (the lecture), "sigmoid" or "relu", on every hidden layer.
    batch_size: None (full batch, the lecture) or B: each pass (epoch) visits
        the samples in a new order shuffled by a generator seeded with ``seed``,
        in batches of B (the last may be shorter). A batch's gradient is summed
        over its samples, as in the lecture, and its L2 term is scaled by B/N,
        so one epoch applies the weight decay of one full-batch pass. The
        averaged convention with rate eta is the summed one with rate eta / B.
    schedule: "constant" (the lecture), "step", "exponential", "inverse", or a
        schedule object (fastbp.schedules): the step size of every gradient
        step, one per pass with full batches, one per batch with minibatches.
    loss_every: record the loss on the whole training set after every pass i
        with i % loss_every == 0 (0 records none). print_loss prints the
        lecture's line every 1000 passes.
    num_threads: threads of the compiled backend (None: see
        :func:`default_num_threads`). Jobs too small to gain from a second
        thread run on one. The result is bit-identical for every thread count.
    dtype: "float64" (the lecture) or "float32" (or the NumPy dtypes): the
        precision of the model's arrays and of every computation of both
        backends. X is converted to it once. Both precisions start from the
        same initial weights: the lecture's float64 draws, rounded. The
        recorded losses are float64 numbers either way.
    progress: True shows a bar with passes per second and the current loss,
        on a terminal only, once the run has lasted half a second.
    initial_model: None (start from the lecture's initialisation, drawn with
        ``seed``) or a model to continue training from, left unchanged: its
        layer sizes and activation must be those asked for, its arrays of
        ``dtype``, and y's labels below its number of classes (not every class
        need be present).
    on_divergence: when a pass makes a weight or the recorded or printed loss
        NaN or infinite (the step size is too large), "raise" (the default)
        raises :class:`DivergenceError` naming that pass; "warn" issues a
        :class:`DivergenceWarning` and returns the model before that pass, the
        losses up to it and ``diverged_at``. Weights are checked after every
        time slice and at the end, losses whenever they are computed.
    The compiled loop runs in time slices of about _slices.SLICE_SECONDS, always, so
    that Ctrl-C interrupts a long run promptly; it records losses inside its
    fused loop, so neither recording, printing nor the bar costs speed, and
    the run is bit-identical however it is sliced.
    Returns a :class:`TrainingRun`. The model has keys W1..WL, b1..bL, plus
    "activation" when it is not tanh. The global NumPy random state is untouched.
    """
    dtype = check.check_dtype(dtype)
    X = check.check_X(X, dtype=dtype)
    if initial_model is None:
        y, num_classes = check.check_training_labels(y, len(X))
    else:
        y = check.check_y(y, len(X))
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
    if not isinstance(on_divergence, str) or on_divergence not in ON_DIVERGENCE:
        raise ValueError("on_divergence must be one of %s, got %r" % (ON_DIVERGENCE, on_divergence))
    activation = check.check_activation(activation)
    batch_size = _check_batch_size(batch_size, len(X))
    num_threads = _check_num_threads(num_threads)
    steps_per_pass = -(-len(X) // batch_size)
    if initial_model is None:
        sizes = (X.shape[1],) + hidden + (num_classes,)
    else:
        start, sizes = _check_initial_model(initial_model, X, y, hidden, activation, dtype)
    _check_training_memory(X, sizes, backend, num_passes, steps_per_pass, loss_every, batch_size, num_threads)
    epsilons = _step_sizes(schedules.get(schedule), epsilon, num_passes * steps_per_pass)
    if initial_model is None:
        start = reference.init_params(sizes, seed, dtype)
    network = _backend.NETWORKS[backend](start, sizes, X, y, activation, batch_size, num_threads)
    shuffler = Shuffler(num_passes, len(X), seed) if batch_size < len(X) else None

    recorded = range(0, num_passes, loss_every) if loss_every else range(0)
    losses = np.empty(len(recorded))
    runner = SlicedRun(network, shuffler, epsilons, steps_per_pass, reg_lambda, loss_every, losses)
    diverged_at = None
    try:
        with progress_bars.progress_bar(num_passes, "training", "pass",
                                        enabled=None if progress else False) as bar:
            runner.bar = None if bar.disable else bar
            passes_done = 0
            if print_loss:
                for i in range(0, num_passes, reference.LOSS_PRINT_EVERY):
                    runner.run(passes_done, i - passes_done)
                    # a printed pass is run on its own, to be undone if its loss is not finite
                    before = network.snapshot()
                    runner.run(i, 1)
                    passes_done = i + 1
                    recorded_here = loss_every and i % loss_every == 0
                    loss = losses[i // loss_every] if recorded_here else network.loss(reg_lambda)
                    if not np.isfinite(loss):  # finite weights, but a probability rounded to 0
                        network.restore(before)
                        raise Diverged(i, "loss")
                    progress_bars.write("Loss after iteration %i: %f" % (i, loss))
            runner.run(passes_done, num_passes - passes_done)
    except Diverged as diverged:
        from . import diagnostics  # only here: import fastbp does not load it

        suggested = diagnostics.suggest_epsilon(start, X, y, reg_lambda, epsilon, float(epsilons.max()))
        message = divergence_message(diverged.pass_index, diverged.what, epsilon,
                                     float(epsilons[diverged.pass_index * steps_per_pass]), suggested)
        if on_divergence == "raise":
            raise DivergenceError(message, diverged.pass_index) from None
        warnings.warn(message + "; returning the model before that pass", DivergenceWarning, stacklevel=2)
        diverged_at = diverged.pass_index
        kept = np.array(recorded, dtype=np.intp) < diverged_at
        recorded, losses = np.array(recorded, dtype=np.intp)[kept], losses[kept]
    model = dict(network.model)
    if activation != "tanh":
        model["activation"] = activation
    return TrainingRun(model, np.array(recorded, dtype=np.intp), losses, diverged_at)


def build_model(X, y, nn_hdim, num_passes=20000, print_loss=False, epsilon=0.01, reg_lambda=0.01,
                seed=0, backend="cython", num_threads=None, dtype="float64"):
    """The lecture's ``build_model``, solved: -> dict ``W1 (D,H), b1 (1,H), W2 (H,C), b2 (1,C)``."""
    nn_hdim = check.check_int(nn_hdim, "nn_hdim", 1)
    return train(X, y, nn_hdim, num_passes=num_passes, epsilon=epsilon, reg_lambda=reg_lambda,
                 seed=seed, backend=backend, print_loss=print_loss, num_threads=num_threads, dtype=dtype).model


def _flat_inputs(model, X):
    """Check a model and X once -> (flat params, sizes, X in the model's dtype, activation code).

    X is converted to the model's dtype (float64 X for a float32 model is
    rounded to float32 once, here)."""
    model, sizes = check.check_model(model)
    X = check.check_X(X, dtype=model["W1"].dtype)
    check.check_X_fits(X, sizes)
    # X feature-major and the probabilities (or, for the loss, a workspace of at most a block per thread)
    check.check_memory(X.itemsize * X.size + _backend.feature_major_bytes(X) + X.itemsize * len(X) * sizes[-1],
                       "the network of layers %s on %d samples" % (list(sizes), len(X)))
    params = _backend.flat_params(model, reference.parameter_names(len(sizes) - 1))
    return params, tuple(sizes), X, _backend._driver.ACTIVATION_CODES[reference.activation_of(model)]


# A model with finite weights can still overflow on finite data (weights of 1e300 and a ReLU, say).
OVERFLOW_MESSAGE = ("the network's %s overflow to NaN on this X: the model's weights or X are too large "
                    "(was the model trained with too large a step size?)")


def predict_proba(model, X, num_threads=None):
    """Class probabilities (N,C), in the model's dtype: softmax of the network's output."""
    params, sizes, X, activation = _flat_inputs(model, X)
    num_threads = _check_num_threads(num_threads)
    N, C = len(X), sizes[-1]
    probs = np.empty(C * N, dtype=params.dtype)
    _backend._driver.predict_probabilities(probs, params, _backend.feature_major(X, num_threads), sizes, activation,
                                           num_threads)
    if not np.isfinite(probs).all():  # one look at the output, a fraction of the forward pass's cost
        raise ValueError(OVERFLOW_MESSAGE % "outputs")
    return np.ascontiguousarray(probs.reshape(C, N).T)


def predict(model, X, num_threads=None):
    """The lecture's ``predict``: the most probable class of each row of X, (N,)."""
    return np.argmax(predict_proba(model, X, num_threads), axis=1)


def calculate_loss(model, X, y, reg_lambda=0.01, num_threads=None):
    """The lecture's loss: (sum of -log p[y] + reg_lambda/2 * sum of |Wl|^2) / N.

    Computed in the model's dtype, summed over the samples in float64 (a float)."""
    params, sizes, X, activation = _flat_inputs(model, X)
    y = check.check_y(y, len(X))
    check.check_labels_fit(y, sizes[-1])
    reg_lambda = check.check_real(reg_lambda, "reg_lambda", positive=False)
    num_threads = _check_num_threads(num_threads)
    network = _backend._driver.Workspace(sizes, activation, _backend.feature_major(X, num_threads), y, len(X),
                                         num_threads)
    loss = network.loss(params, reg_lambda)
    if np.isnan(loss):  # infinity is a loss (a probability of the true class rounded to 0); NaN is not
        raise ValueError(OVERFLOW_MESSAGE % "loss")
    return loss
