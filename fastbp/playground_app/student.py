"""A student's backprop (the ``fastbp check`` signature) trained beside the reference.

The signature's arguments (X, y, W1, b1, W2, b2, a1 = tanh(X.dot(W1) + b1),
probs, reg_lambda) are those of a network with one tanh hidden layer, of any
width, on any inputs and classes; the checker poses it such problems. So the
student's function trains any page whose network is that, and none other (the
page says why). It trains in NumPy, in float64, from the same initial weights
as the page's run, and follows that run chunk by chunk (:meth:`StudentRun.follow`):
the same step sizes (the schedule's, continued from the pass reached), the same
minibatches (each chunk's orders drawn as fastbp.train draws them, from the
chunk's seed) and the same L2 strength, including changes made while training.
A correct function's run is then the page's run, to rounding. At every step
until the two part, its gradients are compared with the reference's
(:func:`fastbp.reference.gradients`) at the same weights and batch, with the
checker's tolerance; the first pass and gradient beyond it are where the runs part.
"""

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np

from .. import reference, schedules
from ..exercise.judging import describe_exception
from ..exercise.problems import REFERENCE_RTOL, relative_error
from ..trainer import MAX_SEED

STUDENT_SECONDS_PER_CHUNK = 0.02  # the student's NumPy passes get this much time per chunk of the page's run
STUDENT_GRADIENTS = ("dW1", "db1", "dW2", "db2")
MAX_CURVE_POINTS = 2000


@dataclass(frozen=True)
class StudentView:
    key: object  # changes whenever anything below does
    model: dict
    curve_passes: list
    curve_losses: list
    summary: str


def usable_with(settings):
    """'' if the student's function can train the page's network, else why not."""
    reasons = []
    if len(settings.hidden) != 1:
        reasons.append("the network has %d hidden layers, and its arguments W1, b1, W2, b2 are those of one"
                       % len(settings.hidden))
    if settings.activation != "tanh":
        reasons.append("the activation is %s, and its a1 is tanh's output (its delta2 uses tanh's derivative)"
                       % settings.activation)
    if reasons:
        return ("your backprop cannot train this network: %s. It trains a network with one tanh hidden layer, "
                "of any width, on any data and input features, with any step size, batch size, schedule and "
                "precision: choose such a network (or press 'lecture preset') to see it beside the reference."
                % "; ".join(reasons))
    return ""


def batch_orders(num_samples, seed, num_passes):
    """The sample order of each pass of a minibatch chunk trained with ``seed``: the permutations
    fastbp.train draws (one default_rng(seed) shuffle of 0..N-1 per pass, fastbp._slices.Shuffler)."""
    generator = np.random.default_rng(seed)
    for _ in range(num_passes):
        order = np.arange(num_samples)
        generator.shuffle(order)
        yield order


@dataclass(frozen=True)
class Chunk:
    """Passes first..first+count-1 of the page's run, trained with ``settings``."""

    first: int
    count: int
    settings: object


class StudentRun:
    """The student's run for one settings record; made by the session at every reset."""

    def __init__(self, backprop, settings, X, y, model):
        self.backprop, self.settings, self.X, self.y = backprop, settings, X, y
        self.model = {name: np.array(value, dtype=np.float64) for name, value in model.items() if name != "activation"}
        self.passes = 0
        self._shown_passes = 0  # self.passes when advance last published the view
        self.parted = None  # (pass, gradient name, relative error), once the runs part
        self.failure = usable_with(settings)
        self.curve_passes, self.curve_losses = ([], []) if self.failure else (
            [0], [reference.calculate_loss(self.model, X, y, settings.l2)])
        self._chunks = collections.deque()  # the page's chunks not yet trained: Chunk records
        self._orders = None  # the current chunk's minibatch orders, drawn pass by pass
        self._rates = None  # the current chunk's step sizes, (count * steps per pass,)
        self._lock = threading.Lock()
        self._view = None

    def follow(self, first, count, settings):
        """The page's run trained passes first..first+count-1 with ``settings``: train them too (by :meth:`advance`)."""
        if not self.failure:
            self._chunks.append(Chunk(first, count, settings))

    def _step(self, X, y, epsilon, reg_lambda):
        """One step of gradient descent with the student's gradients on the samples X, y."""
        model = self.model
        a1, scores = reference.forward(model, X)
        probs = reference.softmax_forward(scores)
        arguments = [np.array(value) for value in (X, y, model["W1"], model["b1"], model["W2"], model["b2"], a1, probs)]
        returned = self.backprop(*arguments, reg_lambda)
        grads = {name: np.asarray(returned[name], dtype=np.float64).reshape(model[name[1:]].shape)
                 for name in STUDENT_GRADIENTS}
        if self.parted is None:
            expected = reference.gradients(model, X, y, reg_lambda)
            for name in STUDENT_GRADIENTS:
                error = relative_error(grads[name], expected[name[1:]])
                if not error <= REFERENCE_RTOL:
                    self.parted = (self.passes, name, error)
                    break
        with self._lock:
            for name in ("W1", "b1", "W2", "b2"):
                model[name] += -epsilon * grads["d" + name]

    def _one_pass(self):
        """The next pass of the chunk in front: full batch, or its minibatches in the chunk's order, as
        fastbp.train steps (the L2 term scaled by B / N, so that a pass decays the weights as one full step)."""
        chunk = self._chunks[0]
        self.settings = settings = chunk.settings
        X, y = self.X, self.y
        N = len(y)
        batch = settings.batch or N
        steps_per_pass = -(-N // batch)
        if self._rates is None:
            schedule = schedules.get(settings.schedule)
            first_step = chunk.first * steps_per_pass
            self._rates = schedule.rates(settings.epsilon, first_step + chunk.count * steps_per_pass)[first_step:]
            if settings.batch:
                self._orders = batch_orders(N, (settings.seed + chunk.first) % (MAX_SEED + 1), chunk.count)
        rates = self._rates[(self.passes - chunk.first) * steps_per_pass:]
        if not settings.batch:
            self._step(X, y, rates[0], settings.l2)
        else:
            order = next(self._orders)
            for step, start in enumerate(range(0, N, batch)):
                batch_X, batch_y = reference.gather_batch(X, y, order[start:start + batch])
                self._step(batch_X, batch_y, rates[step], settings.l2 * (len(batch_y) / N))
        self.passes += 1
        if self.passes == chunk.first + chunk.count:
            self._chunks.popleft()
            self._rates = self._orders = None

    def behind(self):
        """Whether the page's run has trained passes that this one has yet to train or to show in its
        view. (The chunk is popped as its last pass ends, before advance publishes the view: the
        passes trained and not yet shown keep it behind until then.)"""
        return (bool(self._chunks) or self.passes != self._shown_passes) and not self.failure

    def advance(self):
        """Train the page's chunks not yet trained, for at most STUDENT_SECONDS_PER_CHUNK."""
        if self.failure:
            return
        deadline = time.perf_counter() + STUDENT_SECONDS_PER_CHUNK
        try:
            while self._chunks and time.perf_counter() < deadline:
                self._one_pass()
        except Exception as err:  # the student's code: any failure is reported on the page
            self.failure = "your backprop failed at pass %d: %s" % (self.passes, describe_exception(err, ""))
        with np.errstate(all="ignore"):
            loss = reference.calculate_loss(self.model, self.X, self.y, self.settings.l2)
        with self._lock:
            self.curve_passes, self.curve_losses = self.curve_passes + [self.passes], self.curve_losses + [loss]
            if len(self.curve_passes) > MAX_CURVE_POINTS:
                self.curve_passes, self.curve_losses = self.curve_passes[::2], self.curve_losses[::2]
            self._view = None
            self._shown_passes = self.passes

    def summary(self):
        if self.failure:
            return self.failure
        if self.parted is None:
            return ("your backprop has trained %d passes (in float64); its gradients equal the reference's at every "
                    "step (within the checker's tolerance %g)" % (self.passes, REFERENCE_RTOL))
        passes, name, error = self.parted
        return ("the runs part at pass %d: your %s differs from the reference's by %.3g of its largest entry "
                "(the checker allows %g); your run has trained %d passes" % (passes, name, error, REFERENCE_RTOL,
                                                                             self.passes))

    def view(self):
        with self._lock:
            if self._view is None:
                model = {name: value.copy() for name, value in self.model.items()}
                self._view = StudentView(object(), model, self.curve_passes, self.curve_losses, self.summary())
            return self._view


def student_factory(backprop):
    """-> a function (settings, X, y, initial model) -> StudentRun, for TrainingSession."""
    def make(settings, X, y, model):
        return StudentRun(backprop, settings, X, y, model)
    return make
