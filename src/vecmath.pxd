# The vectorised elementwise functions of src/vecmath.h: branch-free loops that
# the compiler vectorises, with the error bounds stated and tested there.
# out may be exactly inp (in place).

from precision cimport real

cdef extern from "vecmath.h" nogil:
    void fastbp_exp(double *out, const double *inp, Py_ssize_t n)
    void fastbp_tanh(double *out, const double *inp, Py_ssize_t n)
    void fastbp_sigmoid(double *out, const double *inp, Py_ssize_t n)
    void fastbp_expf(float *out, const float *inp, Py_ssize_t n)
    void fastbp_tanhf(float *out, const float *inp, Py_ssize_t n)
    void fastbp_sigmoidf(float *out, const float *inp, Py_ssize_t n)


cdef inline void vector_exp(real *out, const real *inp, Py_ssize_t n) noexcept nogil:
    if real is double:
        fastbp_exp(out, inp, n)
    else:
        fastbp_expf(out, inp, n)


cdef inline void vector_tanh(real *out, const real *inp, Py_ssize_t n) noexcept nogil:
    if real is double:
        fastbp_tanh(out, inp, n)
    else:
        fastbp_tanhf(out, inp, n)


cdef inline void vector_sigmoid(real *out, const real *inp, Py_ssize_t n) noexcept nogil:
    if real is double:
        fastbp_sigmoid(out, inp, n)
    else:
        fastbp_sigmoidf(out, inp, n)
