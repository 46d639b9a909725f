"""One page's training: fastbp.train, continued chunk after chunk on a worker thread.

Each chunk is ``fastbp.train(..., initial_model=<the model so far>,
loss_every=1)``, so the page trains with the package's own compiled kernels
and records the lecture's loss after every pass. A full-batch run with the
constant schedule cut into chunks is the same run as one call (the passes do
not depend on where a run is cut); a schedule continues from the pass reached
(:class:`ContinuedSchedule`), and minibatch orders are drawn with the seed plus
the pass reached, so they differ from a single call's. Chunks last about
CHUNK_SECONDS so the pictures see a fresh model at every redraw; the kernels
release the GIL, so the server's event loop stays free while they run.

The drawing side reads :meth:`TrainingSession.view`, a consistent copy taken
under the lock; nothing here imports the web libraries.
"""

import collections
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .. import diagnostics, reference, schedules
from ..trainer import MAX_SEED, DivergenceError, calculate_loss, train
from .data import features, make_data

CHUNK_SECONDS = 0.04  # a quarter of a redraw period at 10 redraws a second, so every redraw shows a new model
SPEED_CHUNKS_PER_SECOND = 20  # with a speed limit, the passes of a second come in this many chunks
MAX_CHUNK_GROWTH = 16  # a chunk is at most this many times the last: one fast chunk may be noise
MAX_CURVE_POINTS = 4000  # the loss curve keeps every other point once it is this long
# The sharpness is measured on the models after passes 0, 250, 500, ... 20000, then every 2500
# passes up to 200000, and so on: about 80 points per decade of passes, whatever the speed.
SHARPNESS_FIRST_SPACING = 250
SHARPNESS_SPACING_DECADE = 80 * SHARPNESS_FIRST_SPACING
# Models waiting to be measured hold at most this many parameters in all (16 MB), and at most
# SHARPNESS_QUEUE models: when measuring lags further behind, the oldest are dropped.
SHARPNESS_QUEUE_PARAMETERS = 2_000_000
SHARPNESS_QUEUE = 400
SHARPNESS_POLL_SECONDS = 0.1
# The measuring thread rests this many times as long as each measurement took, so that its NumPy
# work (which holds the GIL between small operations) leaves the redraws most of the time.
SHARPNESS_TIME_RATIO = 3
# Power iteration's limit on the page: enough for the lecture's networks (a few hundred at most, see
# fastbp.diagnostics); a network whose two largest eigenvalues are closer is left unmeasured.
SHARPNESS_MAX_ITERATIONS = 2000
RATE_SMOOTHING = 0.3  # weight of the newest chunk in the passes-per-second shown


class ContinuedSchedule:
    """A schedule resumed at step ``first_step``: its rates for steps first_step, first_step+1, ..."""

    def __init__(self, schedule, first_step):
        self.schedule, self.first_step = schedule, first_step

    def rates(self, epsilon, num_steps):
        return self.schedule.rates(epsilon, self.first_step + num_steps)[self.first_step:]


def initial_model(settings, num_inputs, num_classes):
    """The lecture's initialisation (fastbp.train's own when it starts a run) for these settings."""
    sizes = (num_inputs,) + settings.hidden + (num_classes,)
    model = reference.init_params(sizes, settings.seed, settings.dtype)
    if settings.activation != "tanh":
        model["activation"] = settings.activation
    return model


@dataclass
class Progress:
    """What the pictures show; replaced, never changed, once published."""

    passes: int = 0  # passes done
    model: dict = None
    curve_passes: list = field(default_factory=list)  # the loss curves: pass, train loss, test loss
    curve_train: list = field(default_factory=list)
    curve_test: list = field(default_factory=list)
    printed: list = field(default_factory=list)  # (pass, loss) every LOSS_PRINT_EVERY passes, as the lecture prints
    sharpness: list = field(default_factory=list)  # (pass, sharpness, 2/epsilon at that pass)
    run_class: str = ""
    passes_per_second: float = 0.0
    diverged: str = ""  # the divergence message, once the run diverged


class TrainingSession:
    """The data, the model and its history for one settings record; play, pause,
    one pass, reset; ``close`` ends the worker threads."""

    def __init__(self, settings, student=None):
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._generation = 0
        self.student = student  # a student.StudentRun factory, or None
        self.playing = False
        self._pending_passes = 0
        self._worker = threading.Thread(target=self._work, name="fastbp-playground-training", daemon=True)
        self._sharpness_worker = threading.Thread(target=self._measure_sharpness, name="fastbp-playground-sharpness",
                                                  daemon=True)
        self.reset(settings)
        self._worker.start()
        self._sharpness_worker.start()

    # ------------------------------------------------------------ commands (any thread)

    def reset(self, settings):
        """Start over with these settings (raises data.DataError for a split without some class)."""
        data = make_data(settings)
        X_train, X_test = features(data.X_train, settings.features), features(data.X_test, settings.features)
        model = initial_model(settings, X_train.shape[1], data.num_classes)
        with self._lock:
            self._generation += 1
            self.settings, self.data = settings, data
            self.X_train, self.X_test = X_train, X_test
            self.playing, self._pending_passes = False, 0
            self._chunk_passes = 1
            num_parameters = sum(value.size for name, value in model.items() if name != "activation")
            self._to_measure = collections.deque(
                [(self._generation, 0, model)],
                maxlen=max(1, min(SHARPNESS_QUEUE, SHARPNESS_QUEUE_PARAMETERS // num_parameters)))
            self._recent_losses = collections.deque(maxlen=diagnostics.CLASSIFY_WINDOW)
            self.progress = Progress(model=model)
            self._student = self.student(settings, X_train, data.y_train, model) if self.student else None
            self._append_point(self.progress, 0, None)

    def apply(self, settings):
        """Go on training with new training settings (step size, L2, batch, schedule, stop, test points shown);
        data, network and precision changes need :meth:`reset`."""
        with self._lock:
            self.settings = settings
            self._recent_losses.clear()  # the run class is of the run at one step size
            self.progress = Progress(**dict(vars(self.progress), run_class="", diverged=""))

    def play(self):
        with self._lock:
            if not self.progress.diverged and not self._finished():
                self.playing = True
        self._wake.set()

    def pause(self):
        with self._lock:
            self.playing = False

    def one_pass(self):
        with self._lock:
            if not self.progress.diverged:
                self._pending_passes += 1
        self._wake.set()

    def close(self):
        """Stop training for good: the worker threads end after their current chunk."""
        self._closed.set()
        self._wake.set()

    def view(self):
        """-> (settings, data, Progress, student view or None), consistent with one another."""
        with self._lock:
            student = self._student.view() if self._student else None
            return self.settings, self.data, self.progress, student

    def stable_epsilon(self):
        """Half of 2/sharpness at the last measurement, rounded down to two digits (None before one):
        stable for the current network until training sharpens it further."""
        with self._lock:
            if not self.progress.sharpness:
                return None
            limit = 1.0 / self.progress.sharpness[-1][1]
        digits = 10.0 ** (np.floor(np.log10(limit)) - 1)
        return float(np.floor(limit / digits) * digits)

    # ------------------------------------------------------------ the worker

    def _finished(self):
        return bool(self.settings.stop_at) and self.progress.passes >= self.settings.stop_at

    def _next_chunk(self):
        """-> (passes to run now, generation) or (0, generation), under the lock."""
        if self._pending_passes:
            count, self._pending_passes = self._pending_passes, 0
        elif self.playing:
            count = self._chunk_passes
        else:
            return 0, self._generation
        count = min(count, next_sharpness_pass(self.progress.passes) - self.progress.passes)
        if self.settings.speed:
            count = min(count, max(1, self.settings.speed // SPEED_CHUNKS_PER_SECOND))
        if self.settings.stop_at:
            count = min(count, self.settings.stop_at - self.progress.passes)
            if count <= 0:
                self.playing = False
        return count, self._generation

    def _work(self):
        while not self._closed.is_set():
            with self._lock:
                count, generation = self._next_chunk()
                student = self._student
                if not count:
                    self._wake.clear()
            if not count:
                if student is not None and student.behind():
                    student.advance()  # paused: the student's run catches up with the page's
                else:
                    self._wake.wait()
                continue
            started = time.perf_counter()
            seconds = self._run_chunk(count, generation)
            speed = self.settings.speed
            if speed:  # wait until the chunk's passes are due at that speed
                self._closed.wait(max(0.0, started + count / speed - time.perf_counter()))
            with self._lock:
                if generation == self._generation:
                    wanted = int(count * CHUNK_SECONDS / seconds) if seconds > 0 else count * MAX_CHUNK_GROWTH
                    self._chunk_passes = max(1, min(wanted, count * MAX_CHUNK_GROWTH))
                    rate = count / seconds if seconds > 0 else 0.0
                    old = self.progress.passes_per_second
                    self.progress.passes_per_second = rate if not old else (
                        RATE_SMOOTHING * rate + (1 - RATE_SMOOTHING) * old)

    def _train(self, settings, model, first_pass, count):
        steps_per_pass = -(-len(self.X_train) // settings.batch) if settings.batch else 1
        schedule = schedules.get(settings.schedule)
        return train(self.X_train, self.data.y_train, settings.hidden, num_passes=count, epsilon=settings.epsilon,
                     reg_lambda=settings.l2, seed=(settings.seed + first_pass) % (MAX_SEED + 1), loss_every=1,
                     activation=settings.activation, batch_size=settings.batch or None,
                     schedule=ContinuedSchedule(schedule, first_pass * steps_per_pass), num_threads=1,
                     dtype=settings.dtype, initial_model=model)

    def _run_chunk(self, count, generation):
        """Train ``count`` passes and publish them; -> the seconds the training took."""
        with self._lock:
            settings, progress = self.settings, self.progress
        first = progress.passes
        diverged = ""
        started = time.perf_counter()
        try:
            run = self._train(settings, progress.model, first, count)
        except DivergenceError as err:
            diverged = ("training diverged at pass %d: the loss or a weight became NaN or infinite, so it stopped. "
                        "The step size epsilon = %g is too large for this network: try a smaller one, or press "
                        "'stable epsilon'." % (first + err.pass_index, settings.epsilon))
            count = err.pass_index  # the passes before it were finite: run them again, deterministically
            run = self._train(settings, progress.model, first, count) if count else None
        seconds = time.perf_counter() - started
        updated = Progress(**vars(progress))
        if run is not None:
            updated.model, updated.passes = run.model, first + count
            passes = np.arange(first, first + count)
            printed = passes % reference.LOSS_PRINT_EVERY == 0
            updated.printed = progress.printed + list(zip(passes[printed].tolist(), run.losses[printed].tolist()))
            self._append_point(updated, updated.passes, float(run.losses[-1]))
        updated.diverged = diverged
        with self._lock:
            if generation != self._generation:
                return seconds  # reset while this chunk ran: its result belongs to the old settings
            student = self._student
            if student is not None and run is not None:
                student.follow(first, count, settings)
            if run is not None:
                self._recent_losses.extend(run.losses.tolist())
            updated.sharpness = self.progress.sharpness  # measured on the other thread meanwhile
            if len(self._recent_losses) == self._recent_losses.maxlen and not settings.batch:
                updated.run_class = diagnostics.classify_run(np.array(self._recent_losses))
            self.progress = updated
            if run is not None and updated.passes == next_sharpness_pass(first):
                self._to_measure.append((generation, updated.passes, updated.model))
            if diverged or self._finished():
                self.playing = False
        if student is not None:
            student.advance()  # after the lock: the student's NumPy passes must not hold up the page
        return seconds

    def _append_point(self, progress, passes, train_loss):
        """Add the losses after ``passes`` passes to the curves (the lecture's loss, which
        includes the L2 term). The test loss carries the same L2 penalty per point as the
        training loss, so the two curves differ only by the data term."""
        settings, model = self.settings, progress.model
        if train_loss is None:
            train_loss = calculate_loss(model, self.X_train, self.data.y_train, settings.l2, num_threads=1)
        test_loss = np.nan
        if len(self.X_test):
            test_loss = calculate_loss(model, self.X_test, self.data.y_test,
                                       settings.l2 * len(self.X_test) / len(self.X_train), num_threads=1)
        curves = (progress.curve_passes, progress.curve_train, progress.curve_test)
        if len(progress.curve_passes) >= MAX_CURVE_POINTS:
            curves = [curve[:1] + curve[2::2] for curve in curves]  # keep the first point, then every other
        progress.curve_passes, progress.curve_train, progress.curve_test = [
            curve + [value] for curve, value in zip(curves, (passes, train_loss, test_loss))]

    # ------------------------------------------------------------ sharpness, on its own thread

    def _measure_sharpness(self):
        pause = SHARPNESS_POLL_SECONDS
        while not self._closed.wait(pause):
            pause = SHARPNESS_POLL_SECONDS
            with self._lock:
                if not self._to_measure:
                    continue
                generation, passes, model = self._to_measure.popleft()
                settings, X, y = self.settings, self.X_train, self.data.y_train
            if generation != self._generation:
                continue
            model64 = {name: value if name == "activation" else np.asarray(value, dtype=np.float64)
                       for name, value in model.items()}
            started = time.perf_counter()
            try:
                value = self._sharpness(model64, X, y, settings.l2, generation)
            except (ArithmeticError, _Stopped):  # no convergence, overflow (FloatingPointError), or closed
                continue
            finally:
                pause = max(SHARPNESS_POLL_SECONDS, SHARPNESS_TIME_RATIO * (time.perf_counter() - started))
            limit = 2.0 / current_step_size(settings, passes, len(X))
            with self._lock:
                if generation == self._generation:
                    self.progress = Progress(**dict(vars(self.progress),
                                                    sharpness=self.progress.sharpness + [(passes, value, limit)]))

    def _sharpness(self, model, X, y, reg_lambda, generation):
        """fastbp.diagnostics.sharpness, with at most SHARPNESS_MAX_ITERATIONS products, given up
        (_Stopped) as soon as the session closes or starts over."""
        names = reference.parameter_names(reference.num_layers(model))
        shapes = [model[name].shape for name in names]
        bounds = np.cumsum([0] + [model[name].size for name in names])

        def product(flat):
            if self._closed.is_set() or generation != self._generation:
                raise _Stopped()
            direction = {name: flat[start:stop].reshape(shape)
                         for name, shape, start, stop in zip(names, shapes, bounds[:-1], bounds[1:])}
            with np.errstate(over="raise", invalid="raise"):
                result = diagnostics.hessian_vector_product(model, X, y, reg_lambda, direction)
            return np.concatenate([result[name].ravel() for name in names])

        return diagnostics.largest_eigenvalue(product, int(bounds[-1]), max_iterations=SHARPNESS_MAX_ITERATIONS)


class _Stopped(Exception):
    """The session closed or started over while its sharpness was being measured."""


def next_sharpness_pass(passes):
    """The first pass count after ``passes`` at which the sharpness is measured."""
    spacing = SHARPNESS_FIRST_SPACING
    while passes >= spacing * SHARPNESS_SPACING_DECADE // SHARPNESS_FIRST_SPACING:
        spacing *= 10
    return (passes // spacing + 1) * spacing


def current_step_size(settings, passes, num_train):
    """The step size the schedule gives at the next gradient step."""
    steps_per_pass = -(-num_train // settings.batch) if settings.batch else 1
    return float(schedules.get(settings.schedule).rates(settings.epsilon, passes * steps_per_pass + 1)[-1])
