"""The sharpness (largest Hessian eigenvalue of the summed loss) for every hidden activation
(fastbp/diagnostics.py), as the playground measures it while training (fastbp/playground_app).

Expected values come from finite differences of the NumPy reference's gradient
(reference.gradients): a central difference gives H v, and the dense Hessian of a small
network column by column. ReLU's second derivative is 0 wherever it exists; the Hessian is
that of the smooth piece the weights are on, which central differences see only if they do
not cross a kink: every test checks that no unit turns on or off within a difference step.
"""

import time
from dataclasses import replace

import numpy as np
import pytest

import fastbp
from fastbp import diagnostics, reference
from hessians import FD_STEP, HVP_FD_RTOL, SHARPNESS_RTOL, dense_hessian, flatten, gradient_difference, names_of
from fastbp.playground_app import session as T
from fastbp.playground_app import settings as S

ACTIVATIONS = ("tanh", "sigmoid", "relu")
WAIT_SECONDS = 120  # far beyond what the runs below need, even on a busy machine


def small_problem(sizes, activation, seed):
    """30 of the lecture's points and a model moved well away from its initialisation,
    so that the Hessian has negative eigenvalues too."""
    X, y = fastbp.datasets.make_moons(30, seed=seed)
    rng = np.random.RandomState(seed)
    model = reference.init_params(sizes, seed)
    for name in list(model):
        model[name] = model[name] + rng.randn(*model[name].shape)
    model["activation"] = activation
    return model, X, y


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [(2, 3, 2), (2, 4, 3, 2)])
def test_the_hessian_vector_product_is_the_central_difference_of_the_gradient(sizes, activation):
    model, X, y = small_problem(sizes, activation, seed=1)
    rng = np.random.RandomState(2)
    direction = {name: rng.randn(*model[name].shape) for name in names_of(model)}
    product = diagnostics.hessian_vector_product(model, X, y, 0.01, direction)
    expected = gradient_difference(model, X, y, 0.01, direction)
    names = names_of(model)
    error = np.max(np.abs(flatten(product, names) - flatten(expected, names)))
    scale = np.max(np.abs(flatten(expected, names)))
    assert error <= HVP_FD_RTOL * scale, "worst relative difference %.3g" % (error / scale)


def test_the_activations_second_derivatives_are_the_derivatives_of_their_first():
    # f''(z) = f'(z) * curvature(f(z)): against a central difference of f'(z) = backward(1, f(z))
    z = np.linspace(-3, 3, 61).reshape(1, -1) + 0.05  # no point at relu's kink z = 0
    for activation in ACTIVATIONS:
        forward, backward = reference.ACTIVATIONS[activation]
        first = backward(np.ones_like(z), forward(z))
        second = first * diagnostics.CURVATURES[activation](forward(z))
        difference = (backward(np.ones_like(z), forward(z + FD_STEP))
                      - backward(np.ones_like(z), forward(z - FD_STEP))) / (2 * FD_STEP)
        np.testing.assert_allclose(second, difference, rtol=0, atol=HVP_FD_RTOL, err_msg=activation)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes, seed", [((2, 3, 2), 0), ((2, 5, 2), 3), ((2, 3, 4, 2), 4)])
def test_the_sharpness_is_the_largest_eigenvalue_of_the_finite_difference_hessian(sizes, seed, activation):
    model, X, y = small_problem(sizes, activation, seed)
    eigenvalues = np.linalg.eigvalsh(dense_hessian(model, X, y, 0.01))
    assert diagnostics.sharpness(model, X, y, 0.01) == pytest.approx(eigenvalues[-1], rel=SHARPNESS_RTOL)


def wait_for(condition, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


@pytest.mark.parametrize("activation", ("sigmoid", "relu"))
def test_the_playground_measures_the_sharpness_of_sigmoid_and_relu_networks(activation):
    settings = replace(S.LECTURE, activation=activation, stop_at=250, speed=0)
    session = T.TrainingSession(settings)
    try:
        session.play()
        wait_for(lambda: len(session.view()[2].sharpness) >= 2, "the sharpness after passes 0 and 250")
        measured = session.view()[2].sharpness
        X, y = session.X_train, session.data.y_train
    finally:
        session.close()
    # the models after passes 0 and 250, as one fastbp.train call gives them (full batch: the same run)
    for (passes, value, limit), num_passes in zip(measured, (0, 250)):
        assert passes == num_passes and limit == 2 / settings.epsilon
        model = (T.initial_model(settings, 2, 2) if num_passes == 0 else
                 fastbp.train(X, y, settings.hidden, num_passes=num_passes, activation=activation).model)
        expected = np.linalg.eigvalsh(dense_hessian(model, X, y, settings.l2))[-1]
        assert value == pytest.approx(expected, rel=SHARPNESS_RTOL), (activation, passes)


def test_the_page_shows_a_relu_networks_sharpness():
    pytest.importorskip("panel", reason='the playground\'s extra is not installed (pip install "fastbp[playground]")')
    from fastbp.playground_app.layout import Page

    page = Page({"activation": "relu", "stop_at": "250", "speed": "0", "test_percent": "0"})
    try:
        page.session.play()
        wait_for(lambda: len(page.session.view()[2].sharpness) >= 2, "the sharpness after pass 250")
        page.redraw()
        text = page.stability_text.object
    finally:
        page.close()
    value = page.session.view()[2].sharpness[-1][1]
    assert "Sharpness %.4g after 250 passes; 2/epsilon = 200" % value in text, text
    page.buttons["stable"].clicks += 1  # half of 2/sharpness, as for tanh
    assert float(page.fields["epsilon"].value) <= 1 / value
