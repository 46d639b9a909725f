"""Sharpness against finite differences, on small problems and on the lecture's
runs; classify_run on synthetic sequences and on the lecture's runs.

The lecture-run tests check level 2 of docs/numerics.md where GD is stable
(H = 5, 20, 50: the run is reproducible, so its sharpness is) and level 3
where it is not (H = 1, 3: the compiled run ends on the reference's 2-cycle).
"""

import functools

import numpy as np
import pytest

import fastbp
from agreement import CYCLE_LOSS_RTOL
from hessians import HVP_FD_RTOL, SHARPNESS_RTOL, dense_hessian, flatten, gradient_difference
from fastbp import diagnostics, reference

LECTURE_PASSES = 20000
LECTURE_EPSILON = 0.01


def small_problem(sizes, seed):
    """A few samples of the lecture's data (a third of them relabelled 2 if the
    model has three classes) and a model moved well away from its
    initialisation, so that the Hessian has negative eigenvalues too."""
    X, y = fastbp.datasets.make_moons(30, seed=seed)
    if sizes[-1] == 3:
        y[::3] = 2
    rng = np.random.RandomState(seed)
    model = reference.init_params(sizes, seed)
    for name in model:
        model[name] = model[name] + rng.randn(*model[name].shape)
    return model, X, y


@pytest.mark.parametrize("sizes", [(2, 3, 2), (2, 4, 3, 2), (2, 3, 3)])
def test_hessian_vector_product_matches_central_difference(sizes):
    model, X, y = small_problem(sizes, seed=1)
    rng = np.random.RandomState(2)
    direction = {name: rng.randn(*model[name].shape) for name in model}
    product = diagnostics.hessian_vector_product(model, X, y, 0.01, direction)
    expected = gradient_difference(model, X, y, 0.01, direction)
    names = reference.parameter_names(reference.num_layers(model))
    error = np.max(np.abs(flatten(product, names) - flatten(expected, names)))
    scale = np.max(np.abs(flatten(expected, names)))
    assert error <= HVP_FD_RTOL * scale, "worst relative difference %.3g" % (error / scale)


@pytest.mark.parametrize("sizes, seed", [((2, 3, 2), 0), ((2, 5, 2), 3), ((2, 3, 4, 2), 4)])
def test_sharpness_matches_dense_finite_difference_hessian(sizes, seed):
    model, X, y = small_problem(sizes, seed)
    eigenvalues = np.linalg.eigvalsh(dense_hessian(model, X, y, 0.01))
    assert eigenvalues[0] < 0, "the test should cover an indefinite Hessian"
    assert diagnostics.sharpness(model, X, y, 0.01) == pytest.approx(eigenvalues[-1], rel=SHARPNESS_RTOL)


def symmetric_matrix(eigenvalues, seed):
    rotation, _ = np.linalg.qr(np.random.RandomState(seed).randn(len(eigenvalues), len(eigenvalues)))
    return rotation @ np.diag(eigenvalues) @ rotation.T


@pytest.mark.parametrize("eigenvalues", [
    [7.0, 3.0, -1.0, 0.5],        # the dominant eigenvalue is the largest
    [-10.0, 3.0, 2.0, -0.5],      # a dominant negative eigenvalue: needs the shift
    [5.0, -5.0, 1.0, 0.0],        # equal magnitudes: plain power iteration never settles
    [-4.0, -2.0, -1.0],           # all negative: the largest is -1
])
def test_largest_eigenvalue_is_the_largest_algebraic_one(eigenvalues):
    matrix = symmetric_matrix(eigenvalues, seed=5)
    expected = np.linalg.eigvalsh(matrix)[-1]
    found = diagnostics.largest_eigenvalue(lambda v: matrix @ v, len(eigenvalues))
    assert found == pytest.approx(expected, rel=SHARPNESS_RTOL)


def test_sharpness_rejects_other_activations():
    model = reference.init_params((2, 3, 2), 0)
    X, y = fastbp.datasets.make_moons(10)
    with pytest.raises((ValueError, TypeError)):
        diagnostics.sharpness(dict(model, activation="softplus"), X, y)


@functools.lru_cache(maxsize=None)
def lecture_run(hidden, num_passes=LECTURE_PASSES, loss_every=0):
    X, y = fastbp.datasets.make_moons()
    return fastbp.train(X, y, hidden, num_passes=num_passes, loss_every=loss_every)


def assert_sharpness_is_the_dense_hessians(model):
    X, y = fastbp.datasets.make_moons()
    expected = np.linalg.eigvalsh(dense_hessian(model, X, y, 0.01))[-1]
    found = diagnostics.sharpness(model, X, y, 0.01)
    assert found == pytest.approx(expected, rel=SHARPNESS_RTOL)
    return found


@pytest.mark.parametrize("hidden", [5, 20, 50])
def test_sharpness_of_stable_lecture_runs(hidden):
    # Expected: the largest eigenvalue of a dense central-difference Hessian of
    # the final model; and, from the stability of gradient descent, below
    # 2/epsilon at the fixed point these runs converge to.
    found = assert_sharpness_is_the_dense_hessians(lecture_run(hidden).model)
    assert found < 2 / LECTURE_EPSILON


@pytest.mark.parametrize("hidden", [1, 3])
def test_sharpness_at_both_points_of_a_lecture_cycle(hidden):
    # Expected: the dense central-difference Hessian at each of the cycle's two
    # points (passes 20000 and 20001); which one is which is rounding's choice.
    for passes in (LECTURE_PASSES, LECTURE_PASSES + 1):
        assert_sharpness_is_the_dense_hessians(lecture_run(hidden, passes).model)


# Expected classes: regression values of this code, measured on 2026-11-28
# (docs/numerics.md describes what each run does).
@pytest.mark.parametrize("hidden, expected", [(1, diagnostics.PERIOD_2), (2, diagnostics.IRREGULAR),
                                              (3, diagnostics.PERIOD_2), (4, diagnostics.IRREGULAR),
                                              (5, diagnostics.CONVERGED)])
def test_classify_run_on_the_lecture_runs(hidden, expected):
    losses = lecture_run(hidden, loss_every=1).losses[-diagnostics.CLASSIFY_WINDOW:]
    assert diagnostics.classify_run(losses) == expected


def test_lecture_h3_run_records_the_references_cycle(lecture_reference_cycle):
    # Expected: the two losses of the NumPy reference's 2-cycle (level 3); the
    # compiled run's last two recorded losses are those two, in either order.
    last_two = lecture_run(3, loss_every=1).losses[-2:]
    assert sorted(last_two) == pytest.approx(sorted(lecture_reference_cycle.losses), rel=CYCLE_LOSS_RTOL)


def test_classify_run_synthetic_sequences():
    rng = np.random.RandomState(0)
    passes = np.arange(300)
    assert diagnostics.classify_run(np.full(300, 0.07)) == diagnostics.CONVERGED
    # rounding-level wobble around a fixed point
    assert diagnostics.classify_run(0.07 * (1 + 1e-15 * rng.randn(300))) == diagnostics.CONVERGED
    assert diagnostics.classify_run(0.03 + 0.01 * 0.99 ** passes) == diagnostics.CONVERGED
    alternating = np.where(passes % 2 == 0, 0.0707579458, 0.0713158087)
    assert diagnostics.classify_run(alternating) == diagnostics.PERIOD_2
    # still settling onto its cycle: each phase drifts a little
    assert diagnostics.classify_run(alternating + 1e-6 * 0.99 ** passes) == diagnostics.PERIOD_2
    assert diagnostics.classify_run(rng.uniform(0.05, 0.07, 300)) == diagnostics.IRREGULAR
    # a smooth descent broken by a spike, as in the lecture's H = 2 run
    spiked = 0.32 - 1e-5 * passes
    spiked[200:210] = 0.18
    assert diagnostics.classify_run(spiked) == diagnostics.IRREGULAR
    assert diagnostics.classify_run(np.r_[np.full(10, 0.3), np.nan]) == diagnostics.IRREGULAR


def test_classify_run_rejects_too_few_losses():
    with pytest.raises(ValueError):
        diagnostics.classify_run([0.1] * (diagnostics.MIN_LOSSES - 1))


def test_classify_runs_rounding_allowance_is_tight():
    # The documented allowance, 1e-12 of the loss (written here, not read from the module,
    # so that a looser constant fails): a rise of half of it is rounding, of twice it is not.
    for rise, expected in ((0.5e-12, diagnostics.CONVERGED), (2e-12, diagnostics.IRREGULAR)):
        losses = np.full(300, 0.07)
        losses[150:] *= 1 + rise  # one rise, then flat
        assert diagnostics.classify_run(losses) == expected, rise


def test_classify_runs_phase_drift_allowance_is_where_it_says():
    # A period-2 cycle's phases may each drift by less than a tenth of the gap between them
    # (the documented allowance, written here): 0.09 of it is a cycle, 0.11 is not.
    passes = np.arange(400)
    gap = 1e-3
    cycle = np.where(passes % 2 == 0, 0.070, 0.070 + gap)
    for share, expected in ((0.09, diagnostics.PERIOD_2), (0.11, diagnostics.IRREGULAR)):
        drifting = cycle + share * gap * passes / passes[-1]
        assert diagnostics.classify_run(drifting) == expected, share


def test_classify_run_takes_exactly_min_losses():
    assert diagnostics.classify_run([0.1] * diagnostics.MIN_LOSSES) == diagnostics.CONVERGED


def test_classify_end_reads_only_the_last_window():
    num_passes = diagnostics.MIN_CLASSIFIED_PASSES
    passes = np.arange(num_passes)
    losses = 0.1 + 0.05 * 0.999 ** passes
    first_in_window = num_passes - diagnostics.CLASSIFY_WINDOW
    early_spike = losses.copy()
    early_spike[first_in_window - 1] = 0.5  # the last pass before the window: ignored
    assert diagnostics.classify_end(passes, early_spike, num_passes) == diagnostics.CONVERGED
    assert diagnostics.classify_run(early_spike) == diagnostics.IRREGULAR
    late_spike = losses.copy()
    late_spike[first_in_window + 1] = 0.5  # inside the window: seen
    assert diagnostics.classify_end(passes, late_spike, num_passes) == diagnostics.IRREGULAR
    assert diagnostics.classify_end(passes[:-1], losses[:-1], num_passes - 1) == diagnostics.TOO_SHORT


# Problems whose step size diverges, each with the passes to train: the hint must name a
# step at which the same training runs through and learns (the check is the loss itself:
# no divergence, and the loss after the last pass under half the loss after pass 0).
DIVERGING_PROBLEMS = {
    "the lecture's network at epsilon 1e6": (dict(hidden=3, epsilon=1e6), 20000),
    "two tanh layers at 1e4": (dict(hidden=(5, 4), epsilon=1e4), 5000),
    "sigmoid at 1e4": (dict(hidden=10, epsilon=1e4, activation="sigmoid"), 5000),
    "relu at 1e2": (dict(hidden=10, epsilon=1e2, activation="relu"), 5000),
    "minibatches of 20 at 1e6": (dict(hidden=3, epsilon=1e6, batch_size=20), 2000),
    "a step schedule at 1e6": (dict(hidden=3, epsilon=1e6, schedule="step"), 2000),
}


def one_digit_down(value):
    power = 10.0 ** np.floor(np.log10(value))
    return np.floor(value / power) * power


def suggested_step(error):
    return float(str(error).rsplit("(for example ", 1)[1].split(")")[0])


@pytest.mark.parametrize("problem", sorted(DIVERGING_PROBLEMS))
def test_following_the_divergence_hint_trains(moons, problem):
    X, y = moons
    settings, passes = DIVERGING_PROBLEMS[problem]
    with pytest.raises(fastbp.DivergenceError) as diverged:
        fastbp.train(X, y, num_passes=passes, **settings)
    step = suggested_step(diverged.value)
    assert 0 < step < settings["epsilon"] / 10
    run = fastbp.train(X, y, num_passes=passes, loss_every=passes - 1, **dict(settings, epsilon=step))
    assert np.all(np.isfinite(run.losses)) and run.losses[-1] < 0.5 * run.losses[0], run.losses


def test_the_hint_scales_with_the_sharpness_the_schedule_and_the_data():
    # Expected: STEP_MARGIN * 2 / sharpness at the start, from diagnostics.sharpness on all
    # the data (dense-Hessian-checked above), rounded down to one significant digit.
    X, y = fastbp.datasets.make_moons(400, seed=2)
    model = reference.init_params((2, 3, 2), 0)
    limit = diagnostics.STEP_MARGIN * 2 / diagnostics.sharpness(model, X, y, 0.01)
    expected = one_digit_down(limit)
    assert diagnostics.suggest_epsilon(model, X, y, 0.01, 1e6) == pytest.approx(expected, rel=1e-12)
    # a schedule whose largest step is twice epsilon: epsilon itself must be half as large
    halved = one_digit_down(limit / 2)
    assert diagnostics.suggest_epsilon(model, X, y, 0.01, 1e6, largest_step=2e6) == pytest.approx(halved, rel=1e-12)
    # more data (the same points twice): the summed loss is twice as sharp, the step half as large
    assert diagnostics.suggest_epsilon(model, np.r_[X, X], np.r_[y, y], 0.01, 1e6) == pytest.approx(
        halved, rel=1e-12)
    # a larger L2 strength makes the loss sharper
    assert diagnostics.suggest_epsilon(model, X, y, 1000.0, 1e6) < expected
    # a step already below the estimate: still a smaller one
    assert diagnostics.suggest_epsilon(model, X, y, 0.01, expected / 10) < expected / 10


def test_largest_eigenvalue_gives_up_after_max_iterations():
    # eigenvalues 1 and -1 of equal magnitude: the plain run never settles and the shifted
    # one needs more than 3 iterations; the default budget is enough.
    matrix = symmetric_matrix([1.0, -1.0, 0.5], seed=1)
    with pytest.raises(ArithmeticError, match="did not converge in 3 iterations"):
        diagnostics.largest_eigenvalue(lambda v: matrix @ v, 3, max_iterations=3)
    assert diagnostics.largest_eigenvalue(lambda v: matrix @ v, 3) == pytest.approx(1.0, rel=SHARPNESS_RTOL)


def test_largest_eigenvalue_seed_sets_the_start():
    matrix = symmetric_matrix([3.0, 1.0, 0.5, 0.2], seed=2)
    values = {diagnostics.largest_eigenvalue(lambda v: matrix @ v, 4, seed=seed) for seed in (0, 1)}
    assert len(values) == 2  # two starts stop at two points within the residual
    assert all(value == pytest.approx(3.0, rel=SHARPNESS_RTOL) for value in values)


def test_the_hints_rounding_keeps_a_value_on_a_digit_and_only_that():
    # 0.3 / 0.1 is 2.9999999999999996 in floating point: still 0.3; a billionth below it is 0.2.
    assert diagnostics._round_down(0.3) == 0.3
    assert diagnostics._round_down(0.3 * (1 - 1e-9)) == 0.2
    assert diagnostics._round_down(0.0678) == 0.06 and diagnostics._round_down(7e-6) == 7e-6
