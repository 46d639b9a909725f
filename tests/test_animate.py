"""`fastbp animate`: an animated GIF of the lecture's training whose frames are
states of the run, spaced to show the early descent and the spikes, ending on
the last two passes."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import fastbp
from fastbp import animate, cli

MIN_FRAMES = 20
# Passes for the quick animation: enough for the early descent (the loss halves
# in the first hundred passes), few enough to render in a few seconds.
QUICK_PASSES = 400
# Level 1 of docs/numerics.md: the compiled and NumPy runs agree to 1e-12 over
# the lecture's first 1000 passes, before any instability.
EARLY_PASSES_RTOL = 1e-12
DIVERGING_PASSES = 100



def test_animate_writes_an_animated_gif(tmp_path, capsys):
    out = tmp_path / "training.gif"
    status = cli.main(["animate", "--passes", str(QUICK_PASSES), "--out", str(out)])
    assert status == 0
    assert str(out) in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.is_animated
        assert gif.n_frames >= MIN_FRAMES
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"))
        gif.seek(gif.n_frames - 1)
        last = np.asarray(gif.convert("RGB"))
    assert np.any(first != last), "the boundary and the loss curve move"


def test_frames_are_states_of_the_run(moons):
    # Expected: the NumPy reference trained for each frame's passes (level 1 agreement).
    X, y = moons
    run, frames = animate.training_frames(X, y, 3, 0.01, QUICK_PASSES, seed=0)
    assert [frame.passes for frame in frames] == animate.frame_passes(run.losses)
    for frame in frames[::5] + frames[-2:]:
        reference_model = fastbp.build_model(X, y, 3, num_passes=frame.passes, backend="numpy")
        for name, value in reference_model.items():
            np.testing.assert_allclose(frame.model[name], value, rtol=0, atol=EARLY_PASSES_RTOL * 10)
        expected_loss = fastbp.reference.calculate_loss(reference_model, X, y, 0.01)
        assert abs(frame.loss - expected_loss) <= EARLY_PASSES_RTOL * expected_loss, frame.passes


def test_frames_are_log_spaced_and_end_one_pass_apart():
    losses = np.linspace(1.0, 0.1, 20000)
    passes = animate.frame_passes(losses)
    assert passes[0] == 1 and passes[-2:] == [19999, 20000]
    assert np.all(np.diff(passes) > 0)
    # About as many frames in each decade: the first hundred passes are not squeezed into one frame.
    decades = np.histogram(passes[:-2], bins=[1, 10, 100, 1000, 10000, 20001])[0]
    assert decades[1] >= 8 and decades[2] >= 8 and decades[3] >= 8


def test_every_spike_of_the_loss_gets_a_frame_at_its_top():
    losses = np.linspace(1.0, 0.1, 5000)
    spikes = {1234: 1.5, 1240: 2.0, 3001: 1.0}  # loss after pass k is losses[k - 1]; the descent is below 0.8
    for passes, loss in spikes.items():
        losses[passes - 1] = loss
    # 1234 and 1240 are one spike (closer than SPIKE_SEPARATION): its top is 1240.
    assert animate.spike_passes(losses) == [1240, 3001]
    assert {1240, 3001} <= set(animate.frame_passes(losses))


def test_the_lectures_spikes_near_passes_1000_to_2000_get_frames(moons):
    # Expected: the spikes found in the test from the run's losses, independently of spike_passes:
    # passes whose loss is more than 1.2 times the lowest loss so far.
    X, y = moons
    losses = fastbp.train(X, y, 3, loss_every=1).losses
    spiking = np.flatnonzero(losses > 1.2 * np.minimum.accumulate(losses)) + 1
    assert len(spiking) and 1000 <= spiking.min() and spiking.max() <= 2000
    framed = [passes for passes in animate.frame_passes(losses) if 1000 <= passes <= 2000]
    assert set(framed) & set(spiking), (framed, spiking)


@pytest.mark.parametrize("arguments", [["animate", "--passes", "1"], ["animate", "--hidden", "0"],
                                       ["animate", "--out", "{directory}"],
                                       ["animate", "--out", "{directory}/missing/training.gif"]])
def test_bad_arguments_exit_2_with_one_line(arguments, tmp_path):
    arguments = [argument.format(directory=tmp_path) for argument in arguments]
    result = subprocess.run([sys.executable, "-m", "fastbp"] + arguments, capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "error" in lines[0], result.stderr


def test_a_diverging_run_is_animated_up_to_its_last_finite_state(tmp_path, capsys):
    # At epsilon 1e6 the loss grows 1e8-fold a pass and the weights overflow within 100 passes.
    X, y = fastbp.datasets.make_moons()
    run, frames = animate.training_frames(X, y, 3, 1e6, DIVERGING_PASSES, seed=0)
    assert run.diverged_at is not None and run.diverged_at < DIVERGING_PASSES
    assert frames[-1].passes == len(run.losses) == run.diverged_at
    assert all(np.all(np.isfinite(value)) for frame in frames for value in frame.model.values())
    out = tmp_path / "diverging.gif"
    assert cli.main(["animate", "--epsilon", "1e6", "--passes", str(DIVERGING_PASSES), "--out", str(out)]) == 0
    with Image.open(out) as gif:
        assert gif.n_frames >= 2
