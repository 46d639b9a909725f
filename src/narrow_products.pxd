# Products of the narrow layers: plain loops in a fixed order (src/loops.h,
# compiled per target, "Rounding" there), and the rule that sends wider layers
# to the register-tiled products (tiled_products.pxd, src/tiled_products.h).
#
# Per-sample arrays are feature-major, (n,K)^T: feature k's n samples are
# contiguous. Every function here exists for float and double (precision.pxd);
# the sums run in the arrays' precision, as NumPy's sums do. Each takes the
# dispatch path (src/dispatch.h) first.

from precision cimport real

# A layer takes the tiled products when its weight matrix has at least this
# many weights. A tile of the tiled products holds 4-6 outputs by 8-32 samples
# in registers; on a smaller matrix most of each tile is wasted, and the loops
# here, which stream through the block one output at a time, are as fast or
# faster; from about this size the tiles win (bench/bench_kernels.py
# --products times both on each shape). The lecture's network (2 inputs, 3
# hidden units, 2 classes) stays on the loops. The choice depends on the shape
# only, so a given network always takes the same products.
cdef enum:
    MIN_TILED_WEIGHTS = 32


cdef inline bint use_tiles(Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    return J * K >= MIN_TILED_WEIGHTS


cdef extern from "loops.h" nogil:
    double fastbp_dot_d(int path, const double *a, const double *b, Py_ssize_t size)
    float fastbp_dot_f(int path, const float *a, const float *b, Py_ssize_t size)
    void fastbp_dot2_d(int path, double *out_a, double *out_b, const double *shared, const double *a,
                       const double *b, Py_ssize_t size)
    void fastbp_dot2_f(int path, float *out_a, float *out_b, const float *shared, const float *a, const float *b,
                       Py_ssize_t size)
    double fastbp_total_d(int path, const double *a, Py_ssize_t size)
    float fastbp_total_f(int path, const float *a, Py_ssize_t size)
    void fastbp_weighted_sum_d(int path, double *out, const double *columns, Py_ssize_t ld, const double *weights,
                               Py_ssize_t weight_stride, double bias, Py_ssize_t J, Py_ssize_t n)
    void fastbp_weighted_sum_f(int path, float *out, const float *columns, Py_ssize_t ld, const float *weights,
                               Py_ssize_t weight_stride, float bias, Py_ssize_t J, Py_ssize_t n)


cdef inline real dot(int path, const real *a, const real *b, Py_ssize_t size) noexcept nogil:
    # np.dot(a, b), in the loops' partial sums
    if real is double:
        return fastbp_dot_d(path, a, b, size)
    else:
        return fastbp_dot_f(path, a, b, size)


cdef inline void dot2(int path,
                      real *out_a, real *out_b,    # OUT (1,) each
                      const real *shared, const real *a, const real *b,
                      Py_ssize_t size) noexcept nogil:
    # out_a = np.dot(shared, a); out_b = np.dot(shared, b): the sums of dot, two
    # at a time, so that shared is loaded once for both
    if real is double:
        fastbp_dot2_d(path, out_a, out_b, shared, a, b, size)
    else:
        fastbp_dot2_f(path, out_a, out_b, shared, a, b, size)


cdef inline real total(int path, const real *a, Py_ssize_t size) noexcept nogil:
    # np.sum(a), in the partial sums of dot
    if real is double:
        return fastbp_total_d(path, a, size)
    else:
        return fastbp_total_f(path, a, size)


cdef inline void bias_gradient(int path,
                               real *db,                  # OUT (1,K), accumulated
                               const real *delta,         # IN  (n,K)^T
                               Py_ssize_t n, Py_ssize_t K) noexcept nogil:
    # db += np.sum(delta, axis=0, keepdims=True)
    cdef Py_ssize_t k
    for k in range(K):
        db[k] = db[k] + total(path, delta + k * n, n)


cdef inline void weighted_sum(int path,
                              real *out,                # OUT (n,)
                              const real *columns,      # IN  J columns (n,), ld apart
                              Py_ssize_t ld,
                              const real *weights,      # IN  J weights, weight_stride apart
                              Py_ssize_t weight_stride,
                              real bias,
                              Py_ssize_t J, Py_ssize_t n) noexcept nogil:
    # out = sum over j of columns[j] * weights[j], then + bias, added in j order
    # from 0, four columns a pass over the samples: the rounding of the
    # column-by-column loop, with a quarter of its loads and stores of out.
    if real is double:
        fastbp_weighted_sum_d(path, out, columns, ld, weights, weight_stride, bias, J, n)
    else:
        fastbp_weighted_sum_f(path, out, columns, ld, weights, weight_stride, bias, J, n)
