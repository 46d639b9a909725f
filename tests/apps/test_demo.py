"""`fastbp demo` end to end: the files it promises, the lecture's printed losses,
the stability report, its options' effects, its accuracies against an
independent computation, clean failures on bad arguments, and pictures that
read at a glance (axis labels, a legend of the classes, samples with a dark
edge in colour-blind-safe colours on pale regions, smooth boundaries, titles
with the setting and the accuracy, accuracy against H in the sweep's eighth
panel, the last passes of the loss one by one)."""

import contextlib
import io
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb

import fastbp
from fastbp import cli, demo, diagnostics, lecture, plot, reference

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# No side of a demo picture is shorter than 5 inches, at matplotlib's default 100 dpi;
# the smallest of them compresses to ~55 kB.
MIN_PNG_PIXELS = 400
MIN_PNG_BYTES = 10_000
PROMISED_FILES = ["data.png", "logistic_regression.png", "decision_boundary_h3.png", "loss_curve_h3.png",
                  "hidden_layer_sweep.png", "spiral_3_classes.png"]  # in the order written
# What gradient descent does at epsilon 0.01 on the lecture's runs: regression
# values of this code, measured on 2026-11-28 (docs/numerics.md describes them;
# the NumPy reference's runs fall into the same classes).
LECTURE_RUN_CLASSES = {1: "period-2 cycle", 2: "irregular", 3: "period-2 cycle", 4: "irregular",
                       5: "converged", 20: "converged", 50: "converged"}
# The demo prints losses with 6 decimals and accuracies with 3: a printed value
# is within half a unit of its last digit of the true one. One sample of 200 is
# 0.005 of accuracy, so the accuracy bound tells every count apart.
LOSS_PRINT_ATOL = 0.5e-6
ACCURACY_PRINT_ATOL = 0.5e-3
# A short demo with every option away from its default; its runs are 300
# passes at a stable step size, which the NumPy reference reproduces to
# rounding (docs/numerics.md, level 3 before any instability).
SHORT_DEMO = dict(hidden=6, passes=300, epsilon=0.002, seed=1)


def run_cli(argv):
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = cli.main(argv)
    return status, output.getvalue()


def summary_rows(printed):
    """-> {model name: (train accuracy, test accuracy, final loss or None)} from the printed summary."""
    summary = printed.split("Summary")[1].split("Files written:")[0]
    rows = {}
    for line in summary.splitlines():
        match = re.match(r"\s+(Logistic Regression|network, H = \d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+|-)\s", line)
        if match:
            name, train, test, loss = match.groups()
            rows[name] = (float(train), float(test), None if loss == "-" else float(loss))
    return rows


@pytest.fixture(scope="module")
def short_demo_with_figures(tmp_path_factory):
    """The short demo, the Figure it saved under each file name, and the grids
    (xx, yy) its decision boundaries were computed on."""
    out = tmp_path_factory.mktemp("short-demo")
    figures, grids = {}, []
    real_save, real_grid = demo._save_figure, plot.decision_grid

    def recording_save(fig, path):
        figures[Path(path).name] = fig
        real_save(fig, path)

    def recording_grid(*args, **kwargs):
        xx, yy, Z = real_grid(*args, **kwargs)
        grids.append((xx, yy))
        return xx, yy, Z

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "_save_figure", recording_save)
        patch.setattr(plot, "decision_grid", recording_grid)
        status, printed = run_cli(["demo", "--out", str(out)]
                                  + ["--%s=%s" % option for option in SHORT_DEMO.items()])
    return status, printed, out, figures, grids


@pytest.fixture(scope="module")
def short_demo(short_demo_with_figures):
    return short_demo_with_figures[:3]


@pytest.fixture(scope="module")
def lecture_demo(tmp_path_factory):
    """The demo with its defaults, writing into a directory it has to create."""
    out = tmp_path_factory.mktemp("demo") / "new" / "fastbp-demo"
    status, printed = run_cli(["demo", "--out", str(out)])
    return status, printed, out


def png_size(path):
    """-> (width, height) from the IHDR chunk, which a PNG must open with."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, "%s is not a PNG" % path
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_demo_writes_every_promised_picture_and_lists_it(lecture_demo):
    status, printed, out = lecture_demo
    assert status == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(PROMISED_FILES)
    listed = printed.split("Files written:")[1].split()
    assert listed == [str(out / name) for name in PROMISED_FILES]
    for name in PROMISED_FILES:
        path = out / name
        assert path.stat().st_size >= MIN_PNG_BYTES, name
        assert min(png_size(path)) >= MIN_PNG_PIXELS, name


def test_demo_prints_the_lectures_losses(lecture_demo, capsys):
    _, printed, _ = lecture_demo
    X, y = fastbp.datasets.make_moons()
    fastbp.build_model(X, y, 3, print_loss=True)
    expected = capsys.readouterr().out.splitlines()
    assert len(expected) == 20
    assert [line for line in printed.splitlines() if line.startswith("Loss after iteration")] == expected


def test_demo_reports_the_lectures_stability_classes(lecture_demo):
    _, printed, _ = lecture_demo
    reported = {int(hidden): run_class for hidden, run_class
                in re.findall(r"H = +(\d+): sharpness [\d.]+ [<>=]+ 2/epsilon = 200: (.+)", printed)}
    assert reported == LECTURE_RUN_CLASSES


def test_demo_prints_a_summary_row_per_model(lecture_demo, lecture_reference_cycle):
    _, printed, _ = lecture_demo
    rows = summary_rows(printed)
    assert sorted(rows) == sorted(["Logistic Regression"] + ["network, H = %d" % h for h in LECTURE_RUN_CLASSES])
    # Expected: the NumPy reference's 2-cycle (level 3): the lecture's H = 3 run
    # ends on one of its two points, whichever phase rounding picks.
    final_loss = rows["network, H = 3"][2]
    assert min(abs(final_loss - loss) for loss in lecture_reference_cycle.losses) <= LOSS_PRINT_ATOL, final_loss


def test_short_demo_writes_its_pictures(short_demo):
    status, printed, out = short_demo
    assert status == 0
    assert "H =  6: sharpness" in printed and "2/epsilon = 1000" in printed
    assert {"decision_boundary_h6.png", "loss_curve_h6.png", "hidden_layer_sweep.png"} <= {
        path.name for path in out.iterdir()}


@pytest.fixture(scope="module")
def short_demo_expected():
    """The short demo recomputed independently: the data of its seed, every network
    trained by the NumPy backend with its options, accuracies by reference.predict,
    the baseline fitted here."""
    import warnings

    from sklearn.linear_model import LogisticRegressionCV

    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=SHORT_DEMO["seed"])
    X_test, y_test = fastbp.datasets.make_moons(200, noise=0.20, seed=SHORT_DEMO["seed"] + 1)
    expected = {}
    first_losses = {}
    for hidden in sorted(set(demo.SWEEP_HIDDEN_SIZES) | {SHORT_DEMO["hidden"]}):
        run = fastbp.train(X, y, hidden, num_passes=SHORT_DEMO["passes"], epsilon=SHORT_DEMO["epsilon"],
                           seed=SHORT_DEMO["seed"], backend="numpy", loss_every=SHORT_DEMO["passes"])
        first_losses[hidden] = run.losses[0]
        expected["network, H = %d" % hidden] = (np.mean(reference.predict(run.model, X) == y),
                                               np.mean(reference.predict(run.model, X_test) == y_test),
                                               reference.calculate_loss(run.model, X, y, 0.01))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        logistic = LogisticRegressionCV().fit(X, y)
    expected["Logistic Regression"] = (np.mean(logistic.predict(X) == y), np.mean(logistic.predict(X_test) == y_test),
                                       None)
    return expected, first_losses


def test_short_demo_options_take_effect(short_demo, short_demo_expected):
    # Expected: the NumPy reference trained with the demo's --hidden, --passes,
    # --epsilon and --seed (data, initial weights); any option ignored changes
    # these losses far beyond the print's rounding.
    _, printed, _ = short_demo
    expected, first_losses = short_demo_expected
    loss_lines = [line for line in printed.splitlines() if line.startswith("Loss after iteration")]
    assert len(loss_lines) == 1 and loss_lines[0].startswith("Loss after iteration 0: ")
    assert abs(float(loss_lines[0].split(": ")[1]) - first_losses[SHORT_DEMO["hidden"]]) <= LOSS_PRINT_ATOL
    assert "drawn with seed %d" % (SHORT_DEMO["seed"] + 1) in printed
    rows = summary_rows(printed)
    assert sorted(rows) == sorted(expected)
    for name, (_, _, loss) in expected.items():
        if loss is not None:
            assert abs(rows[name][2] - loss) <= LOSS_PRINT_ATOL, "%s: final loss %s, expected %.7f" % (
                name, rows[name][2], loss)


def test_short_demo_accuracies(short_demo, short_demo_expected):
    # Expected: accuracies computed in the test (short_demo_expected), on the
    # training data and on the fresh test sample.
    _, printed, _ = short_demo
    expected, _ = short_demo_expected
    rows = summary_rows(printed)
    for name, (train, test, _) in expected.items():
        assert abs(rows[name][0] - train) <= ACCURACY_PRINT_ATOL, "%s train accuracy %s, expected %.4f" % (
            name, rows[name][0], train)
        assert abs(rows[name][1] - test) <= ACCURACY_PRINT_ATOL, "%s test accuracy %s, expected %.4f" % (
            name, rows[name][1], test)


def test_no_subcommand_prints_the_usage_and_exits_2():
    result = subprocess.run([sys.executable, "-m", "fastbp"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: fastbp")
    for name in ("demo", "check", "animate"):
        assert name in result.stderr


def test_demo_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    for option in ("--out", "--hidden", "--passes", "--seed", "--epsilon"):
        assert option in printed
    assert "at least %d" % lecture.MIN_PASSES in " ".join(printed.split())
    with pytest.raises(SystemExit):
        cli.main(["demo", "--passes", str(lecture.MIN_PASSES - 1)])
    assert "must be >= %d" % lecture.MIN_PASSES in capsys.readouterr().err


@pytest.fixture
def existing_file(tmp_path):
    path = tmp_path / "taken.png"
    path.write_bytes(b"not a directory")
    return path


@pytest.mark.parametrize("arguments", [["demo", "--hidden", "0"], ["demo", "--passes", "-5"],
                                       ["demo", "--out", "{existing_file}"], ["frobnicate"],
                                       ["demo", "--epsilon", "nan"], ["demo", "--seed", "three"],
                                       # the test sample's seed, seed + 1, would pass RandomState's limit
                                       ["demo", "--seed", str(fastbp.trainer.MAX_SEED)]])
def test_bad_arguments_exit_2_with_one_line(arguments, existing_file):
    arguments = [argument.format(existing_file=existing_file) for argument in arguments]
    result = subprocess.run([sys.executable, "-m", "fastbp"] + arguments, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert existing_file.read_bytes() == b"not a directory"


def test_console_script_is_installed():
    from importlib.metadata import entry_points

    scripts = {entry.name: entry.value for entry in entry_points(group="console_scripts")}
    assert scripts["fastbp"] == "fastbp.cli:main"


# ---------------------------------------------------------------- the pictures

# The Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), written
# out here independently of fastbp.plot: blue, orange, bluish green, ...
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"]
# An edge this dark (mean channel) outlines a sample on any of the regions' pale tints.
MAX_EDGE_BRIGHTNESS = 0.25
# A region's tint is at least this much brighter (mean channel) than its class's
# sample colour: a blue sample must not vanish on the blue region.
MIN_REGION_CONTRAST = 0.25
BOUNDARY_PICTURES = ["logistic_regression.png", "decision_boundary_h6.png", "spiral_3_classes.png"]
ACCURACY_IN_TITLE = re.compile(r"training accuracy \d\.\d{3}")


def brightness(color):
    return float(np.mean(to_rgb(color)))


@pytest.fixture(scope="module")
def figures(short_demo_with_figures):
    return short_demo_with_figures[3]


def data_axes(figures):
    """Every Axes of the demo that shows samples: (picture name, Axes)."""
    return [(name, ax) for name, fig in figures.items() for ax in fig.axes
            if any(collection.get_offsets().shape[0] > 0 and collection.get_array() is not None
                   for collection in ax.collections if hasattr(collection, "get_sizes"))]


def test_every_picture_is_saved_and_every_data_panel_is_labelled(figures):
    assert sorted(figures) == sorted(["data.png", "logistic_regression.png", "decision_boundary_h6.png",
                                      "loss_curve_h6.png", "hidden_layer_sweep.png", "spiral_3_classes.png"])
    panels = data_axes(figures)
    assert len(panels) == 1 + 3 + len(demo.SWEEP_HIDDEN_SIZES)
    for name, ax in panels:
        assert ax.get_xlabel() and ax.get_ylabel(), name
        legend = ax.get_legend()
        assert legend is not None, name
        labels = [text.get_text() for text in legend.get_texts()]
        num_classes = 3 if name == "spiral_3_classes.png" else 2
        assert labels == ["class %d" % label for label in range(num_classes)], name


def test_samples_have_a_dark_edge_and_okabe_ito_colours(figures):
    for name, ax in data_axes(figures):
        samples = ax.collections[-1]
        labels = np.asarray(samples.get_array(), dtype=int)
        faces = samples.get_facecolors()[:, :3]
        for label in np.unique(labels):
            np.testing.assert_allclose(faces[labels == label], [to_rgb(OKABE_ITO[label])] * np.sum(labels == label),
                                       atol=1e-6, err_msg=name)
        edges = samples.get_edgecolors()
        assert len(edges) and all(brightness(edge[:3]) <= MAX_EDGE_BRIGHTNESS for edge in edges), name


def test_regions_are_pale_tints_that_samples_stand_out_from(figures):
    for name in BOUNDARY_PICTURES:
        ax = figures[name].axes[0]
        filled = [c for c in ax.collections if getattr(c, "filled", False)]
        assert len(filled) == 1, name
        fill = filled[0]
        num_classes = len(fill.levels) - 1
        # Levels halfway between the labels: one flat colour per class, no bands at the boundary.
        np.testing.assert_array_equal(fill.levels, np.arange(num_classes + 1) - 0.5)
        for label, region in enumerate(fill.get_facecolor()[:, :3]):
            assert brightness(region) - brightness(OKABE_ITO[label]) >= MIN_REGION_CONTRAST, (name, label)
        lines = [c for c in ax.collections if hasattr(c, "levels") and not getattr(c, "filled", True)]
        assert len(lines) == 1, "%s: the boundary is drawn as a line" % name


def test_every_boundary_grid_has_a_point_per_pixel(figures, short_demo_with_figures):
    # A boundary traced on a grid coarser than the pixels shows the grid's corners as stair steps.
    grids = short_demo_with_figures[4]
    boundary_axes = [ax for _, ax in data_axes(figures) if any(getattr(c, "filled", False) for c in ax.collections)]
    assert len(boundary_axes) == 3 + len(demo.SWEEP_HIDDEN_SIZES)
    for ax in boundary_axes:
        box = ax.get_window_extent()
        xx, yy = next((xx, yy) for xx, yy in grids
                      if np.allclose(ax.get_xlim(), (xx.min(), xx.max())) and
                      np.allclose(ax.get_ylim(), (yy.min(), yy.max())))
        assert xx.shape[1] >= box.width and xx.shape[0] >= box.height, (xx.shape, box.width, box.height)


def test_titles_give_the_setting_and_the_accuracy(figures):
    titles = {name: " ".join(ax.get_title() for ax in fig.axes) for name, fig in figures.items()}
    assert "seed 1" in titles["data.png"]
    for name in BOUNDARY_PICTURES:
        assert ACCURACY_IN_TITLE.search(titles[name]), name
    for name in ("decision_boundary_h6.png", "loss_curve_h6.png"):
        assert "epsilon 0.002" in titles[name] and "300 passes" in titles[name], name
    assert "test accuracy" in titles["decision_boundary_h6.png"]
    sweep = figures["hidden_layer_sweep.png"]
    for size in demo.SWEEP_HIDDEN_SIZES:
        assert any(ax.get_title().startswith("H = %d\n" % size) and ACCURACY_IN_TITLE.search(ax.get_title())
                   for ax in sweep.axes), size
    assert "epsilon 0.002" in sweep._suptitle.get_text()


def test_the_eighth_sweep_panel_plots_accuracy_against_H(figures, short_demo_expected):
    # Expected: accuracies computed by the test from the NumPy backend (test_demo.short_demo_expected).
    expected, _ = short_demo_expected
    sweep = figures["hidden_layer_sweep.png"]
    assert len(sweep.axes) == 8
    panel = sweep.axes[7]
    assert "H" in panel.get_xlabel() and "accuracy" in panel.get_ylabel()
    assert [text.get_text() for text in panel.get_xticklabels()] == [str(h) for h in demo.SWEEP_HIDDEN_SIZES]
    lines = {line.get_label(): line.get_ydata() for line in panel.get_lines()}
    assert sorted(lines) == ["test accuracy", "training accuracy"]
    for column, label in enumerate(("training accuracy", "test accuracy")):
        np.testing.assert_allclose(lines[label], [expected["network, H = %d" % h][column]
                                                  for h in demo.SWEEP_HIDDEN_SIZES])
    assert panel.get_legend() is not None
    # neither line is drawn in a class's colour, so neither reads as a class
    for line in panel.get_lines():
        assert to_rgb(line.get_color()) not in {to_rgb(color) for color in OKABE_ITO}, line.get_label()


def test_the_loss_curve_shows_the_last_passes_one_by_one(figures):
    whole, last = figures["loss_curve_h6.png"].axes
    passes = last.get_lines()[0].get_xdata()
    first_shown = SHORT_DEMO["passes"] - demo.LAST_PASSES_SHOWN
    np.testing.assert_array_equal(passes, np.arange(first_shown, SHORT_DEMO["passes"]))
    assert last.get_lines()[0].get_marker() not in (None, "None", "")
    assert len(whole.get_lines()[0].get_xdata()) == SHORT_DEMO["passes"]


def test_the_loss_curve_gives_the_descent_room_and_plain_labels(figures):
    whole, last = figures["loss_curve_h6.png"].axes
    assert whole.get_xscale() == "symlog" and whole.get_yscale() == "log"
    figures["loss_curve_h6.png"].canvas.draw()
    low, high = whole.get_ylim()
    labels = [tick.get_text() for tick in whole.yaxis.get_ticklabels()
              if tick.get_text() and low <= tick.get_position()[1] <= high]
    assert len(labels) >= 3, labels


def test_a_converged_runs_last_losses_are_labelled_without_an_offset():
    # A converged run's last losses differ in the 7th digit: matplotlib would label the
    # ticks 4.5 .. 9.5 under an offset "1e-8+6.78725e-2"; the axis must show the losses themselves.
    passes = 1000
    losses = 0.0678825 - 1e-8 * np.arange(passes)
    run = fastbp.TrainingRun({}, np.arange(passes), losses)
    result = demo.NetworkResult(3, run, 0.1, 100.0, diagnostics.CONVERGED)
    fig = demo.loss_figure(result, demo.Setting(0.002, passes, 0))
    fig.canvas.draw()
    last = fig.axes[1]
    assert last.yaxis.get_offset_text().get_text() == ""
    values = [float(tick.get_text().replace("\u2212", "-")) for tick in last.yaxis.get_ticklabels() if tick.get_text()]
    assert values and all(0.0678 < value < 0.0680 for value in values), values


@pytest.mark.parametrize("run_class, words", [(diagnostics.CONVERGED, "settling"),
                                              (diagnostics.PERIOD_2, "2-cycle"),
                                              (diagnostics.IRREGULAR, "still moving")])
def test_the_animation_hint_says_how_the_run_ends(run_class, words):
    hint = demo.animation_hint(run_class)
    assert words in hint and "growing" not in hint  # a loss "growing" reads as one increasing
    others = set(demo.ANIMATION_ENDINGS) - {run_class}
    assert all(demo.ANIMATION_ENDINGS[other] not in hint for other in others)


def test_class_colours_refuse_more_classes_than_the_palette():
    assert plot.class_colors(2) == OKABE_ITO[:2]
    with pytest.raises(ValueError):
        plot.class_colors(len(OKABE_ITO) + 1)
