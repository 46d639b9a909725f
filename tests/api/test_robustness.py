"""Robustness (issue 11): divergence is never silent, interrupts leave nothing
half-written, memory is refused before allocating, float labels that are whole
numbers are accepted, runs are deterministic and thread-safe, and the caller's
inputs are never written to.

The interrupt's promptness is tested by tests/api/test_slicing_and_continuation.py
(test_ctrl_c_interrupts_a_long_run_promptly); here only its aftermath.
"""

import hashlib
import threading
import warnings

import numpy as np
import pytest

import fastbp
from fastbp import _driver, _slices, cli, exercise, lecture, reference, sweeps, trainer
from fastbp import _validation as check

# The lecture's data with a step size that overflows within a hundred passes.
DIVERGING_EPSILON = 1e6
DIVERGING_PASSES = 500



def reference_divergence(X, y, hidden, epsilon, num_passes, record_loss):
    """The reference's run pass by pass, independently of the trainer -> (first
    pass whose weights, or with record_loss whose loss, are not finite, the
    model before it, the losses before it)."""
    model = reference.init_params((X.shape[1], hidden, int(y.max()) + 1), 0)
    losses = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i in range(num_passes):
            before = {name: value.copy() for name, value in model.items()}
            reference.train_pass(model, X, y, epsilon, 0.01)
            loss = reference.calculate_loss(model, X, y, 0.01) if record_loss else 0.0
            if not all(np.isfinite(value).all() for value in model.values()) or not np.isfinite(loss):
                return i, before, losses
            losses.append(loss)
    raise AssertionError("the reference did not diverge")


# ---------------------------------------------------------------- divergence

@pytest.mark.parametrize("backend", ["cython", "numpy"])
@pytest.mark.parametrize("loss_every", [0, 1])
def test_divergence_raises_naming_the_first_non_finite_pass(moons, backend, loss_every):
    X, y = moons
    expected_pass, _, _ = reference_divergence(X, y, 3, DIVERGING_EPSILON, DIVERGING_PASSES, loss_every == 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's overflow warnings must not leak through: the error says it
        with pytest.raises(fastbp.DivergenceError,
                           match=r"diverged at pass %d\b.*smaller epsilon" % expected_pass) as info:
            fastbp.train(X, y, 3, num_passes=DIVERGING_PASSES, epsilon=DIVERGING_EPSILON, backend=backend,
                         loss_every=loss_every)
    assert info.value.pass_index == expected_pass
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_divergence_can_warn_and_return_the_last_finite_model(moons, backend):
    X, y = moons
    expected_pass, model_before, losses_before = reference_divergence(X, y, 3, DIVERGING_EPSILON, DIVERGING_PASSES,
                                                                      record_loss=True)
    with pytest.warns(fastbp.DivergenceWarning, match="diverged at pass %d" % expected_pass):
        run = fastbp.train(X, y, 3, num_passes=DIVERGING_PASSES, epsilon=DIVERGING_EPSILON, backend=backend,
                           loss_every=1, on_divergence="warn")
    assert run.diverged_at == expected_pass
    np.testing.assert_array_equal(run.loss_passes, np.arange(expected_pass))
    # the compiled kernels compute the reference's bits (tests/kernels/test_agreement.py); near overflow
    # a last-bit difference is still far below this
    np.testing.assert_allclose(run.losses, losses_before, rtol=1e-9)
    for name in model_before:
        np.testing.assert_allclose(run.model[name], model_before[name], rtol=1e-9)
        assert np.isfinite(run.model[name]).all()


def test_a_run_that_does_not_diverge_reports_no_divergence(moons):
    run = fastbp.train(*moons, 3, num_passes=100, loss_every=10, on_divergence="warn")
    assert run.diverged_at is None and len(run.losses) == 10


@pytest.mark.parametrize("slice_growth", [1, 16])
def test_minibatch_divergence_is_found_at_the_same_pass_however_the_run_is_sliced(moons, monkeypatch,
                                                                                  slice_growth):
    X, y = moons
    kwargs = dict(num_passes=200, epsilon=1e5, batch_size=32, loss_every=0, seed=3)
    with pytest.raises(fastbp.DivergenceError) as numpy_run:
        fastbp.train(X, y, 3, backend="numpy", **kwargs)
    monkeypatch.setattr(_slices, "MAX_SLICE_GROWTH", slice_growth)  # 1: a kernel call per pass
    with pytest.raises(fastbp.DivergenceError) as cython_run:
        fastbp.train(X, y, 3, backend="cython", **kwargs)
    assert cython_run.value.pass_index == numpy_run.value.pass_index


def test_print_loss_never_prints_nan(moons, capsys):
    with pytest.raises(fastbp.DivergenceError):
        fastbp.build_model(*moons, 3, num_passes=2000, epsilon=DIVERGING_EPSILON, print_loss=True)
    printed = capsys.readouterr().out
    assert "Loss after iteration 0" in printed
    assert "nan" not in printed.lower() and "inf" not in printed.lower()


def test_the_estimator_raises_the_same_error(moons):
    from fastbp import LectureClassifier
    X, y = moons
    # the estimator's epsilon is learning_rate_init / N: DIVERGING_EPSILON for the lecture's data
    classifier = LectureClassifier(learning_rate_init=DIVERGING_EPSILON * len(X), max_iter=DIVERGING_PASSES,
                                  random_state=0)
    with pytest.raises(fastbp.DivergenceError, match="diverged at pass"):
        classifier.fit(X, y)
    # partial_fit, one pass a call: the call whose pass diverges raises and leaves the last finite weights
    incremental = LectureClassifier(learning_rate_init=DIVERGING_EPSILON * len(X), random_state=0)
    incremental.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(fastbp.DivergenceError, match="diverged at pass"):
        for _ in range(DIVERGING_PASSES):
            incremental.partial_fit(X, y)
    assert all(np.isfinite(W).all() for W in incremental.coefs_)


def test_a_diverged_setting_is_a_row_of_the_sweep_not_its_end(tmp_path):
    rows = fastbp.sweep(hidden=(3,), epsilon=(0.01, DIVERGING_EPSILON), passes=lecture.MIN_PASSES, out=str(tmp_path),
                        n_jobs=1)
    by_epsilon = {row["epsilon"]: row for row in rows}
    assert by_epsilon[DIVERGING_EPSILON]["run_class"] == sweeps.DIVERGED
    assert np.isnan(by_epsilon[DIVERGING_EPSILON]["test_accuracy"])
    assert by_epsilon[0.01]["run_class"] != sweeps.DIVERGED and by_epsilon[0.01]["test_accuracy"] > 0.5
    written = sweeps.read_csv(str(tmp_path / "sweep.csv"))
    assert [row["run_class"] for row in written] == [row["run_class"] for row in rows]


def test_the_demo_reports_divergence_with_status_1(moons, tmp_path, capsys, monkeypatch):
    # Every training of the demo diverges at once (the real run with --epsilon 1e6 does so too, but
    # only after the demo's other networks, half a minute on this machine, have finished).
    with pytest.raises(fastbp.DivergenceError) as real_error:
        fastbp.train(*moons, 3, num_passes=DIVERGING_PASSES, epsilon=DIVERGING_EPSILON)

    def diverging_train(*args, **kwargs):
        raise real_error.value

    monkeypatch.setattr(trainer, "train", diverging_train)
    status = cli.main(["demo", "--epsilon", str(DIVERGING_EPSILON), "--out", str(tmp_path)])
    assert status == 1
    assert "fastbp demo: training diverged at pass" in capsys.readouterr().err


def test_a_raising_backprop_is_not_called_wrong(tmp_path, capsys):
    path = tmp_path / "raising.py"
    path.write_text("def backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):\n"
                    "    raise RuntimeError('not written yet')\n")
    assert exercise.check_file(str(path)) == exercise.EXIT_FAILED
    report = capsys.readouterr().out
    assert "RuntimeError: not written yet" in report
    assert "wrong" not in report.splitlines()[-1]


# ---------------------------------------------------------------- interrupts

def test_an_interrupt_leaves_the_callers_model_and_data_untouched(moons, monkeypatch):
    X, y = moons
    start = fastbp.train(X, y, 3, num_passes=10).model
    before = checksums(X, y, start)
    calls = []

    def interrupt_on_the_third_slice(self, passes, seconds):
        calls.append(passes)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as Python raises it between two slices after Ctrl-C

    monkeypatch.setattr(_slices.SlicedRun, "_resize", interrupt_on_the_third_slice)
    with pytest.raises(KeyboardInterrupt):
        fastbp.train(X, y, 3, num_passes=1000, initial_model=start)
    assert checksums(X, y, start) == before


# ---------------------------------------------------------------- labels and memory

@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_integer_valued_float_labels_train_as_integers(moons, backend):
    X, y = moons
    as_int = fastbp.train(X, y, 3, num_passes=50, backend=backend, loss_every=10)
    as_float = fastbp.train(X, y.astype(np.float32), 3, num_passes=50, backend=backend, loss_every=10)
    np.testing.assert_array_equal(as_float.losses, as_int.losses)
    assert fastbp.calculate_loss(as_int.model, X, y.astype(float)) == fastbp.calculate_loss(as_int.model, X, y)


@pytest.mark.parametrize("labels, message", [(0.5, "non-integer"), (np.nan, "NaN"), (np.inf, "NaN or infinity")])
def test_other_float_labels_are_refused(moons, labels, message):
    X, y = moons
    bad = y.astype(float)
    bad[7] = labels
    with pytest.raises(ValueError, match=r"\by\b.*%s" % message):
        fastbp.train(X, bad, 3, num_passes=1)


def test_too_much_memory_is_refused_before_allocating(moons, monkeypatch):
    X, y = moons

    def must_not_run(*args, **kwargs):
        raise AssertionError("allocated before the memory check")

    monkeypatch.setattr(reference, "init_params", must_not_run)
    monkeypatch.setattr(trainer, "_step_sizes", must_not_run)
    with pytest.raises(ValueError, match="memory"):
        fastbp.train(X, y, (10**5, 10**5), num_passes=1)  # a 10**5 x 10**5 layer: 80 GB
    with pytest.raises(ValueError, match="memory"):
        fastbp.train(X, y, 3, num_passes=10**13)  # 80 TB of step sizes


def test_a_huge_view_of_x_is_refused_before_it_is_copied(moons):
    model = fastbp.train(*moons, 3, num_passes=1).model
    huge = np.broadcast_to(np.zeros(2), (10**11, 2))  # 1.6 TB when made contiguous; a view costs nothing
    for call in (fastbp.predict, fastbp.predict_proba):
        with pytest.raises(ValueError, match="memory"):
            call(model, huge)


def test_the_memory_check_compares_with_the_memory_available(monkeypatch):
    available = check.ALWAYS_AFFORDABLE_BYTES + 1000
    monkeypatch.setattr(check, "available_memory", lambda: available)
    check.check_memory(available, "a job")
    with pytest.raises(ValueError, match="a job would need"):
        check.check_memory(available + 1, "a job")


# ---------------------------------------------------------------- determinism and threads

def assert_models_identical(first, second):
    assert first.keys() == second.keys()
    for name in first:
        if name != "activation":
            np.testing.assert_array_equal(first[name], second[name])


@pytest.mark.parametrize("backend, batch_size", [("cython", None), ("cython", 32), ("numpy", 32)])
def test_the_same_inputs_and_seed_give_identical_bits(moons, backend, batch_size):
    runs = [fastbp.train(*moons, 4, num_passes=300, seed=5, backend=backend, batch_size=batch_size, loss_every=7)
            for _ in range(2)]
    assert_models_identical(runs[0].model, runs[1].model)
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)


@pytest.fixture(scope="module")
def threaded_jobs():
    """Trainings big enough that the kernels use both threads (src/workspace.pxi's MIN_PARALLEL_WORK)."""
    X, y = fastbp.datasets.make_moons(8000, noise=0.20, seed=1)
    return [dict(X=X, y=y, hidden=20, num_passes=40, seed=0, loss_every=10),
            dict(X=X, y=y, hidden=(8, 5), num_passes=40, seed=1, batch_size=4000, activation="relu", loss_every=10),
            # 16 x 16: a layer wide enough for the tiled products (src/tiled_products.h)
            dict(X=X, y=y, hidden=(16, 16), num_passes=60, seed=2, loss_every=10)]


def test_thread_counts_give_identical_bits(threaded_jobs):
    for job in threaded_jobs:
        hidden = job["hidden"] if isinstance(job["hidden"], tuple) else (job["hidden"],)
        rows = job.get("batch_size") or len(job["y"])
        assert _driver.threads_for((2, *hidden, 2), rows, 2) == 2, "the job runs on one thread"
        one, two = (fastbp.train(**job, num_threads=threads) for threads in (1, 2))
        assert_models_identical(one.model, two.model)
        np.testing.assert_array_equal(one.losses, two.losses)


def test_concurrent_trainings_give_the_serial_bits(threaded_jobs):
    serial = [fastbp.train(**job, num_threads=2) for job in threaded_jobs]

    def work(index, start_together, results):
        start_together.wait()
        results[index] = fastbp.train(**threaded_jobs[index], num_threads=2)

    for _ in range(3):  # a race would show in some of the interleavings
        results = [None] * len(threaded_jobs)
        start_together = threading.Barrier(len(threaded_jobs))
        threads = [threading.Thread(target=work, args=(i, start_together, results)) for i in range(len(threaded_jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for alone, together in zip(serial, results):
            assert_models_identical(alone.model, together.model)
            np.testing.assert_array_equal(alone.losses, together.losses)


def test_a_float32_run_in_between_leaves_no_state_behind(moons):
    # the kernels hold no mutable global state: another precision or shape in between changes nothing
    first = fastbp.train(*moons, 3, num_passes=100).model
    fastbp.train(*moons, (7, 2), num_passes=10, dtype="float32", activation="sigmoid")
    assert_models_identical(first, fastbp.train(*moons, 3, num_passes=100).model)


# ---------------------------------------------------------------- inputs never modified

def checksums(*objects):
    """SHA-256 of every array's bytes (in dicts too): a write through a raw pointer shows here."""
    digests = []
    for obj in objects:
        arrays = [obj[key] for key in sorted(obj)] if isinstance(obj, dict) else [obj]
        digests.extend(hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() if isinstance(a, np.ndarray)
                       else repr(a) for a in arrays)
    return digests


def read_only(*arrays):
    copies = []
    for array in arrays:
        array = np.array(array)
        array.setflags(write=False)
        copies.append(array)
    return copies


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("read_only_inputs", [True, False])
def test_no_entry_point_writes_to_its_inputs(moons, tmp_path, dtype, read_only_inputs):
    from fastbp import LectureClassifier
    X, y = moons
    X = X.astype(dtype)
    model = fastbp.train(X, y, 3, num_passes=10, dtype=dtype).model
    if read_only_inputs:
        X, y = read_only(X, y)
        model = {name: read_only(value)[0] for name, value in model.items()}
    before = checksums(X, y, model)
    fastbp.train(X, y, 3, num_passes=20, dtype=dtype, initial_model=model)
    fastbp.train(X, y, 3, num_passes=2, dtype=dtype, initial_model=model, backend="numpy", batch_size=50)
    fastbp.build_model(X, y, 3, num_passes=20, dtype=dtype)
    fastbp.predict(model, X)
    fastbp.predict_proba(model, X)
    fastbp.calculate_loss(model, X, y)
    fastbp.save(model, str(tmp_path / "model.npz"))
    classifier = LectureClassifier(max_iter=20, random_state=0, dtype=dtype).fit(X, y)
    classifier.partial_fit(X, y)
    classifier.predict(X)
    classifier.predict_proba(X)
    classifier.score(X, y)
    with pytest.raises(fastbp.DivergenceError):
        fastbp.train(X, y, 3, num_passes=DIVERGING_PASSES, epsilon=DIVERGING_EPSILON, dtype=dtype,
                     initial_model=model)
    assert checksums(X, y, model) == before
