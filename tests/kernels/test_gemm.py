"""The packed GEMM of the widest layers (src/gemm.h, src/gemm.pxd), on every dispatch path this CPU runs.

Expected values:
- NumPy's products in float64 (level 1 of docs/numerics.md: KERNEL_RTOL, or
  F32_PRODUCT_RTOL for float32 operands; NumPy's BLAS sums in another order);
- exactly, the order of operations gemm.h documents ("Rounding"), replayed in
  exact rational arithmetic (test_products.step: one rounding per fused
  multiply-add, two on the baseline path);
- exactly, the bits of tiled_products.h's combine_features, whose order
  test_products.py replays: gemm.h promises the same order for the forward and
  backward-input products, and the weight gradient's chain over the samples is
  combine's chain with the samples as its inputs;
- whole networks against the NumPy reference (levels 1 and 2), and the same bits
  on one, two and three threads;
- the path FASTBP_KERNELS forces reaches the packed products (the bits of that
  path's layer kernel, called by name);
- the OpenMP runtime's own report of the wait policy it read (OMP_DISPLAY_ENV).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from agreement import KERNEL_RTOL, STABLE_RUN_RTOL, assert_close, assert_loss_records_agree
from fastbp import _driver, _layers, reference
from kernel_layout import feature_major, flatten, perturbed_network, sample_major
from test_products import PATHS, RTOL, combine, fused, step

# (M, N, P): rows of C after the last full tile of every path (tiles of 4 or 6
# rows), columns after the last full tile (6, 8, 12, 16, 32 or 64 columns),
# one row, one column, one term, P across a packed panel (128 or 256), M across
# a packed block of A (128 or 192 rows), N across a packed panel of B (504 to
# 512); and last panels of whole vectors narrower than a tile (gemm_kernels.h's
# narrow tiles: N = 8, 24, 32, 48 leave 1, 3, 1-2, 2-3 vectors of 2, 4, 8 or 16
# reals on one path or another)
SHAPES = [(1, 1, 1), (13, 37, 9), (7, 70, 3), (5, 9, 300), (200, 600, 300), (64, 128, 784), (6, 64, 1),
          (6, 8, 5), (7, 24, 40), (12, 32, 17), (13, 48, 9)]
EXACT_SHAPES = [(1, 1, 1), (13, 37, 9), (7, 70, 3), (5, 9, 300), (6, 8, 5), (7, 24, 40), (12, 32, 17)]
# whole networks with a layer that takes the packed weight gradient only (too
# narrow for the packed forward and backward-input products:
# gemm.packs_weight_gradient): the first (X's rows a block apart), a hidden one
FIRST_GRADIENT_PACKED_SIZES = (100, 40, 10)
HIDDEN_GRADIENT_PACKED_SIZES = (20, 80, 40, 10)
# a whole network whose hidden layers take the packed products (both widths at
# least gemm.pxd's MIN_PACKED_WIDTH) and whose top layer keeps the tiles
WIDE_SIZES = (70, 96, 80, 10)


def gemm(path, A, B, C=None, bias=None, tanh_out=None, transposed_a=False, transposed_b=False, threads=1,
         shared_b=False, activation=None):
    """C (M,N) = (C or 0) + A @ B, then + bias[:, None] or * (1 - tanh_out**2), then activation ("tanh",
    "sigmoid" or None) of it, by the path; A (M,P) and B (P,N) passed row-major, or (transposed_...) as
    the row-major buffers of A.T and B.T."""
    (M, P), N = A.shape, B.shape[1]
    dtype = A.dtype
    a_flat, a_m, a_p = (np.ascontiguousarray(A.T).ravel(), 1, M) if transposed_a else (A.ravel(), P, 1)
    b_flat, b_p, b_n = (np.ascontiguousarray(B.T).ravel(), 1, P) if transposed_b else (B.ravel(), N, 1)
    out = np.full(M * N, np.nan, dtype=dtype) if C is None else C.astype(dtype).ravel()
    unused = np.zeros(1, dtype=dtype)
    _layers.packed_gemm(path, out, N, a_flat, a_m, a_p, b_flat, b_p, b_n, M, N, P, C is not None,
                        unused if bias is None else bias, bias is not None,
                        unused if tanh_out is None else tanh_out.ravel(), tanh_out is not None, N, threads,
                        shared_b, activation)
    return out.reshape(M, N)


def gemm_in_documented_order(A, B, C, bias, tanh_out, fused_step):
    # gemm.h: acc = C (or 0); acc = fma(A[m, p], B[p, c], acc) for p in order;
    # then + bias[m], or * (1 - t*t) with every step rounded
    (M, P), N = A.shape, B.shape[1]
    out = np.empty((M, N))
    for m in range(M):
        for c in range(N):
            acc = 0.0 if C is None else float(C[m, c])
            for p in range(P):
                acc = step(float(A[m, p]), float(B[p, c]), acc, fused_step)
            if bias is not None:
                acc = acc + float(bias[m])
            elif tanh_out is not None:
                t = float(tanh_out[m, c])
                acc = acc * (1.0 - t * t)
            out[m, c] = acc
    return out


def operands(M, N, P, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((M, P)).astype(dtype), rng.standard_normal((P, N)).astype(dtype),
            rng.standard_normal((M, N)).astype(dtype), rng.standard_normal(M).astype(dtype),
            np.tanh(rng.standard_normal((M, N))).astype(dtype))


def test_the_exact_replay_can_tell_fused_from_unfused_steps():
    # the replay distinguishes one rounding from two, so the exact tests below
    # check which the path does: a*b + c with a*b inexact
    a, b, c = 1.0 + 2.0 ** -30, 1.0 + 2.0 ** -30, -1.0
    assert step(a, b, c, True) != step(a, b, c, False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("M,N,P", SHAPES)
@pytest.mark.parametrize("path", PATHS)
def test_gemm_matches_numpy(path, M, N, P, dtype):
    A, B, C, bias, t = operands(M, N, P, dtype, M + N + P)
    expected = A.astype(np.float64) @ B.astype(np.float64)
    assert_close(gemm(path, A, B), expected, RTOL[dtype], "C = A B")
    assert_close(gemm(path, A, B, bias=bias), expected + bias[:, None], RTOL[dtype], "+ bias")
    assert_close(gemm(path, A, B, tanh_out=t, transposed_a=True), expected * (1 - t.astype(np.float64) ** 2),
                 RTOL[dtype], "A read transposed, times the tanh derivative")
    assert_close(gemm(path, A, B, C=C, transposed_b=True), C + expected, RTOL[dtype], "C += A B, B read transposed")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("M,N,P", SHAPES)
@pytest.mark.parametrize("path", PATHS)
def test_the_forward_product_applies_the_activation_loops_bits(path, M, N, P, dtype):
    # gemm.h's activation, applied by each tile once its sum and bias are done
    # (whole, narrow and edge tiles across SHAPES). Expected: the bits of the
    # product with its bias, then vecmath.h's loop on the same path run over it
    # (_layers.tanh_forward, sigmoid_forward), as a separate pass computes them.
    A, B, _, bias, _ = operands(M, N, P, dtype, M + 2 * N + P)
    product = gemm(path, A, B, bias=bias).ravel()
    for name, loop in (("tanh", _layers.tanh_forward), ("sigmoid", _layers.sigmoid_forward)):
        expected = np.empty_like(product)
        loop(expected, product, M * N, path)
        np.testing.assert_array_equal(gemm(path, A, B, bias=bias, activation=name).ravel(), expected,
                                      err_msg=name)


def test_the_packed_product_names_the_activation_it_cannot_apply():
    A, B, _, bias, _ = operands(6, 8, 5, np.float64, 1)
    with pytest.raises(ValueError, match="activation"):
        gemm(None, A, B, bias=bias, activation="relu")


@pytest.mark.parametrize("M,N,P", EXACT_SHAPES)
@pytest.mark.parametrize("path", PATHS)
def test_gemm_follows_the_documented_order_exactly(path, M, N, P):
    A, B, C, bias, t = operands(M, N, P, np.float64, 7 * M + P)
    f = fused(path)
    np.testing.assert_array_equal(gemm(path, A, B, bias=bias), gemm_in_documented_order(A, B, None, bias, None, f))
    np.testing.assert_array_equal(gemm(path, A, B, tanh_out=t, transposed_a=True),
                                  gemm_in_documented_order(A, B, None, None, t, f))
    np.testing.assert_array_equal(gemm(path, A, B, C=C, transposed_b=True),
                                  gemm_in_documented_order(A, B, C, None, None, f))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", PATHS)
def test_the_layer_products_compute_the_tiles_bits(path, dtype):
    # the three uses of gemm.pxd on shapes that cross every panel, against the
    # tiled combine_features of tiled_products.h (its order replayed in test_products.py)
    J, K, n = 300, 200, 600
    rng = np.random.default_rng(11)
    inp, W, b = (rng.standard_normal((J, n)).astype(dtype), rng.standard_normal((J, K)).astype(dtype),
                 rng.standard_normal(K).astype(dtype))
    delta, a = rng.standard_normal((K, n)).astype(dtype), np.tanh(rng.standard_normal((J, n))).astype(dtype)
    # z (K,n) = W.T inp + b: A(k, j) = W[j, k], read from W's rows
    np.testing.assert_array_equal(gemm(path, W.T, inp, bias=b, transposed_a=True), combine(path, inp, W, b))
    # dinp (J,n) = W delta, times 1 - a**2
    np.testing.assert_array_equal(gemm(path, W, delta, tanh_out=a),
                                  combine(path, delta, W.T, None, transposed_weights=True, tanh_out=a))
    # dW (J,K) = inp delta.T from zero: the chain over the samples of combine with the samples as its inputs
    dW = gemm(path, inp, delta.T, C=np.zeros((J, K), dtype=dtype), transposed_b=True)
    np.testing.assert_array_equal(dW, combine(path, np.ascontiguousarray(inp.T), np.ascontiguousarray(delta.T),
                                              None).T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("M,N,P", [(2000, 200, 300), (150, 600, 300)])
def test_sharing_the_rows_between_threads_changes_no_bit(M, N, P, path, dtype):
    # each output's chain stays with one thread (gemm.h, FBP_GEMM_DEFINE), with
    # B packed by each chunk or once for all threads (shared_b); both shapes are
    # above the work at which the product is shared: 2000 rows in 6 chunks on two
    # threads and 9 on three; 600 columns in two panels of B (512 and 88, or
    # fewer on the narrower paths), and 300 rows of B in two or three; a few
    # repeats, so that the threads overlap even on a loaded machine.
    # Expected: the bits of one thread (each output is one chain in gemm.h's order).
    A, B, C, bias, t = operands(M, N, P, dtype, 5)
    assert M * N * P >= _layers.GEMM_MIN_PARALLEL_WORK
    one = gemm(path, A, B, bias=bias)
    one_accumulated = gemm(path, A, B, C=C, transposed_b=True)
    one_tanh = gemm(path, A, B, tanh_out=t, transposed_a=True)
    one_activated = gemm(path, A, B, bias=bias, activation="tanh")
    for _ in range(2):
        for threads in (2, 3):
            for shared_b in (False, True):
                what = "%d threads, B shared: %s" % (threads, shared_b)
                np.testing.assert_array_equal(gemm(path, A, B, bias=bias, threads=threads, shared_b=shared_b), one,
                                              err_msg=what)
                np.testing.assert_array_equal(gemm(path, A, B, C=C, transposed_b=True, threads=threads,
                                                   shared_b=shared_b), one_accumulated, err_msg=what)
                np.testing.assert_array_equal(gemm(path, A, B, tanh_out=t, transposed_a=True, threads=threads,
                                                   shared_b=shared_b), one_tanh, err_msg=what)
                np.testing.assert_array_equal(gemm(path, A, B, bias=bias, activation="tanh", threads=threads,
                                                   shared_b=shared_b), one_activated, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("path", PATHS)
def test_the_packed_layer_kernels_match_their_reference_twins(path, dtype):
    N, J, K = 150, 96, 80
    assert _layers.use_packed(J, K) and not _layers.use_packed(J, 10)
    rng = np.random.default_rng(3)
    inp, W, b = (rng.standard_normal((N, J)).astype(dtype), rng.standard_normal((J, K)).astype(dtype),
                 rng.standard_normal((1, K)).astype(dtype))
    delta, a = rng.standard_normal((N, K)).astype(dtype), np.tanh(rng.standard_normal((N, J))).astype(dtype)
    wide = {name: value.astype(np.float64) for name, value in dict(inp=inp, W=W, b=b, delta=delta, a=a).items()}
    z = np.empty(N * K, dtype=dtype)
    _layers.dense_forward_packed(z, feature_major(inp, dtype), W.ravel(), b.ravel(), N, J, K, path)
    assert_close(sample_major(z, N, K), reference.dense_forward(wide["inp"], wide["W"], wide["b"]), RTOL[dtype],
                 "dense_forward")
    dW, db = np.ones(J * K, dtype=dtype), np.ones(K, dtype=dtype)  # accumulated onto ones
    _layers.dense_backward_packed(dW, db, feature_major(delta, dtype), feature_major(inp, dtype), N, J, K, path)
    dW_expected, db_expected = reference.dense_backward(wide["delta"], wide["inp"])
    assert_close(dW.reshape(J, K), 1 + dW_expected, RTOL[dtype], "dense_backward dW")
    assert_close(db, 1 + db_expected.ravel(), RTOL[dtype], "dense_backward db")
    dinp = np.empty(N * J, dtype=dtype)
    _layers.dense_backward_input_packed(dinp, feature_major(delta, dtype), W.ravel(), N, J, K, path)
    expected = reference.dense_backward_input(wide["delta"], wide["W"])
    assert_close(sample_major(dinp, N, J), expected, RTOL[dtype], "dense_backward_input")
    _layers.dense_tanh_backward_input_packed(dinp, feature_major(delta, dtype), W.ravel(), feature_major(a, dtype),
                                             N, J, K, path)
    assert_close(sample_major(dinp, N, J), reference.tanh_backward(expected, wide["a"]), RTOL[dtype],
                 "dense_tanh_backward_input")


# blocks of 64 rows take the packed forward and backward-input products (the last,
# of 60 rows, the tiles); blocks of 16 the tiles (gemm.MIN_ROWS_TO_PACK_WEIGHTS);
# the weight gradient takes the packed product in both
@pytest.mark.parametrize("sizes", [WIDE_SIZES, FIRST_GRADIENT_PACKED_SIZES, HIDDEN_GRADIENT_PACKED_SIZES])
@pytest.mark.parametrize("block_rows", [16, 64])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("num_threads", [1, 2])
def test_a_wide_network_pass_agrees_with_the_reference(num_threads, activation, block_rows, sizes):
    # level 1: the gradient and one pass of a network whose hidden layers take
    # the packed products (or the packed weight gradient only), in several blocks and slabs
    N = 700
    X, y, model = perturbed_network(sizes, N, activation, seed=1)
    assert _driver.network_uses_packed(sizes)
    assert _driver.network_packs_weights(sizes) == (sizes is WIDE_SIZES)
    params, names = flatten(model, sizes)
    network = _driver.Workspace(sizes, _driver.ACTIVATION_CODES[activation], feature_major(X), y, N,
                                num_threads, block_rows=block_rows)
    grads = np.full_like(params, np.nan)
    network.gradient(params, grads)
    expected, _ = flatten(reference.gradients(model, X, y, reg_lambda=0.0), sizes)
    offset = 0
    for name in names:
        size = model[name].size
        assert_close(grads[offset:offset + size], expected[offset:offset + size], KERNEL_RTOL, name)
        offset += size
    network.train_pass(params, 1e-3, 0.01)
    reference.train_pass(model, X, y, 1e-3, 0.01)
    assert_close(params, flatten(model, sizes)[0], KERNEL_RTOL, "after one pass")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 128])
def test_a_wide_network_trains_to_the_same_bits_on_one_and_two_threads(batch_size, dtype):
    # full batch: slabs on two threads; minibatches of 128: one block per step,
    # whose packed products share their rows between the two threads
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((1000, 70)).astype(dtype), rng.integers(0, 10, 1000)
    assert min(70 * 480, 480 * 80) * 128 >= _layers.GEMM_MIN_PARALLEL_WORK
    runs = [fastbp.train(X, y, (480, 80), num_passes=3, epsilon=1e-3, batch_size=batch_size, num_threads=threads,
                         loss_every=1, dtype=np.dtype(dtype).name) for threads in (1, 2)]
    for name in runs[0].model:
        if name != "activation":
            np.testing.assert_array_equal(runs[0].model[name], runs[1].model[name], err_msg=name)
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_narrow_layers_tiles_shared_between_threads_change_no_bit(dtype):
    # minibatches of 128 through 600-32-10: each step is one block, whose
    # 600-32 forward product (the tiles: 32 outputs are too few to pack) is
    # shared between two threads in parts of whole tiles (gemm.h's shared
    # combine: 128 x 600 x 32 multiply-adds, above the products' threshold).
    # Expected: the bits of one thread, whose product is not split.
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((512, 600)).astype(dtype), rng.integers(0, 10, 512)
    assert 128 * 600 * 32 >= _layers.GEMM_MIN_PARALLEL_WORK
    assert not _layers.use_packed(600, 32)
    runs = [fastbp.train(X, y, 32, num_passes=2, epsilon=1e-3, batch_size=128, num_threads=threads, loss_every=1,
                         dtype=np.dtype(dtype).name) for threads in (1, 2)]
    for name in runs[0].model:
        if name != "activation":
            np.testing.assert_array_equal(runs[0].model[name], runs[1].model[name], err_msg=name)
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)


def test_a_stable_wide_run_agrees_with_the_reference():
    # level 2 (docs/numerics.md): a small step, where gradient descent damps
    # rounding differences; every recorded loss within STABLE_RUN_RTOL
    rng = np.random.default_rng(21)
    X = rng.standard_normal((300, 70))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + 2 * (X[:, 2] > 0).astype(int)
    runs = [fastbp.train(X, y, (96, 80), num_passes=200, epsilon=1e-4, loss_every=20, backend=backend)
            for backend in ("cython", "numpy")]
    assert_loss_records_agree(runs[0], runs[1], STABLE_RUN_RTOL, num_recorded=10)
    np.testing.assert_array_equal(fastbp.predict(runs[0].model, X), reference.predict(runs[1].model, X))



def test_the_path_fastbp_kernels_forces_reaches_the_packed_products(monkeypatch):
    # a workspace built without a path takes FASTBP_KERNELS's; its first layer
    # (packed) computes the bits of that path's packed kernel called by name,
    # which differ from the fused paths' (a multiply and an add, two roundings)
    N = 200
    X, y, model = perturbed_network(WIDE_SIZES, N, "tanh", seed=4)
    params, _ = flatten(model, WIDE_SIZES)
    J, K = WIDE_SIZES[:2]
    by_path = {}
    for path in PATHS:
        z = np.empty(N * K)
        _layers.dense_forward_packed(z, feature_major(X), model["W1"].ravel(), model["b1"].ravel(), N, J, K, path)
        _layers.tanh_forward(z, z, N * K, path)
        by_path[path] = z
    for path in PATHS:
        monkeypatch.setenv("FASTBP_KERNELS", path)
        workspace = _driver.Workspace(WIDE_SIZES, _driver.ACTIVATION_CODES["tanh"], feature_major(X), y, N, 1,
                                      block_rows=N)
        assert workspace.path == path
        np.testing.assert_array_equal(workspace.forward_block(params, 0, N)[0], by_path[path], err_msg=path)
    if len(PATHS) > 1:
        assert not np.array_equal(by_path["baseline"], by_path[PATHS[-1]])


def test_the_packed_products_workspace_holds_a_packing_buffer_and_partial_sums_only_for_tiled_layers():
    # the packing buffer only where some layer is packed; the partial sums
    # (8 per weight in float64) only for the tiled layers whose weight gradient is not packed
    wide = _driver.workspace_buffers(WIDE_SIZES, 1000, 1000, 8, 2)
    assert wide["pack"][0] > 1
    tiled_weights = sum(J * K for J, K in zip(WIDE_SIZES[:-1], WIDE_SIZES[1:])
                        if _layers.use_tiles(J, K) and not _layers.packs_weight_gradient(J, K))
    assert tiled_weights == 80 * 10
    assert wide["lanes"][0] == 2 * tiled_weights * 8
    assert _driver.workspace_buffers((2, 40, 2), 1000, 1000, 8, 2)["pack"][0] == 1


@pytest.mark.parametrize("itemsize, widest_panel", [(8, 32), (4, 64)])
def test_a_one_block_step_on_two_threads_holds_room_for_its_largest_shared_operand(itemsize, widest_panel):
    # gemm.h's shared_b: where the threads share a one-block step's packed
    # products, each operand B they pack once must fit, its columns rounded up to
    # any path's micro-panel (expected: the operands' shapes, gemm.pxd's wrappers)
    sizes, B = (784, 256, 10), 128
    shared = _driver.workspace_buffers(sizes, 2048, B, itemsize, 2)["pack_shared"][0]
    forward_input = 784 * (B + widest_panel - 1)  # the first layer's forward product reads inp (784, B)
    weight_gradient = B * (256 + widest_panel - 1)  # its weight gradient reads delta (B, 256)
    assert shared == max(forward_input, weight_gradient)
    # none on one thread, nor where a step is several blocks (the slabs' threads each run their own products)
    assert _driver.workspace_buffers(sizes, 2048, B, itemsize, 1)["pack_shared"][0] == 1
    assert _driver.workspace_buffers(sizes, 4096, 4096, itemsize, 2)["pack_shared"][0] == 1


@pytest.mark.parametrize("user_setting", [None, "ACTIVE"])
def test_the_openmp_threads_wait_passively_unless_the_user_set_a_policy(user_setting):
    # the OpenMP runtime prints the settings it read when OMP_DISPLAY_ENV is
    # set (libgomp, LLVM's libomp); the variable itself is left as the user had it
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    env["OMP_DISPLAY_ENV"] = "TRUE"
    if user_setting is not None:
        env["OMP_WAIT_POLICY"] = user_setting
    code = "import os, fastbp; print('after import:', os.environ.get('OMP_WAIT_POLICY'))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    if "OMP_WAIT_POLICY" not in result.stderr:
        pytest.skip("this OpenMP runtime does not report its settings")
    assert "OMP_WAIT_POLICY = '%s'" % (user_setting or "PASSIVE") in result.stderr
    assert "after import: %s" % user_setting in result.stdout
