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
    assert [frame.pass_index for frame in frames] == animate.frame_passes(run.losses)
    for frame in frames[::5] + frames[-2:]:
        # the state after pass i is the one i + 1 passes produce
        reference_model = fastbp.build_model(X, y, 3, num_passes=frame.pass_index + 1, backend="numpy")
        for name, value in reference_model.items():
            np.testing.assert_allclose(frame.model[name], value, rtol=0, atol=EARLY_PASSES_RTOL * 10)
        expected_loss = fastbp.reference.calculate_loss(reference_model, X, y, 0.01)
        assert abs(frame.loss - expected_loss) <= EARLY_PASSES_RTOL * expected_loss, frame.pass_index


def test_frames_number_passes_as_the_lecture_does(moons, capsys):
    # Expected: the lecture's printed lines "Loss after iteration i: ..." (i from 0); the first is
    # the lecture's published 0.432387.
    X, y = moons
    fastbp.build_model(X, y, 3, num_passes=1001, print_loss=True)
    printed = dict(line.rsplit(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert printed["Loss after iteration 0"] == "0.432387"
    run, frames = animate.training_frames(X, y, 3, 0.01, 1001, seed=0)
    by_pass = {frame.pass_index: frame for frame in frames}
    assert frames[0].pass_index == 0 and frames[-1].pass_index == 1000
    for i in (0, 1000):
        assert animate.loss_title(by_pass[i]) == "loss after pass %d: %s" % (i, printed["Loss after iteration %d" % i])
        assert by_pass[i].loss == run.losses[list(run.loss_passes).index(i)]


def test_frames_are_log_spaced_and_end_one_pass_apart():
    losses = np.linspace(1.0, 0.1, 20000)
    passes = animate.frame_passes(losses)
    assert passes[0] == 0 and passes[-2:] == [19998, 19999]
    assert np.all(np.diff(passes) > 0)
    # About as many frames in each decade: the first hundred passes are not squeezed into one frame.
    decades = np.histogram(np.array(passes[:-2]) + 1, bins=[1, 10, 100, 1000, 10000, 20001])[0]
    assert decades[1] >= 8 and decades[2] >= 8 and decades[3] >= 8


def test_every_spike_of_the_loss_gets_a_frame_at_its_top():
    losses = np.linspace(1.0, 0.1, 5000)
    spikes = {1234: 1.5, 1240: 2.0, 3001: 1.0}  # the loss after pass i is losses[i]; the descent is below 0.8
    for pass_index, loss in spikes.items():
        losses[pass_index] = loss
    # 1234 and 1240 are one spike (closer than SPIKE_SEPARATION): its top is 1240.
    assert animate.spike_passes(losses) == [1240, 3001]
    assert {1240, 3001} <= set(animate.frame_passes(losses))


def test_the_lectures_spikes_near_passes_1000_to_2000_get_frames(moons):
    # Expected: the spikes found in the test from the run's losses, independently of spike_passes:
    # passes whose loss is more than 1.2 times the lowest loss so far.
    X, y = moons
    losses = fastbp.train(X, y, 3, loss_every=1).losses
    spiking = np.flatnonzero(losses > 1.2 * np.minimum.accumulate(losses))
    assert len(spiking) and 1000 <= spiking.min() and spiking.max() <= 2000
    framed = [passes for passes in animate.frame_passes(losses) if 1000 <= passes <= 2000]
    assert set(framed) & set(spiking), (framed, spiking)


@pytest.mark.parametrize("arguments", [["animate", "--passes", "1"], ["animate", "--hidden", "0"],
                                       ["animate", "--seed", "-1"], ["animate", "--out", "{directory}"],
                                       ["animate", "--out", "{file}/training.gif"]])
def test_bad_arguments_exit_2_with_one_line(arguments, tmp_path):
    (tmp_path / "a-file").write_text("")
    arguments = [argument.format(directory=tmp_path, file=tmp_path / "a-file") for argument in arguments]
    result = subprocess.run([sys.executable, "-m", "fastbp"] + arguments, capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "error" in lines[0], result.stderr


def test_a_diverging_run_is_animated_up_to_its_last_finite_state(tmp_path, capsys):
    # At epsilon 1e6 the loss grows 1e8-fold a pass and the weights overflow within 100 passes.
    X, y = fastbp.datasets.make_moons()
    run, frames = animate.training_frames(X, y, 3, 1e6, DIVERGING_PASSES, seed=0)
    assert run.diverged_at is not None and run.diverged_at < DIVERGING_PASSES
    assert frames[-1].pass_index == len(run.losses) - 1 == run.diverged_at - 1
    assert all(np.all(np.isfinite(value)) for frame in frames for value in frame.model.values())
    out = tmp_path / "diverging.gif"
    assert cli.main(["animate", "--epsilon", "1e6", "--passes", str(DIVERGING_PASSES), "--out", str(out)]) == 0
    with Image.open(out) as gif:
        assert gif.n_frames >= 2


def test_out_creates_its_folder_and_seed_changes_the_data(tmp_path, capsys):
    out = tmp_path / "new" / "folder" / "training.gif"
    assert cli.main(["animate", "--passes", "20", "--seed", "3", "--out", str(out)]) == 0
    assert out.exists() and "seed 3" in capsys.readouterr().out
    with Image.open(out) as gif:
        seeded = np.asarray(gif.convert("RGB"))
    default = tmp_path / "default.gif"
    assert cli.main(["animate", "--passes", "20", "--out", str(default)]) == 0
    with Image.open(default) as gif:
        assert np.any(np.asarray(gif.convert("RGB")) != seeded), "another seed draws other data"


@pytest.fixture(scope="module")
def quick_figure(moons):
    X, y = moons
    run, frames = animate.training_frames(X, y, 3, 0.01, QUICK_PASSES, seed=0)
    fig, draw, shown = animate.build_figure(X, y, run, frames, "quick")
    return fig, draw, shown, run, frames


def test_the_log_axes_carry_readable_tick_labels(quick_figure):
    fig, draw, _, _, _ = quick_figure
    draw(0)
    fig.canvas.draw()
    loss_ax = fig.axes[1]
    low, high = loss_ax.get_ylim()
    shown = [tick.get_text() for tick in loss_ax.yaxis.get_ticklabels()
             if tick.get_text() and low <= tick.get_position()[1] <= high]
    assert len(shown) >= 4, shown  # the quick run's losses span 0.1-0.43: less than a decade
    assert all(float(text) > 0 for text in shown)
    passes = [tick.get_text() for tick in loss_ax.xaxis.get_ticklabels() if tick.get_text()]
    assert {"0", "1", "10", "100"} <= set(passes), passes


def test_the_first_marker_and_the_zoom_hide_nothing(quick_figure):
    fig, draw, _, run, frames = quick_figure
    draw(0)
    loss_ax = fig.axes[1]
    marker = loss_ax.get_lines()[1]
    assert not marker.get_clip_on()
    low, high = loss_ax.get_ylim()
    assert low < frames[0].loss < high
    # every point of the curve lies below the band of the zoom
    points = loss_ax.transLimits.transform(loss_ax.transScale.transform(np.column_stack(
        [np.arange(len(run.losses)), run.losses])))
    assert points[:, 1].max() < animate.ZOOM_BOUNDS[1], points[:, 1].max()


def test_the_closing_frames_show_what_changes_between_the_last_two_passes(moons, quick_figure):
    X, y = moons
    fig, draw, shown, _, frames = quick_figure
    last_two = frames[-2:]
    flips = np.count_nonzero(fastbp.predict(last_two[0].model, X) != fastbp.predict(last_two[1].model, X))
    draw(len(shown) - 1)
    boundary_ax = fig.axes[0]
    assert "%d point" % flips in boundary_ax.get_title()
    assert "the boundary after pass %d" % last_two[0].pass_index in boundary_ax.get_title()
    rings = [collection for collection in boundary_ax.collections if collection.get_label().startswith("label flips")]
    assert len(rings) == 1 and rings[0].get_visible() and len(rings[0].get_offsets()) == flips
    draw(0)
    assert not rings[0].get_visible()


def test_spike_passes_parameters_each_change_the_tops():
    losses = np.linspace(1.0, 0.1, 3000)
    for pass_index, loss in {500: 1.3, 530: 1.6, 2000: 0.5}.items():
        losses[pass_index] = loss
    # expected from the definition: the peaks above factor x the lowest loss so far (1.53, 1.90
    # and 1.25 times it here), merged when at most `separation` passes apart, the `limit` highest kept
    assert animate.spike_passes(losses) == [500, 530, 2000]
    assert animate.spike_passes(losses, separation=29) == [500, 530, 2000]
    assert animate.spike_passes(losses, separation=30) == [530, 2000]
    assert animate.spike_passes(losses, limit=2) == [500, 530]
    assert animate.spike_passes(losses, factor=1.3) == [500, 530]
    assert animate.spike_passes(losses, factor=2.0) == []


def test_frame_passes_spacing_follows_log_frames():
    losses = np.linspace(1.0, 0.1, 20000)
    few, many = animate.frame_passes(losses, log_frames=10), animate.frame_passes(losses, log_frames=100)
    assert len(few) < 14 < 60 < len(many)
    assert few[0] == many[0] == 0 and few[-2:] == many[-2:] == [19998, 19999]


def test_animate_hidden_reaches_the_network(tmp_path):
    X, y = fastbp.datasets.make_moons()
    run, frames = animate.training_frames(X, y, 5, 0.01, 20, seed=0)
    assert frames[-1].model["W1"].shape == (2, 5)


def test_the_commands_help_does_not_say_the_loss_grows(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "growing" not in capsys.readouterr().out
