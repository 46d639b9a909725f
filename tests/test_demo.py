"""`fastbp demo` end to end: the files it promises, the lecture's printed losses,
the stability report, and clean failures on bad arguments."""

import contextlib
import io
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import fastbp
from fastbp import cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# No side of a demo picture is shorter than 5 inches, at matplotlib's default 100 dpi;
# the smallest of them compresses to ~55 kB.
MIN_PNG_PIXELS = 400
MIN_PNG_BYTES = 10_000
PROMISED_FILES = ["data.png", "logistic_regression.png", "decision_boundary_h3.png", "loss_curve_h3.png",
                  "hidden_layer_sweep.png", "spiral_3_classes.png"]  # in the order written
# What gradient descent does at epsilon 0.01 on the lecture's runs (NUMERICS.md).
PUBLISHED_RUN_CLASSES = {1: "period-2 cycle", 2: "irregular", 3: "period-2 cycle", 4: "irregular",
                         5: "converged", 20: "converged", 50: "converged"}
REPO = Path(__file__).resolve().parent.parent


def run_cli(argv):
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = cli.main(argv)
    return status, output.getvalue()


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


def test_demo_reports_the_published_stability_classes(lecture_demo):
    _, printed, _ = lecture_demo
    reported = {int(hidden): run_class for hidden, run_class
                in re.findall(r"H = +(\d+): sharpness [\d.]+ [<>=]+ 2/epsilon = 200: (.+)", printed)}
    assert reported == PUBLISHED_RUN_CLASSES


def test_demo_prints_a_summary_row_per_model(lecture_demo):
    _, printed, _ = lecture_demo
    summary = printed.split("Summary")[1].split("Files written:")[0]
    names = ["Logistic Regression"] + ["network, H = %d" % hidden for hidden in PUBLISHED_RUN_CLASSES]
    for name in names:
        row, = [line for line in summary.splitlines() if line.strip().startswith(name + " ")]
        train_accuracy, test_accuracy = (float(value) for value in row[len(name) + 2:].split()[:2])
        assert 0.5 <= test_accuracy <= 1 and 0.5 <= train_accuracy <= 1, row


def test_demo_with_another_size_step_and_length(tmp_path):
    status, printed = run_cli(["demo", "--out", str(tmp_path), "--hidden", "6", "--passes", "300",
                               "--epsilon", "0.002"])
    assert status == 0
    assert "H =  6: sharpness" in printed and "network, H = 6 " in printed
    assert {"decision_boundary_h6.png", "loss_curve_h6.png", "hidden_layer_sweep.png"} <= {
        path.name for path in tmp_path.iterdir()}
    assert len([line for line in printed.splitlines() if line.startswith("Loss after iteration")]) == 1


def test_no_subcommand_prints_help():
    status, printed = run_cli([])
    assert status == 0
    assert printed.startswith("usage: fastbp") and "demo" in printed


def test_demo_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--help"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    for option in ("--out", "--hidden", "--passes", "--seed", "--epsilon"):
        assert option in printed


@pytest.fixture
def existing_file(tmp_path):
    path = tmp_path / "taken.png"
    path.write_bytes(b"not a directory")
    return path


@pytest.mark.parametrize("arguments", [["demo", "--hidden", "0"], ["demo", "--passes", "-5"],
                                       ["demo", "--out", "{existing_file}"], ["frobnicate"],
                                       ["demo", "--epsilon", "nan"], ["demo", "--seed", "three"]])
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
