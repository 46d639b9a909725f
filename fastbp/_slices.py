"""How fastbp.train runs its passes: in time slices of about SLICE_SECONDS
(so that Ctrl-C and a progress bar are honoured), with the minibatch orders
drawn pass by pass (Shuffler) and a divergence check after every slice
(DivergenceError, DivergenceWarning). A run gives the same bits however it is
sliced: the kernels take the first pass's index, step sizes are sliced by pass,
and orders are drawn pass by pass.
"""

import time

import numpy as np

# Minibatch orders are drawn for at most this many passes per kernel call, so
# their buffer stays small (this many times N indices) on long runs.
MAX_PASSES_PER_CALL = 1000


class DivergenceError(ValueError):
    """Training produced a NaN or infinite loss or weight: the step size is too large
    for this problem. ``pass_index`` is the first pass whose result was not finite."""

    def __init__(self, message, pass_index):
        super().__init__(message)
        self.pass_index = pass_index


class DivergenceWarning(RuntimeWarning):
    """Training diverged and, as asked (on_divergence="warn"), returned the last finite model."""


ON_DIVERGENCE = ("raise", "warn")


class Diverged(Exception):
    """Raised inside a run at the first non-finite pass; fastbp.train turns it into
    DivergenceError or DivergenceWarning."""

    def __init__(self, pass_index, what):
        super().__init__(pass_index, what)
        self.pass_index, self.what = pass_index, what


def divergence_message(pass_index, what, epsilon, step_size, suggested_epsilon):
    rate = ("epsilon=%g" % epsilon if step_size == epsilon
            else "epsilon=%g (step size %g at that pass)" % (epsilon, step_size))
    return ("training diverged at pass %d: the %s became NaN or infinite; the step size %s is too large "
            "for this problem: try a smaller epsilon (for example %g)" % (pass_index, what, rate, suggested_epsilon))


class Shuffler:
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


class SlicedRun:
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
        # the parameters before the slice under way, in one buffer for the whole run
        # (a new copy per slice was a new allocation: a pass over fresh pages)
        self.saved = None

    def run(self, first, count):
        """Passes first .. first+count-1. Raises Diverged at the first pass
        whose weights or recorded loss are not finite, with the network put
        back to its parameters before that pass."""
        while count > 0:
            chunk = min(count, self.slice_passes, MAX_PASSES_PER_CALL if self.shuffler else count)
            orders = self.shuffler.draw(chunk) if self.shuffler else self.no_orders
            # The divergence check: a copy of the parameters per slice and one
            # look at them and at the slice's recorded losses after it, a few
            # times a second, so it costs nothing measurable; the exact pass is
            # found only after a slice went wrong, by replaying it.
            saved = self.saved = self.network.snapshot(self.saved)
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
            raise Diverged(first + i, what)
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
