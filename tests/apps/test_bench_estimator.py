"""The benchmark's estimator contender: FastBPClassifier timed against scikit-learn's
MLPClassifier at the same parameters and seed, ending with MLPClassifier's weights
(expected values: the MLPClassifier contender's own run), and the targets judged from both rows."""

import numpy as np
import pytest

from fastbp import reference
from fastbp.bench import peers, report, shapes

SHAPES = [shapes.shape("minibatch, 3 classes", 50, 4, (5, 3), 3, B=16),
          shapes.shape("full batch, 2 classes", 60, 3, (6,), 2)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("s", SHAPES, ids=lambda s: s["name"])
def test_fastbp_classifier_ends_with_mlp_classifiers_weights(s, dtype):
    X, y = shapes.make_data(s)
    X = X.astype(dtype)
    init = reference.init_params(shapes.sizes_of(s), 0, np.dtype(dtype))
    ours, info = peers.CONTENDERS["FastBPClassifier"](X, y, s, init, dtype)
    theirs, _ = peers.CONTENDERS["scikit-learn MLPClassifier"](X, y, s, init, dtype)
    mine, sklearns = ours(5), theirs(5)
    assert sorted(mine) == sorted(sklearns)
    for name in sklearns:
        assert mine[name].dtype == sklearns[name].dtype == np.dtype(dtype)
    rtol = peers.WEIGHTS_RTOL[dtype]
    assert peers.weights_difference(mine, sklearns) <= rtol
    assert info["weights_agree"] and 0 <= info["weights_vs_mlp"] <= rtol
    assert "agree with MLPClassifier's" in info["note"]
    # the run starts from init each time: the timed runs are the same computation
    assert peers.weights_difference(ours(5), mine) == 0


def test_the_weights_difference_is_relative_to_each_arrays_largest_entry():
    theirs = {"W1": np.array([[100.0, -200.0]]), "b1": np.array([[1e-3, 0.0]])}
    mine = {"W1": np.array([[100.0, -200.002]]), "b1": np.array([[1e-3, 1e-9]])}
    assert peers.weights_difference(mine, theirs) == pytest.approx(1e-5)


def rows(ours_seconds, theirs_seconds, agree):
    return [{"contender": "FastBPClassifier", "status": "ok", "per_pass": ours_seconds, "weights_vs_mlp": 3e-15,
             "weights_agree": agree},
            {"contender": "scikit-learn MLPClassifier", "status": "ok", "per_pass": theirs_seconds}]


def test_the_classifier_targets_are_speed_and_the_same_weights():
    judged = {target: met for target, _, met in report.classifier_targets(rows(1.0, 4.0, True))}
    assert judged == {"FastBPClassifier faster than MLPClassifier": True,
                      "FastBPClassifier's weights MLPClassifier's": True}
    judged = {target: met for target, _, met in report.classifier_targets(rows(4.0, 1.0, False))}
    assert not any(judged.values())
    assert report.classifier_targets(rows(1.0, 4.0, True)[:1]) == []
    assert "FastBPClassifier" in peers.FASTBP  # fastbp itself, never the fastest peer
