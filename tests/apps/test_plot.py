"""The pictures show the model: the plotted grid is the lecture's, and its labels
are exactly ``predict`` on the same points."""

import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

import fastbp
from fastbp import plot


@pytest.fixture(scope="module")
def lecture_data_and_model():
    X, y = fastbp.datasets.make_moons()
    return X, y, fastbp.build_model(X, y, 3, num_passes=2000)


def lecture_grid(X, h):
    """The lecture's plot_decision_boundary grid, written out as the lecture does."""
    x_min, x_max = X[:, 0].min() - .5, X[:, 0].max() + .5
    y_min, y_max = X[:, 1].min() - .5, X[:, 1].max() + .5
    return np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))


@pytest.mark.parametrize("h", [0.01, 0.05])
def test_decision_grid_is_the_lectures_grid_labelled_by_predict(lecture_data_and_model, h):
    X, y, model = lecture_data_and_model
    xx, yy, Z = plot.decision_grid(lambda points: fastbp.predict(model, points), X, h)
    expected_xx, expected_yy = lecture_grid(X, h)
    np.testing.assert_array_equal(xx, expected_xx)
    np.testing.assert_array_equal(yy, expected_yy)
    np.testing.assert_array_equal(Z, fastbp.predict(model, np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape))
    assert set(np.unique(Z)) == {0, 1}, "the trained network's boundary crosses the plotted area"


def test_plot_decision_boundary_fills_the_models_labels(lecture_data_and_model, monkeypatch):
    X, y, model = lecture_data_and_model
    ax = Figure().add_subplot()
    drawn = []
    real_contourf = ax.contourf

    def recording_contourf(*args, **kwargs):
        drawn.append(args)
        return real_contourf(*args, **kwargs)

    monkeypatch.setattr(ax, "contourf", recording_contourf)
    returned = plot.plot_decision_boundary(lambda points: fastbp.predict(model, points), X, y, ax=ax)

    assert returned is ax
    (xx, yy, Z), = drawn
    np.testing.assert_array_equal(Z, fastbp.predict(model, np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape))
    np.testing.assert_array_equal(ax.collections[-1].get_offsets(), X)  # the data on top


def test_plot_data_and_loss_curve_draw_their_inputs():
    X, y = fastbp.datasets.make_moons()
    ax = plot.plot_data(X, y, Figure().add_subplot())
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), X)
    np.testing.assert_array_equal(ax.collections[0].get_array(), y)

    passes, losses = np.arange(0, 500, 100), np.array([0.4, 0.2, 0.1, 0.08, 0.07])
    ax = plot.plot_loss_curve(passes, losses, Figure().add_subplot(), marker=".")
    line, = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), passes)
    np.testing.assert_array_equal(line.get_ydata(), losses)


def test_fastbp_does_not_import_matplotlib_and_plot_works_without_a_display(tmp_path):
    script = (
        "import sys, fastbp\n"
        "assert 'matplotlib' not in sys.modules, 'import fastbp imported matplotlib'\n"
        "from fastbp import plot\n"
        "import matplotlib\n"
        "X, y = fastbp.datasets.make_moons(50)\n"
        "ax = plot.plot_decision_boundary(lambda points: points[:, 0] > 0, X, y, h=0.05)\n"
        "ax.figure.savefig(sys.argv[1])\n"
        "print(matplotlib.get_backend().lower())\n"
    )
    env = {name: value for name, value in os.environ.items()
           if name not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    path = tmp_path / "boundary.png"
    result = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "agg"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
