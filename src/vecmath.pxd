# The vectorised elementwise functions of src/vecmath.h: branch-free loops that
# the compiler vectorises, compiled per target (src/dispatch.h), with the error
# bounds stated and tested there. Each takes the dispatch path first; out may
# be exactly inp (in place).

from precision cimport real

cdef extern from "vecmath.h" nogil:
    void fastbp_exp_path(int path, double *out, const double *inp, Py_ssize_t n)
    void fastbp_tanh_path(int path, double *out, const double *inp, Py_ssize_t n)
    void fastbp_sigmoid_path(int path, double *out, const double *inp, Py_ssize_t n)
    void fastbp_expf_path(int path, float *out, const float *inp, Py_ssize_t n)
    void fastbp_tanhf_path(int path, float *out, const float *inp, Py_ssize_t n)
    void fastbp_sigmoidf_path(int path, float *out, const float *inp, Py_ssize_t n)


cdef inline void vector_exp(int path, real *out, const real *inp, Py_ssize_t n) noexcept nogil:
    if real is double:
        fastbp_exp_path(path, out, inp, n)
    else:
        fastbp_expf_path(path, out, inp, n)


cdef inline void vector_tanh(int path, real *out, const real *inp, Py_ssize_t n) noexcept nogil:
    if real is double:
        fastbp_tanh_path(path, out, inp, n)
    else:
        fastbp_tanhf_path(path, out, inp, n)


cdef inline void vector_sigmoid(int path, real *out, const real *inp, Py_ssize_t n) noexcept nogil:
    if real is double:
        fastbp_sigmoid_path(path, out, inp, n)
    else:
        fastbp_sigmoidf_path(path, out, inp, n)
