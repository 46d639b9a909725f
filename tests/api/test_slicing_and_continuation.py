"""The trainer's time slices, progress bar and continuation from a given model."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastbp
from fastbp import _backend, _slices, progress, trainer

# A child's Python, NumPy and fastbp take a second or two to import on this
# shared two-core machine; the interrupt itself must land within a slice (0.2 s).
INTERRUPT_BOUND_SECONDS = 3.0
CHILD_START_TIMEOUT_SECONDS = 60



def assert_runs_identical(first, second):
    assert first.model.keys() == second.model.keys()
    for name in first.model:
        if name != "activation":
            np.testing.assert_array_equal(first.model[name], second.model[name])
    np.testing.assert_array_equal(first.losses, second.losses)
    np.testing.assert_array_equal(first.loss_passes, second.loss_passes)


@pytest.mark.parametrize("batch_size", [None, 32])
def test_slicing_and_progress_do_not_change_the_run(moons, monkeypatch, batch_size):
    X, y = moons
    settings = dict(num_passes=1500, loss_every=7, batch_size=batch_size, schedule="inverse")
    monkeypatch.setattr(_slices, "FIRST_SLICE_PASSES", 10**9)  # one kernel call (minibatches: calls of 1000)
    coarse = trainer.train(X, y, 3, **settings)
    monkeypatch.setattr(_slices, "SLICE_SECONDS", 1e-9)  # one pass per kernel call
    monkeypatch.setattr(_slices, "FIRST_SLICE_PASSES", 1)
    fine = trainer.train(X, y, 3, progress=True, **settings)
    assert_runs_identical(coarse, fine)


def test_slices_are_cut_many_times_on_a_long_run(moons, monkeypatch):
    """The loop returns to Python between slices: count the kernel calls."""
    X, y = moons
    calls = []
    original = _backend.CythonNetwork.run

    def counting_run(self, first_pass, num_passes, *rest):
        calls.append((first_pass, num_passes))
        return original(self, first_pass, num_passes, *rest)

    monkeypatch.setattr(_backend.CythonNetwork, "run", counting_run)
    monkeypatch.setattr(_slices, "SLICE_SECONDS", 1e-4)
    trainer.train(X, y, 3, num_passes=3000)
    assert len(calls) > 3
    assert [first for first, _ in calls] == list(np.cumsum([0] + [count for _, count in calls[:-1]]))
    assert sum(count for _, count in calls) == 3000


def test_progress_bar_shows_passes_per_second_and_the_loss(moons, monkeypatch, capsys):
    X, y = moons
    drawn = progress.progress_bar

    def always_drawn(total, description, unit, enabled=None, delay=0):
        return drawn(total, description, unit, enabled=True if enabled is None else enabled, delay=0,
                     mininterval=0, miniters=1)

    monkeypatch.setattr(progress, "progress_bar", always_drawn)
    monkeypatch.setattr(_slices, "SLICE_SECONDS", 1e-4)
    trainer.train(X, y, 3, num_passes=3000, progress=True)
    bar = capsys.readouterr().err
    assert "pass/s" in bar and "loss=" in bar
    run = trainer.train(X, y, 3, num_passes=3000, progress=True, loss_every=3)  # the recorded loss is shown
    assert "loss=%.6f" % run.losses[-1] in capsys.readouterr().err
    trainer.train(X, y, 3, num_passes=3000, progress=False)
    assert capsys.readouterr().err == ""


CHILD = """
import signal
import sys
import fastbp
# a process started in the background by a shell inherits SIGINT ignored, and
# Python then leaves it ignored: take Python's own handler back
signal.signal(signal.SIGINT, signal.default_int_handler)
X, y = fastbp.datasets.make_moons(200, noise=0.2, seed=0)
fastbp.train(X, y, 3, num_passes=20000)  # warm: imports and first calls done
print("training", flush=True)
try:
    fastbp.train(X, y, 3, num_passes=10**7)  # about 20 s: one kernel call without slicing
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(0)
sys.exit(1)
"""


def test_ctrl_c_interrupts_a_long_run_promptly():
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))
    child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "training"
        time.sleep(0.5)  # well inside the long run
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().strip()
        waited = time.perf_counter() - sent
        assert line == "interrupted"
        assert child.wait(CHILD_START_TIMEOUT_SECONDS) == 0
        assert waited < INTERRUPT_BOUND_SECONDS
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize("batch_size, activation", [(None, "tanh"), (None, "relu")])
def test_continuing_from_a_model_is_the_uninterrupted_run(moons, batch_size, activation):
    X, y = moons
    settings = dict(batch_size=batch_size, activation=activation, epsilon=0.005)
    whole = trainer.train(X, y, (4, 3), num_passes=600, **settings)
    first = trainer.train(X, y, (4, 3), num_passes=250, **settings)
    kept = {name: np.copy(value) for name, value in first.model.items() if name != "activation"}
    second = trainer.train(X, y, (4, 3), num_passes=350, initial_model=first.model, **settings)
    for name in kept:
        np.testing.assert_array_equal(first.model[name], kept[name])  # the start is left alone
        np.testing.assert_array_equal(second.model[name], whole.model[name])
    numpy_whole = trainer.train(X, y, (4, 3), num_passes=600, backend="numpy", **settings)
    numpy_first = trainer.train(X, y, (4, 3), num_passes=250, backend="numpy", **settings)
    numpy_kept = {name: np.copy(value) for name, value in numpy_first.model.items() if name != "activation"}
    numpy_second = trainer.train(X, y, (4, 3), num_passes=350, initial_model=numpy_first.model, backend="numpy",
                                 **settings)
    for name in kept:
        # the reference trains in place: on a copy of the start
        np.testing.assert_array_equal(numpy_first.model[name], numpy_kept[name])
        np.testing.assert_array_equal(numpy_second.model[name], numpy_whole.model[name])


def test_continuation_takes_labels_that_miss_a_class(moons):
    X, y = moons
    start = trainer.train(X, y, 3, num_passes=10).model
    only_zeros = y == 0
    trainer.train(X[only_zeros], y[only_zeros], 3, num_passes=5, initial_model=start)
    with pytest.raises(ValueError, match="single class"):
        trainer.train(X[only_zeros], y[only_zeros], 3, num_passes=5)


@pytest.mark.parametrize("change, error, message", [
    (lambda m: m.update(W1=m["W1"].astype(np.float32)), TypeError, "initial_model's arrays must be float64"),
    (lambda m: m.pop("b2"), ValueError, "initial_model must have keys"),
    (lambda m: m.update(W1=np.full_like(m["W1"], np.nan)), ValueError, r"initial_model\['W1'\] contains NaN"),
])
def test_bad_initial_models_are_refused_by_name(moons, change, error, message):
    X, y = moons
    model = trainer.train(X, y, 3, num_passes=1).model
    change(model)
    with pytest.raises(error, match=message):
        trainer.train(X, y, 3, num_passes=1, initial_model=model)


def test_labels_beyond_the_initial_models_classes_are_refused(moons):
    X, y = moons
    model = trainer.train(X, y, 3, num_passes=1).model
    with pytest.raises(ValueError, match="label 2 but the model has only 2 classes"):
        trainer.train(X, y * 2, 3, num_passes=1, initial_model=model)


def test_initial_model_must_match_the_layers_and_activation(moons):
    X, y = moons
    model = trainer.train(X, y, 3, num_passes=1).model
    with pytest.raises(ValueError, match="initial_model has hidden layers"):
        trainer.train(X, y, 4, num_passes=1, initial_model=model)
    with pytest.raises(ValueError, match="initial_model uses activation"):
        trainer.train(X, y, 3, num_passes=1, activation="relu", initial_model=model)
    with pytest.raises(ValueError, match="features"):
        trainer.train(X[:, :1], y, 3, num_passes=1, initial_model=model)
