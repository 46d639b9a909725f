"""The tiled products of the wide layers (src/tiled_products.h), on every dispatch path this CPU runs.

The layer tests (test_kernels.py, test_float32.py) reach these products only
through the path the CPU runs best; here each path is called by name, so that
the baseline path (no FMA), which CPUs without AVX2 and other architectures
run, is tested too. Expected values:
- NumPy's products (np.dot), at the kernels' one-step level (KERNEL_RTOL;
  the products add in another order than NumPy's BLAS);
- exactly, the order of operations tiled_products.h documents ("Rounding"), replayed
  here in exact rational arithmetic (fractions.Fraction) and rounded to double
  once per step: one rounding per fused multiply-add on the FMA paths, two
  (product, then sum) on the baseline path.
"""

from fractions import Fraction

import numpy as np
import pytest

from agreement import KERNEL_RTOL, assert_close
from fastbp import _layers, _vecmath

PATHS = _vecmath.available_paths()
LANES = {np.float64: 8, np.float32: 16}  # tiled_products.h: FBP_LANES_D, FBP_LANES_F
# float32 products of up to ~300 terms of size ~1: a few float32 ulp of the
# largest term (6e-8 each), as tests/kernels/test_float32.py's F32_KERNEL_RTOL
F32_PRODUCT_RTOL = 1e-5
RTOL = {np.float64: KERNEL_RTOL, np.float32: F32_PRODUCT_RTOL}

# (n, num_in, num_out): samples after the last full tile and vector, and rows
# after the last full tile of every path's tile sizes (4 or 6 rows, 2-4
# vectors), one sample, and the benchmark's large layers on a block of 120 rows
# (the driver's blocks for them are 128 rows now; 120 keeps a remainder column)
COMBINE_SHAPES = [(1, 8, 8), (45, 9, 23), (37, 20, 16), (120, 256, 10), (120, 20, 256), (7, 13, 5)]
# (n, num_a, num_b): num_a >= num_b runs bands of A outside, num_a < num_b stripes of B
CORRELATE_SHAPES = [(1, 8, 8), (45, 9, 23), (37, 20, 16), (120, 256, 10), (120, 20, 256), (19, 5, 7)]


def fused(path):
    return path != "baseline"


def step(a, b, c, fused_step):
    # a*b + c rounded once (fused) or twice, as the path computes it
    if fused_step:
        return float(Fraction(a) * Fraction(b) + Fraction(c))
    return a * b + c


def combine_in_documented_order(inp, weights, bias, fused_step, tanh_out=None):
    # tiled_products.h: acc = 0; acc = fma(inp[q][i], w(q, r), acc) for q in order;
    # then + bias[r], or * (1 - a*a) with every step rounded
    num_in, n = inp.shape
    out = np.empty((weights.shape[1], n))
    for r in range(weights.shape[1]):
        for i in range(n):
            acc = 0.0
            for q in range(num_in):
                acc = step(float(inp[q, i]), float(weights[q, r]), acc, fused_step)
            if bias is not None:
                acc = acc + float(bias[r])
            elif tanh_out is not None:
                a = float(tanh_out[r, i])
                acc = acc * (1.0 - a * a)
            out[r, i] = acc
    return out


def correlate_in_documented_order(A, B, calls, fused_step, lanes=8, start=None):
    # tiled_products.h: sample i of a call to lane i % LANES, an fma chain through the
    # calls; then the lanes added pairwise (l + l + LANES/2, ...), added to grad
    # (zero, or start)
    (num_a, n), num_b = A.shape, B.shape[0]
    grad = np.empty((num_a, num_b))
    for a in range(num_a):
        for b in range(num_b):
            lane = [0.0] * lanes
            for _ in range(calls):
                for i in range(n):
                    lane[i % lanes] = step(float(A[a, i]), float(B[b, i]), lane[i % lanes], fused_step)
            half = lanes // 2
            while half >= 1:
                for l in range(half):
                    lane[l] = lane[l] + lane[l + half]
                half //= 2
            grad[a, b] = (0.0 if start is None else start[a, b]) + lane[0]
    return grad


def problem(n, num_in, num_out, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((num_in, n)).astype(dtype), rng.standard_normal((num_in, num_out)).astype(dtype),
            rng.standard_normal(num_out).astype(dtype))


def combine(path, inp, weights, bias, transposed_weights=False, tanh_out=None):
    # out (num_out, n) by the path; weights (num_in, num_out) given row-major, or
    # as its transpose (num_out, num_in) row-major, as dense_backward_input reads W;
    # tanh_out (num_out, n): out times 1 - tanh_out**2
    num_in, n = inp.shape
    num_out = weights.shape[1]
    out = np.full(num_out * n, np.nan, dtype=inp.dtype)
    if transposed_weights:
        flat, weight_q, weight_r = np.ascontiguousarray(weights.T).ravel(), 1, num_in
    else:
        flat, weight_q, weight_r = weights.ravel(), num_out, 1
    unused = np.zeros(1, dtype=inp.dtype)
    _layers.combine_features(path, out, inp.ravel(), flat, weight_q, weight_r,
                             unused if bias is None else bias, bias is not None,
                             unused if tanh_out is None else tanh_out.ravel(), tanh_out is not None,
                             n, num_in, num_out)
    return out.reshape(num_out, n)


def correlate(path, A, B, calls=1, start=None, from_zero=False):
    # start: the gradient the sums are added to (zeros by default); from_zero:
    # the partial sums hold NaN and the first call must start them from zero
    grad = np.zeros(A.shape[0] * B.shape[0], dtype=A.dtype) if start is None else start.ravel().copy()
    _layers.correlate_features(path, grad, A.ravel(), B.ravel(), A.shape[1], A.shape[0], B.shape[0], calls,
                               from_zero)
    return grad.reshape(A.shape[0], B.shape[0])


def test_this_cpu_runs_more_than_the_baseline_path():
    # on the development machine (and CI's) the FMA paths exist; elsewhere this
    # file still tests the baseline one
    assert "baseline" in PATHS


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,num_in,num_out", COMBINE_SHAPES)
@pytest.mark.parametrize("path", PATHS)
def test_combine_matches_numpy(path, n, num_in, num_out, dtype):
    inp, weights, bias = problem(n, num_in, num_out, dtype, n + num_in)
    expected = weights.T.astype(np.float64) @ inp.astype(np.float64)
    assert_close(combine(path, inp, weights, None), expected, RTOL[dtype], "no bias")
    assert_close(combine(path, inp, weights, bias), expected + bias[:, None], RTOL[dtype], "bias")
    assert_close(combine(path, inp, weights, None, transposed_weights=True), expected, RTOL[dtype], "W^T")
    a = np.tanh(np.random.default_rng(1).standard_normal((num_out, n))).astype(dtype)
    assert_close(combine(path, inp, weights, None, True, tanh_out=a), expected * (1 - a.astype(np.float64) ** 2),
                 RTOL[dtype], "W^T, times the tanh derivative")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,num_a,num_b", CORRELATE_SHAPES)
@pytest.mark.parametrize("path", PATHS)
def test_correlate_matches_numpy(path, n, num_a, num_b, dtype):
    rng = np.random.default_rng(n * num_a)
    A, B = rng.standard_normal((num_a, n)).astype(dtype), rng.standard_normal((num_b, n)).astype(dtype)
    expected = A.astype(np.float64) @ B.astype(np.float64).T
    assert_close(correlate(path, A, B), expected, RTOL[dtype], "one call")
    assert_close(correlate(path, A, B, calls=3), 3 * expected, RTOL[dtype], "three calls")


@pytest.mark.parametrize("path", PATHS)
def test_combine_follows_the_documented_order_exactly(path):
    inp, weights, bias = problem(21, 9, 7, np.float64, 3)
    for with_bias in (None, bias):
        expected = combine_in_documented_order(inp, weights, with_bias, fused(path))
        np.testing.assert_array_equal(combine(path, inp, weights, with_bias), expected)
    a = np.tanh(np.random.default_rng(2).standard_normal((7, 21)))
    expected = combine_in_documented_order(inp, weights, None, fused(path), tanh_out=a)
    np.testing.assert_array_equal(combine(path, inp, weights, None, tanh_out=a), expected)


@pytest.mark.parametrize("path", PATHS)
def test_correlate_follows_the_documented_order_exactly(path):
    rng = np.random.default_rng(4)
    A, B = rng.standard_normal((6, 21)), rng.standard_normal((7, 21))  # 21: two full lane groups and 5 more
    for calls in (1, 2):
        expected = correlate_in_documented_order(A, B, calls, fused(path), LANES[np.float64])
        np.testing.assert_array_equal(correlate(path, A, B, calls), expected)
    # partial sums started from zero by the tiles, without reading the buffer
    # (a minibatch step's): the same bits, whatever the buffer held
    for calls in (1, 2):
        expected = correlate_in_documented_order(A, B, calls, fused(path), LANES[np.float64])
        np.testing.assert_array_equal(correlate(path, A, B, calls, from_zero=True), expected)
    np.testing.assert_array_equal(correlate(path, B, A, from_zero=True),
                                  correlate_in_documented_order(B, A, 1, fused(path)))
    # fewer samples than lanes: no full lane group, the tail alone
    np.testing.assert_array_equal(correlate(path, A[:, :5], B[:, :5], from_zero=True),
                                  correlate_in_documented_order(A[:, :5], B[:, :5], 1, fused(path)))
    # added to a gradient that holds a sum already (the blocks before, in the driver)
    start = rng.standard_normal((6, 7))
    expected = correlate_in_documented_order(A, B, 1, fused(path), LANES[np.float64], start)
    np.testing.assert_array_equal(correlate(path, A, B, 1, start), expected)
    # the other order of tiles (num_a < num_b above; here num_a > num_b)
    np.testing.assert_array_equal(correlate(path, B, A), correlate_in_documented_order(B, A, 1, fused(path)))


@pytest.mark.parametrize("path", PATHS)
def test_float32_lanes_are_added_pairwise_in_the_documented_order(path):
    # 16 samples, one per float lane: each lane holds one product, which a*b
    # rounded once to float32 gives exactly (fused or not: the product of two
    # floats is exact in double); the fold is then float32 additions only, in
    # the documented order (l + l + 8, then l + l + 4, ...), replayed here.
    # 5 x 7 = 35 outputs: the vector paths fold 16 (AVX-512) or 8 (AVX2) outputs
    # at a time, in a butterfly across outputs, and the last 3 one by one.
    lanes = LANES[np.float32]
    rng = np.random.default_rng(12)
    A, B = rng.standard_normal((5, lanes)).astype(np.float32), rng.standard_normal((7, lanes)).astype(np.float32)
    start = rng.standard_normal((5, 7)).astype(np.float32)  # the sum is added to a gradient that holds one
    expected = np.empty((5, 7), dtype=np.float32)
    for a in range(5):
        for b in range(7):
            lane = [np.float32(np.float64(A[a, i]) * np.float64(B[b, i])) for i in range(lanes)]
            half = lanes // 2
            while half >= 1:
                for l in range(half):
                    lane[l] = np.float32(lane[l] + lane[l + half])
                half //= 2
            expected[a, b] = np.float32(start[a, b] + lane[0])
    np.testing.assert_array_equal(correlate(path, A, B, start=start), expected)


@pytest.mark.skipif("avx2" not in PATHS or "avx512" not in PATHS, reason="needs a CPU with AVX2 and AVX-512")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_avx2_and_avx512_compute_the_same_bits(dtype):
    # the tiles differ (tiled_products.h), the order of every output's operations does not
    for n, num_in, num_out in COMBINE_SHAPES:
        inp, weights, bias = problem(n, num_in, num_out, dtype, 7)
        np.testing.assert_array_equal(combine("avx2", inp, weights, bias), combine("avx512", inp, weights, bias))
        np.testing.assert_array_equal(combine("avx2", inp, weights, None, True),
                                      combine("avx512", inp, weights, None, True))
        a = np.tanh(inp[:1].T @ np.ones((1, num_out), dtype=dtype)).T.astype(dtype)
        np.testing.assert_array_equal(combine("avx2", inp, weights, None, True, a),
                                      combine("avx512", inp, weights, None, True, a))
    for n, num_a, num_b in CORRELATE_SHAPES:
        rng = np.random.default_rng(n)
        A, B = rng.standard_normal((num_a, n)).astype(dtype), rng.standard_normal((num_b, n)).astype(dtype)
        np.testing.assert_array_equal(correlate("avx2", A, B, 2), correlate("avx512", A, B, 2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("N,J,K", [(45, 23, 9), (3, 2, 3), (300, 64, 10)])
def test_the_fused_tanh_backward_input_is_the_two_kernels_in_turn(N, J, K, dtype):
    # layers.dense_tanh_backward_input against dense_backward_input followed by
    # tanh_backward: the same operations, so the same bits (a wide layer fuses
    # them in tiled_products.h; a narrow one calls the two)
    rng = np.random.default_rng(N)
    delta, W = rng.standard_normal(N * K).astype(dtype), rng.standard_normal(J * K).astype(dtype)
    a = np.tanh(rng.standard_normal(N * J)).astype(dtype)
    two_kernels, fused_kernel = np.empty(N * J, dtype=dtype), np.empty(N * J, dtype=dtype)
    _layers.dense_backward_input(two_kernels, delta, W, N, J, K)
    _layers.tanh_backward(two_kernels, two_kernels.copy(), a, N * J)
    _layers.dense_tanh_backward_input(fused_kernel, delta, W, a, N, J, K)
    np.testing.assert_array_equal(fused_kernel, two_kernels)


def test_an_unknown_path_is_refused():
    inp, weights, bias = problem(3, 8, 8, np.float64, 0)
    with pytest.raises(ValueError, match="path must be one of"):
        combine("sse9", inp, weights, bias)
