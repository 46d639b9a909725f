"""The playground's curve axes (fastbp/playground_app/figures.py): round_up and _set_curve_ranges.

The rules they document, from which every expected value below is worked out by hand:
- round_up(value) is the smallest of 1, 2 or 5 times a power of ten that is >= value, 1 for
  value <= 1, and a ValueError for NaN and for values above 1e308 (which have none);
- the passes axis runs from 0 to round_up of the largest pass drawn (0 with none drawn);
- the log axis runs between the powers of ten around the finite positive values (10**floor(log10
  min) to 10**ceil(log10 max)), at least one decade apart, left as it was when no value is finite
  and positive, and held inside the positive finite doubles where a power of ten is not one.
"""

import math

import numpy as np
import pytest

pytest.importorskip("bokeh", reason="the playground's pictures need the optional extra fastbp[playground]")

from bokeh.models import Range1d  # noqa: E402  (after the skip above)
from bokeh.plotting import figure  # noqa: E402

from fastbp.playground_app.figures import _set_curve_ranges, round_up  # noqa: E402

FLOAT64 = np.finfo(np.float64)


@pytest.mark.parametrize("value, expected", [
    # at most 1: the axis ends at 1
    (-math.inf, 1.0), (-5.0, 1.0), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0),
    # just past 1, each step of 1, 2, 5, 10 reached exactly and just passed
    (1.0000001, 2.0), (2.0, 2.0), (2.0000001, 5.0), (3.0, 5.0), (5.0, 5.0), (5.0000001, 10.0), (10.0, 10.0),
    # pass counts: the same steps a few decades up, as integers (Python and NumPy)
    (11, 20.0), (199, 200.0), (200, 200.0), (201, 500.0), (499, 500.0), (500, 500.0), (501, 1000.0),
    (999, 1000.0), (1000, 1000.0), (1001, 2000.0), (np.int64(20000), 20000.0), (np.int64(20001), 50000.0),
    # one double either side of 1000
    (np.nextafter(1000.0, 0.0), 1000.0), (np.nextafter(1000.0, math.inf), 2000.0),
    # the largest value with a round number above it, and a 64-bit pass count
    (1e308, 1e308), (2 ** 63 - 1, 1e19),
])
def test_round_up_is_the_next_1_2_5_step(value, expected):
    assert round_up(value) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, 1.5e308, FLOAT64.max])
def test_round_up_refuses_values_with_no_round_number_above(value):
    with pytest.raises(ValueError, match="round_up needs a number at most 1e"):
        round_up(value)


def test_round_up_rounds_up_to_the_nearest_step_never_down():
    # Every value between two neighbouring round numbers goes to the upper one: never below the
    # value (rounding down), never past the next round number (rounding up too far).
    steps = sorted(step * 10.0 ** power for power in range(0, 7) for step in (1, 2, 5))
    rng = np.random.default_rng(0)
    for lower, upper in zip(steps, steps[1:]):
        for value in rng.uniform(lower, upper, size=20).tolist() + [np.nextafter(lower, upper), upper]:
            assert round_up(value) == upper, (value, lower, upper)


def curve_plot():
    """A log-axis figure as the playground's loss and sharpness pictures make it."""
    return figure(y_axis_type="log", x_range=Range1d(0, 1), y_range=Range1d(0.1, 1))


def ranges(plot):
    return (plot.x_range.start, plot.x_range.end), (plot.y_range.start, plot.y_range.end)


@pytest.mark.parametrize("passes, values, x_range, y_range", [
    # log10(0.3) = -0.52 and log10(0.7) = -0.15: one decade, 0.1 to 1; passes 250 -> 500
    ([0, 100, 250], [0.7, 0.3], (0.0, 500.0), (0.1, 1.0)),
    # values on powers of ten: the range ends on them
    ([0, 200], [0.1, 1.0], (0.0, 200.0), (0.1, 1.0)),
    ([0, 200], [10.0, 1000.0], (0.0, 200.0), (10.0, 1000.0)),
    # one value on a power of ten: still one decade, from it upwards
    ([0, 201], [1.0], (0.0, 500.0), (1.0, 10.0)),
    ([5], [0.1, 0.1], (0.0, 5.0), (0.1, 1.0)),
    # just past a power of ten at either end: the next decade out
    ([0, 1], [0.0999, 1.0001], (0.0, 1.0), (0.01, 10.0)),
    # NaN, infinities, zero and negative values are left out (a log axis cannot show them)
    ([0, 10], [math.nan, math.inf, -math.inf, -1.0, 0.0, 0.5, 3.0], (0.0, 10.0), (0.1, 10.0)),
    # at the ends of the doubles: 10**-324 underflows to 0 and 10**309 overflows, so the range stops
    # at the smallest positive and at the largest finite double
    ([0, 10], [5e-324, 1.5e308], (0.0, 10.0), (5e-324, FLOAT64.max)),
    ([0, 10], [1e-320], (0.0, 10.0), (1e-321, 1e-320)),
])
def test_curve_ranges_follow_the_documented_rule(passes, values, x_range, y_range):
    plot = curve_plot()
    _set_curve_ranges(plot, passes, np.array(values))
    assert ranges(plot) == (x_range, y_range)


@pytest.mark.parametrize("values", [[], [math.nan], [math.inf, -math.inf], [0.0, -2.0]],
                         ids=["none", "nan", "infinities", "zero-and-negative"])
def test_curve_ranges_keep_the_log_axis_when_no_value_can_be_drawn_on_it(values):
    plot = curve_plot()
    _set_curve_ranges(plot, [0, 30], [0.2, 8.0])  # the range of an earlier redraw: 0.1 to 10
    _set_curve_ranges(plot, [0, 300], np.array(values, dtype=np.float64))
    assert ranges(plot) == ((0.0, 500.0), (0.1, 10.0))


def test_curve_ranges_with_no_passes_start_at_the_unit_range():
    plot = curve_plot()
    plot.x_range.end = 700.0
    _set_curve_ranges(plot, [], np.array([0.5]))
    assert ranges(plot) == ((0.0, 1.0), (0.1, 1.0))


def test_curve_ranges_move_only_when_a_curve_passes_a_round_number():
    # the reason for the rule: redraws between round numbers leave the axes as they are
    plot = curve_plot()
    seen = set()
    for last_pass in range(201, 501, 7):
        _set_curve_ranges(plot, np.arange(last_pass + 1), np.linspace(0.9, 0.15, last_pass + 1))
        seen.add(ranges(plot))
    assert seen == {((0.0, 500.0), (0.1, 1.0))}
