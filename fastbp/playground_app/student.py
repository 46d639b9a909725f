"""A student's backprop (the ``fastbp check`` signature) trained beside the reference.

The student's function only knows the lecture's network (one tanh hidden
layer, full batch), so it trains only under such settings, in NumPy, pass by
pass, from the same initial weights as the page's run. At every pass until
the two part, its gradients are compared with the reference's
(:func:`fastbp.reference.gradients`) at the same weights, with the checker's
tolerance; the first pass and gradient beyond it are where the runs part.
"""

import threading
import time
from dataclasses import dataclass

import numpy as np

from .. import reference
from ..exercise.judging import describe_exception
from ..exercise.problems import REFERENCE_RTOL, relative_error

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
    """'' if the student's function can train under these settings, else why not."""
    if len(settings.hidden) != 1 or settings.activation != "tanh" or settings.batch or settings.dtype != "float64" \
            or settings.schedule != "constant":
        return ("your backprop trains the lecture's network: one tanh hidden layer, full batch, constant schedule, "
                "float64; the page's settings are not that, so it is paused (press 'lecture preset')")
    return ""


class StudentRun:
    """The student's run for one settings record; made by the session at every reset."""

    def __init__(self, backprop, settings, X, y, model):
        self.backprop, self.settings, self.X, self.y = backprop, settings, X, y
        self.model = {name: np.array(value, dtype=np.float64) for name, value in model.items()}
        self.passes = 0
        self.parted = None  # (pass, gradient name, relative error), once the runs part
        self.failure = usable_with(settings)
        self.curve_passes, self.curve_losses = [0], [reference.calculate_loss(self.model, X, y, settings.l2)]
        self._lock = threading.Lock()
        self._view = None

    def _one_pass(self):
        model, X, y = self.model, self.X, self.y
        a1, scores = reference.forward(model, X)
        probs = reference.softmax_forward(scores)
        arguments = [np.array(value) for value in (X, y, model["W1"], model["b1"], model["W2"], model["b2"], a1, probs)]
        returned = self.backprop(*arguments, self.settings.l2)
        grads = {name: np.asarray(returned[name], dtype=np.float64).reshape(model[name[1:]].shape)
                 for name in STUDENT_GRADIENTS}
        if self.parted is None:
            expected = reference.gradients(model, X, y, self.settings.l2)
            for name in STUDENT_GRADIENTS:
                error = relative_error(grads[name], expected[name[1:]])
                if not error <= REFERENCE_RTOL:
                    self.parted = (self.passes, name, error)
                    break
        for name in ("W1", "b1", "W2", "b2"):
            model[name] += -self.settings.epsilon * grads["d" + name]
        self.passes += 1

    def advance_to(self, passes):
        """Train the student's model towards ``passes`` passes, for at most STUDENT_SECONDS_PER_CHUNK."""
        if self.failure:
            return
        deadline = time.perf_counter() + STUDENT_SECONDS_PER_CHUNK
        try:
            while self.passes < passes and time.perf_counter() < deadline:
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

    def summary(self):
        if self.failure:
            return self.failure
        if self.parted is None:
            return ("your backprop has trained %d passes; its gradients equal the reference's at every one "
                    "(within the checker's tolerance %g)" % (self.passes, REFERENCE_RTOL))
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
