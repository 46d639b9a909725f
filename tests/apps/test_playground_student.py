"""A student's backprop beside the page's run on any network its signature can train
(fastbp/playground_app/student.py): one tanh hidden layer of any width, any inputs and
classes, any batch size, schedule and precision; and a clear message on every other network.

Expected values: the page's own run (fastbp.train, continued chunk by chunk, whose agreement
with the NumPy reference tests/apps/test_playground_session.py and the kernel tests establish); a
correct function must follow it, and examples/backprop_solution.py is correct (fastbp check).
"""

import time
from dataclasses import replace
import numpy as np
import pytest

from fastbp.exercise import load_backprop
from fastbp.playground_app import session as T
from fastbp.playground_app import settings as S
from fastbp.playground_app.student import student_factory, usable_with
from repo_paths import EXAMPLES

SOLUTION = EXAMPLES / "backprop_solution.py"
WAIT_SECONDS = 120  # far beyond what the runs below need, even on a busy machine
# The student's NumPy steps and the page's compiled ones differ by a few ulp per step (the order of
# their sums); 60 steps of a run that is not chaotic leave them within this of each other. A run
# with other batches or step sizes differs from the page's by 1e-3 and more after a few passes.
FOLLOW_RTOL = 1e-9
# A float32 page rounds every weight to 6e-8 of itself at each step; 30 steps keep its run within
# this of the student's float64 run, which a run on other batches or steps would leave far behind.
FLOAT32_FOLLOW_RTOL = 1e-4
# a network the lecture's page never had: wider, three classes, five input features, minibatches
# of 40 out of 240 training points, a decaying step
WIDE = replace(S.LECTURE, dataset="blobs", samples=300, test_percent=20, hidden=(7,),
               features=("x1", "x2", "x1^2", "x2^2", "x1*x2"), batch=40, schedule="inverse", epsilon=0.005,
               stop_at=20, speed=0)


def wait_for(condition, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


def backprop_from(tmp_path, mistake=None):
    source = SOLUTION.read_text()
    if mistake:
        source = source.replace(*mistake)
    path = tmp_path / "student.py"
    path.write_text(source)
    return load_backprop(str(path))


def run_session(settings, backprop, more=()):
    """The page's session with the student beside it, trained to settings.stop_at, then on with each
    settings record of ``more`` to its stop_at; -> (page's Progress, the student's view, session)."""
    session = T.TrainingSession(settings, student_factory(backprop))
    try:
        for current in (settings,) + tuple(more):
            if current is not settings:
                session.apply(current)
            session.play()
            stop_at = current.stop_at
            wait_for(lambda: session.view()[2].passes == stop_at and not session.playing,  # noqa: B023 (waited for here)
                     "the page's run")
        wait_for(lambda: not session._student.behind(), "the student's run")
        _, _, progress, student = session.view()
        return progress, student, session._student
    finally:
        session.close()


def test_a_correct_function_follows_the_page_on_a_wider_network_with_minibatches_and_changes(tmp_path):
    assert usable_with(WIDE) == ""
    # then a new step size, L2 strength, batch size and schedule while it trains, as a user changes them
    changed = replace(WIDE, epsilon=0.003, l2=0.02, batch=64, schedule="constant", stop_at=40)
    progress, view, run = run_session(WIDE, backprop_from(tmp_path), more=(changed,))
    assert run.parted is None and run.passes == 40 and "equal the reference's" in view.summary
    for name in ("W1", "b1", "W2", "b2"):
        assert view.model[name].shape == progress.model[name].shape
        np.testing.assert_allclose(view.model[name], progress.model[name], rtol=FOLLOW_RTOL,
                                   atol=FOLLOW_RTOL * np.abs(progress.model[name]).max(), err_msg=name)
    assert view.curve_passes[-1] == 40
    assert view.curve_losses[-1] == pytest.approx(progress.curve_train[-1], rel=FOLLOW_RTOL)


def test_a_correct_function_follows_a_float32_page_in_float64(tmp_path):
    settings = replace(WIDE, dtype="float32", batch=0, schedule="constant", stop_at=30)
    progress, view, run = run_session(settings, backprop_from(tmp_path))
    assert run.parted is None and run.passes == 30
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(view.model[name], progress.model[name], rtol=0,
                                   atol=FLOAT32_FOLLOW_RTOL * np.abs(progress.model[name]).max(), err_msg=name)


def test_a_wrong_function_parts_from_a_wider_networks_run_at_its_wrong_gradient(tmp_path):
    backprop = backprop_from(tmp_path, ("dW1 += reg_lambda * W1", "pass"))  # the L2 term of dW1 forgotten
    _, view, run = run_session(WIDE, backprop)
    assert run.parted[:2] == (0, "dW1")
    assert "the runs part at pass 0: your dW1" in view.summary


@pytest.mark.parametrize("change, words", [
    (dict(hidden=(5, 4)), "the network has 2 hidden layers"),
    (dict(activation="relu"), "the activation is relu"),
    (dict(activation="sigmoid"), "the activation is sigmoid"),
])
def test_a_network_the_function_cannot_train_gets_a_message_and_no_run(tmp_path, change, words):
    settings = replace(WIDE, **change)
    progress, view, run = run_session(settings, backprop_from(tmp_path))
    assert progress.passes == WIDE.stop_at  # the page's own run trains as ever
    assert run.passes == 0 and view.curve_passes == []
    assert view.summary.startswith("your backprop cannot train this network: ") and words in view.summary
    assert "one tanh hidden layer" in view.summary


def test_the_page_shows_the_message_for_a_network_the_function_cannot_train(tmp_path):
    pytest.importorskip("panel", reason='the playground\'s extra is not installed (pip install "fastbp[playground]")')
    from fastbp.playground_app.layout import Page

    page = Page({"activation": "sigmoid"}, student_factory(backprop_from(tmp_path)), "the checker's verdict")
    try:
        page.redraw()
        assert "your backprop cannot train this network: the activation is sigmoid" in page.student_text.object
        page.buttons["lecture"].clicks += 1  # back to the lecture's network: the message goes
        page.redraw()
        assert "cannot train" not in page.student_text.object and "has trained 0 passes" in page.student_text.object
    finally:
        page.close()
