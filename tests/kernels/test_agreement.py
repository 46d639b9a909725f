"""The comparison helpers of tests/agreement.py can fail: a check that cannot
fail would let every test built on it pass."""

import numpy as np
import pytest

from agreement import assert_loss_records_agree
from fastbp.trainer import TrainingRun

RTOL = 1e-9  # any tolerance: the records below differ by far more, or not at all


def record(passes, losses):
    return TrainingRun({}, np.array(passes, dtype=np.intp), np.array(losses, dtype=np.float64))


def test_equal_records_agree():
    assert_loss_records_agree(record([0, 100], [0.5, 0.25]), record([0, 100], [0.5, 0.25]), RTOL, num_recorded=2)


@pytest.mark.parametrize("actual, expected, num_recorded", [
    (record([0], [0.5]), record([0, 100], [0.5, 0.25]), 2),              # a shorter record, equal where it overlaps
    (record([0, 100], [0.5, 0.25]), record([0], [0.5]), 2),
    (record([0, 100], [0.5, 0.25]), record([0, 100], [0.5, 0.25]), 3),  # both short of the passes asked for
    (record([0, 99], [0.5, 0.25]), record([0, 100], [0.5, 0.25]), 2),    # other passes
    (record([0, 100], [0.5, 0.26]), record([0, 100], [0.5, 0.25]), 2),  # one loss off
    (record([0, 100], [0.5, np.nan]), record([0, 100], [0.5, 0.25]), 2),
], ids=["actual-short", "expected-short", "both-short", "other-passes", "loss-off", "nan"])
def test_differing_records_fail(actual, expected, num_recorded):
    with pytest.raises(AssertionError):
        assert_loss_records_agree(actual, expected, RTOL, num_recorded)
