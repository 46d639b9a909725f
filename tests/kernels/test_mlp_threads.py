"""src/_mlp.pyx on several threads: the wide products and the optimiser's update are
shared between the threads, each output computed wholly by one thread in one
thread's order, so every thread count gives the same bits (expected values: the
same workspace on one thread), and threadpoolctl's limit reaches those threads."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from fastbp import FastBPClassifier, _layers, _mlp, reference_mlp
from fastbp.estimators import _compiled

THREAD_COUNTS = (1, 2, 3)
# D = 100 inputs, 512 hidden units, 25 outputs: every product of a 199-row batch, and
# the update of its 64 000 parameters, is above the threshold for sharing it, the
# batch's gather is two chunks of features (src/loops.h), and 199 rows leave odd
# remainders. The first layer takes the packed products (gemm.use_packed); the top
# one, under 32 outputs, the tiles, its rows shared between the threads
# (dense_backward_rows) and its outputs in parts of whole tiles (4 or 6 outputs,
# tiled_products.fastbp_combine_rows), the last part ending in a narrower one.
LAYER_UNITS = [100, 512, 25]
BATCH = 199


def data(output, dtype, num_samples=500, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(num_samples, LAYER_UNITS[0])).astype(dtype)
    C = LAYER_UNITS[-1]
    if output == "softmax":
        Y = np.eye(C, dtype=dtype)[rng.randint(C, size=num_samples)]
    elif output == "logistic":
        Y = (rng.rand(num_samples, C) < 0.3).astype(dtype)
    else:
        Y = rng.normal(size=(num_samples, C)).astype(dtype)
    return X, Y, rng.rand(num_samples).astype(dtype)


def epochs_on(threads, activation, output, solver, dtype, weighted):
    X, Y, weights = data(output, dtype)
    units = LAYER_UNITS
    coefs, intercepts = reference_mlp.init_coefs(units, activation, np.random.RandomState(1), dtype)
    params = np.concatenate([array.ravel() for array in coefs + intercepts])
    workspace = _mlp.MLPWorkspace(units, activation, output, X.ravel(), Y.ravel(), weights if weighted else None,
                                  1e-3, BATCH, threads)
    state_a, state_b = np.zeros_like(params), np.zeros_like(params)
    order = np.random.RandomState(2).permutation(len(X))
    losses, t = [], 0
    for _ in range(2):
        if solver == "adam":
            summed, t = workspace.epoch(params, order, "adam", state_a, state_b, 1e-3, t=t, beta_1=0.9,
                                        beta_2=0.999, epsilon=1e-8)
        else:
            summed, _ = workspace.epoch(params, order, "sgd", state_a, None, 1e-2, momentum=0.9, nesterov=True)
        losses.append(summed)
    full = _mlp.MLPWorkspace(units, activation, output, X.ravel(), Y.ravel(), None, 1e-3, len(X), threads)
    loss, gradient = full.loss_and_gradient(params)
    return params, state_a, state_b, losses, loss, gradient


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation, output, solver, weighted", [
    ("relu", "softmax", "adam", False), ("tanh", "logistic", "sgd", True), ("logistic", "identity", "adam", True),
    ("identity", "identity", "sgd", False)])
def test_every_thread_count_gives_the_same_bits(activation, output, solver, weighted, dtype):
    # both ways of sharing a layer's products: the packed GEMM's chunks and the tiles' parts
    assert _layers.use_packed(*LAYER_UNITS[:2]) and not _layers.packs_weight_gradient(*LAYER_UNITS[1:])
    runs = [epochs_on(threads, activation, output, solver, dtype, weighted) for threads in THREAD_COUNTS]
    for threads, run in zip(THREAD_COUNTS[1:], runs[1:]):
        for name, mine, one in zip(("params", "state_a", "state_b", "losses", "loss", "gradient"), run, runs[0]):
            np.testing.assert_array_equal(mine, one, err_msg="%s on %d threads" % (name, threads))
    assert not np.array_equal(runs[0][0], epochs_on(1, activation, output, solver, dtype, not weighted)[0])


@pytest.mark.parametrize("dtype, widest_panel", [(np.float64, 32), (np.float32, 64)])
def test_the_threads_share_one_packing_of_each_products_operand(dtype, widest_panel):
    # gemm.h's shared_b: the threads that share a block's packed products pack
    # each second operand once, into a buffer with room for the largest, its
    # columns rounded up to any path's micro-panel (expected: the operands'
    # shapes, gemm.pxd's wrappers). The 100-512 layer on a block of n rows:
    # forward reads inp (100, n), the weight gradient delta (n, 512), the
    # backward input delta (512, n) -- the largest.
    X, Y, _ = data("softmax", dtype)
    for batch, n in ((BATCH, BATCH), (len(X), 256)):  # 500 rows: blocks of 256 (BLOCK_ROWS)
        workspace = _mlp.MLPWorkspace(LAYER_UNITS, "tanh", "softmax", X.ravel(), Y.ravel(), None, 1e-3, batch, 2)
        operands = (100 * (n + widest_panel - 1), n * (512 + widest_panel - 1), 512 * (n + widest_panel - 1))
        assert workspace.pack_shared_elements == max(operands)
    # none on one thread
    assert _mlp.MLPWorkspace(LAYER_UNITS, "tanh", "softmax", X.ravel(), Y.ravel(), None, 1e-3, BATCH,
                             1).pack_shared_elements == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_full_batch_gathers_its_samples_once_for_epochs_in_the_same_order(dtype):
    # A workspace whose batch is every sample keeps them gathered between epochs in
    # the same order, and gathers again when the order changes. Expected: each epoch
    # on a fresh workspace (which gathers); the bits, since the order of the samples
    # is the order of the gradient's sums.
    X, Y, _ = data("softmax", dtype, num_samples=300)
    coefs, intercepts = reference_mlp.init_coefs(LAYER_UNITS, "tanh", np.random.RandomState(1), dtype)
    initial = np.concatenate([array.ravel() for array in coefs + intercepts])
    rng = np.random.RandomState(4)
    orders = [np.arange(300), np.arange(300), rng.permutation(300), rng.permutation(300)]

    def fresh():
        return _mlp.MLPWorkspace(LAYER_UNITS, "tanh", "softmax", X.ravel(), Y.ravel(), None, 1e-3, len(X), 2)
    kept, each, workspace = initial.copy(), initial.copy(), fresh()
    for order in orders:
        for params, run_on in ((kept, workspace), (each, fresh())):
            run_on.epoch(params, order, "sgd", np.zeros_like(params), None, 0.1)
        np.testing.assert_array_equal(kept, each)
    assert not np.array_equal(kept, initial)


def test_threadpoolctl_limits_the_workspaces_threads():
    if not any(pool["user_api"] == "openmp" for pool in threadpool_info()):
        pytest.skip("built without OpenMP")
    X, _, _ = data("softmax", np.float64, num_samples=50)
    y = np.arange(50) % 3
    Y = np.eye(3)[y]
    estimator = FastBPClassifier(hidden_layer_sizes=(5,), max_iter=1).fit(X, y)
    for limit in (1, 3):
        with threadpool_limits(limit, user_api="openmp"):
            assert _mlp.max_threads() == limit
            assert _compiled.workspace(estimator, X, Y, None, 10).num_threads == limit


def test_a_fit_is_the_same_on_one_thread_and_on_several():
    X, Y, _ = data("softmax", np.float64, num_samples=800)
    y = Y.argmax(axis=1)
    fits = []
    for threads in THREAD_COUNTS:
        with threadpool_limits(threads, user_api="openmp"):
            fits.append(FastBPClassifier(hidden_layer_sizes=(512,), max_iter=2, batch_size=BATCH,
                                         random_state=0).fit(X, y))
    for fit in fits[1:]:
        for mine, one in zip(fit.coefs_ + fit.intercepts_, fits[0].coefs_ + fits[0].intercepts_):
            np.testing.assert_array_equal(mine, one)
