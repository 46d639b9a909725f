# The vectorised elementwise functions of src/vecmath.h: branch-free loops that
# the compiler vectorises, with the error bounds stated and tested there.
# out may be exactly inp (in place).

cdef extern from "vecmath.h" nogil:
    void fastbp_exp(double *out, const double *inp, Py_ssize_t n)
    void fastbp_tanh(double *out, const double *inp, Py_ssize_t n)
    void fastbp_sigmoid(double *out, const double *inp, Py_ssize_t n)
