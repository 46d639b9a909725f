# The dense layers' products on blocks of samples (src/tiled_products.h): register-tiled
# fused multiply-adds, the order of every sum fixed by the shape alone, compiled
# per target (src/dispatch.h); each takes the dispatch path first.
#
#   combine_features:   out (n,R)^T = sum over q of inp's feature q times weights(q, r), then + bias,
#                       or times the tanh derivative 1 - a**2 of the forward outputs a
#   correlate_features: adds inp (n,A)^T against delta (n,B)^T into the (A*B, LANES) partial
#                       sums of a weight gradient; fold_lanes adds those into the gradient

from precision cimport real

cdef extern from "tiled_products.h" nogil:
    enum:
        FBP_LANES_D
        FBP_LANES_F
    # path: dispatch.h's FASTBP_PATH_* (0 baseline, 1 AVX2, 2 AVX-512)
    void fastbp_combine_features_path(int path, double *out, const double *inp, Py_ssize_t ld_inp,
                                      const double *weights, Py_ssize_t weight_q, Py_ssize_t weight_r,
                                      const double *bias, const double *tanh_out, Py_ssize_t n, Py_ssize_t num_in,
                                      Py_ssize_t num_out)
    void fastbp_combine_featuresf_path(int path, float *out, const float *inp, Py_ssize_t ld_inp,
                                       const float *weights, Py_ssize_t weight_q, Py_ssize_t weight_r,
                                       const float *bias, const float *tanh_out, Py_ssize_t n, Py_ssize_t num_in,
                                       Py_ssize_t num_out)
    void fastbp_correlate_features_path(int path, double *lanes, const double *A, Py_ssize_t ld_a,
                                        const double *B, Py_ssize_t n, Py_ssize_t num_a, Py_ssize_t num_b,
                                        int from_zero)
    void fastbp_correlate_featuresf_path(int path, float *lanes, const float *A, Py_ssize_t ld_a,
                                         const float *B, Py_ssize_t n, Py_ssize_t num_a, Py_ssize_t num_b,
                                         int from_zero)
    int fastbp_combine_rows(int path)  # the outputs of one combine tile
    void fastbp_fold_lanes_path(int path, double *grad, const double *lanes, Py_ssize_t count)
    void fastbp_fold_lanesf_path(int path, float *grad, const float *lanes, Py_ssize_t count)


cdef inline Py_ssize_t lanes_of(const real *like) noexcept nogil:
    # partial sums per output of correlate_features: 8 in double, 16 in float
    if real is double:
        return FBP_LANES_D
    else:
        return FBP_LANES_F


cdef inline void combine_features(int path,
                                  real *out,             # OUT (n,num_out)^T
                                  const real *inp,       # IN  (n,num_in)^T, feature rows ld_inp apart
                                  Py_ssize_t ld_inp,
                                  const real *weights,   # IN  weight (q, r) at q * weight_q + r * weight_r
                                  Py_ssize_t weight_q, Py_ssize_t weight_r,
                                  const real *bias,      # IN  (num_out,), or NULL for none
                                  const real *tanh_out,  # IN  (n,num_out)^T, or NULL: out *= 1 - tanh_out**2
                                  Py_ssize_t n, Py_ssize_t num_in, Py_ssize_t num_out) noexcept nogil:
    # at most one of bias and tanh_out is given
    if real is double:
        fastbp_combine_features_path(path, out, inp, ld_inp, weights, weight_q, weight_r, bias, tanh_out, n, num_in,
                                     num_out)
    else:
        fastbp_combine_featuresf_path(path, out, inp, ld_inp, weights, weight_q, weight_r, bias, tanh_out, n,
                                      num_in, num_out)


cdef inline void correlate_features(int path,
                                    real *lanes,         # IN/OUT (num_a * num_b, LANES), accumulated (or OUT)
                                    const real *A,       # IN  (n,num_a)^T, feature rows ld_a apart
                                    Py_ssize_t ld_a,
                                    const real *B,       # IN  (n,num_b)^T
                                    Py_ssize_t n, Py_ssize_t num_a, Py_ssize_t num_b,
                                    bint from_zero=False) noexcept nogil:
    # from_zero: the lanes start from zero (written, not read), rather than accumulated
    if real is double:
        fastbp_correlate_features_path(path, lanes, A, ld_a, B, n, num_a, num_b, from_zero)
    else:
        fastbp_correlate_featuresf_path(path, lanes, A, ld_a, B, n, num_a, num_b, from_zero)


cdef inline void fold_lanes(int path,
                            real *grad,                  # IN/OUT (count,), accumulated
                            const real *lanes,           # IN (count, LANES)
                            Py_ssize_t count) noexcept nogil:
    if real is double:
        fastbp_fold_lanes_path(path, grad, lanes, count)
    else:
        fastbp_fold_lanesf_path(path, grad, lanes, count)
