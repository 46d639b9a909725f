"""The compiled train_pass, calculate_loss and fused train_passes against the
reference (docs/numerics.md: one pass from the same state is level 1, a few
passes are level 3 before any instability), and the minibatch step against
central differences of the objective it documents.

Every call into the compiled code goes through the three adapters below,
written against the Python-level API of the compiled driver (a flat
parameter buffer, feature-major samples, the workspace fastbp._driver.Workspace).
When that API changes, only the adapters change; the tests say what is computed, not how the
kernels are called.
"""

import numpy as np
import pytest

import fastbp
from agreement import (EARLY_PASSES_RTOL, KERNEL_RTOL, assert_close, assert_gradients_match_central_differences,
                       assert_models_close)
from fastbp import _backend, _driver, reference
from kernel_layout import unflatten


# ---------------------------------------------------------------- adapters to today's kernel API


def _layout(model):
    """-> (flat params, parameter names, sizes (D, H1, ..., C)): the kernels' parameter buffer."""
    L = reference.num_layers(model)
    names = reference.parameter_names(L)
    sizes = tuple([model["W1"].shape[0]] + [model["W%d" % l].shape[1] for l in range(1, L + 1)])
    return _backend.flat_params(model, names), names, sizes


def _network(model, X, y, batch_size=None):
    """The compiled workspace for one call: feature-major X, the model's activation."""
    _, _, sizes = _layout(model)
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64).T).ravel()
    code = _driver.ACTIVATION_CODES[reference.activation_of(model)]
    y = np.asarray(y, dtype=np.intp)
    return _driver.Workspace(sizes, code, X, y, len(y) if batch_size is None else batch_size, 1)


def compiled_train_pass(model, X, y, epsilon, reg_lambda):
    """-> a new model: ``model`` after one compiled full-batch pass (reference.train_pass)."""
    params, names, _ = _layout(model)
    _network(model, X, y).train_pass(params, epsilon, reg_lambda)
    return unflatten(params, names, model)


def compiled_calculate_loss(model, X, y, reg_lambda):
    """The compiled reference.calculate_loss."""
    params, _, _ = _layout(model)
    return _network(model, X, y).loss(params, reg_lambda)


def compiled_train_passes(model, X, y, num_passes, epsilons, reg_lambda, loss_every=0, batch_size=None,
                          orders=None, first_pass=0):
    """-> (model after the passes, losses): the fused loop over passes first_pass .. first_pass+num_passes-1.

    epsilons: one step size per gradient step (per pass with full batches, per
    batch with minibatches). orders: (num_passes, N) sample orders, minibatches
    only. losses[k] is the loss after pass k * loss_every; slots of passes
    outside this call stay NaN.
    """
    params, names, _ = _layout(model)
    last_pass = first_pass + num_passes - 1
    losses = np.full(last_pass // loss_every + 1 if loss_every else 0, np.nan)
    orders = (np.empty(0, dtype=np.intp) if orders is None
              else np.ascontiguousarray(orders, dtype=np.intp).ravel())
    _network(model, X, y, batch_size).train_passes(params, orders, np.ascontiguousarray(epsilons, dtype=np.float64),
                                                   reg_lambda, first_pass, num_passes, loss_every, losses)
    return unflatten(params, names, model), losses


# ---------------------------------------------------------------- problems


def perturbed_model(sizes, activation, seed):
    """The lecture's initialisation moved away from it, biases included: an
    initial zero bias would hide an L2 term wrongly applied to biases."""
    rng = np.random.default_rng(seed)
    model = reference.init_params(sizes, seed)
    for name in model:
        model[name] = model[name] + 0.3 * rng.standard_normal(model[name].shape)
    model["activation"] = activation
    return model


def random_problem(N, sizes, seed):
    rng = np.random.default_rng(seed)
    X = 2 * rng.standard_normal((N, sizes[0]))
    y = rng.permutation(np.arange(N) % sizes[-1]).astype(np.intp)
    return X, y


def copy_model(model):
    return {name: value.copy() if isinstance(value, np.ndarray) else value for name, value in model.items()}


SIZES = [(2, 3, 2), (2, 1, 3), (3, 4, 5, 6, 2)]
REG_LAMBDAS = [0.0, 0.01, 0.3]  # none, the lecture's, and one large enough to show any mistake in the L2 term


# ---------------------------------------------------------------- one pass, one loss (level 1)

@pytest.mark.parametrize("reg_lambda", REG_LAMBDAS)
@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("N", [1, 9, 200])
def test_train_pass_matches_the_reference(N, sizes, activation, reg_lambda):
    # Expected: reference.train_pass from the same state; level 1 (a few ulp).
    X, y = random_problem(N, sizes, seed=N)
    model = perturbed_model(sizes, activation, seed=1)
    expected = copy_model(model)
    reference.train_pass(expected, X, y, 0.01, reg_lambda)
    assert_models_close(compiled_train_pass(model, X, y, 0.01, reg_lambda), expected, KERNEL_RTOL,
                        "one pass, reg_lambda %g" % reg_lambda)


@pytest.mark.parametrize("reg_lambda", REG_LAMBDAS)
@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("N", [1, 9, 200])
def test_calculate_loss_matches_the_reference(N, sizes, activation, reg_lambda):
    # Expected: reference.calculate_loss of the same model; level 1.
    X, y = random_problem(N, sizes, seed=N + 1)
    model = perturbed_model(sizes, activation, seed=2)
    assert_close(compiled_calculate_loss(model, X, y, reg_lambda), reference.calculate_loss(model, X, y, reg_lambda),
                 KERNEL_RTOL, "loss, reg_lambda %g" % reg_lambda)


def test_calculate_loss_stays_finite_for_huge_logits():
    # Expected: reference.calculate_loss, whose log-sum-exp form is finite where
    # the lecture's exp(z) / sum(exp(z)) overflows (logits of ~900 here).
    X, y = random_problem(9, (2, 3, 2), seed=3)
    model = perturbed_model((2, 3, 2), "tanh", seed=3)
    model["W2"] = 300 * model["W2"]
    loss = compiled_calculate_loss(model, X, y, 0.01)
    assert np.isfinite(loss)
    assert_close(loss, reference.calculate_loss(model, X, y, 0.01), KERNEL_RTOL)


# ---------------------------------------------------------------- the fused loop (level 3, before any instability)

def reference_passes(model, X, y, epsilons, reg_lambda, loss_every, passes):
    """The fused loop's contract written with the reference: pass p steps with
    its own epsilon, and the loss after pass p is kept when p % loss_every == 0."""
    model = copy_model(model)
    losses = {}
    for p, epsilon in zip(passes, epsilons):
        reference.train_pass(model, X, y, epsilon, reg_lambda)
        if p % loss_every == 0:
            losses[p // loss_every] = reference.calculate_loss(model, X, y, reg_lambda)
    return model, losses


@pytest.mark.parametrize("loss_every", [1, 3])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_train_passes_with_loss_recording_matches_the_reference(loss_every, activation):
    # Expected: reference.train_pass and calculate_loss pass by pass; a few
    # passes from the same state stay within EARLY_PASSES_RTOL. A different step
    # size on every pass shows that pass i takes epsilons[i].
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    model = perturbed_model((2, 4, 2), activation, seed=4)
    num_passes = 7
    epsilons = 0.01 * 0.8 ** np.arange(num_passes)
    got_model, got_losses = compiled_train_passes(model, X, y, num_passes, epsilons, 0.05, loss_every)
    expected_model, expected_losses = reference_passes(model, X, y, epsilons, 0.05, loss_every, range(num_passes))
    assert sorted(expected_losses) == list(range(len(got_losses)))
    assert_close(got_losses, [expected_losses[k] for k in sorted(expected_losses)], EARLY_PASSES_RTOL, "losses")
    assert_models_close(got_model, expected_model, EARLY_PASSES_RTOL, "after %d passes" % num_passes)


def test_train_passes_continuing_a_run_files_losses_by_pass_number():
    # Passes 4..8 of a run with loss_every = 3 record the losses after passes 6
    # only, in slot 2; slots of earlier passes are left alone (the trainer calls
    # the loop in chunks). Expected: the reference, pass by pass.
    X, y = random_problem(30, (2, 3, 2), seed=5)
    model = perturbed_model((2, 3, 2), "tanh", seed=5)
    epsilons = np.full(5, 0.01)
    got_model, got_losses = compiled_train_passes(model, X, y, 5, epsilons, 0.01, loss_every=3, first_pass=4)
    expected_model, expected_losses = reference_passes(model, X, y, epsilons, 0.01, 3, range(4, 9))
    assert list(expected_losses) == [2]
    assert np.all(np.isnan(got_losses[:2]))
    assert_close(got_losses[2], expected_losses[2], EARLY_PASSES_RTOL, "loss after pass 6")
    assert_models_close(got_model, expected_model, EARLY_PASSES_RTOL)


@pytest.mark.parametrize("sizes", [(2, 3, 3), (40, 24, 3)])
@pytest.mark.parametrize("batch_size", [1, 7, 19])
def test_minibatch_passes_match_the_references_epochs(batch_size, sizes):
    # Expected: reference.train_epoch over the same orders and step sizes; 20
    # samples in batches of 7 leave a last batch of 6, of 19 a last batch of 1.
    # (2, 3, 3) takes the narrow loops; (40, 24, 3) the tiles, whose first
    # layer's weight gradient a step folds in two chunks of rows (21 and 19),
    # each chunk's partial sums started from zero.
    N, num_passes = 20, 3
    X, y = random_problem(N, sizes, seed=6)
    model = perturbed_model(sizes, "sigmoid", seed=6)
    rng = np.random.default_rng(7)
    orders = np.array([rng.permutation(N) for _ in range(num_passes)])
    steps = -(-N // batch_size)
    epsilons = 0.01 * (1 + 0.1 * np.arange(num_passes * steps))
    got_model, _ = compiled_train_passes(model, X, y, num_passes, epsilons, 0.1, batch_size=batch_size,
                                         orders=orders)
    expected = copy_model(model)
    for i, order in enumerate(orders):
        reference.train_epoch(expected, X, y, order, batch_size, epsilons[i * steps:(i + 1) * steps], 0.1)
    assert_models_close(got_model, expected, EARLY_PASSES_RTOL, "batch_size %d" % batch_size)


# ---------------------------------------------------------------- the minibatch objective, by central differences

def batch_objective(X, y, batch, reg_lambda):
    """The objective a minibatch step descends, as documented (fastbp.train):
    the batch's summed loss plus its share B/N of the full batch's L2 term,
    so that the batches of an epoch add up to the full-batch objective."""
    B, N = len(batch), len(y)

    def objective(model):
        data = reference.cross_entropy_loss(reference.forward(model, X[batch])[-1], y[batch])
        weights = sum(np.sum(np.square(model[name])) for name in model if name.startswith("W"))
        return data + (B / N) * reg_lambda / 2 * weights
    return objective


def epoch_steps(batch_size, N):
    return [np.arange(start, min(start + batch_size, N)) for start in range(0, N, batch_size)]


def test_the_batch_objectives_add_up_to_the_full_batch_objective():
    # The test's own objective, checked against the lecture's loss (reference
    # calculate_loss times N): the B/N share is what makes the sum come out.
    N, reg_lambda = 8, 0.2
    X, y = random_problem(N, (2, 3, 2), seed=8)
    model = perturbed_model((2, 3, 2), "tanh", seed=8)
    del model["activation"]
    total = sum(batch_objective(X, y, batch, reg_lambda)(model) for batch in epoch_steps(3, N))
    assert_close(total, N * reference.calculate_loss(model, X, y, reg_lambda), KERNEL_RTOL)


def reference_epoch(model, X, y, order, batch_size, epsilons, reg_lambda):
    model = copy_model(model)
    reference.train_epoch(model, X, y, order, batch_size, epsilons, reg_lambda)
    return model


def compiled_epoch(model, X, y, order, batch_size, epsilons, reg_lambda):
    return compiled_train_passes(model, X, y, 1, epsilons, reg_lambda, batch_size=batch_size,
                                 orders=order[None, :])[0]


@pytest.mark.parametrize("step", [0, 2], ids=["first-batch", "short-last-batch"])
@pytest.mark.parametrize("epoch", [compiled_epoch, reference_epoch], ids=["compiled", "reference"])
def test_a_minibatch_step_descends_the_documented_objective(epoch, step):
    # Expected: central differences of batch_objective. The epoch runs with step
    # size 0 on every batch but one, which isolates that batch's step:
    # (params before - params after) / epsilon is the gradient it followed.
    # Batches of 3 from 8 samples: 3, 3 and a last batch of 2.
    N, batch_size, epsilon, reg_lambda = 8, 3, 0.01, 0.2
    X, y = random_problem(N, (2, 3, 2), seed=9)
    model = perturbed_model((2, 3, 2), "tanh", seed=9)
    order = np.random.default_rng(10).permutation(N)
    epsilons = np.zeros(len(epoch_steps(batch_size, N)))
    epsilons[step] = epsilon
    after = epoch(model, X, y, order, batch_size, epsilons, reg_lambda)
    followed = {name: (model[name] - after[name]) / epsilon for name in model if name != "activation"}
    batch = order[epoch_steps(batch_size, N)[step]]
    del model["activation"]
    assert_gradients_match_central_differences(followed, batch_objective(X, y, batch, reg_lambda), model,
                                               "batch %d" % step)
