"""The thin trainer: validate and convert once, run the kernels, package the result.

``backend="cython"`` runs the fused compiled loop (src/driver.pxi) on one
parameter buffer and one workspace allocated per training call;
``backend="numpy"`` runs the reference (fastbp/reference.py) pass by pass. Both
start from the same initialisation and record and print the loss at the same
passes, so their runs can be compared line by line.
"""

import importlib
import importlib.util
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from . import progress as progress_bars
from . import reference, schedules

try:
    from . import _kernels as _baseline_kernels
except ImportError as error:  # a source checkout imported before (or without) its build
    raise ImportError("fastbp's compiled kernels (fastbp._kernels) are not built here: install with "
                      "'python -m pip install .' and run from outside the source tree, or build them "
                      "in place with 'python -m pip install -e .'") from error
from . import _validation as check

# The compiled driver is built for the baseline x86-64 and for wider vector
# units (setup.py); every variant computes the same bits.
KERNEL_VARIANTS = {"baseline": ("_kernels", 0), "avx2": ("_kernels_avx2", 1), "avx512": ("_kernels_avx512", 2)}


def available_kernel_variants():
    """The variants this build has and this CPU runs, narrowest first."""
    level = _baseline_kernels.cpu_level()
    available = []
    for variant, (module_name, needed_level) in KERNEL_VARIANTS.items():
        if needed_level <= level and importlib.util.find_spec("fastbp." + module_name) is not None:
            available.append(variant)
    return available


def kernel_module(variant):
    """The compiled driver of one variant ("baseline", "avx2", "avx512")."""
    if variant not in available_kernel_variants():
        raise ValueError("kernel variant %r is not available here; this build and CPU have %s"
                         % (variant, available_kernel_variants()))
    return importlib.import_module("fastbp." + KERNEL_VARIANTS[variant][0])


def _default_kernels():
    """The widest variant, unless FASTBP_KERNELS names another."""
    requested = os.environ.get("FASTBP_KERNELS", "")
    return kernel_module(requested if requested else available_kernel_variants()[-1])


_kernels = _default_kernels()
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


class DivergenceError(ValueError):
    """Training produced a NaN or infinite loss or weight: the step size is too large
    for this problem. ``pass_index`` is the first pass whose result was not finite."""

    def __init__(self, message, pass_index):
        super().__init__(message)
        self.pass_index = pass_index


class DivergenceWarning(RuntimeWarning):
    """Training diverged and, as asked (on_divergence="warn"), returned the last finite model."""


ON_DIVERGENCE = ("raise", "warn")


class _Diverged(Exception):
    """Raised inside a run at the first non-finite pass; train turns it into
    DivergenceError or DivergenceWarning."""

    def __init__(self, pass_index, what):
        super().__init__(pass_index, what)
        self.pass_index, self.what = pass_index, what


def _divergence_message(pass_index, what, epsilon, step_size, suggested_epsilon):
    rate = ("epsilon=%g" % epsilon if step_size == epsilon
            else "epsilon=%g (step size %g at that pass)" % (epsilon, step_size))
    return ("training diverged at pass %d: the %s became NaN or infinite; the step size %s is too large "
            "for this problem: try a smaller epsilon (for example %g)" % (pass_index, what, rate, suggested_epsilon))


def _flat_params(model, names):
    return np.concatenate([model[name].ravel() for name in names])


def default_num_threads():
    """The threads the compiled kernels use when num_threads is None: the first of
    OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS that is set to a
    positive integer, otherwise the cores this process may run on."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(variable, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_num_threads(num_threads):
    if num_threads is None:
        return default_num_threads()
    return check.check_int(num_threads, "num_threads", 1)


class _CythonNetwork:
    """Flat parameters (weights then biases, the kernels' layout) and the workspace,
    allocated once per training call, in the model's dtype."""

    def __init__(self, model, sizes, X, y, activation, batch_size, num_threads):
        names = reference.parameter_names(len(sizes) - 1)
        self.params = _flat_params(model, names)
        self.model = {}
        offset = 0
        for name in names:
            self.model[name] = self.params[offset:offset + model[name].size].reshape(model[name].shape)
            offset += model[name].size
        self.sizes = sizes
        self.workspace = _kernels.Network(sizes, _kernels.ACTIVATION_CODES[activation],
                                          _feature_major(X, num_threads), y, batch_size, num_threads)

    def snapshot(self):
        return self.params.copy()

    def restore(self, saved):
        self.params[:] = saved

    def weights_finite(self):
        return bool(np.isfinite(self.params).all())

    def run(self, first_pass, num_passes, orders, epsilons, reg_lambda, loss_every, losses):
        self.workspace.train_passes(self.params, orders.ravel(), epsilons, reg_lambda, first_pass, num_passes,
                                    loss_every, losses)

    def loss(self, reg_lambda):
        return self.workspace.loss(self.params, reg_lambda)


class _NumpyNetwork:
    """The reference, pass by pass, on the model's own arrays (float64 or float32)."""

    def __init__(self, model, sizes, X, y, activation, batch_size, num_threads):
        self.model, self.X, self.y, self.batch_size = model, X, y, batch_size
        if activation != "tanh":
            self.model["activation"] = activation

    def snapshot(self):
        return {name: np.array(value) for name, value in self.model.items() if name != "activation"}

    def restore(self, saved):
        for name, value in saved.items():
            self.model[name][...] = value

    def weights_finite(self):
        return all(np.isfinite(value).all() for name, value in self.model.items() if name != "activation")

    # Overflow on the way to a NaN is reported by the divergence check (DivergenceError), not by NumPy.
    @np.errstate(over="ignore", invalid="ignore", divide="ignore")
    def run(self, first_pass, num_passes, orders, epsilons, reg_lambda, loss_every, losses):
        steps_per_pass = len(epsilons) // num_passes if num_passes else 0
        for i in range(num_passes):
            # step sizes as Python floats, which NumPy rounds to the model's dtype
            if self.batch_size == len(self.y):
                reference.train_pass(self.model, self.X, self.y, float(epsilons[i]), reg_lambda)
            else:
                reference.train_epoch(self.model, self.X, self.y, orders[i], self.batch_size,
                                      epsilons[i * steps_per_pass:(i + 1) * steps_per_pass].tolist(), reg_lambda)
            if loss_every and (first_pass + i) % loss_every == 0:
                losses[(first_pass + i) // loss_every] = self.loss(reg_lambda)

    @np.errstate(over="ignore", invalid="ignore", divide="ignore")
    def loss(self, reg_lambda):
        return reference.calculate_loss(self.model, self.X, self.y, reg_lambda)


_NETWORKS = {"cython": _CythonNetwork, "numpy": _NumpyNetwork}
# Minibatch orders are drawn for at most this many passes per kernel call, so
# their buffer stays small (this many times N indices) on long runs.
MAX_PASSES_PER_CALL = 1000


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
        needed += itemsize * (X.size  # X feature-major
                              + num_threads * _kernels.block_rows_for(sizes, batch_size, itemsize)
                              * (2 * units + sizes[-1] + 1)
                              + 16 * num_params)  # the slabs' gradients
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


class _Shuffler:
    """The sample order of every minibatch pass: one permutation per pass from a
    generator seeded by ``seed``, drawn pass by pass, so the orders do not
    depend on how the run is cut into kernel calls."""

    def __init__(self, num_passes, num_samples, seed):
        self.generator = np.random.default_rng(seed)
        self.natural_order = np.arange(num_samples)
        self.orders = np.empty((min(num_passes, MAX_PASSES_PER_CALL), num_samples), dtype=np.intp)

    def draw(self, num_passes):
        for order in self.orders[:num_passes]:
            order[:] = self.natural_order
            self.generator.shuffle(order)
        return self.orders[:num_passes]


# The compiled loop returns to Python about this often, whatever the run, so
# that Ctrl-C (KeyboardInterrupt) is honoured within a fraction of a second and
# a progress bar moves; a few returns a second cost nothing measurable.
SLICE_SECONDS = 0.2
FIRST_SLICE_PASSES = 1  # measured to size the next ones; one, as a pass on big data may take seconds
# The bar's loss is the last one recorded when the run records losses; otherwise
# it is computed (one forward pass) at most this often in proportion to its own
# cost, so that it stays far below a percent of the run's time.
BAR_LOSS_COST_RATIO = 200
MAX_SLICE_GROWTH = 16  # a slice is at most this many times its predecessor: one fast slice may be noise


class _SlicedRun:
    """Runs passes in kernel calls of about SLICE_SECONDS each, sized from the
    speed of the previous call. Passes do not depend on where the run is cut:
    the kernel takes the first pass's index, the schedule's step sizes are
    sliced by pass, and minibatch orders are drawn pass by pass."""

    def __init__(self, network, shuffler, epsilons, steps_per_pass, reg_lambda, loss_every, losses):
        self.network, self.shuffler, self.epsilons = network, shuffler, epsilons
        self.steps_per_pass, self.reg_lambda = steps_per_pass, reg_lambda
        self.loss_every, self.losses = loss_every, losses
        self.slice_passes = FIRST_SLICE_PASSES
        self.bar = None
        self.next_loss_time = 0.0
        self.no_orders = np.empty((0, 0), dtype=np.intp)

    def run(self, first, count):
        """Passes first .. first+count-1. Raises _Diverged at the first pass
        whose weights or recorded loss are not finite, with the network put
        back to its parameters before that pass."""
        while count > 0:
            chunk = min(count, self.slice_passes, MAX_PASSES_PER_CALL if self.shuffler else count)
            orders = self.shuffler.draw(chunk) if self.shuffler else self.no_orders
            # The divergence check: a copy of the parameters per slice and one
            # look at them and at the slice's recorded losses after it, a few
            # times a second, so it costs nothing measurable; the exact pass is
            # found only after a slice went wrong, by replaying it.
            saved = self.network.snapshot()
            started = time.perf_counter()
            self._run_passes(first, chunk, orders)
            self._resize(chunk, time.perf_counter() - started)
            if not self._finite(first, chunk):
                self._locate_divergence(saved, first, chunk, orders)
            first, count = first + chunk, count - chunk
            if self.bar is not None:
                self._show(first, chunk)

    def _run_passes(self, first, count, orders):
        self.network.run(first, count, orders,
                         self.epsilons[first * self.steps_per_pass:(first + count) * self.steps_per_pass],
                         self.reg_lambda, self.loss_every, self.losses)

    def _recorded_losses(self, first, count):
        if not self.loss_every:
            return self.losses[:0]
        return self.losses[-(-first // self.loss_every):-(-(first + count) // self.loss_every)]

    def _finite(self, first, count):
        return bool(np.isfinite(self._recorded_losses(first, count)).all()) and self.network.weights_finite()

    def _locate_divergence(self, saved, first, count, orders):
        """Replay the slice pass by pass from its saved start (the passes do not
        depend on where the run is cut) up to the first non-finite pass."""
        self.network.restore(saved)
        for i in range(count):
            before = self.network.snapshot()
            self._run_passes(first + i, 1, orders[i:i + 1])
            if not self.network.weights_finite():
                what = "weights"
            elif not np.isfinite(self._recorded_losses(first + i, 1)).all():
                what = "loss"
            else:
                continue
            self.network.restore(before)
            raise _Diverged(first + i, what)
        raise AssertionError("a slice of passes was not finite, but its replay was")  # the passes are deterministic

    def _show(self, passes_done, chunk):
        if self.loss_every:
            loss = self.losses[(passes_done - 1) // self.loss_every]
        elif time.perf_counter() >= self.next_loss_time:
            started = time.perf_counter()
            loss = self.network.loss(self.reg_lambda)
            now = time.perf_counter()
            self.next_loss_time = now + BAR_LOSS_COST_RATIO * (now - started)
        else:
            loss = None
        if loss is not None:
            self.bar.set_postfix(loss="%.6f" % loss, refresh=False)
        self.bar.update(chunk)

    def _resize(self, passes, seconds):
        wanted = int(passes * SLICE_SECONDS / seconds) if seconds > 0 else passes * MAX_SLICE_GROWTH
        self.slice_passes = max(1, min(wanted, passes * MAX_SLICE_GROWTH))


def _check_initial_model(initial_model, X, y, hidden, activation, dtype):
    """-> (a copy of the model to continue from, its layer sizes), checked against the run asked for."""
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
    return {name: np.array(value) if name != "activation" else value for name, value in model.items()}, sizes


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
    The compiled loop runs in time slices of about SLICE_SECONDS, always, so
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
    network = _NETWORKS[backend](start, sizes, X, y, activation, batch_size, num_threads)
    shuffler = _Shuffler(num_passes, len(X), seed) if batch_size < len(X) else None

    recorded = range(0, num_passes, loss_every) if loss_every else range(0)
    losses = np.empty(len(recorded))
    runner = _SlicedRun(network, shuffler, epsilons, steps_per_pass, reg_lambda, loss_every, losses)
    diverged_at = None
    try:
        with progress_bars.progress_bar(num_passes, "training", "pass",
                                        enabled=None if progress else False) as bar:
            runner.bar = None if bar.disable else bar
            passes_done = 0
            if print_loss:
                for i in range(0, num_passes, reference.LOSS_PRINT_EVERY):
                    runner.run(passes_done, i - passes_done)
                    before = network.snapshot()  # a printed pass runs alone, undone if its loss is not finite
                    runner.run(i, 1)
                    passes_done = i + 1
                    recorded_here = loss_every and i % loss_every == 0
                    loss = losses[i // loss_every] if recorded_here else network.loss(reg_lambda)
                    if not np.isfinite(loss):  # finite weights, but a probability rounded to 0
                        network.restore(before)
                        raise _Diverged(i, "loss")
                    progress_bars.write("Loss after iteration %i: %f" % (i, loss))
            runner.run(passes_done, num_passes - passes_done)
    except _Diverged as diverged:
        from . import diagnostics  # only here: import fastbp does not load it

        suggested = diagnostics.suggest_epsilon(start, X, y, reg_lambda, epsilon, float(epsilons.max()))
        message = _divergence_message(diverged.pass_index, diverged.what, epsilon,
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


def _feature_major(X, num_threads):
    """X (N,D) -> X.T as one contiguous flat buffer: the kernels' layout, see src/layers.pxd."""
    return _kernels.feature_major(np.ascontiguousarray(X), num_threads)


def _flat_inputs(model, X):
    """Check a model and X once -> (flat params, sizes, X in the model's dtype, activation code).

    X is converted to the model's dtype (float64 X for a float32 model is
    rounded to float32 once, here)."""
    model, sizes = check.check_model(model)
    X = check.check_X(X, dtype=model["W1"].dtype)
    check.check_X_fits(X, sizes)
    # X feature-major and the probabilities (or, for the loss, a workspace of at most a block per thread)
    check.check_memory(X.itemsize * X.size * 2 + X.itemsize * len(X) * sizes[-1],
                       "the network of layers %s on %d samples" % (list(sizes), len(X)))
    params = _flat_params(model, reference.parameter_names(len(sizes) - 1))
    return params, tuple(sizes), X, _kernels.ACTIVATION_CODES[reference.activation_of(model)]


# A model with finite weights can still overflow on finite data (weights of 1e300 and a ReLU, say).
OVERFLOW_MESSAGE = ("the network's %s overflow to NaN on this X: the model's weights or X are too large "
                    "(was the model trained with too large a step size?)")


def predict_proba(model, X, num_threads=None):
    """Class probabilities (N,C), in the model's dtype: softmax of the network's output."""
    params, sizes, X, activation = _flat_inputs(model, X)
    num_threads = _check_num_threads(num_threads)
    N, C = len(X), sizes[-1]
    probs = np.empty(C * N, dtype=params.dtype)
    _kernels.predict_probabilities(probs, params, _feature_major(X, num_threads), sizes, activation, num_threads)
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
    network = _kernels.Network(sizes, activation, _feature_major(X, num_threads), y, len(X), num_threads)
    loss = network.loss(params, reg_lambda)
    if np.isnan(loss):  # infinity is a loss (a probability of the true class rounded to 0); NaN is not
        raise ValueError(OVERFLOW_MESSAGE % "loss")
    return loss
