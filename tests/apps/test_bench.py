"""The benchmark's contenders compute what they say: the FLOP count, the lecture's code,
scikit-learn and LectureClassifier configured as our algorithm, and every installed peer's
loop (PyTorch and JAX are optional: their tests are skipped where they are not installed)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp import reference
from fastbp.bench import child, lecture_code, peers, shapes

# Same algorithm in another code base: only the order of summation differs (BLAS or XLA vs the
# reference's NumPy expressions), a few ulp per step over a few steps.
SAME_ALGORITHM_RTOL = {"float64": 1e-10, "float32": 2e-4}
ATOL = {"float64": 1e-12, "float32": 1e-5}


def test_flop_count_of_the_large_job():
    # 2N(DH + HC) forward + 2N(DH + 2HC) backward, N=100000, D=20, H=256, C=10, by hand:
    # 2e5 * (5120 + 2560) + 2e5 * (5120 + 5120) = 1.536e9 + 2.048e9
    assert shapes.flops_per_pass(shapes.JOBS["large"]) == 3_584_000_000


def test_flop_count_of_two_hidden_layers():
    # sizes 4-5-6-3, N=10: products 20, 30, 18; forward 2*10*68, weight gradients 2*10*68,
    # deltas of layers 2 and 3: 2*10*48
    s = shapes.shape("t", 10, 4, (5, 6), 3)
    assert shapes.flops_per_pass(s) == 1360 + 1360 + 960
    assert shapes.multiply_adds_per_step(shapes.shape("t", 10, 4, (5, 6), 3, B=5)) == (1360 + 1360 + 960) // 2 // 2


def test_lecture_code_is_the_reference_algorithm():
    """A few hundred passes: before the lecture job's instability (docs/numerics.md, level 3)."""
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    lecture_code.setup(X, y, 0.01, 0.01)
    ours = lecture_code.build_model(3, num_passes=300)
    model = reference.init_params((2, 3, 2), seed=0)
    for _ in range(300):
        reference.train_pass(model, X, y, 0.01, 0.01)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(ours[name], model[name], rtol=1e-12, atol=1e-14)


def reference_run(s, dtype, passes):
    """The NumPy reference's training of shape s: the expected weights of every contender."""
    X, y = shapes.make_data(s)
    X = X.astype(dtype)
    model = reference.init_params(shapes.sizes_of(s), 0, np.dtype(dtype))
    if s["B"] is None:
        for _ in range(passes):
            reference.train_pass(model, X, y, s["epsilon"], s["reg_lambda"])
        return model
    steps = -(-s["N"] // s["B"])
    for order in shapes.epoch_orders(s["N"], passes):
        reference.train_epoch(model, X, y, order, s["B"], np.full(steps, s["epsilon"]), s["reg_lambda"])
    return model


def contender_run(contender, s, dtype, passes):
    X, y = shapes.make_data(s)
    init = reference.init_params(shapes.sizes_of(s), 0, np.dtype(dtype))
    run, _ = peers.CONTENDERS[contender](X.astype(dtype), y, s, init, dtype)
    return run(passes)


# Two hidden layers, minibatches with a shorter last batch (50 = 3 * 16 + 2), 3 classes.
MINIBATCH = shapes.shape("minibatch", 50, 4, (5, 3), 3, B=16)
FULL_BATCH = shapes.shape("full batch", 60, 3, (6,), 4)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("s", [MINIBATCH, FULL_BATCH], ids=lambda s: s["name"])
@pytest.mark.parametrize("contender", ["fastbp", "LectureClassifier", "fastbp NumPy reference", "PyTorch eager",
                                       "PyTorch torch.compile", "JAX jit + fori_loop"])
def test_every_contender_trains_the_reference_algorithm(contender, s, dtype):
    if peers.missing(contender):
        pytest.skip(peers.missing(contender))
    if contender == "PyTorch torch.compile" and (s is FULL_BATCH or dtype == "float32"):
        pytest.skip("one shape is enough for torch.compile: it compiles for tens of seconds")
    expected = reference_run(s, dtype, 3)
    got = contender_run(contender, s, dtype, 3)
    assert sorted(got) == sorted(expected)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=SAME_ALGORITHM_RTOL[dtype], atol=ATOL[dtype],
                                   err_msg="%s %s" % (contender, name))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sklearn_configured_as_our_algorithm_gives_our_weights(dtype):
    """Full batch and C >= 3, where MLPClassifier's network and order are ours: the same weights
    as the reference (expected values from the reference; scikit-learn is the contender here)."""
    s = shapes.shape("sklearn", 60, 3, (6, 5), 4)
    expected = reference_run(s, dtype, 5)
    got = contender_run("scikit-learn MLPClassifier", s, dtype, 5)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=SAME_ALGORITHM_RTOL[dtype], atol=ATOL[dtype])


def test_the_lecture_code_cannot_express_deeper_minibatch_or_float32_training():
    assert peers.cannot_express("lecture NumPy code", shapes.JOBS["lecture"], "float64") is None
    for s, dtype in ((MINIBATCH, "float64"), (FULL_BATCH, "float32"), (shapes.shape("t", 9, 2, (3, 3), 2), "float64")):
        assert peers.cannot_express("lecture NumPy code", s, dtype)


def test_a_child_measures_fastbp():
    spec = {"contender": "fastbp", "dtype": "float64", "target_s": 0.01, "repeats": 2, "check_passes": 100}
    result = child.measure(spec, shapes.JOBS["lecture"])
    assert result["status"] == "ok", result
    assert len(result["times"]) == 2 and all(t > 0 for t in result["times"])
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    model = reference.init_params((2, 3, 2), seed=0)
    for _ in range(100):
        reference.train_pass(model, X, y, 0.01, 0.01)
    assert result["check_loss"] == pytest.approx(reference.calculate_loss(model, X, y, 0.01), rel=1e-12)


CORES_OF_ONE_BUSY_THREAD = """
import os
from fastbp.bench import child
with child.CpuWindow() as window:
    end = os.times().elapsed + 0.003
    while os.times().elapsed < end:
        pass
print(window.own_cores)
"""


def test_cores_used_never_exceeds_the_threads_that_ran():
    """One thread busy for a window shorter than a clock tick: the old count from 10 ms ticks
    read up to several cores here; the process clock reads at most one. In a process of its
    own, as a benchmark's contender runs: the test process's other threads (worker pools
    left by earlier tests) would be counted too. With one BLAS and one OpenMP thread, so that
    the busy thread is the process's only one: OpenBLAS's worker, started with NumPy, spins
    for a while after a call, and where that overlapped the window it counted as a second
    core (1.66 once, on a loaded machine)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    own_cores = float(subprocess.run([sys.executable, "-c", CORES_OF_ONE_BUSY_THREAD], capture_output=True,
                                     text=True, check=True, env=env).stdout)
    assert 0 < own_cores <= 1.05


def test_the_same_bits_on_every_thread_count_under_contention_test():
    s = shapes.shape("tiny", 300, 5, (40,), 3, B=64)
    result = child.contention({"dtype": "float64", "shapes": [s], "target_s": 0.005, "repeats": 1}, None)
    point = result["points"][0]
    assert point["same_bits"] is True
    assert point["median_default"] > 0 and point["median_one"] > 0
