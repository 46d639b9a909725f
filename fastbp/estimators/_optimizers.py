"""The stochastic optimisers' state: SGD (momentum, Nesterov, the three
learning-rate schedules) and Adam. The updates themselves are
fastbp.reference_mlp's sgd_update and adam_update."""

import numpy as np

from .. import reference_mlp

# "adaptive" stops once the rate, divided by 5 at each stall, is this small
ADAPTIVE_MIN_LEARNING_RATE = 1e-6


class SGD:
    """Plain, momentum or Nesterov SGD with a constant, inverse-scaling or adaptive rate."""

    def __init__(self, params, learning_rate_init, schedule, momentum, nesterov, power_t):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.schedule, self.momentum, self.nesterov, self.power_t = schedule, momentum, nesterov, power_t
        self.shapes = [param.shape for param in params]
        self.velocity_buffer = flat_zeros_like(params)

    @property
    def velocities(self):
        return views(self.velocity_buffer, self.shapes)

    def update(self, params, grads):
        reference_mlp.sgd_update(params, grads, self.velocities, self.learning_rate, self.momentum, self.nesterov)

    def epoch(self, workspace, params, order):
        """One compiled epoch (src/_mlp.pyx) -> the sum of the batches' losses times their sizes."""
        summed, _ = workspace.epoch(params, order, "sgd", self.velocity_buffer, None, self.learning_rate,
                                    momentum=self.momentum, nesterov=self.nesterov)
        return summed

    def iteration_ends(self, samples_seen):
        """invscaling: rate = learning_rate_init / (samples seen + 1) ** power_t, set after each epoch."""
        if self.schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (samples_seen + 1) ** self.power_t

    def trigger_stopping(self, message, verbose):
        """-> True to stop after a stall; "adaptive" divides the rate by 5 instead, until it is tiny."""
        if self.schedule != "adaptive":
            if verbose:
                print(message + " Stopping.")
            return True
        if self.learning_rate <= ADAPTIVE_MIN_LEARNING_RATE:
            if verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(message + " Setting learning rate to %f" % self.learning_rate)
        return False


class Adam:
    """Adam: per-parameter steps from the moments' running means, bias-corrected."""

    def __init__(self, params, learning_rate_init, beta_1, beta_2, epsilon):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.shapes = [param.shape for param in params]
        self.m_buffer = flat_zeros_like(params)
        self.v_buffer = flat_zeros_like(params)

    @property
    def ms(self):
        return views(self.m_buffer, self.shapes)

    @property
    def vs(self):
        return views(self.v_buffer, self.shapes)

    def update(self, params, grads):
        self.t += 1
        self.learning_rate = reference_mlp.adam_learning_rate(self.learning_rate_init, self.beta_1, self.beta_2,
                                                              self.t)
        reference_mlp.adam_update(params, grads, self.ms, self.vs, self.learning_rate, self.beta_1, self.beta_2,
                                  self.epsilon)

    def epoch(self, workspace, params, order):
        """One compiled epoch (src/_mlp.pyx) -> the sum of the batches' losses times their sizes."""
        summed, self.t = workspace.epoch(params, order, "adam", self.m_buffer, self.v_buffer, self.learning_rate_init,
                                         t=self.t, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        self.learning_rate = reference_mlp.adam_learning_rate(self.learning_rate_init, self.beta_1, self.beta_2,
                                                              self.t)
        return summed

    def iteration_ends(self, samples_seen):
        """Adam's rate has no schedule."""

    def trigger_stopping(self, message, verbose):
        if verbose:
            print(message + " Stopping.")
        return True


def flat_zeros_like(params):
    """-> one zeroed buffer for a state of every parameter: the compiled updates take it whole,
    the NumPy updates its views (views), so both always see the same state."""
    return np.zeros(sum(param.size for param in params), dtype=params[0].dtype)


def views(buffer, shapes):
    """-> the parameters' parts of a flat buffer, shaped as the parameters."""
    parts, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(buffer[start:start + size].reshape(shape))
        start += size
    return parts


def make_optimizer(estimator, params):
    """The optimiser that estimator's solver names, on params (coefs_ + intercepts_)."""
    if estimator.solver == "sgd":
        return SGD(params, estimator.learning_rate_init, estimator.learning_rate, estimator.momentum,
                   estimator.nesterovs_momentum, estimator.power_t)
    return Adam(params, estimator.learning_rate_init, estimator.beta_1, estimator.beta_2, estimator.epsilon)
