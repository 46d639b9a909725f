# The forward/backward pairs, one block of n samples at a time.
#
# Every kernel mirrors the reference function of the same name
# (fastbp/reference.py): same inputs in the same order, outputs first, sizes
# last, and a comment quoting the NumPy line it computes. Per-sample arrays are
# feature-major, marked (n,K)^T: the reference's (n,K) array z is held as z.T,
# so every inner loop runs over the samples, long and contiguous, and
# vectorises. Arrays are contiguous (n,K)^T blocks unless an argument ld_...
# gives the distance between two features' rows (N, for a block of rows of
# the whole feature-major X).
#
# Every kernel exists for float and double (precision.pxd): real is the
# precision of the arrays, and the arithmetic stays in it, literals included,
# as NumPy computes on float32 arrays.
#
# Every kernel takes the dispatch path first (src/dispatch.h: one per training
# call, held by the workspace): its loops run in the copy compiled for that
# target, in src/loops.h (element-wise loops and narrow products),
# src/tiled_products.h (the tiled products of wide layers) and src/vecmath.h.

from narrow_products cimport bias_gradient, dot, dot2, total, use_tiles, weighted_sum
from precision cimport real
from libc.string cimport memset

from tiled_products cimport combine_features, correlate_features, fold_lanes, lanes_of
from vecmath cimport vector_sigmoid, vector_tanh

cdef extern from "loops.h" nogil:
    void fastbp_tanh_backward_d(int path, double *dz, const double *dout, const double *a, Py_ssize_t size)
    void fastbp_tanh_backward_f(int path, float *dz, const float *dout, const float *a, Py_ssize_t size)
    void fastbp_sigmoid_backward_d(int path, double *dz, const double *dout, const double *a, Py_ssize_t size)
    void fastbp_sigmoid_backward_f(int path, float *dz, const float *dout, const float *a, Py_ssize_t size)
    void fastbp_relu_forward_d(int path, double *a, const double *z, Py_ssize_t size)
    void fastbp_relu_forward_f(int path, float *a, const float *z, Py_ssize_t size)
    void fastbp_relu_backward_d(int path, double *dz, const double *dout, const double *a, Py_ssize_t size)
    void fastbp_relu_backward_f(int path, float *dz, const float *dout, const float *a, Py_ssize_t size)
    void fastbp_softmax_forward_d(int path, double *probs, const double *z, double *scratch, Py_ssize_t n,
                                  Py_ssize_t C)
    void fastbp_softmax_forward_f(int path, float *probs, const float *z, float *scratch, Py_ssize_t n,
                                  Py_ssize_t C)
    void fastbp_softmax_forward_two_d(int path, double *probs, const double *z, double *scratch, Py_ssize_t n)
    void fastbp_softmax_forward_two_f(int path, float *probs, const float *z, float *scratch, Py_ssize_t n)
    void fastbp_softmax_cross_entropy_backward_d(int path, double *delta, const double *probs, const Py_ssize_t *y,
                                                 Py_ssize_t n, Py_ssize_t C)
    void fastbp_softmax_cross_entropy_backward_f(int path, float *delta, const float *probs, const Py_ssize_t *y,
                                                 Py_ssize_t n, Py_ssize_t C)
    double fastbp_cross_entropy_loss_d(int path, const double *z, const Py_ssize_t *y, double *scratch,
                                       Py_ssize_t n, Py_ssize_t C)
    double fastbp_cross_entropy_loss_f(int path, const float *z, const Py_ssize_t *y, float *scratch,
                                       Py_ssize_t n, Py_ssize_t C)
    void fastbp_sgd_update_d(int path, double *param, double *dparam, double epsilon, double reg_lambda,
                             Py_ssize_t size)
    void fastbp_sgd_update_f(int path, float *param, float *dparam, float epsilon, float reg_lambda,
                             Py_ssize_t size)
    void fastbp_gather_rows_d(int path, int threads, double *X_batch, Py_ssize_t ld, const double *X_rows,
                              const Py_ssize_t *batch, Py_ssize_t B, Py_ssize_t D)
    void fastbp_gather_rows_f(int path, int threads, float *X_batch, Py_ssize_t ld, const float *X_rows,
                              const Py_ssize_t *batch, Py_ssize_t B, Py_ssize_t D)
    void fastbp_gather_batch_d(int path, int threads, double *X_batch, Py_ssize_t ld, Py_ssize_t *y_batch,
                               const double *X_rows, const Py_ssize_t *y, const Py_ssize_t *batch, Py_ssize_t B,
                               Py_ssize_t D)
    void fastbp_gather_batch_f(int path, int threads, float *X_batch, Py_ssize_t ld, Py_ssize_t *y_batch,
                               const float *X_rows, const Py_ssize_t *y, const Py_ssize_t *batch, Py_ssize_t B,
                               Py_ssize_t D)
    void fastbp_sgd_update_shared_d(int path, int threads, double *param, double *dparam, double epsilon,
                                    double reg_lambda, Py_ssize_t size)
    void fastbp_sgd_update_shared_f(int path, int threads, float *param, float *dparam, float epsilon,
                                    float reg_lambda, Py_ssize_t size)
    void fastbp_add_slabs_shared_d(int path, int threads, double *sums, Py_ssize_t stride, Py_ssize_t num_slabs,
                                   Py_ssize_t size)
    void fastbp_add_slabs_shared_f(int path, int threads, float *sums, Py_ssize_t stride, Py_ssize_t num_slabs,
                                   Py_ssize_t size)


cdef inline void dense_forward(int path,
                               real *z,                    # OUT (n,K)^T
                               const real *inp,            # IN  (n,J)^T, feature rows ld_inp apart
                               Py_ssize_t ld_inp,
                               const real *W,              # IN  (J,K)
                               const real *b,              # IN  (1,K)
                               Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # z = inp.dot(W) + b
    # For each sample the sum runs over j, then adds b, as NumPy does.
    if use_tiles(J, K):
        # z[k] = sum over j of inp[j] * W[j, k], + b[k]
        combine_features(path, z, inp, ld_inp, W, K, 1, b, NULL, n, J, K)
    else:
        dense_forward_loops(path, z, inp, ld_inp, W, b, n, J, K)


cdef inline void dense_forward_loops(int path, real *z, const real *inp, Py_ssize_t ld_inp, const real *W,
                                     const real *b, Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dense_forward's narrow-layer path: output by output, the sum over j in order, then + b
    cdef Py_ssize_t k
    for k in range(K):
        weighted_sum(path, z + k * n, inp, ld_inp, W + k, K, b[k], J, n)


cdef inline void dense_backward(int path,
                                real *dW,                  # OUT (J,K), accumulated
                                real *dW_lanes,            # OUT (J*K, LANES), accumulated: wide layers only
                                real *db,                  # OUT (1,K), accumulated
                                const real *delta,         # IN  (n,K)^T
                                const real *inp,           # IN  (n,J)^T, feature rows ld_inp apart
                                Py_ssize_t ld_inp,
                                Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dW = inp.T.dot(delta); db = np.sum(delta, axis=0, keepdims=True)
    # Adds to gradients that the caller zeroes once per step. A wide layer
    # (use_tiles) adds dW's sums into the partial sums dW_lanes instead, block
    # after block; the caller zeroes them with dW and adds them into dW
    # (tiled_products.fold_lanes) when the last block is in.
    bias_gradient(path, db, delta, n, K)
    if use_tiles(J, K):
        # dW[j, k] += sum over the samples of inp[j] * delta[k]
        correlate_features(path, dW_lanes, inp, ld_inp, delta, n, J, K)
    else:
        weight_gradient_loops(path, dW, delta, inp, ld_inp, n, J, K)


# dense_backward_folded folds a tiled layer's partial sums this many outputs
# at a time (32 KiB of float or double lanes: the L1 cache)
cdef enum:
    FOLD_CHUNK_OUTPUTS = 512


cdef inline void dense_backward_folded(int path,
                                       real *dW,                  # OUT (J,K), accumulated
                                       real *lanes,               # workspace (J*K, LANES), a few rows used
                                       real *db,                  # OUT (1,K), accumulated
                                       const real *delta,         # IN  (n,K)^T
                                       const real *inp,           # IN  (n,J)^T, feature rows ld_inp apart
                                       Py_ssize_t ld_inp,
                                       Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dense_backward of a wide (use_tiles) layer whose gradient has one block
    # (a minibatch step): the same bits as zeroing dW_lanes, dense_backward and
    # fold_lanes, each output's partial sums starting from zero and folded as
    # there, but a few rows at a time through a small buffer that stays in the
    # L1 cache, and started from zero by the tiles themselves (from_zero), not
    # zeroed first. At minibatches of 16 the whole layer's lanes (8 or 16 per
    # weight), zeroed and folded once per step, cost more than the products.
    cdef Py_ssize_t rows, j0 = 0
    cdef Py_ssize_t chunk_rows = max(1, FOLD_CHUNK_OUTPUTS // K)
    bias_gradient(path, db, delta, n, K)
    while j0 < J:
        rows = min(chunk_rows, J - j0)
        correlate_features(path, lanes, inp + j0 * ld_inp, ld_inp, delta, n, rows, K, True)
        fold_lanes(path, dW + j0 * K, lanes, rows * K)
        j0 = j0 + rows


cdef inline void weight_gradient_loops(int path, real *dW, const real *delta, const real *inp, Py_ssize_t ld_inp,
                                       Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dense_backward's dW on the narrow-layer path: dW[j, k] += the partial sums of dot, two outputs at a time
    cdef Py_ssize_t j, k
    cdef real pair[2]
    for j in range(J):
        for k in range(0, K - 1, 2):
            dot2(path, &pair[0], &pair[1], inp + j * ld_inp, delta + k * n, delta + (k + 1) * n, n)
            dW[j * K + k] = dW[j * K + k] + pair[0]
            dW[j * K + k + 1] = dW[j * K + k + 1] + pair[1]
        if K % 2 == 1:
            dW[j * K + K - 1] = dW[j * K + K - 1] + dot(path, inp + j * ld_inp, delta + (K - 1) * n, n)


cdef inline void dense_backward_input(int path,
                                      real *dinp,          # OUT (n,J)^T
                                      const real *delta,   # IN  (n,K)^T
                                      const real *W,       # IN  (J,K)
                                      Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dinp = delta.dot(W.T)
    cdef Py_ssize_t j
    cdef real zero = 0
    if use_tiles(J, K):
        # dinp[j] = sum over k of delta[k] * W[j, k]
        combine_features(path, dinp, delta, n, W, 1, K, NULL, NULL, n, K, J)
    else:
        for j in range(J):
            weighted_sum(path, dinp + j * n, delta, n, W + j * K, 1, zero, K, n)


cdef inline void tanh_forward(int path,
                              real *a,              # OUT (n,K)^T, may be z itself
                              const real *z,        # IN  (n,K)^T
                              Py_ssize_t size) noexcept nogil:
    # a = np.tanh(z), by the vectorised tanh of vecmath.h (within 2 ulp)
    vector_tanh(path, a, z, size)


cdef inline void tanh_backward(int path,
                               real *dz,            # OUT (n,K)^T, may be dout itself
                               const real *dout,    # IN  (n,K)^T
                               const real *a,       # IN  (n,K)^T, the forward output
                               Py_ssize_t size) noexcept nogil:
    # dz = dout * (1 - np.power(a, 2))
    if real is double:
        fastbp_tanh_backward_d(path, dz, dout, a, size)
    else:
        fastbp_tanh_backward_f(path, dz, dout, a, size)


cdef inline void sigmoid_forward(int path,
                                 real *a,           # OUT (n,K)^T, may be z itself
                                 const real *z,     # IN  (n,K)^T
                                 Py_ssize_t size) noexcept nogil:
    # a = 1.0 / (1.0 + np.exp(-z)); exp overflows to inf below -709 (-88 in
    # float32), giving exactly 0
    vector_sigmoid(path, a, z, size)


cdef inline void sigmoid_backward(int path,
                                  real *dz,          # OUT (n,K)^T, may be dout itself
                                  const real *dout,  # IN  (n,K)^T
                                  const real *a,     # IN  (n,K)^T, the forward output
                                  Py_ssize_t size) noexcept nogil:
    # dz = dout * (a * (1 - a))
    if real is double:
        fastbp_sigmoid_backward_d(path, dz, dout, a, size)
    else:
        fastbp_sigmoid_backward_f(path, dz, dout, a, size)


cdef inline void relu_forward(int path,
                              real *a,              # OUT (n,K)^T, may be z itself
                              const real *z,        # IN  (n,K)^T
                              Py_ssize_t size) noexcept nogil:
    # a = np.maximum(z, 0.0)
    if real is double:
        fastbp_relu_forward_d(path, a, z, size)
    else:
        fastbp_relu_forward_f(path, a, z, size)


cdef inline void relu_backward(int path,
                               real *dz,            # OUT (n,K)^T, may be dout itself
                               const real *dout,    # IN  (n,K)^T
                               const real *a,       # IN  (n,K)^T, the forward output
                               Py_ssize_t size) noexcept nogil:
    # dz = dout * (a > 0)
    if real is double:
        fastbp_relu_backward_d(path, dz, dout, a, size)
    else:
        fastbp_relu_backward_f(path, dz, dout, a, size)


cdef inline void dense_tanh_backward_input(int path,
                                           real *dz,              # OUT (n,J)^T
                                           const real *delta,     # IN  (n,K)^T
                                           const real *W,         # IN  (J,K)
                                           const real *a,         # IN  (n,J)^T, tanh's forward output
                                           Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dz = tanh_backward(dense_backward_input(delta, W), a): delta.dot(W.T) * (1 - a**2)
    # The two kernels' operations in their order; a wide layer does both while
    # each tile of dz is in registers (tiled_products.h), saving a sweep over the block.
    if use_tiles(J, K):
        combine_features(path, dz, delta, n, W, 1, K, NULL, a, n, K, J)
    else:
        dense_backward_input(path, dz, delta, W, n, J, K)
        tanh_backward(path, dz, dz, a, n * J)


# The hidden-layer activations, numbered in the order of reference.ACTIVATIONS.
# The driver (src/_driver.pyx) maps their names to these codes in ACTIVATION_CODES.
cdef enum Activation:
    TANH = 0
    SIGMOID = 1
    RELU = 2


cdef inline void activation_forward(int path, real *a, const real *z, Py_ssize_t size,
                                    Activation activation) noexcept nogil:
    # reference.ACTIVATIONS[name][0]
    if activation == SIGMOID:
        sigmoid_forward(path, a, z, size)
    elif activation == RELU:
        relu_forward(path, a, z, size)
    else:
        tanh_forward(path, a, z, size)


cdef inline void activation_backward(int path, real *dz, const real *dout, const real *a,
                                     Py_ssize_t size, Activation activation) noexcept nogil:
    # reference.ACTIVATIONS[name][1]
    if activation == SIGMOID:
        sigmoid_backward(path, dz, dout, a, size)
    elif activation == RELU:
        relu_backward(path, dz, dout, a, size)
    else:
        tanh_backward(path, dz, dout, a, size)


cdef inline void softmax_forward(int path,
                                 real *probs,              # OUT (n,C)^T, may be z itself
                                 const real *z,            # IN  (n,C)^T
                                 real *scratch,            # workspace (n,)
                                 Py_ssize_t n, Py_ssize_t C) noexcept nogil:
    # shifted = z - z.max(axis=1, keepdims=True); exp_scores = np.exp(shifted)
    # probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    # For C = 2, half the exps and one division: the larger logit's shifted
    # value is exactly 0 and its exp exactly 1; the other's is min - max =
    # -|z0 - z1| exactly. The larger class's probability 1 / (1 + e) is the
    # general case's to the bit (1 + e and e + 1 are the same number); the
    # smaller one, e * (1 / (1 + e)), is within an ulp of its e / (1 + e).
    if C == 2:
        if real is double:
            fastbp_softmax_forward_two_d(path, probs, z, scratch, n)
        else:
            fastbp_softmax_forward_two_f(path, probs, z, scratch, n)
    elif real is double:
        fastbp_softmax_forward_d(path, probs, z, scratch, n, C)
    else:
        fastbp_softmax_forward_f(path, probs, z, scratch, n, C)


cdef inline void softmax_cross_entropy_backward(int path,
                                                real *delta,           # OUT (n,C)^T, may be probs itself
                                                const real *probs,     # IN  (n,C)^T
                                                const Py_ssize_t *y,   # IN  (n,)
                                                Py_ssize_t n, Py_ssize_t C) noexcept nogil:
    # delta = probs.copy(); delta[np.arange(len(y)), y] -= 1
    # Written as delta = probs - (y == c) class by class, so that it vectorises:
    # subtracting 0.0 leaves every other entry exactly as it was.
    if real is double:
        fastbp_softmax_cross_entropy_backward_d(path, delta, probs, y, n, C)
    else:
        fastbp_softmax_cross_entropy_backward_f(path, delta, probs, y, n, C)


cdef inline double cross_entropy_loss(int path,
                                      const real *z,         # IN (n,C)^T
                                      const Py_ssize_t *y,   # IN (n,)
                                      real *scratch,         # workspace (n,C)^T plus (n,)
                                      Py_ssize_t n, Py_ssize_t C) noexcept nogil:
    # shifted = z - z.max(axis=1, keepdims=True)
    # np.sum(np.log(np.sum(np.exp(shifted), axis=1)) - shifted[np.arange(N), y])
    # The sum over the samples is carried in double in both precisions: it is
    # the one sum of the whole data set, and the loss is reported as a double.
    if real is double:
        return fastbp_cross_entropy_loss_d(path, z, y, scratch, n, C)
    else:
        return fastbp_cross_entropy_loss_f(path, z, y, scratch, n, C)


cdef inline void add_slabs(int path,
                           real *sums,             # IN/OUT (num_slabs, stride): the slabs' sums, flat
                           Py_ssize_t stride, Py_ssize_t num_slabs, Py_ssize_t size, int threads=1) noexcept nogil:
    # sums[:size] = ((sums[0] + sums[1]) + sums[2]) + ..., rows of sums stride apart,
    # added in slab order (passes.network_gradient)
    # threads > 1: the elements shared between src/pool.h's threads (the same bits)
    if real is double:
        fastbp_add_slabs_shared_d(path, threads, sums, stride, num_slabs, size)
    else:
        fastbp_add_slabs_shared_f(path, threads, sums, stride, num_slabs, size)


cdef inline void sgd_update(int path,
                            real *param,            # IN/OUT (any shape, flat)
                            real *dparam,           # IN/OUT (same shape)
                            real epsilon, real reg_lambda, Py_ssize_t size, int threads=1) noexcept nogil:
    # dparam += reg_lambda * param; param += -epsilon * dparam
    # threads > 1: the elements shared between src/pool.h's threads (the same bits)
    if real is double:
        fastbp_sgd_update_shared_d(path, threads, param, dparam, epsilon, reg_lambda, size)
    else:
        fastbp_sgd_update_shared_f(path, threads, param, dparam, epsilon, reg_lambda, size)


# A product reads a block's columns of many feature rows at once (a tile of
# its inputs). Where the rows lie a multiple of ALIAS_BYTES apart, those reads
# map to the same few L1 sets and evict each other: the 1024-32 forward tiles
# on 256 rows of 1024 features ran 1.7x as long per multiply-add with the rows
# 2 KiB apart (256 doubles) as 2112 bytes apart, and 2x with them 4 or 8 KiB
# apart. So the feature-major copies of X (layout.pxi's feature_major, the
# minibatches' X_batch) pad each feature's row to feature_stride reals: its
# rows rounded up to a cache line, and one line more where that would be a
# multiple of ALIAS_BYTES. The padding is never read.
cdef enum:
    ALIAS_BYTES = 2048
    LINE_BYTES = 64


cdef inline Py_ssize_t feature_stride(Py_ssize_t rows, Py_ssize_t itemsize) noexcept nogil:
    # the reals from one feature's row of a feature-major copy of rows samples to the next
    cdef Py_ssize_t line = LINE_BYTES // itemsize
    cdef Py_ssize_t stride = (rows + line - 1) // line * line
    if stride > 0 and stride * itemsize % ALIAS_BYTES == 0:
        stride += line
    return stride


cdef inline void gather_batch(int path,
                              real *X_batch,        # OUT (B,D)^T, feature rows ld apart
                              Py_ssize_t ld,
                              Py_ssize_t *y_batch,    # OUT (B,)
                              const real *X_rows,     # IN  (N,D): sample-major, sample i's features one row
                              const Py_ssize_t *y,    # IN  (N,)
                              const Py_ssize_t *batch,  # IN (B,) sample indices
                              Py_ssize_t B, Py_ssize_t D, int threads=1) noexcept nogil:
    # X_batch, y_batch = X[batch], y[batch]
    # Copies, no arithmetic (src/loops.h, fastbp_gather_batch_*: why it reads
    # the sample-major X); threads > 1 share the features (src/pool.h).
    if real is double:
        fastbp_gather_batch_d(path, threads, X_batch, ld, y_batch, X_rows, y, batch, B, D)
    else:
        fastbp_gather_batch_f(path, threads, X_batch, ld, y_batch, X_rows, y, batch, B, D)


cdef inline void gather_rows(int path,
                             real *out,               # OUT (B,K)^T, feature rows ld apart
                             Py_ssize_t ld,
                             const real *inp,         # IN  (N,K), sample-major
                             const Py_ssize_t *rows,  # IN  (B,) sample indices, or NULL for 0..B-1
                             Py_ssize_t B, Py_ssize_t K, int threads=1) noexcept nogil:
    # out = inp[rows].T, gather_batch's copy without the labels (the
    # estimators' targets and sample weights are real arrays)
    if real is double:
        fastbp_gather_rows_d(path, threads, out, ld, inp, rows, B, K)
    else:
        fastbp_gather_rows_f(path, threads, out, ld, inp, rows, B, K)
