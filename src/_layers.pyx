# Thin def wrappers that expose each kernel of layers.pxd to the tests, under
# the name of its reference twin (layers.dense_forward is the kernel,
# dense_forward here its wrapper). Arrays are flat and feature-major, as the
# kernels take them; whole arrays are one block (ld = N). Each wrapper takes
# float32 or float64 arrays (all of one dtype) and runs that precision's kernel,
# on the dispatch path named by its last argument, path (src/paths.pxi: None
# for the selected path; a path this CPU cannot run is refused).

import numpy as np

cimport layers
cimport narrow_products
from precision cimport real
from tiled_products cimport FBP_LANES_D, FBP_LANES_F, fold_lanes
from tiled_products cimport combine_features as tiled_combine
from tiled_products cimport correlate_features as tiled_correlate

include "paths.pxi"


cdef object dtype_of(const real *like):
    # the NumPy dtype of a real
    return np.float64 if real is double else np.float32


def dense_forward(real[::1] z, const real[::1] inp, const real[::1] W, const real[::1] b,
                  Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    cdef int code = path_code(path)
    layers.dense_forward(code, &z[0], &inp[0], N, &W[0], &b[0], N, J, K)


def dense_backward(real[::1] dW, real[::1] db, const real[::1] delta, const real[::1] inp,
                   Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    cdef int code = path_code(path)
    # the partial sums of the tiled path, added into dW at the end as the driver does
    lanes = np.zeros(J * K * (FBP_LANES_D if real is double else FBP_LANES_F), dtype=dtype_of(&dW[0]))
    cdef real[::1] dW_lanes = lanes
    layers.dense_backward(code, &dW[0], &dW_lanes[0], &db[0], &delta[0], &inp[0], N, N, J, K)
    if narrow_products.use_tiles(J, K):
        fold_lanes(code, &dW[0], &dW_lanes[0], J * K)


def dense_backward_input(real[::1] dinp, const real[::1] delta, const real[::1] W,
                         Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    cdef int code = path_code(path)
    layers.dense_backward_input(code, &dinp[0], &delta[0], &W[0], N, J, K)


def dense_tanh_backward_input(real[::1] dz, const real[::1] delta, const real[::1] W, const real[::1] a,
                              Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    cdef int code = path_code(path)
    layers.dense_tanh_backward_input(code, &dz[0], &delta[0], &W[0], &a[0], N, J, K)


def dense_forward_by_loops(real[::1] z, const real[::1] inp, const real[::1] W, const real[::1] b,
                           Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    """dense_forward by the loops of narrow layers whatever the width (for bench/bench_kernels.py --products)."""
    cdef int code = path_code(path)
    layers.dense_forward_loops(code, &z[0], &inp[0], N, &W[0], &b[0], N, J, K)


def dense_backward_by_loops(real[::1] dW, const real[::1] delta, const real[::1] inp,
                            Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    """dense_backward's dW by the loops of narrow layers whatever the width (for the same benchmark)."""
    cdef int code = path_code(path)
    layers.weight_gradient_loops(code, &dW[0], &delta[0], &inp[0], N, N, J, K)


def use_tiles(Py_ssize_t J, Py_ssize_t K):
    """Whether a (J,K) layer's products take the tiled path (so the tests cover both paths)."""
    return narrow_products.use_tiles(J, K)


def tanh_forward(real[::1] a, const real[::1] z, Py_ssize_t size, path=None):
    cdef int code = path_code(path)
    layers.tanh_forward(code, &a[0], &z[0], size)


def tanh_backward(real[::1] dz, const real[::1] dout, const real[::1] a, Py_ssize_t size, path=None):
    cdef int code = path_code(path)
    layers.tanh_backward(code, &dz[0], &dout[0], &a[0], size)


def sigmoid_forward(real[::1] a, const real[::1] z, Py_ssize_t size, path=None):
    cdef int code = path_code(path)
    layers.sigmoid_forward(code, &a[0], &z[0], size)


def sigmoid_backward(real[::1] dz, const real[::1] dout, const real[::1] a, Py_ssize_t size, path=None):
    cdef int code = path_code(path)
    layers.sigmoid_backward(code, &dz[0], &dout[0], &a[0], size)


def relu_forward(real[::1] a, const real[::1] z, Py_ssize_t size, path=None):
    cdef int code = path_code(path)
    layers.relu_forward(code, &a[0], &z[0], size)


def relu_backward(real[::1] dz, const real[::1] dout, const real[::1] a, Py_ssize_t size, path=None):
    cdef int code = path_code(path)
    layers.relu_backward(code, &dz[0], &dout[0], &a[0], size)


def softmax_forward(real[::1] probs, const real[::1] z, Py_ssize_t N, Py_ssize_t C, path=None):
    cdef int code = path_code(path)
    cdef real[::1] scratch = np.empty(N, dtype=dtype_of(&probs[0]))
    layers.softmax_forward(code, &probs[0], &z[0], &scratch[0], N, C)


def softmax_cross_entropy_backward(real[::1] delta, const real[::1] probs, const Py_ssize_t[::1] y,
                                   Py_ssize_t N, Py_ssize_t C, path=None):
    cdef int code = path_code(path)
    layers.softmax_cross_entropy_backward(code, &delta[0], &probs[0], &y[0], N, C)


def cross_entropy_loss(const real[::1] z, const Py_ssize_t[::1] y, Py_ssize_t N, Py_ssize_t C, path=None):
    cdef int code = path_code(path)
    cdef real[::1] scratch = np.empty(N * (C + 1), dtype=dtype_of(&z[0]))
    return layers.cross_entropy_loss(code, &z[0], &y[0], &scratch[0], N, C)


def sgd_update(real[::1] param, real[::1] dparam, double epsilon, double reg_lambda, Py_ssize_t size, path=None,
               int threads=1):
    cdef int code = path_code(path)
    layers.sgd_update(code, &param[0], &dparam[0], <real> epsilon, <real> reg_lambda, size, threads)


def add_slabs(real[:, ::1] sums, Py_ssize_t size, path=None, int threads=1):
    """sums[0, :size] = the rows of sums added in row order (the driver's sum of its slabs' gradients)."""
    if not 0 <= size <= sums.shape[1]:
        raise ValueError("size must be within a row of sums")
    cdef int code = path_code(path)
    layers.add_slabs(code, &sums[0, 0], sums.shape[1], sums.shape[0], size, threads)


def gather_batch(real[::1] X_batch, Py_ssize_t[::1] y_batch, const real[::1] X_rows, const Py_ssize_t[::1] y,
                 const Py_ssize_t[::1] batch, Py_ssize_t D, int threads=1, ld=None, path=None):
    """X_batch (B,D)^T, feature rows ld apart (None: B), and y_batch = X_rows[batch], y[batch], on the path."""
    cdef int code = path_code(path)
    cdef Py_ssize_t B = len(batch)
    cdef Py_ssize_t stride = B if ld is None else ld
    if stride < B or X_batch.shape[0] < (D - 1) * stride + B:
        raise ValueError("X_batch must hold D feature rows of the B samples, ld >= B apart")
    layers.gather_batch(code, &X_batch[0], stride, &y_batch[0], &X_rows[0], &y[0], &batch[0], B, D, threads)


# The tiled products of the wide layers (src/tiled_products.h) by themselves,
# whatever the layer's width, on the named path (the first argument here), so
# that the tests reach every path this CPU runs.


def combine_features(path, real[::1] out, const real[::1] inp, const real[::1] weights,
                     Py_ssize_t weight_q, Py_ssize_t weight_r, const real[::1] bias, bint with_bias,
                     const real[::1] tanh_out, bint with_tanh_out, Py_ssize_t n, Py_ssize_t num_in,
                     Py_ssize_t num_out):
    """out (n,num_out)^T = sum over q of inp (n,num_in)^T's feature q * weights[q*weight_q + r*weight_r],
    then + bias[r] if with_bias, or times 1 - tanh_out**2 if with_tanh_out (not both)."""
    cdef int code = path_code(path)
    if with_bias and with_tanh_out:
        raise ValueError("at most one of bias and tanh_out")
    cdef const real *bias_data = &bias[0] if with_bias else NULL
    cdef const real *tanh_data = &tanh_out[0] if with_tanh_out else NULL
    tiled_combine(code, &out[0], &inp[0], n, &weights[0], weight_q, weight_r, bias_data, tanh_data, n, num_in,
                  num_out)


def correlate_features(path, real[::1] grad, const real[::1] A, const real[::1] B,
                       Py_ssize_t n, Py_ssize_t num_a, Py_ssize_t num_b, Py_ssize_t calls=1, bint from_zero=False):
    """grad[a*num_b + b] += sum over i of A (n,num_a)^T[a][i] * B (n,num_b)^T[b][i], through the
    partial sums: ``calls`` calls on the same A and B (as the blocks of a slab), then one fold.
    from_zero: the partial sums start as NaN, and the first call starts them from zero
    without reading them (as a slab of one block does)."""
    cdef int code = path_code(path)
    cdef Py_ssize_t lanes_per_weight = FBP_LANES_D if real is double else FBP_LANES_F
    cdef real[::1] lanes = np.full(num_a * num_b * lanes_per_weight, np.nan if from_zero else 0.0,
                                   dtype=dtype_of(&grad[0]))
    for call in range(calls):
        tiled_correlate(code, &lanes[0], &A[0], n, &B[0], n, num_a, num_b, from_zero and call == 0)
    fold_lanes(code, &grad[0], &lanes[0], num_a * num_b)


# The packed GEMM of the widest layers (src/gemm.h) by itself, on the named path
# (the first argument), and its layer kernels (gemm.pxd), as the driver calls
# them for a layer that use_packed chooses.

cimport gemm as packed
from gemm cimport (FBP_GEMM_MIN_PARALLEL_WORK, FBP_GEMM_MIN_SHARED_SIDE, FBP_GEMM_NO_ACTIVATION,
                   FBP_GEMM_PACK_ELEMENTS, FBP_GEMM_SIGMOID, FBP_GEMM_TANH, fastbp_gemm_path, fastbp_gemmf_path)

# the multiply-adds from which the threads share a packed product, and the fewest columns
# and terms per output it has then (src/gemm.h)
GEMM_MIN_PARALLEL_WORK = FBP_GEMM_MIN_PARALLEL_WORK
GEMM_MIN_SHARED_SIDE = FBP_GEMM_MIN_SHARED_SIDE


GEMM_ACTIVATIONS = {None: FBP_GEMM_NO_ACTIVATION, "tanh": FBP_GEMM_TANH, "sigmoid": FBP_GEMM_SIGMOID}


def packed_gemm(path, real[::1] C, Py_ssize_t ldc, const real[::1] A, Py_ssize_t a_m, Py_ssize_t a_p,
                const real[::1] B, Py_ssize_t b_p, Py_ssize_t b_n, Py_ssize_t M, Py_ssize_t N, Py_ssize_t P,
                bint accumulate, const real[::1] bias, bint with_bias, const real[::1] tanh_out,
                bint with_tanh_out, Py_ssize_t ld_tanh, int threads=1, bint shared_b=False, activation=None):
    """C[m*ldc + c] = (C or 0) + sum over p of A[m*a_m + p*a_p] * B[p*b_p + c*b_n], then + bias[m] if
    with_bias, or times 1 - tanh_out[m*ld_tanh + c]**2 if with_tanh_out (not both), then activation
    ("tanh" or "sigmoid", or None) of it, the rows of C shared by up to ``threads`` threads; shared_b:
    with a buffer where they pack B once for all."""
    cdef int code = path_code(path)
    if activation not in GEMM_ACTIVATIONS:
        raise ValueError("activation must be one of %s, got %r" % (sorted(GEMM_ACTIVATIONS, key=str), activation))
    cdef int activation_code = GEMM_ACTIVATIONS[activation]
    if with_bias and with_tanh_out:
        raise ValueError("at most one of bias and tanh_out")
    if P < 1:
        raise ValueError("P must be at least 1")
    if threads < 1:
        raise ValueError("threads must be at least 1")
    cdef real[::1] pack = np.empty(threads * FBP_GEMM_PACK_ELEMENTS, dtype=dtype_of(&C[0]))
    # B's columns rounded up to any path's micro-panel (at most 64 reals wide)
    cdef Py_ssize_t shared_elements = P * (N + 63) if shared_b else 0
    cdef real[::1] shared = np.empty(max(1, shared_elements), dtype=dtype_of(&C[0]))
    cdef const real *bias_data = &bias[0] if with_bias else NULL
    cdef const real *tanh_data = &tanh_out[0] if with_tanh_out else NULL
    if real is double:
        fastbp_gemm_path(code, threads, &C[0], ldc, &A[0], a_m, a_p, &B[0], b_p, b_n, M, N, P, accumulate, bias_data,
                         tanh_data, ld_tanh, activation_code, &pack[0], &shared[0], shared_elements)
    else:
        fastbp_gemmf_path(code, threads, &C[0], ldc, &A[0], a_m, a_p, &B[0], b_p, b_n, M, N, P, accumulate, bias_data,
                          tanh_data, ld_tanh, activation_code, &pack[0], &shared[0], shared_elements)


def use_packed(Py_ssize_t J, Py_ssize_t K):
    """Whether a (J,K) layer's forward and backward-input products take the packed GEMM in the driver
    (on blocks of at least MIN_ROWS_TO_PACK_WEIGHTS rows)."""
    return packed.use_packed(J, K)


def packs_weight_gradient(Py_ssize_t J, Py_ssize_t K):
    """Whether a (J,K) layer's weight gradient takes the packed GEMM (one chain per weight) in the driver
    and the estimators, instead of the tiles' partial sums."""
    return packed.packs_weight_gradient(J, K)


cdef real[::1] packing_buffer(const real *like):
    return np.empty(FBP_GEMM_PACK_ELEMENTS, dtype=dtype_of(like))


def dense_forward_packed(real[::1] z, const real[::1] inp, const real[::1] W, const real[::1] b,
                         Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    cdef int code = path_code(path)
    cdef real[::1] pack = packing_buffer(&z[0])
    packed.dense_forward_packed(code, &z[0], &inp[0], N, &W[0], &b[0], N, J, K, &pack[0], 1)


def dense_backward_packed(real[::1] dW, real[::1] db, const real[::1] delta, const real[::1] inp,
                          Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    cdef int code = path_code(path)
    cdef real[::1] pack = packing_buffer(&dW[0])
    packed.dense_backward_packed(code, &dW[0], &db[0], &delta[0], &inp[0], N, N, J, K, &pack[0], 1)


def dense_backward_input_packed(real[::1] dinp, const real[::1] delta, const real[::1] W,
                                Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    cdef int code = path_code(path)
    cdef real[::1] pack = packing_buffer(&dinp[0])
    packed.dense_backward_input_packed(code, &dinp[0], &delta[0], &W[0], N, J, K, &pack[0], 1)


def dense_tanh_backward_input_packed(real[::1] dz, const real[::1] delta, const real[::1] W, const real[::1] a,
                                     Py_ssize_t N, Py_ssize_t J, Py_ssize_t K, path=None):
    cdef int code = path_code(path)
    cdef real[::1] pack = packing_buffer(&dz[0])
    packed.dense_tanh_backward_input_packed(code, &dz[0], &delta[0], &W[0], &a[0], N, J, K, &pack[0], 1)


cdef extern from "pool.h" nogil:
    enum:
        FBP_POOL_LATE_NS
        FBP_POOL_BACKOFF_FIRST
        FBP_POOL_BACKOFF_MAX
    void fbp_backoff_replay(Py_ssize_t jobs, const long long *caller_ns, const long long *wait_ns, Py_ssize_t *skips)
    void fbp_pool_replay_stall(long long stall_ns, Py_ssize_t *skip_after_stall, Py_ssize_t *skip_after_next)

# the pool's back-off from late workers (src/pool.h)
POOL_LATE_NS = FBP_POOL_LATE_NS
POOL_BACKOFF_FIRST = FBP_POOL_BACKOFF_FIRST
POOL_BACKOFF_MAX = FBP_POOL_BACKOFF_MAX


def pool_backoff(caller_ns, wait_ns):
    """The jobs src/pool.h runs on the caller alone after each of a run of shared
    jobs in which the caller spent caller_ns[i] on its own chunks and then
    wait_ns[i] waiting for the workers' (from a fresh pool)."""
    cdef long long[::1] caller = np.ascontiguousarray(caller_ns, dtype=np.int64)
    cdef long long[::1] wait = np.ascontiguousarray(wait_ns, dtype=np.int64)
    if caller.shape[0] != wait.shape[0] or caller.shape[0] == 0:
        raise ValueError("caller_ns and wait_ns must be of one length, at least 1")
    skips = np.zeros(caller.shape[0], dtype=np.intp)
    cdef Py_ssize_t[::1] out = skips
    fbp_backoff_replay(caller.shape[0], &caller[0], &wait[0], &out[0])
    return skips


def pool_stall(long long stall_ns):
    """(the pool's back-off after a job in which a worker claimed a chunk and then stalled
    for stall_ns, the same after one more job), from no back-off; (-1, -1) where the build
    has no pool or no worker claimed a chunk (src/pool.h, fbp_pool_replay_stall)."""
    cdef Py_ssize_t after_stall, after_next
    with nogil:
        fbp_pool_replay_stall(stall_ns, &after_stall, &after_next)
    return after_stall, after_next
