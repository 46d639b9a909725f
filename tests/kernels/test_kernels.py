"""Each compiled kernel against the reference function of the same name
(docs/numerics.md, level 1: one step from the same state, within a few ulp).

The kernels hold per-sample arrays feature-major (see src/layers.pxd): an
(N,K) reference array z is passed as the flat buffer of z.T. The layer kernels
are reached through their test wrappers (fastbp._layers); the network-level
driver through the workspace the trainer uses (fastbp._driver.Workspace).
"""

import importlib.machinery

import numpy as np
import pytest

import fastbp
from agreement import KERNEL_RTOL, assert_close
from fastbp import _backend, _driver, _layers, reference
from kernel_layout import feature_major, flatten, perturbed_network, sample_major
from test_products import PATHS


# (N, J, K): one sample, one unit, three classes, odd sizes, the lecture's shape,
# layers under 32 weights with 9 inputs or 9 outputs (the loops' four-column
# sweeps, then the columns left), and wide layers whose products take the tiled
# path of src/tiled_products.h (the last five): their N leave samples after the last
# full tile and vector, and their widths leave rows after the last full tile;
# (45, 9, 23) has fewer inputs than outputs, so its weight gradient runs the
# tiles in the other order
SHAPES = [(1, 2, 3), (1, 1, 1), (7, 3, 1), (5, 1, 3), (13, 4, 5), (200, 2, 3), (200, 3, 2), (29, 9, 3),
          (29, 3, 9), (31, 50, 7), (1, 8, 8), (37, 20, 16), (300, 64, 10), (45, 9, 23)]


def test_shapes_cover_both_matrix_product_paths():
    paths = {_layers.use_tiles(J, K) for _, J, K in SHAPES}
    assert paths == {True, False}


def random_problem(N, J, K, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, J)) * 2, rng.standard_normal((J, K)), rng.standard_normal((1, K)),
            rng.integers(0, K, size=N).astype(np.intp))


def test_the_compiled_modules_are_loaded():
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for module in (_driver, _layers):
        assert module.__file__.endswith(suffixes), "%s is not a compiled extension" % module.__name__


@pytest.mark.parametrize("N,J,K", SHAPES)
def test_dense_forward(N, J, K):
    inp, W, b, _ = random_problem(N, J, K, 1)
    z = np.empty(N * K)
    _layers.dense_forward(z, feature_major(inp), W.ravel(), b.ravel(), N, J, K)
    assert_close(sample_major(z, N, K), reference.dense_forward(inp, W, b), KERNEL_RTOL)


@pytest.mark.parametrize("N,J,K", SHAPES)
def test_dense_backward(N, J, K):
    inp, _, _, _ = random_problem(N, J, K, 2)
    delta = np.random.default_rng(3).standard_normal((N, K))
    dW_expected, db_expected = reference.dense_backward(delta, inp)
    # the kernel accumulates: start from a known gradient and check the sum
    previous_dW, previous_db = np.full((J, K), 0.5), np.full((1, K), -0.25)
    dW, db = previous_dW.ravel().copy(), previous_db.ravel().copy()
    _layers.dense_backward(dW, db, feature_major(delta), feature_major(inp), N, J, K)
    assert_close(dW.reshape(J, K), previous_dW + dW_expected, KERNEL_RTOL, "dW")
    assert_close(db.reshape(1, K), previous_db + db_expected, KERNEL_RTOL, "db")


@pytest.mark.parametrize("N,J,K", SHAPES)
def test_dense_backward_input(N, J, K):
    _, W, _, _ = random_problem(N, J, K, 4)
    delta = np.random.default_rng(5).standard_normal((N, K))
    dinp = np.empty(N * J)
    _layers.dense_backward_input(dinp, feature_major(delta), W.ravel(), N, J, K)
    assert_close(sample_major(dinp, N, J), reference.dense_backward_input(delta, W), KERNEL_RTOL)


@pytest.mark.parametrize("N,J,K", SHAPES)
def test_tanh_forward_and_backward(N, J, K):
    z = np.random.default_rng(6).standard_normal((N, K)) * 3
    a = np.empty(N * K)
    _layers.tanh_forward(a, feature_major(z), N * K)
    # the kernel's own vectorised tanh is within 2 ulp of NumPy's (tests/kernels/test_vecmath.py)
    assert_close(sample_major(a, N, K), reference.tanh_forward(z), KERNEL_RTOL, "tanh_forward")
    dout = np.random.default_rng(7).standard_normal((N, K))
    dz = np.empty(N * K)
    _layers.tanh_backward(dz, feature_major(dout), a, N * K)
    expected = reference.tanh_backward(dout, reference.tanh_forward(z))
    assert_close(sample_major(dz, N, K), expected, KERNEL_RTOL, "tanh_backward")


@pytest.mark.parametrize("N,J,C", [(1, 2, 3), (7, 3, 2), (200, 3, 2), (13, 4, 5), (4, 2, 1)])
def test_softmax_forward_and_loss(N, J, C):
    z = np.random.default_rng(8).standard_normal((N, C)) * 5
    z[0, 0] = 800.0  # the lecture's plain exp would overflow here
    y = np.random.default_rng(9).integers(0, C, size=N).astype(np.intp)
    probs = np.empty(N * C)
    _layers.softmax_forward(probs, feature_major(z), N, C)
    assert_close(sample_major(probs, N, C), reference.softmax_forward(z), KERNEL_RTOL, "softmax")
    loss = _layers.cross_entropy_loss(feature_major(z), y, N, C)
    assert_close(loss, reference.cross_entropy_loss(z, y), KERNEL_RTOL, "loss")
    assert np.isfinite(loss)


@pytest.mark.parametrize("N,C", [(1, 3), (7, 2), (200, 2), (13, 5)])
def test_softmax_cross_entropy_backward(N, C):
    probs = reference.softmax_forward(np.random.default_rng(10).standard_normal((N, C)))
    y = np.random.default_rng(11).integers(0, C, size=N).astype(np.intp)
    delta = np.empty(N * C)
    _layers.softmax_cross_entropy_backward(delta, feature_major(probs), y, N, C)
    # subtracting 1 from a copied value is one IEEE operation on both sides: exact
    np.testing.assert_array_equal(sample_major(delta, N, C), reference.softmax_cross_entropy_backward(probs, y))


def test_sgd_update():
    rng = np.random.default_rng(12)
    param, dparam = rng.standard_normal(17), rng.standard_normal(17)
    expected_param, expected_dparam = param.copy(), dparam.copy()
    reference.sgd_update(expected_param, expected_dparam, 0.01, 0.03)
    _layers.sgd_update(param, dparam, 0.01, 0.03, 17)
    # the same two elementwise operations in the same order: exact
    np.testing.assert_array_equal(param, expected_param)
    np.testing.assert_array_equal(dparam, expected_dparam)


@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
@pytest.mark.parametrize("N,J,K", SHAPES)
def test_activation_forward_and_backward(N, J, K, activation):
    z = np.random.default_rng(14).standard_normal((N, K)) * 3
    z.flat[0] = -800.0  # sigmoid's exp(-z) overflows here; the limit 0 is exact
    forward, backward = reference.ACTIVATIONS[activation]
    a = np.empty(N * K)
    getattr(_layers, activation + "_forward")(a, feature_major(z), N * K)
    assert_close(sample_major(a, N, K), forward(z), KERNEL_RTOL, activation + "_forward")
    dout = np.random.default_rng(15).standard_normal((N, K))
    dz = np.empty(N * K)
    getattr(_layers, activation + "_backward")(dz, feature_major(dout), a, N * K)
    assert_close(sample_major(dz, N, K), backward(dout, forward(z)), KERNEL_RTOL, activation + "_backward")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", PATHS)
def test_gather_batch(path, dtype):
    # 35 samples: on the baseline path, two groups of the kernel's 16 side by side
    # (FBP_GATHER_ROWS, src/loops.h), then a remainder of 3; on the vector paths,
    # groups of 4, 8 or 16 by transposes (src/transpose.h), 3 features each (fewer than
    # a transpose takes), then the remainder
    rng = np.random.default_rng(16)
    X, y = rng.standard_normal((61, 3)).astype(dtype), rng.integers(0, 4, size=61).astype(np.intp)
    batch = rng.permutation(61)[:35].astype(np.intp)
    X_batch, y_batch = np.empty(35 * 3, dtype=dtype), np.empty(35, dtype=np.intp)
    _layers.gather_batch(X_batch, y_batch, X.ravel(), y, batch, 3, path=path)
    X_expected, y_expected = reference.gather_batch(X, y, batch)
    # copies, no arithmetic: exact
    np.testing.assert_array_equal(sample_major(X_batch, 35, 3), X_expected)
    np.testing.assert_array_equal(y_batch, y_expected)


def assert_flat_gradients_close(grads, expected, names, rtol, what=""):
    offset = 0
    for name in names:
        size = expected[name].size
        assert_close(grads[offset:offset + size].reshape(expected[name].shape), expected[name], rtol,
                     "%s %s" % (what, name))
        offset += size
    assert offset == len(grads)


@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
@pytest.mark.parametrize("sizes", [(2, 3, 2), (2, 1, 3), (5, 4, 4), (3, 4, 5, 6, 2), (1, 1, 1, 2), (20, 16, 10)])
@pytest.mark.parametrize("N", [1, 9, 200])
def test_network_forward_and_backward(sizes, N, activation):
    X, y, model = perturbed_network(sizes, N, activation)
    code = _driver.ACTIVATION_CODES[activation]
    params, names = flatten(model, sizes)
    network = _driver.Workspace(sizes, code, feature_major(X), y, N, 1)
    assert network.block_rows >= N  # one block: forward_block sees every row
    for output, expected, K in zip(network.forward_block(params, 0, N), reference.forward(model, X), sizes[1:]):
        assert_close(sample_major(output, N, K), expected, KERNEL_RTOL, "forward")
    grads = np.full_like(params, np.nan)  # the kernel must overwrite them itself
    network.gradient(params, grads)
    assert_flat_gradients_close(grads, reference.gradients(model, X, y, reg_lambda=0.0), names, KERNEL_RTOL)


# Row blocks and slabs: N a multiple of the block or not, smaller than one
# block, one sample; more blocks than slabs, so that slabs hold several blocks.
BLOCKINGS = [(203, 8), (64, 8), (5, 8), (1, 8), (200, 200), (1000, 16)]


@pytest.mark.parametrize("N,block_rows", BLOCKINGS)
@pytest.mark.parametrize("num_threads", [1, 2])
def test_the_row_blocked_pass_agrees_with_the_reference(N, block_rows, num_threads, monkeypatch):
    sizes = (3, 9, 4)
    X, y, model = perturbed_network(sizes, N, "tanh", seed=N)
    params, names = flatten(model, sizes)
    # problems this small stay on one thread (MIN_PARALLEL_WORK); lowered here, so
    # that the slabs run on two threads
    monkeypatch.setattr(_driver, "MIN_PARALLEL_WORK", 1)
    network = _driver.Workspace(sizes, _driver.ACTIVATION_CODES["tanh"], feature_major(X), y, N, num_threads,
                               block_rows=block_rows)
    assert network.num_threads == num_threads
    grads = np.empty_like(params)
    network.gradient(params, grads)
    assert_flat_gradients_close(grads, reference.gradients(model, X, y, reg_lambda=0.0), names, KERNEL_RTOL,
                                "N=%d, %d-row blocks" % (N, block_rows))
    assert_close(network.loss(params, 0.03), reference.calculate_loss(model, X, y, 0.03), KERNEL_RTOL, "loss")
    network.train_pass(params, 0.002, 0.03)
    reference.train_pass(model, X, y, 0.002, 0.03)
    assert_close(params, flatten(model, sizes)[0], KERNEL_RTOL, "after one pass")


@pytest.mark.parametrize("num_threads", [1, 2])
def test_a_minibatch_workspace_gradient_over_all_rows_agrees_with_the_reference(num_threads, monkeypatch):
    # Steps of 32 rows, but Workspace.gradient sums all 1000 rows: 63 blocks of 16 in
    # as many slabs as a pass over them fills (at most 16), each with its own buffer,
    # far more than a step's. A buffer sized for the steps would be overrun here
    # (the debug build's AddressSanitizer run of this file stops at that write).
    sizes, N = (3, 9, 4), 1000
    X, y, model = perturbed_network(sizes, N, "tanh", seed=7)
    params, names = flatten(model, sizes)
    monkeypatch.setattr(_driver, "MIN_PARALLEL_WORK", 1)
    network = _driver.Workspace(sizes, _driver.ACTIVATION_CODES["tanh"], feature_major(X), y, 32, num_threads,
                               block_rows=16)
    grads = np.empty_like(params)
    network.gradient(params, grads)
    assert_flat_gradients_close(grads, reference.gradients(model, X, y, reg_lambda=0.0), names, KERNEL_RTOL,
                                "a minibatch workspace's gradient over all rows")


def test_a_second_thread_only_where_a_pass_has_the_work_for_it():
    # MIN_PARALLEL_WORK (src/workspace.pxi): waking a second thread costs 60-80 us
    # a pass; the measurements there found two threads slower up to 128 000
    # multiply-adds a pass and faster from 240 000
    lecture_network, medium_network = (2, 3, 2), (2, 64, 2)  # 12 and 256 weights
    assert _driver.threads_for(lecture_network, 200, 2) == 1  # the lecture: 2 400 a pass
    assert _driver.threads_for(lecture_network, 2000, 2) == 1  # 24 000
    assert _driver.threads_for(lecture_network, 20000, 2) == 1  # 240 000, just under
    assert _driver.threads_for(lecture_network, 25000, 2) == 2
    assert _driver.threads_for(medium_network, 10000, 2) == 2  # the medium job: 2.56 million
    assert _driver.threads_for(medium_network, 900, 2) == 1
    assert _driver.threads_for(medium_network, 10000, 1) == 1  # never more than asked for


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("N,D", [(1, 1), (1, 5), (255, 3), (257, 20), (1024, 7), (5000, 20), (70000, 1), (0, 3)])
def test_feature_major_copies_x_transposed(N, D, dtype):
    # against NumPy's own transpose copy: exact, on one thread and on two (the
    # last two shapes are above the size where the copy takes the second thread);
    # each feature's row row_stride(N) long, its padding zeros
    X = np.random.default_rng(N + D).standard_normal((N, D)).astype(dtype)
    stride = _driver.row_stride(N, np.dtype(dtype).itemsize)
    for num_threads in (1, 2):
        copied = _driver.feature_major(X, num_threads)
        assert copied.dtype == dtype and copied.shape == (D, stride) and copied.flags.c_contiguous
        np.testing.assert_array_equal(copied[:, :N], X.T)
        assert not copied[:, N:].any()
        # on a 64-byte cache line, like the workspace (src/workspace.pxi, aligned_empty)
        assert N * D == 0 or copied.ctypes.data % 64 == 0


@pytest.mark.parametrize("itemsize", [8, 4])
def test_feature_rows_are_padded_to_whole_cache_lines_never_2_kib_apart(itemsize):
    # layers.feature_stride: the padding that keeps a tile's feature rows out of
    # each other's L1 sets (rows a multiple of 2 KiB apart share them)
    line = 64 // itemsize
    for rows in range(1, 5000):
        stride = _driver.row_stride(rows, itemsize)
        assert stride >= rows and stride % line == 0 and stride * itemsize % 2048 != 0
        assert stride - rows < 2 * line  # at most the rounding and one line
    assert _driver.row_stride(1024, itemsize) == 1024 + line  # 8 or 4 KiB apart: one line more
    assert _driver.row_stride(1000, 8) == 1000  # 8000 bytes: as it is


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_workspace_on_the_padded_feature_major_x_is_the_flat_ones_bits(dtype):
    # The same passes on feature_major's padded rows (1024 samples: rows of 1032
    # doubles or 1040 floats) and on the flat X.T (rows of 1024): exactly the same
    # gradient, loss, probabilities and training, on one thread and two. The first
    # layer (70-80) takes the packed products, the second the tiles; 1024 rows
    # make four blocks, so every block reads X at its own offset.
    sizes = (70, 80, 3)
    X, y, model = perturbed_network(sizes, 1024, "tanh", dtype=dtype)
    params = _backend.flat_params(model, reference.parameter_names(2))
    padded = _driver.feature_major(X, 1)
    assert padded.shape[1] > 1024
    for num_threads in (1, 2):
        results = []
        for X_layout in (feature_major(X, dtype), padded):
            workspace = _driver.Workspace(sizes, 0, X_layout, y, 1024, num_threads, block_rows=256)
            grads, probs, trained = np.empty_like(params), np.empty(3 * 1024, dtype), params.copy()
            workspace.gradient(params, grads)
            workspace.probabilities(probs, params)
            workspace.train_passes(trained, np.empty(0, np.intp), np.full(3, 1e-3), 0.01, 0, 3, 0, np.empty(0))
            results.append((grads, probs, workspace.loss(params, 0.01), trained))
        for flat_result, padded_result in zip(*results):
            np.testing.assert_array_equal(padded_result, flat_result)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.intp])
def test_aligned_empty_starts_on_a_cache_line(dtype):
    # NumPy itself guarantees 16 bytes only; many sizes, so that some of
    # NumPy's own buffers start off the line
    for count in range(1, 200, 7):
        arrays = [_driver.aligned_empty(count, dtype) for _ in range(3)]
        for array in arrays:
            assert array.shape == (count,) and array.dtype == dtype and array.flags.c_contiguous
            assert array.ctypes.data % 64 == 0
        arrays[0][:] = 1  # writable
        assert not np.shares_memory(arrays[0], arrays[1])


@pytest.mark.parametrize("itemsize", [8, 4])
@pytest.mark.parametrize("sizes,rows", [((20, 256, 10), 100000), ((2, 64, 2), 10000), ((10, 300, 7), 4321),
                                        ((2, 3, 2), 200), ((5, 4000, 3), 50000), ((2, 62, 2), 100000)])
def test_blocks_are_whole_columns_of_the_widest_tile(sizes, rows, itemsize):
    # the rule of block_rows_for's docstring: about BLOCK_BYTES (512 KiB) of
    # activations and deltas, and a whole number of 256-byte columns of samples
    # (32 doubles, 64 floats) wherever the block holds that many, else of 8,
    # but no row a whole number of 4 KiB pages long (the medium job's 512
    # doubles were)
    block_rows = _driver.block_rows_for(sizes, rows, itemsize)
    tile_rows = 256 // itemsize
    block_bytes = 2 * itemsize * sum(sizes[1:]) * block_rows
    assert 0 < block_rows <= rows
    if block_rows < rows:
        assert block_rows % tile_rows == 0 or (block_rows < tile_rows and block_rows % 8 == 0)
        assert block_bytes <= 1.5 * 512 * 1024
        assert block_rows * itemsize % 4096 != 0


@pytest.mark.parametrize("itemsize", [8, 4])
@pytest.mark.parametrize("sizes", [(1024, 1024, 10), (256, 1024, 10), (784, 256, 10)])
def test_a_network_with_packed_layers_takes_blocks_of_packed_block_rows(sizes, itemsize):
    # the rule of block_rows_for's docstring: where a layer is packed, at least
    # PACKED_BLOCK_ROWS (512) rows a block when the rows fill the slabs that
    # way (less one tile where 512 rows would be a whole number of 4 KiB
    # pages: 512 doubles), whatever the activations' size; all the rows
    # when there are fewer; at most MIN_BLOCK_ROWS (256) when the 16 slabs need it
    tile_rows = 256 // itemsize
    assert _driver.block_rows_for(sizes, 100000, itemsize) == (512 - tile_rows if itemsize == 8 else 512)
    assert _driver.block_rows_for(sizes, 200, itemsize) == 200
    assert _driver.block_rows_for(sizes, 2048, itemsize) == 256


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_minibatch_step_of_a_packed_network_is_one_block(dtype):
    # the rule of workspace_block_rows: a minibatch step of up to
    # MAX_STEP_BLOCK_ROWS rows of a network that packs its weights is one block
    # (its products shared by the threads), not slabs of block_rows_for's
    # blocks; larger steps, full batches and unpacked networks keep block_rows_for
    rng = np.random.default_rng(3)
    N, itemsize = 4096, np.dtype(dtype).itemsize
    X_rows, y = rng.standard_normal((N, 784)).astype(dtype), rng.integers(0, 10, N).astype(np.intp)
    packed, skinny = [784, 256, 10], [784, 8, 10]
    assert _driver.network_packs_weights(packed) and not _driver.network_packs_weights(skinny)
    assert _driver.block_rows_for(packed, 1024, itemsize) < 1024 == _driver.MAX_STEP_BLOCK_ROWS
    for B in (512, 1024):
        workspace = _driver.Workspace(packed, 0, None, y, B, 2, X_rows=X_rows)
        assert workspace.block_rows == B
        assert workspace.nbytes == _backend.workspace_bytes(packed, N, B, itemsize, 2)
    assert _driver.Workspace(packed, 0, None, y, 2048, 2, X_rows=X_rows).block_rows == \
        _driver.block_rows_for(packed, 2048, itemsize)
    assert _driver.Workspace(skinny, 0, None, y, 1024, 2, X_rows=X_rows).block_rows == \
        _driver.block_rows_for(skinny, 1024, itemsize)
    X = _backend.feature_major(X_rows, 1)
    assert _driver.Workspace(packed, 0, X, y, N, 2).block_rows == _driver.block_rows_for(packed, N, itemsize)


def test_feature_major_refuses_arrays_it_cannot_read_flat():
    X = np.zeros((4, 3))
    for bad in (X.T, X.astype(np.float16), X.ravel(), X.tolist()):
        with pytest.raises(TypeError, match="C-contiguous 2-D float32 or float64"):
            _driver.feature_major(bad, 1)


@pytest.mark.parametrize("block_rows", [8, 64])
def test_one_and_two_threads_give_identical_bits(block_rows):
    # the partition into blocks and slabs does not depend on the thread count,
    # and slabs are added in slab order: equality is exact
    sizes = (4, 24, 3)
    N = 2000  # enough work for the second thread to be used
    X, y, model = perturbed_network(sizes, N, "tanh")
    params, _ = flatten(model, sizes)
    results = []
    for num_threads in (1, 2):
        network = _driver.Workspace(sizes, _driver.ACTIVATION_CODES["tanh"], feature_major(X), y, N, num_threads,
                                   block_rows=block_rows)
        assert network.num_threads == num_threads
        trained = params.copy()
        losses = np.empty(3)
        network.train_passes(trained, np.empty(0, dtype=np.intp), np.full(30, 1e-3), 0.01, 0, 30, 10, losses)
        results.append((trained, losses))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_predict_proba_in_blocks_and_threads_matches_the_reference():
    # several blocks, split over 2 threads; probabilities are per row, so the
    # thread count cannot change a bit, and each row is level 1 against NumPy
    sizes = (4, 24, 3)
    X, _, model = perturbed_network(sizes, 3000, "tanh")
    del model["activation"]
    one, two = (fastbp.predict_proba(model, X, num_threads=T) for T in (1, 2))
    np.testing.assert_array_equal(one, two)
    assert_close(two, reference.predict_proba(model, X), KERNEL_RTOL, "predict_proba")
