# The wide layers' products by the packed, cache-blocked GEMM of src/gemm.h,
# under the names of their layers.pxd twins with the suffix _packed: same
# arguments (the dispatch path first, src/dispatch.h), then the packing buffer,
# the threads that may share the product and, optionally, the buffer where
# those threads share one packed copy of its second operand (gemm.h's
# shared_b). Per-sample arrays are feature-major, (n,K)^T.
#
#   dense_forward_packed               z = inp.dot(W) + b
#   dense_backward_packed              dW += inp.T.dot(delta) (or dW =); db += np.sum(delta, axis=0)
#   dense_backward_input_packed        dinp = delta.dot(W.T)
#   dense_tanh_backward_input_packed   dz = delta.dot(W.T) * (1 - a**2)
#
# The forward and backward-input products compute the bits of layers.pxd's
# tiled ones (tiled_products.h's order); the weight gradient sums each weight in
# one chain over the samples (gemm.h, "Rounding").

from layers cimport SIGMOID, TANH, Activation, dense_forward, dense_tanh_backward_input
from narrow_products cimport bias_gradient, use_tiles
from precision cimport real

cdef extern from "gemm.h" nogil:
    enum:
        FBP_GEMM_PACK_ELEMENTS  # reals of packing buffer per thread
        FBP_GEMM_MIN_PARALLEL_WORK  # multiply-adds from which threads share a product
        FBP_GEMM_MIN_SHARED_SIDE  # and the fewest samples (or columns) a shared product has
        # the activation a forward product may apply to its outputs once they are done
        FBP_GEMM_NO_ACTIVATION
        FBP_GEMM_TANH
        FBP_GEMM_SIGMOID
    # whether threads share a product with N columns and P terms per output, work = M * N * P
    bint fbp_gemm_worth_sharing(Py_ssize_t N, Py_ssize_t P, double work)
    # path: dispatch.h's FASTBP_PATH_* (0 baseline, 1 AVX2, 2 AVX-512)
    void fastbp_gemm_path(int path, int threads, double *C, Py_ssize_t ldc, const double *A, Py_ssize_t a_m,
                          Py_ssize_t a_p, const double *B, Py_ssize_t b_p, Py_ssize_t b_n, Py_ssize_t M,
                          Py_ssize_t N, Py_ssize_t P, int accumulate, const double *bias, const double *tanh_out,
                          Py_ssize_t ld_tanh, int activation, double *pack, double *shared_b,
                          Py_ssize_t shared_b_elements)
    void fastbp_gemmf_path(int path, int threads, float *C, Py_ssize_t ldc, const float *A, Py_ssize_t a_m,
                           Py_ssize_t a_p, const float *B, Py_ssize_t b_p, Py_ssize_t b_n, Py_ssize_t M,
                           Py_ssize_t N, Py_ssize_t P, int accumulate, const float *bias, const float *tanh_out,
                           Py_ssize_t ld_tanh, int activation, float *pack, float *shared_b,
                           Py_ssize_t shared_b_elements)
    # tiled_products.h's combine, its outputs shared between up to threads threads (the same bits)
    void fastbp_combine_shared_path(int path, int threads, double *out, const double *inp, Py_ssize_t ld_inp,
                                    const double *weights, Py_ssize_t weight_q, Py_ssize_t weight_r,
                                    const double *bias, const double *tanh_out, Py_ssize_t n, Py_ssize_t num_in,
                                    Py_ssize_t num_out)
    void fastbp_combinef_shared_path(int path, int threads, float *out, const float *inp, Py_ssize_t ld_inp,
                                     const float *weights, Py_ssize_t weight_q, Py_ssize_t weight_r,
                                     const float *bias, const float *tanh_out, Py_ssize_t n, Py_ssize_t num_in,
                                     Py_ssize_t num_out)


# A layer takes the packed products when both its widths are at least
# MIN_PACKED_WIDTH: packing costs a pass over both operands, paid back only
# when each packed value feeds many tiles. The weight gradient gains most: on
# blocks of 128 rows, one core, 48-67 GFLOP/s in float64 against the tiles'
# 9-25 from 64 x 64 to 1024 x 1024 (bench/results/bench_gemm.txt), whose
# partial sums, 8 or 16 per weight, outgrow the caches. The forward and
# backward-input products are the tiles' bits either way: on 128-row blocks
# the packed forward product is faster from 784 x 512 on, the tiles' up to
# 256 x 256, and the tiles' backward-input product 10-40% faster at every
# width (the packed ones win on 10 000-row blocks and when threads share a
# step). Narrower layers keep the register tiles of tiled_products.h or the
# loops of narrow_products.pxd. The choice depends on the shape only.
cdef enum:
    MIN_PACKED_WIDTH = 64
# The forward and backward-input products of a block of fewer rows take the
# tiles (the same bits): they pack the weights once per block, which fewer
# rows than this do not pay back. At minibatches of 16, a 64-1024 layer's
# packed forward product took 19% of an epoch in float64. (The weight
# gradient keeps the packed product whatever the rows: its sums' order is
# not the tiles'.)
cdef enum:
    MIN_ROWS_TO_PACK_WEIGHTS = 64


# The weight gradient of a layer at least MIN_PACKED_WIDTH inputs wide takes
# the packed product from MIN_PACKED_GRADIENT_OUTPUTS outputs on: there the
# tiles' partial sums (8 or 16 per weight, bench/bench_gemm.py's weights rows)
# run at 20-27 GFLOP/s on blocks of 128 rows, the packed product at 44-48 in
# float64 and 70 in float32 (784 x 32). Whole passes decide, not the product
# alone: a 784-32-10 minibatch epoch took 0.74x (float64) and 0.63x
# (float32) the time, while on the large job (20-256-10, full batch) packing
# the first layer's gradient made the pass 12% slower though the product
# alone was faster, so layers narrower than MIN_PACKED_WIDTH keep the tiles.
cdef enum:
    MIN_PACKED_GRADIENT_OUTPUTS = 32


cdef inline bint use_packed(Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # the forward and backward-input products (with MIN_ROWS_TO_PACK_WEIGHTS)
    return J >= MIN_PACKED_WIDTH and K >= MIN_PACKED_WIDTH


cdef inline bint packs_weights_on_block(Py_ssize_t J, Py_ssize_t K, Py_ssize_t n) noexcept nogil:
    # whether a block of n rows of a (J,K) layer takes the packed forward and
    # backward-input products (else the tiles, the same bits)
    return use_packed(J, K) and n >= MIN_ROWS_TO_PACK_WEIGHTS


cdef inline bint packs_weight_gradient(Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # the weight gradient; true for every layer use_packed chooses
    return J >= MIN_PACKED_WIDTH and K >= MIN_PACKED_GRADIENT_OUTPUTS


cdef inline bint writes_weight_gradient(Py_ssize_t J, Py_ssize_t K, bint one_block) noexcept nogil:
    # whether a slab's block writes a (J,K) layer's weight gradient instead of
    # adding to it: the packed one, on a slab of one block (every minibatch
    # step), whose GEMM chains start from 0 (dense_backward_packed's
    # accumulate off: the bits of adding to zeros), so the driver leaves that
    # dW unzeroed
    return one_block and packs_weight_gradient(J, K)


cdef inline bint carries_lanes(Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # whether a (J,K) layer's weight gradient goes through the tiles' partial
    # sums (layers.dense_backward's dW_lanes); the packed one adds into dW itself
    return use_tiles(J, K) and not packs_weight_gradient(J, K)


cdef inline int fused_activation(Activation activation) noexcept nogil:
    # the code of gemm.h's activation for a hidden layer's packed forward
    # product to apply to its finished tiles: tanh and sigmoid, vecmath.h's
    # loops, which activation_forward would run over the block's outputs
    # afterwards (the same bits); relu keeps that pass (FBP_GEMM_NO_ACTIVATION)
    if activation == TANH:
        return FBP_GEMM_TANH
    if activation == SIGMOID:
        return FBP_GEMM_SIGMOID
    return FBP_GEMM_NO_ACTIVATION


cdef inline void gemm(int path,
                      real *C,                 # IN/OUT (M,N), rows ldc apart
                      Py_ssize_t ldc,
                      const real *A,           # IN  A(m, p) at m * a_m + p * a_p
                      Py_ssize_t a_m, Py_ssize_t a_p,
                      const real *B,           # IN  B(p, c) at p * b_p + c * b_n
                      Py_ssize_t b_p, Py_ssize_t b_n,
                      Py_ssize_t M, Py_ssize_t N, Py_ssize_t P,
                      bint accumulate,         # C += the product, instead of C =
                      const real *bias,        # IN  (M,) or NULL
                      const real *tanh_out,    # IN  (M,N), rows ld_tanh apart, or NULL
                      Py_ssize_t ld_tanh,
                      real *pack,              # workspace (threads, FBP_GEMM_PACK_ELEMENTS)
                      int threads,
                      real *shared_b=NULL,     # workspace (shared_b_elements,): B packed once for all threads
                      Py_ssize_t shared_b_elements=0,
                      int activation=0) noexcept nogil:  # FBP_GEMM_TANH, _SIGMOID: on C; 0 FBP_GEMM_NO_ACTIVATION
    if real is double:
        fastbp_gemm_path(path, threads, C, ldc, A, a_m, a_p, B, b_p, b_n, M, N, P, accumulate, bias, tanh_out,
                         ld_tanh, activation, pack, shared_b, shared_b_elements)
    else:
        fastbp_gemmf_path(path, threads, C, ldc, A, a_m, a_p, B, b_p, b_n, M, N, P, accumulate, bias, tanh_out,
                          ld_tanh, activation, pack, shared_b, shared_b_elements)


cdef inline void combine_shared(int path, int threads, real *out, const real *inp, Py_ssize_t ld_inp,
                                const real *weights, Py_ssize_t weight_q, Py_ssize_t weight_r, const real *bias,
                                const real *tanh_out, Py_ssize_t n, Py_ssize_t num_in,
                                Py_ssize_t num_out) noexcept nogil:
    # tiled_products.combine_features (its arguments after threads), shared
    if real is double:
        fastbp_combine_shared_path(path, threads, out, inp, ld_inp, weights, weight_q, weight_r, bias, tanh_out, n,
                                   num_in, num_out)
    else:
        fastbp_combinef_shared_path(path, threads, out, inp, ld_inp, weights, weight_q, weight_r, bias, tanh_out, n,
                                    num_in, num_out)


cdef inline void dense_forward_shared(int path,
                                      real *z,             # OUT (n,K)^T
                                      const real *inp,     # IN  (n,J)^T, feature rows ld_inp apart
                                      Py_ssize_t ld_inp,
                                      const real *W,       # IN  (J,K)
                                      const real *b,       # IN  (1,K)
                                      Py_ssize_t n, Py_ssize_t J, Py_ssize_t K, int threads) noexcept nogil:
    # layers.dense_forward, the same bits: a tiled layer's outputs shared by up
    # to threads threads where the product is worth it (gemm.h's rule)
    if use_tiles(J, K):
        combine_shared(path, threads, z, inp, ld_inp, W, K, 1, b, NULL, n, J, K)
    else:
        dense_forward(path, z, inp, ld_inp, W, b, n, J, K)


cdef inline void dense_tanh_backward_input_shared(int path,
                                                  real *dz,            # OUT (n,J)^T
                                                  const real *delta,   # IN  (n,K)^T
                                                  const real *W,       # IN  (J,K)
                                                  const real *a,       # IN  (n,J)^T, tanh's forward output
                                                  Py_ssize_t n, Py_ssize_t J, Py_ssize_t K,
                                                  int threads) noexcept nogil:
    # layers.dense_tanh_backward_input, the same bits, shared as dense_forward_shared
    if use_tiles(J, K):
        combine_shared(path, threads, dz, delta, n, W, 1, K, NULL, a, n, K, J)
    else:
        dense_tanh_backward_input(path, dz, delta, W, a, n, J, K)


cdef inline void dense_forward_packed(int path,
                                      real *z,             # OUT (n,K)^T
                                      const real *inp,     # IN  (n,J)^T, feature rows ld_inp apart
                                      Py_ssize_t ld_inp,
                                      const real *W,       # IN  (J,K)
                                      const real *b,       # IN  (1,K)
                                      Py_ssize_t n, Py_ssize_t J, Py_ssize_t K,
                                      real *pack, int threads, real *shared_b=NULL,
                                      Py_ssize_t shared_b_elements=0,
                                      int activation=0) noexcept nogil:  # 0: FBP_GEMM_NO_ACTIVATION
    # z = inp.dot(W) + b: z[k][i] = sum over j of W[j, k] * inp[j][i], + b[k];
    # then, with activation FBP_GEMM_TANH or FBP_GEMM_SIGMOID, z = that
    # function of z (layers.activation_forward's bits), tile by tile
    gemm(path, z, n, W, 1, K, inp, ld_inp, 1, K, n, J, False, b, NULL, 0, pack, threads, shared_b, shared_b_elements,
         activation)


cdef inline void dense_backward_packed(int path,
                                       real *dW,           # OUT (J,K), accumulated
                                       real *db,           # OUT (1,K), accumulated
                                       const real *delta,  # IN  (n,K)^T
                                       const real *inp,    # IN  (n,J)^T, feature rows ld_inp apart
                                       Py_ssize_t ld_inp,
                                       Py_ssize_t n, Py_ssize_t J, Py_ssize_t K,
                                       real *pack, int threads, bint accumulate=True, real *shared_b=NULL,
                                       Py_ssize_t shared_b_elements=0) noexcept nogil:
    # dW = inp.T.dot(delta); db = np.sum(delta, axis=0, keepdims=True)
    # Adds to gradients that the caller zeroes once per step (or slab); with
    # accumulate False, dW is written (each weight's chain starts from 0, the
    # bits of adding to a zeroed dW) and need not be zeroed: a slab of one block.
    bias_gradient(path, db, delta, n, K)
    # dW[j, k] += sum over i of inp[j][i] * delta[k][i]
    gemm(path, dW, K, inp, ld_inp, 1, delta, 1, n, J, K, n, accumulate, NULL, NULL, 0, pack, threads, shared_b,
         shared_b_elements)


cdef inline void dense_backward_input_packed(int path,
                                             real *dinp,         # OUT (n,J)^T
                                             const real *delta,  # IN  (n,K)^T
                                             const real *W,      # IN  (J,K)
                                             Py_ssize_t n, Py_ssize_t J, Py_ssize_t K,
                                             real *pack, int threads, real *shared_b=NULL,
                                             Py_ssize_t shared_b_elements=0) noexcept nogil:
    # dinp = delta.dot(W.T): dinp[j][i] = sum over k of W[j, k] * delta[k][i]
    gemm(path, dinp, n, W, K, 1, delta, n, 1, J, n, K, False, NULL, NULL, 0, pack, threads, shared_b,
         shared_b_elements)


cdef inline void dense_tanh_backward_input_packed(int path,
                                                  real *dz,           # OUT (n,J)^T
                                                  const real *delta,  # IN  (n,K)^T
                                                  const real *W,      # IN  (J,K)
                                                  const real *a,      # IN  (n,J)^T, tanh's forward output
                                                  Py_ssize_t n, Py_ssize_t J, Py_ssize_t K,
                                                  real *pack, int threads, real *shared_b=NULL,
                                                  Py_ssize_t shared_b_elements=0) noexcept nogil:
    # dz = delta.dot(W.T) * (1 - a**2), the factor applied while the tile is in registers
    gemm(path, dz, n, W, K, 1, delta, n, 1, J, n, K, False, NULL, a, n, pack, threads, shared_b, shared_b_elements)
