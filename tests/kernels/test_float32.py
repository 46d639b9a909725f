"""float32 end to end: the float32 kernels against the float32 NumPy reference,
and float32 runs against float64 runs.

Expected values come from fastbp.reference run on float32 arrays (whose
every intermediate is checked to stay float32 below), from the float64
reference, or from numbers the lecture prints (0.432387, 0.068947). The
tolerances are measured, with the reason beside each; docs/numerics.md
explains the levels of agreement they belong to.
"""

import functools

import numpy as np
import pytest

import fastbp
import kernel_layout
from agreement import assert_close, max_relative_difference
from fastbp import _driver, _layers, reference
from kernel_layout import flatten, sample_major, unflatten

F32 = np.float32

# One step from the same state (level 1), float32 kernels vs the float32
# reference. float32 rounds at 6e-8 relative, and the two sum in different
# orders (interleaved partial sums, vs NumPy's pairwise sums and sgemm): a
# gradient summed over n samples differs by up to about sqrt(n) rounding
# errors of its largest terms. Measured with the tiled products: at most
# 2.8e-6 normwise on the gradients and on the parameters after one pass, over
# 3 activations, N up to 5000 and layers up to 20-256-10 (1.4e-5 and 7e-6
# when the kernels called sgemm).
F32_KERNEL_RTOL = 1e-4
# Whole 20000-pass runs where gradient descent is stable (level 2): H = 5 and
# 20 at epsilon 0.01, H = 3 at 0.002. Rounding differences are damped: the
# final losses measured within 4e-9 of the float32 reference and 2e-8 of the
# float64 run; the weights within 4e-6 (normwise) of the float32 reference and
# 3.4e-5 of float64 (float32 weights near 10 carry 1e-6 rounding each pass).
F32_RUN_LOSS_ATOL = 1e-7  # two independent float32 implementations end about this close
F64_RUN_LOSS_ATOL = 1e-6  # float32 vs float64 final loss
F32_RUN_WEIGHTS_RTOL = 5e-5
F64_RUN_WEIGHTS_RTOL = 3e-4
# The lecture's H = 3 run in float32 ends on the float64 reference's period-2
# cycle (level 3): its last two losses are the cycle's two losses, each within
# the float32 rounding of a loss summed over 200 samples (measured 1.8e-6).
F32_CYCLE_LOSS_RTOL = 1e-5

LECTURE_PASSES = 20000



# The shared layout helpers, in float32 unless told otherwise.
feature_major = functools.partial(kernel_layout.feature_major, dtype=F32)
perturbed_network = functools.partial(kernel_layout.perturbed_network, dtype=F32)


# ---------------------------------------------------------------- the reference stays float32

class _Float32Only:
    """Wraps every reference function so that any float64 array or NumPy
    float64 scalar going in or coming out fails the test."""

    def __init__(self, monkeypatch):
        self.calls = 0
        names = [name for name in dir(reference) if callable(getattr(reference, name)) and not name[0].isupper()
                 and getattr(getattr(reference, name), "__module__", "") == reference.__name__]
        for name in names:
            monkeypatch.setattr(reference, name, self.wrap(name, getattr(reference, name)))
        for key, pair in list(reference.ACTIVATIONS.items()):
            monkeypatch.setitem(reference.ACTIVATIONS, key, tuple(self.wrap(key, f) for f in pair))

    def check(self, name, value):
        if isinstance(value, dict):
            for item in value.values():
                self.check(name, item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                self.check(name, item)
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert value.dtype == F32, "%s: a %s array" % (name, value.dtype)
        elif isinstance(value, np.floating):
            assert value.dtype == F32, "%s: a NumPy %s scalar" % (name, value.dtype)

    def wrap(self, name, function):
        def checked(*args, **kwargs):
            self.calls += 1
            for arg in list(args) + list(kwargs.values()):
                self.check(name, arg)
            result = function(*args, **kwargs)
            self.check(name, result)
            return result
        return checked


@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
def test_the_reference_keeps_every_intermediate_float32(monkeypatch, activation):
    sizes = (3, 6, 5, 4)
    X, y, model = perturbed_network(sizes, 50, activation)
    guard = _Float32Only(monkeypatch)
    reference.train_pass(model, X, y, 0.01, 0.01)
    reference.train_epoch(model, X, y, np.arange(50)[::-1].copy(), 16, [0.01] * 4, 0.01)
    loss = reference.calculate_loss(model, X, y, 0.01)
    probs = reference.predict_proba(model, X)
    assert guard.calls > 20  # the wrappers really were in the way
    assert all(model[name].dtype == F32 for name in model if name != "activation")
    assert loss.dtype == F32 and probs.dtype == F32


def test_the_float32_reference_guard_catches_a_float64_step(monkeypatch):
    # the guard above must be able to fail: a NumPy float64 step size is the
    # silent upcast that sgd_update guards against
    sizes = (2, 3, 2)
    X, y, model = perturbed_network(sizes, 10, "tanh")
    _Float32Only(monkeypatch)
    with pytest.raises(AssertionError, match="float64"):
        reference.train_pass(model, X, y, np.float64(0.01), 0.01)


@pytest.mark.parametrize("batch_size", [None, 64])
def test_the_numpy_backend_trains_in_float32(monkeypatch, moons, batch_size):
    X, y = moons
    guard = _Float32Only(monkeypatch)
    run = fastbp.train(X, y, 3, num_passes=5, backend="numpy", dtype="float32", loss_every=1,
                       batch_size=batch_size, schedule="inverse")
    assert guard.calls > 10
    assert all(value.dtype == F32 for value in run.model.values())


# ---------------------------------------------------------------- initialisation and dtypes

@pytest.mark.parametrize("backend", fastbp.trainer.BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float32")])
def test_float32_starts_from_the_lectures_float64_draws_rounded(moons, backend, dtype):
    X, y = moons
    model = fastbp.train(X, y, 3, num_passes=0, backend=backend, dtype=dtype).model
    expected = reference.init_params((2, 3, 2), seed=0)  # float64
    for name in expected:
        assert model[name].dtype == F32
        np.testing.assert_array_equal(model[name], expected[name].astype(F32))


def test_build_model_takes_the_dtype(moons):
    X, y = moons
    model = fastbp.build_model(X, y, 3, num_passes=10, dtype="float32")
    assert {value.dtype for value in model.values()} == {np.dtype(F32)}


def test_predictions_compute_in_the_models_dtype(moons):
    X, y = moons
    model = fastbp.build_model(X, y, 3, num_passes=200, dtype="float32")
    probs = fastbp.predict_proba(model, X)  # float64 X, converted once to float32
    assert probs.dtype == F32
    expected = reference.predict_proba(model, X.astype(F32))
    assert expected.dtype == F32
    assert_close(probs, expected, F32_KERNEL_RTOL, "predict_proba")
    np.testing.assert_array_equal(fastbp.predict_proba(model, X.astype(F32)), probs)
    np.testing.assert_array_equal(fastbp.predict(model, X), np.argmax(probs, axis=1))
    loss = fastbp.calculate_loss(model, X, y)
    assert loss == pytest.approx(float(reference.calculate_loss(model, X.astype(F32), y, 0.01)), rel=F32_KERNEL_RTOL)


# ---------------------------------------------------------------- one step (level 1)

# the last four take the tiled products (float: 16 lanes, so N = 37 and 45 leave samples after
# the last full vector and lane group); (45, 9, 23) runs the weight gradient's tiles in the other order
SHAPES = [(1, 2, 3), (7, 3, 1), (200, 2, 3), (31, 50, 7), (37, 20, 16), (300, 64, 10), (45, 9, 23)]


@pytest.mark.parametrize("N,J,K", SHAPES)
def test_dense_layer_kernels_in_float32(N, J, K):
    rng = np.random.default_rng(N + J + K)
    inp, W, b = (rng.standard_normal(shape).astype(F32) for shape in [(N, J), (J, K), (1, K)])
    delta = rng.standard_normal((N, K)).astype(F32)
    z = np.empty(N * K, dtype=F32)
    _layers.dense_forward(z, feature_major(inp), W.ravel(), b.ravel(), N, J, K)
    assert_close(sample_major(z, N, K), reference.dense_forward(inp, W, b), F32_KERNEL_RTOL, "dense_forward")
    dW, db = np.zeros(J * K, dtype=F32), np.zeros(K, dtype=F32)
    _layers.dense_backward(dW, db, feature_major(delta), feature_major(inp), N, J, K)
    expected_dW, expected_db = reference.dense_backward(delta, inp)
    assert_close(dW.reshape(J, K), expected_dW, F32_KERNEL_RTOL, "dW")
    assert_close(db.reshape(1, K), expected_db, F32_KERNEL_RTOL, "db")
    dinp = np.empty(N * J, dtype=F32)
    _layers.dense_backward_input(dinp, feature_major(delta), W.ravel(), N, J, K)
    assert_close(sample_major(dinp, N, J), reference.dense_backward_input(delta, W), F32_KERNEL_RTOL, "dinp")


@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
def test_activation_and_softmax_kernels_in_float32(activation):
    rng = np.random.default_rng(4)
    z = (3 * rng.standard_normal(999)).astype(F32)
    dout = rng.standard_normal(999).astype(F32)
    forward, backward = reference.ACTIVATIONS[activation]
    a, dz = np.empty_like(z), np.empty_like(z)
    getattr(_layers, activation + "_forward")(a, z, len(z))
    expected_a = forward(z)
    assert_close(a, expected_a, F32_KERNEL_RTOL, activation)
    getattr(_layers, activation + "_backward")(dz, dout, expected_a, len(z))
    assert_close(dz, backward(dout, expected_a), F32_KERNEL_RTOL, activation + " backward")
    for C in (2, 3):
        N = 333
        logits = z[:N * C].reshape(N, C)
        probs = np.empty(N * C, dtype=F32)
        _layers.softmax_forward(probs, feature_major(logits), N, C)
        assert_close(sample_major(probs, N, C), reference.softmax_forward(logits), F32_KERNEL_RTOL, "softmax")


@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
@pytest.mark.parametrize("sizes", [(2, 3, 2), (3, 4, 5, 6, 2), (20, 16, 10)])
@pytest.mark.parametrize("N", [1, 9, 200])
def test_network_gradient_and_pass_in_float32(sizes, N, activation):
    X, y, model = perturbed_network(sizes, N, activation)
    code = _driver.ACTIVATION_CODES[activation]
    params, names = flatten(model, sizes)
    assert params.dtype == F32
    network = _driver.Workspace(sizes, code, feature_major(X), y, N, 1)
    grads = np.full_like(params, np.nan)
    network.gradient(params, grads)
    expected = reference.gradients(model, X, y, reg_lambda=0.0)
    for name, value in unflatten(grads, names, expected).items():
        assert_close(value, expected[name], F32_KERNEL_RTOL, name)
    assert network.loss(params, 0.01) == pytest.approx(float(reference.calculate_loss(model, X, y, 0.01)),
                                                       rel=F32_KERNEL_RTOL)
    network.train_pass(params, 0.01, 0.01)
    reference.train_pass(model, X, y, 0.01, 0.01)
    assert_close(params, flatten(model, sizes)[0], F32_KERNEL_RTOL, "after one pass")


@pytest.mark.parametrize("sizes", [(3, 4, 5, 6, 2), (20, 16, 10)])
def test_float32_partial_sums_carried_across_blocks_agree_with_the_reference(sizes):
    # 200 rows in blocks of 8: 25 blocks in 16 slabs, so some slabs carry their
    # tiled layers' partial sums (16 per weight in float32) from one block to
    # the next; a slab of one block folds them as it makes them
    N = 200
    X, y, model = perturbed_network(sizes, N, "tanh")
    params, names = flatten(model, sizes)
    network = _driver.Workspace(sizes, _driver.ACTIVATION_CODES["tanh"], feature_major(X), y, N, 1, block_rows=8)
    grads = np.full_like(params, np.nan)
    network.gradient(params, grads)
    expected = reference.gradients(model, X, y, reg_lambda=0.0)
    for name, value in unflatten(grads, names, expected).items():
        assert_close(value, expected[name], F32_KERNEL_RTOL, name)


@pytest.mark.parametrize("N,block_rows", [(203, 8), (5, 8), (1, 8), (1000, 16)])
def test_the_row_blocked_float32_pass_agrees_with_the_reference(N, block_rows, monkeypatch):
    sizes = (3, 9, 4)
    X, y, model = perturbed_network(sizes, N, "tanh", seed=N)
    params, _ = flatten(model, sizes)
    # problems this small stay on one thread (MIN_PARALLEL_WORK); lowered here, so
    # that the slabs run on two threads
    monkeypatch.setattr(_driver, "MIN_PARALLEL_WORK", 1)
    network = _driver.Workspace(sizes, _driver.ACTIVATION_CODES["tanh"], feature_major(X), y, N, 2,
                               block_rows=block_rows)
    assert network.num_threads == 2
    network.train_pass(params, 0.002, 0.03)
    reference.train_pass(model, X, y, 0.002, 0.03)
    assert_close(params, flatten(model, sizes)[0], F32_KERNEL_RTOL, "N=%d, %d-row blocks" % (N, block_rows))


def test_float32_one_and_two_threads_give_identical_bits():
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((3000, 4)), rng.integers(0, 3, 3000)
    runs = [fastbp.train(X, y, 24, num_passes=30, epsilon=1e-4, dtype="float32", num_threads=T, loss_every=10)
            for T in (1, 2)]
    for name in runs[0].model:
        np.testing.assert_array_equal(runs[0].model[name], runs[1].model[name])
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)


def test_float32_minibatch_epochs_agree_with_the_reference(moons):
    X, y = moons
    compiled, numpy = (fastbp.train(X, y, 5, num_passes=3, batch_size=32, dtype="float32", backend=backend,
                                    seed=2).model for backend in ("cython", "numpy"))
    for name in numpy:
        assert_close(compiled[name], numpy[name], F32_KERNEL_RTOL, name)


# ---------------------------------------------------------------- whole runs (levels 2 and 3)

@pytest.mark.parametrize("hidden,epsilon", [(5, 0.01), (20, 0.01), (3, 0.002)])
def test_stable_float32_runs_agree_with_the_float32_reference_and_with_float64(moons, hidden, epsilon):
    X, y = moons
    compiled = fastbp.train(X, y, hidden, num_passes=LECTURE_PASSES, epsilon=epsilon, dtype="float32").model
    numpy = fastbp.train(X, y, hidden, num_passes=LECTURE_PASSES, epsilon=epsilon, dtype="float32",
                         backend="numpy").model
    double = fastbp.train(X, y, hidden, num_passes=LECTURE_PASSES, epsilon=epsilon, backend="numpy").model
    loss = fastbp.calculate_loss(compiled, X, y)
    assert abs(loss - float(reference.calculate_loss(numpy, X.astype(F32), y, 0.01))) <= F32_RUN_LOSS_ATOL
    assert abs(loss - reference.calculate_loss(double, X, y, 0.01)) <= F64_RUN_LOSS_ATOL
    for name in double:
        assert max_relative_difference(compiled[name], numpy[name]) <= F32_RUN_WEIGHTS_RTOL, name
        assert max_relative_difference(compiled[name], double[name]) <= F64_RUN_WEIGHTS_RTOL, name
    labels = fastbp.predict(compiled, X)
    np.testing.assert_array_equal(labels, reference.predict(numpy, X.astype(F32)))
    np.testing.assert_array_equal(labels, reference.predict(double, X))


def test_the_lectures_run_in_float32_prints_its_losses_and_ends_on_the_cycle(moons, lecture_reference_cycle):
    X, y = moons
    run = fastbp.train(X, y, 3, num_passes=LECTURE_PASSES + 1, dtype="float32", loss_every=1)
    # the lecture prints these (In [7]), to six decimals
    assert "%.6f" % run.losses[0] == "0.432387"
    assert "%.6f" % run.losses[1000] == "0.068947"
    last_two = run.losses[-2:]
    assert abs(last_two[0] - last_two[1]) > 1e-4  # an alternation, not a fixed point
    assert sorted(last_two) == pytest.approx(sorted(lecture_reference_cycle.losses), rel=F32_CYCLE_LOSS_RTOL)


@pytest.mark.parametrize("dtype", [None, 32, 3.0, ["float32"]])
def test_dtype_of_the_wrong_type_is_a_type_error(moons, dtype):
    X, y = moons
    with pytest.raises(TypeError, match="dtype"):
        fastbp.train(X, y, 3, num_passes=1, dtype=dtype)


def test_a_model_mixing_dtypes_is_refused(moons):
    X, y = moons
    model = fastbp.build_model(X, y, 3, num_passes=1)
    model["W2"] = model["W2"].astype(F32)
    for call in (lambda: fastbp.predict(model, X), lambda: fastbp.predict_proba(model, X),
                 lambda: fastbp.calculate_loss(model, X, y)):
        with pytest.raises(ValueError, match="mixes float32 and float64"):
            call()


def test_a_float16_model_is_refused(moons):
    X, y = moons
    model = {name: value.astype(np.float16) for name, value in fastbp.build_model(X, y, 3, num_passes=1).items()}
    with pytest.raises(TypeError, match="float16"):
        fastbp.predict(model, X)


def test_X_beyond_float32_range_is_refused_for_a_float32_model(moons):
    X, y = moons
    X_huge = X.copy()
    X_huge[0, 0] = 1e300
    with pytest.raises(ValueError, match="beyond the range of float32"):
        fastbp.train(X_huge, y, 3, num_passes=1, dtype="float32")
    model = fastbp.build_model(X, y, 3, num_passes=1, dtype="float32")
    with pytest.raises(ValueError, match="beyond the range of float32"):
        fastbp.predict(model, X_huge)


def test_the_workspace_refuses_parameters_of_the_other_dtype():
    sizes = (2, 3, 2)
    X, y, model = perturbed_network(sizes, 10, "tanh")
    network = _driver.Workspace(sizes, _driver.ACTIVATION_CODES["tanh"], feature_major(X), y, 10, 1)
    params, _ = flatten(model, sizes)
    with pytest.raises(ValueError, match="params must have dtype float32"):
        network.loss(params.astype(np.float64), 0.01)
    with pytest.raises(ValueError, match="contiguous array of"):
        network.loss(params[:-1], 0.01)


def test_sgd_update_rounds_the_step_sizes_to_the_arrays_dtype():
    # NumPy float64 scalars (a schedule's step sizes) must not turn the float32
    # update into a float64 one: the expected value is the update computed with
    # the step sizes rounded to float32 first, all in float32
    rng = np.random.default_rng(11)
    param, dparam = rng.standard_normal(5000).astype(F32), rng.standard_normal(5000).astype(F32)
    epsilon, reg_lambda = np.float64(0.0123456789), np.float64(0.0987654321)
    expected_dparam = dparam + F32(reg_lambda) * param
    expected_param = param + (-F32(epsilon)) * expected_dparam
    reference.sgd_update(param, dparam, epsilon, reg_lambda)
    assert param.dtype == F32 and dparam.dtype == F32
    np.testing.assert_array_equal(dparam, expected_dparam)
    np.testing.assert_array_equal(param, expected_param)
