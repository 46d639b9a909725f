"""The playground's training session (fastbp/playground_app/session.py, student.py): fastbp.train
continued chunk by chunk on a worker thread, without a browser or the web libraries."""

import time
from dataclasses import replace

import numpy as np
import pytest

import fastbp
from fastbp import reference, schedules
from fastbp.exercise import load_backprop
from fastbp.playground_app import session as T
from fastbp.playground_app import settings as S
from fastbp.playground_app.student import StudentRun, usable_with
from repo_paths import EXAMPLES

SOLUTION = EXAMPLES / "backprop_solution.py"
WAIT_SECONDS = 60  # far beyond what the runs below need, even on a busy machine


def wait_for(condition, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


@pytest.fixture
def lecture_session():
    session = T.TrainingSession(replace(S.LECTURE, stop_at=1001, speed=0))
    yield session
    session.close()


def test_the_lecture_preset_prints_the_lectures_losses(lecture_session):
    lecture_session.play()
    wait_for(lambda: lecture_session.view()[2].passes == 1001 and not lecture_session.playing, "1001 passes")
    progress = lecture_session.view()[2]
    # the lecture's printed lines after passes 0 and 1000
    assert ["%f" % loss for _, loss in progress.printed] == ["0.432387", "0.068947"]
    # and, to the bit, what one call of fastbp.train records and returns: the chunks are the same run
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    run = fastbp.train(X, y, 3, num_passes=1001, loss_every=1000)
    assert [pass_index for pass_index, _ in progress.printed] == run.loss_passes.tolist()
    assert [loss for _, loss in progress.printed] == run.losses.tolist()
    for name, value in run.model.items():
        np.testing.assert_array_equal(progress.model[name], value)


def test_one_pass_is_one_pass_of_the_lecture(lecture_session):
    lecture_session.one_pass()
    wait_for(lambda: lecture_session.view()[2].passes == 1, "one pass")
    time.sleep(0.2)  # the worker would run more passes by now if it wrongly went on
    progress = lecture_session.view()[2]
    assert progress.passes == 1
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    model = reference.init_params((2, 3, 2), 0)
    reference.train_pass(model, X, y, 0.01, 0.01)
    for name, value in model.items():  # the compiled pass and the reference's agree to a few ulp
        np.testing.assert_allclose(progress.model[name], value, rtol=1e-12, atol=1e-15)


def test_a_diverging_run_stops_and_says_so():
    # tanh saturates instead; a ReLU network at this step overflows within 50 passes
    session = T.TrainingSession(replace(S.LECTURE, activation="relu", epsilon=50.0, speed=0))
    try:
        session.play()
        wait_for(lambda: session.view()[2].diverged, "the divergence")
        progress = session.view()[2]
        assert "training diverged at pass %d" % progress.passes in progress.diverged
        assert not session.playing
        assert all(np.isfinite(value).all() for name, value in progress.model.items() if name != "activation")
        session.play()  # refused: a diverged run stays stopped until reset
        assert not session.playing
    finally:
        session.close()


def test_closing_ends_the_worker_threads(lecture_session):
    lecture_session.play()
    lecture_session.close()
    lecture_session._worker.join(WAIT_SECONDS)
    lecture_session._sharpness_worker.join(WAIT_SECONDS)
    assert not lecture_session._worker.is_alive() and not lecture_session._sharpness_worker.is_alive()


def test_a_new_step_size_goes_on_from_the_pass_reached(lecture_session):
    lecture_session.play()
    wait_for(lambda: not lecture_session.playing, "the first 1001 passes")
    lecture_session.apply(replace(S.LECTURE, epsilon=0.002, stop_at=1500, speed=0))
    lecture_session.play()
    wait_for(lambda: lecture_session.view()[2].passes == 1500 and not lecture_session.playing, "1500 passes")
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    first = fastbp.train(X, y, 3, num_passes=1001)
    expected = fastbp.train(X, y, 3, num_passes=499, epsilon=0.002, initial_model=first.model).model
    for name, value in expected.items():
        np.testing.assert_array_equal(lecture_session.view()[2].model[name], value)


def test_sharpness_is_measured_and_gives_a_stable_step():
    session = T.TrainingSession(replace(S.LECTURE, stop_at=3000, speed=0))
    try:
        session.play()
        wait_for(lambda: session.view()[2].sharpness, "a sharpness measurement")
        passes, value, limit = session.view()[2].sharpness[0]
        assert passes == 0  # the initial model is measured first
        X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
        model = fastbp.train(X, y, 3, num_passes=passes).model if passes else reference.init_params((2, 3, 2), 0)
        assert value == pytest.approx(fastbp.diagnostics.sharpness(model, X, y, 0.01), rel=1e-6)
        assert limit == pytest.approx(2 / 0.01)
        stable = session.stable_epsilon()
        assert 0.5 / session.view()[2].sharpness[-1][1] < stable <= 1 / session.view()[2].sharpness[-1][1]
    finally:
        session.close()


def test_a_speed_limit_spreads_the_passes_over_time():
    session = T.TrainingSession(replace(S.LECTURE, stop_at=1000, speed=2000))
    try:
        started = time.monotonic()
        session.play()
        wait_for(lambda: session.view()[2].passes == 1000, "1000 passes")
        # at most 2000 passes a second: 1000 passes take half a second at least, however fast the machine
        assert time.monotonic() - started >= 0.5 - 1 / T.SPEED_CHUNKS_PER_SECOND
    finally:
        session.close()


def test_the_sharpness_is_measured_at_fixed_passes_whatever_the_speed():
    passes, spaced = 0, []
    while passes < 250000:
        passes = T.next_sharpness_pass(passes)
        spaced.append(passes)
    assert spaced[:3] == [250, 500, 750] and 20000 in spaced and spaced[spaced.index(20000) + 1] == 22500
    assert 200000 in spaced and spaced[spaced.index(200000) + 1] == 225000


def test_a_continued_schedule_gives_the_rest_of_the_rates():
    schedule = schedules.get("inverse")
    np.testing.assert_array_equal(T.ContinuedSchedule(schedule, 700).rates(0.01, 300), schedule.rates(0.01, 1000)[700:])


def test_the_run_class_appears_after_a_window_of_passes():
    # the lecture's H = 3 run at epsilon 0.01 ends in a period-2 cycle (docs/numerics.md)
    session = T.TrainingSession(replace(S.LECTURE, speed=0))
    try:
        session.play()
        wait_for(lambda: session.view()[2].passes == 20000, "20000 passes")
        assert session.view()[2].run_class == fastbp.diagnostics.PERIOD_2
    finally:
        session.close()


def _student_run(backprop, passes):
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    run = StudentRun(backprop, S.LECTURE, X, y, reference.init_params((2, 3, 2), 0))
    run.follow(0, passes, S.LECTURE)
    while run.behind():
        run.advance()
    return run, X, y


def test_a_correct_students_run_never_parts_from_the_reference():
    run, X, y = _student_run(load_backprop(str(SOLUTION)), 50)
    assert run.parted is None and run.passes == 50 and "equal the reference's" in run.view().summary
    model = reference.init_params((2, 3, 2), 0)
    for _ in range(50):
        reference.train_pass(model, X, y, 0.01, 0.01)
    for name, value in model.items():
        np.testing.assert_allclose(run.model[name], value, rtol=1e-12, atol=1e-15)


def test_a_students_run_is_behind_until_its_view_shows_the_passes_trained(monkeypatch):
    # The page's session (and a test) waits for "not behind()" and then reads view(): the pass that
    # ends the last chunk must keep the run behind until advance has published the view of it.
    # Expected values: the run's own passes; the view must show the model they reached.
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    run = StudentRun(load_backprop(str(SOLUTION)), S.LECTURE, X, y, reference.init_params((2, 3, 2), 0))
    assert not run.behind()
    run.follow(0, 3, S.LECTURE)
    seen_before_publishing = []
    computed_loss = reference.calculate_loss

    def loss_after_the_passes(*args):  # advance computes the loss after its passes, then publishes
        seen_before_publishing.append((run.passes, run.behind()))
        return computed_loss(*args)

    monkeypatch.setattr(reference, "calculate_loss", loss_after_the_passes)
    while run.behind():
        run.advance()
    assert seen_before_publishing[-1] == (3, True)
    assert run.passes == 3 and run.view().curve_passes[-1] == 3
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(run.view().model[name], run.model[name])


def test_a_wrong_students_run_parts_at_the_wrong_gradient(tmp_path):
    buggy = tmp_path / "no_l2.py"
    buggy.write_text(SOLUTION.read_text().replace("dW1 += reg_lambda * W1", "pass"))
    run, _, _ = _student_run(load_backprop(str(buggy)), 5)
    assert run.parted[:2] == (0, "dW1")
    assert "the runs part at pass 0: your dW1" in run.view().summary


def test_a_student_function_that_raises_is_reported(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):\n    return 1 / 0\n")
    run, _, _ = _student_run(load_backprop(str(broken)), 5)
    assert "your backprop failed at pass 0" in run.view().summary and "ZeroDivisionError" in run.view().summary


def test_the_student_trains_only_networks_with_one_tanh_hidden_layer():
    assert usable_with(S.LECTURE) == ""
    assert "cannot train this network: the network has 2 hidden layers" in usable_with(replace(S.LECTURE,
                                                                                                hidden=(3, 3)))
    assert "the activation is relu" in usable_with(replace(S.LECTURE, activation="relu"))
