"""Learning-rate schedules (the lecture's exercise 2: anneal the learning rate).

A schedule gives the step size of every gradient step t = 0, 1, 2, ... from
the initial rate epsilon. Steps count gradient updates: one per pass in
full-batch training (the lecture), one per batch with minibatches. Each is a
closed form, evaluated for all steps of a run at once, so both backends use
bit-identical rates.
"""

import numpy as np

from . import _validation as check


class Constant:
    """epsilon_t = epsilon (the lecture)."""

    def rates(self, epsilon, num_steps):
        return np.full(num_steps, float(epsilon))


class StepDecay:
    """epsilon_t = epsilon * drop ** floor(t / every)."""

    def __init__(self, drop=0.5, every=5000):
        self.drop = check.check_real(drop, "drop", positive=True)
        if self.drop > 1:
            raise ValueError("drop must be in (0, 1], got %r" % drop)
        self.every = check.check_int(every, "every", 1)

    def rates(self, epsilon, num_steps):
        return epsilon * self.drop ** np.floor(np.arange(num_steps) / self.every)


class ExponentialDecay:
    """epsilon_t = epsilon * exp(-decay * t)."""

    def __init__(self, decay=1e-4):
        self.decay = check.check_real(decay, "decay", positive=False)

    def rates(self, epsilon, num_steps):
        return epsilon * np.exp(-self.decay * np.arange(num_steps))


class InverseScaling:
    """epsilon_t = epsilon / (1 + decay * t): the 1/t schedule of stochastic approximation."""

    def __init__(self, decay=1e-3):
        self.decay = check.check_real(decay, "decay", positive=False)

    def rates(self, epsilon, num_steps):
        return epsilon / (1.0 + self.decay * np.arange(num_steps))


SCHEDULES = {"constant": Constant, "step": StepDecay, "exponential": ExponentialDecay, "inverse": InverseScaling}


def get(schedule):
    """A schedule from its name (default parameters) or a schedule object itself."""
    if isinstance(schedule, str):
        if schedule not in SCHEDULES:
            raise ValueError("schedule must be one of %s or a schedule object, got %r"
                             % (sorted(SCHEDULES), schedule))
        return SCHEDULES[schedule]()
    if not callable(getattr(schedule, "rates", None)):
        raise TypeError("schedule must be a name in %s or an object with a rates(epsilon, num_steps) "
                        "method, got %r" % (sorted(SCHEDULES), schedule))
    return schedule
