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
# precision of the arrays, and the arithmetic stays in it, literals included
# (one and zero below are real), as NumPy computes on float32 arrays.

from libc.math cimport log

from linalg cimport dot, dot2, total, use_tiles, weighted_sum
from precision cimport real
from products cimport combine_features, correlate_features
from vecmath cimport vector_exp, vector_sigmoid, vector_tanh

cdef inline void dense_forward(real *z,                    # OUT (n,K)^T
                               const real *inp,            # IN  (n,J)^T, feature rows ld_inp apart
                               Py_ssize_t ld_inp,
                               const real *W,              # IN  (J,K)
                               const real *b,              # IN  (1,K)
                               Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # z = inp.dot(W) + b
    # For each sample the sum runs over j, then adds b, as NumPy does.
    if use_tiles(J, K):
        # z[k] = sum over j of inp[j] * W[j, k], + b[k]
        combine_features(z, inp, ld_inp, W, K, 1, b, NULL, n, J, K)
    else:
        dense_forward_loops(z, inp, ld_inp, W, b, n, J, K)


cdef inline void dense_forward_loops(real *z, const real *inp, Py_ssize_t ld_inp, const real *W, const real *b,
                                     Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dense_forward's narrow-layer path: output by output, the sum over j in order, then + b
    cdef Py_ssize_t k
    for k in range(K):
        weighted_sum(z + k * n, inp, ld_inp, W + k, K, b[k], J, n)


cdef inline void dense_backward(real *dW,                  # OUT (J,K), accumulated
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
    # (products.fold_lanes) when the last block is in.
    cdef Py_ssize_t k
    for k in range(K):
        db[k] = db[k] + total(delta + k * n, n)
    if use_tiles(J, K):
        # dW[j, k] += sum over the samples of inp[j] * delta[k]
        correlate_features(dW_lanes, inp, ld_inp, delta, n, J, K)
    else:
        weight_gradient_loops(dW, delta, inp, ld_inp, n, J, K)


cdef inline void weight_gradient_loops(real *dW, const real *delta, const real *inp, Py_ssize_t ld_inp,
                                       Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dense_backward's dW on the narrow-layer path: dW[j, k] += the partial sums of dot, two outputs at a time
    cdef Py_ssize_t j, k
    cdef real pair[2]
    for j in range(J):
        for k in range(0, K - 1, 2):
            dot2(&pair[0], &pair[1], inp + j * ld_inp, delta + k * n, delta + (k + 1) * n, n)
            dW[j * K + k] = dW[j * K + k] + pair[0]
            dW[j * K + k + 1] = dW[j * K + k + 1] + pair[1]
        if K % 2 == 1:
            dW[j * K + K - 1] = dW[j * K + K - 1] + dot(inp + j * ld_inp, delta + (K - 1) * n, n)


cdef inline void dense_backward_input(real *dinp,          # OUT (n,J)^T
                                      const real *delta,   # IN  (n,K)^T
                                      const real *W,       # IN  (J,K)
                                      Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dinp = delta.dot(W.T)
    cdef Py_ssize_t j
    cdef real zero = 0
    if use_tiles(J, K):
        # dinp[j] = sum over k of delta[k] * W[j, k]
        combine_features(dinp, delta, n, W, 1, K, NULL, NULL, n, K, J)
    else:
        for j in range(J):
            weighted_sum(dinp + j * n, delta, n, W + j * K, 1, zero, K, n)


cdef inline void tanh_forward(real *a,              # OUT (n,K)^T, may be z itself
                              const real *z,        # IN  (n,K)^T
                              Py_ssize_t size) noexcept nogil:
    # a = np.tanh(z), by the vectorised tanh of vecmath.h (within 2 ulp)
    vector_tanh(a, z, size)


cdef inline void tanh_backward(real *dz,            # OUT (n,K)^T, may be dout itself
                               const real *dout,    # IN  (n,K)^T
                               const real *a,       # IN  (n,K)^T, the forward output
                               Py_ssize_t size) noexcept nogil:
    # dz = dout * (1 - np.power(a, 2))
    cdef Py_ssize_t i
    cdef real one = 1
    for i in range(size):
        dz[i] = dout[i] * (one - a[i] * a[i])


cdef inline void sigmoid_forward(real *a,           # OUT (n,K)^T, may be z itself
                                 const real *z,     # IN  (n,K)^T
                                 Py_ssize_t size) noexcept nogil:
    # a = 1.0 / (1.0 + np.exp(-z)); exp overflows to inf below -709 (-88 in
    # float32), giving exactly 0
    vector_sigmoid(a, z, size)


cdef inline void sigmoid_backward(real *dz,         # OUT (n,K)^T, may be dout itself
                                  const real *dout, # IN  (n,K)^T
                                  const real *a,    # IN  (n,K)^T, the forward output
                                  Py_ssize_t size) noexcept nogil:
    # dz = dout * (a * (1 - a))
    cdef Py_ssize_t i
    cdef real one = 1
    for i in range(size):
        dz[i] = dout[i] * (a[i] * (one - a[i]))


cdef inline void relu_forward(real *a,              # OUT (n,K)^T, may be z itself
                              const real *z,        # IN  (n,K)^T
                              Py_ssize_t size) noexcept nogil:
    # a = np.maximum(z, 0.0)
    cdef Py_ssize_t i
    cdef real zero = 0
    for i in range(size):
        a[i] = z[i] if z[i] > zero else zero


cdef inline void relu_backward(real *dz,            # OUT (n,K)^T, may be dout itself
                               const real *dout,    # IN  (n,K)^T
                               const real *a,       # IN  (n,K)^T, the forward output
                               Py_ssize_t size) noexcept nogil:
    # dz = dout * (a > 0)
    cdef Py_ssize_t i
    cdef real one = 1, zero = 0
    for i in range(size):
        dz[i] = dout[i] * (one if a[i] > zero else zero)


cdef inline void dense_tanh_backward_input(real *dz,              # OUT (n,J)^T
                                           const real *delta,     # IN  (n,K)^T
                                           const real *W,         # IN  (J,K)
                                           const real *a,         # IN  (n,J)^T, tanh's forward output
                                           Py_ssize_t n, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dz = tanh_backward(dense_backward_input(delta, W), a): delta.dot(W.T) * (1 - a**2)
    # The two kernels' operations in their order; a wide layer does both while
    # each tile of dz is in registers (products.h), saving a sweep over the block.
    if use_tiles(J, K):
        combine_features(dz, delta, n, W, 1, K, NULL, a, n, K, J)
    else:
        dense_backward_input(dz, delta, W, n, J, K)
        tanh_backward(dz, dz, a, n * J)


# The hidden-layer activations, numbered in the order of reference.ACTIVATIONS.
# src/driver.pxi maps their names to these codes in ACTIVATION_CODES, a module
# attribute of each compiled driver (fastbp._kernels, _kernels_avx2, _kernels_avx512).
cdef enum Activation:
    TANH = 0
    SIGMOID = 1
    RELU = 2


cdef inline void activation_forward(real *a, const real *z, Py_ssize_t size,
                                    Activation activation) noexcept nogil:
    # reference.ACTIVATIONS[name][0]
    if activation == SIGMOID:
        sigmoid_forward(a, z, size)
    elif activation == RELU:
        relu_forward(a, z, size)
    else:
        tanh_forward(a, z, size)


cdef inline void activation_backward(real *dz, const real *dout, const real *a,
                                     Py_ssize_t size, Activation activation) noexcept nogil:
    # reference.ACTIVATIONS[name][1]
    if activation == SIGMOID:
        sigmoid_backward(dz, dout, a, size)
    elif activation == RELU:
        relu_backward(dz, dout, a, size)
    else:
        tanh_backward(dz, dout, a, size)


cdef inline void row_max(real *out,                 # OUT (n,)
                         const real *z,             # IN  (n,C)^T
                         Py_ssize_t n, Py_ssize_t C) noexcept nogil:
    # out = z.max(axis=1)
    cdef Py_ssize_t i, c
    for i in range(n):
        out[i] = z[i]
    for c in range(1, C):
        for i in range(n):
            if z[c * n + i] > out[i]:
                out[i] = z[c * n + i]


cdef inline void softmax_forward(real *probs,              # OUT (n,C)^T, may be z itself
                                 const real *z,            # IN  (n,C)^T
                                 real *scratch,            # workspace (n,)
                                 Py_ssize_t n, Py_ssize_t C) noexcept nogil:
    # shifted = z - z.max(axis=1, keepdims=True); exp_scores = np.exp(shifted)
    # probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    cdef Py_ssize_t i, c
    if C == 2:
        softmax_forward_two(probs, z, scratch, n)
        return
    row_max(scratch, z, n, C)
    for c in range(C):
        for i in range(n):
            probs[c * n + i] = z[c * n + i] - scratch[i]
    vector_exp(probs, probs, n * C)
    for i in range(n):
        scratch[i] = probs[i]
    for c in range(1, C):
        for i in range(n):
            scratch[i] = scratch[i] + probs[c * n + i]
    for c in range(C):
        for i in range(n):
            probs[c * n + i] = probs[c * n + i] / scratch[i]


cdef inline void softmax_forward_two(real *probs,          # OUT (n,2)^T, may be z itself
                                     const real *z,        # IN  (n,2)^T
                                     real *scratch,        # workspace (n,)
                                     Py_ssize_t n) noexcept nogil:
    # softmax_forward for C = 2 with half the exps and one division: the larger
    # logit's shifted value is exactly 0 and its exp exactly 1; the other's is
    # min - max = -|z0 - z1| exactly. The larger class's probability 1 / (1 + e)
    # is the general case's to the bit (1 + e and e + 1 are the same number);
    # the smaller one, e * (1 / (1 + e)), is within an ulp of its e / (1 + e).
    cdef Py_ssize_t i
    cdef const real *z0 = z
    cdef const real *z1 = z + n
    cdef real e, larger, one = 1
    cdef bint second_larger
    for i in range(n):
        scratch[i] = -(z0[i] - z1[i]) if z0[i] >= z1[i] else -(z1[i] - z0[i])
    vector_exp(scratch, scratch, n)
    for i in range(n):
        e = scratch[i]
        larger = one / (one + e)
        second_larger = z1[i] > z0[i]
        probs[i] = e * larger if second_larger else larger
        probs[n + i] = larger if second_larger else e * larger


cdef inline void softmax_cross_entropy_backward(real *delta,           # OUT (n,C)^T, may be probs itself
                                                const real *probs,     # IN  (n,C)^T
                                                const Py_ssize_t *y,     # IN  (n,)
                                                Py_ssize_t n, Py_ssize_t C) noexcept nogil:
    # delta = probs.copy(); delta[np.arange(len(y)), y] -= 1
    # Written as delta = probs - (y == c) class by class, so that it vectorises:
    # subtracting 0.0 leaves every other entry exactly as it was.
    cdef Py_ssize_t i, c
    cdef real one = 1, zero = 0
    for c in range(C):
        for i in range(n):
            delta[c * n + i] = probs[c * n + i] - (one if y[i] == c else zero)


cdef inline double cross_entropy_loss(const real *z,       # IN (n,C)^T
                               const Py_ssize_t *y,   # IN (n,)
                               real *scratch,       # workspace (n,C)^T plus (n,)
                               Py_ssize_t n, Py_ssize_t C) noexcept nogil:
    # shifted = z - z.max(axis=1, keepdims=True)
    # np.sum(np.log(np.sum(np.exp(shifted), axis=1)) - shifted[np.arange(N), y])
    # The sum over the samples is carried in double in both precisions: it is
    # the one sum of the whole data set, and the loss is reported as a double.
    cdef Py_ssize_t i, c
    cdef real *maxima = scratch + n * C
    cdef real row_total
    cdef double loss = 0.0
    row_max(maxima, z, n, C)
    for c in range(C):
        for i in range(n):
            scratch[c * n + i] = z[c * n + i] - maxima[i]
    vector_exp(scratch, scratch, n * C)
    for i in range(n):
        row_total = scratch[i]
        for c in range(1, C):
            row_total = row_total + scratch[c * n + i]
        loss = loss + (log(<double> row_total) - <double> (z[y[i] * n + i] - maxima[i]))
    return loss


cdef inline void sgd_update(real *param,            # IN/OUT (any shape, flat)
                            real *dparam,           # IN/OUT (same shape)
                            real epsilon, real reg_lambda, Py_ssize_t size) noexcept nogil:
    # dparam += reg_lambda * param; param += -epsilon * dparam
    cdef Py_ssize_t i
    for i in range(size):
        dparam[i] = dparam[i] + reg_lambda * param[i]
        param[i] = param[i] + (-epsilon) * dparam[i]


cdef inline void gather_batch(real *X_batch,        # OUT (B,D)^T
                              Py_ssize_t *y_batch,    # OUT (B,)
                              const real *X,        # IN  (N,D)^T
                              const Py_ssize_t *y,    # IN  (N,)
                              const Py_ssize_t *batch,  # IN (B,) sample indices
                              Py_ssize_t B, Py_ssize_t N, Py_ssize_t D) noexcept nogil:
    # X_batch, y_batch = X[batch], y[batch]
    cdef Py_ssize_t i, d
    for d in range(D):
        for i in range(B):
            X_batch[d * B + i] = X[d * N + batch[i]]
    for i in range(B):
        y_batch[i] = y[batch[i]]
