"""The benchmark suite (bench/) computes what it says: FLOP count, the lecture's code,
scikit-learn configured as our algorithm, and a child process that reports.

None of these needs the optional peers (PyTorch, JAX)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp import reference

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

import contenders  # noqa: E402
import lecture_code  # noqa: E402

# Same algorithm in another code base: only the order of summation differs (BLAS vs
# sklearn's or the lecture's NumPy expressions), a few ulp per pass.
SAME_ALGORITHM_RTOL = 1e-12
LECTURE = dict(name="lecture", N=200, D=2, H=3, C=2, data="moons", epsilon=0.01, reg_lambda=0.01)


def test_flop_count_of_the_large_size_is_issue_8s():
    assert contenders.flops_per_pass(100_000, 20, 256, 10) == 3_584_000_000


def test_lecture_code_is_the_reference_algorithm():
    """A few hundred passes: before the lecture job's instability (docs/numerics.md, level 3)."""
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    lecture_code.setup(X, y, 0.01, 0.01)
    ours = lecture_code.build_model(3, num_passes=300)
    model = reference.init_params((2, 3, 2), seed=0)
    for _ in range(300):
        reference.train_pass(model, X, y, 0.01, 0.01)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(ours[name], model[name], rtol=SAME_ALGORITHM_RTOL, atol=1e-14)
    expected = reference.calculate_loss(model, X, y, 0.01)
    assert lecture_code.calculate_loss(ours) == pytest.approx(expected, rel=SAME_ALGORITHM_RTOL)


def test_sklearn_configured_as_our_algorithm_gives_our_losses():
    size = dict(name="spiral", N=150, D=2, H=8, C=3, data="spiral", epsilon=0.001, reg_lambda=0.01)
    result = contenders.sklearn_loss_check({"size": size, "passes": 50})
    assert result["max_rel_diff"] < SAME_ALGORITHM_RTOL
    assert result["final_weights_max_rel_diff"] < SAME_ALGORITHM_RTOL


def test_a_child_measures_fastbp(tmp_path):
    spec = {"kind": "contender", "contender": "fastbp", "size": LECTURE, "passes": 100, "warmup_passes": 10,
            "check_passes": 100, "repeats": 2, "fastbp_threads": 1}
    spec_path, result_path = tmp_path / "spec.json", tmp_path / "result.json"
    spec_path.write_text(json.dumps(spec))
    root = os.path.dirname(BENCH)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    subprocess.run([sys.executable, os.path.join(BENCH, "contenders.py"), str(spec_path), str(result_path)],
                   check=True, cwd=root, env=env, timeout=120)
    result = json.loads(result_path.read_text())
    assert result["status"] == "ok", result
    assert len(result["times"]) == 2 and all(t > 0 for t in result["times"])
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    expected = fastbp.train(X, y, hidden=3, num_passes=100).model
    expected_loss = reference.calculate_loss(expected, X, y, 0.01)
    assert result["final_loss"] == pytest.approx(expected_loss, rel=SAME_ALGORITHM_RTOL)
