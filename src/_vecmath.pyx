# Test and benchmark wrappers around src/vecmath.h: fastbp's own vectorised
# exp, tanh and sigmoid (float64 and float32), on every dispatch path.
# The kernels (src/layers.pxd) call the C functions directly; these wrappers
# exist so that tests/kernels/test_vecmath.py and bench/bench_vecmath.py can reach every
# dispatch path. Each takes (out, inp), two contiguous arrays of one length and
# one dtype, float64 or float32 (which picks the precision); out may be inp itself.

from precision cimport real

include "paths.pxi"

cdef extern from "vecmath.h" nogil:
    void fastbp_exp_path(int path, double *out, const double *inp, Py_ssize_t n) noexcept
    void fastbp_tanh_path(int path, double *out, const double *inp, Py_ssize_t n) noexcept
    void fastbp_sigmoid_path(int path, double *out, const double *inp, Py_ssize_t n) noexcept
    void fastbp_expf_path(int path, float *out, const float *inp, Py_ssize_t n) noexcept
    void fastbp_tanhf_path(int path, float *out, const float *inp, Py_ssize_t n) noexcept
    void fastbp_sigmoidf_path(int path, float *out, const float *inp, Py_ssize_t n) noexcept


cdef enum Function:
    EXP, TANH, SIGMOID


cdef _run(Function function, int path, real[::1] out, const real[::1] inp):
    # out[:] = f(inp) by one path's loop; &view[0] on an empty view would be out
    # of range, hence the n > 0 guard (the C functions accept n = 0)
    cdef Py_ssize_t n = out.shape[0]
    if n != inp.shape[0]:
        raise ValueError(f"out has {out.shape[0]} elements, inp has {inp.shape[0]}")
    if n == 0:
        return
    with nogil:
        if real is double:
            if function == EXP:
                fastbp_exp_path(path, &out[0], &inp[0], n)
            elif function == TANH:
                fastbp_tanh_path(path, &out[0], &inp[0], n)
            else:
                fastbp_sigmoid_path(path, &out[0], &inp[0], n)
        else:
            if function == EXP:
                fastbp_expf_path(path, &out[0], &inp[0], n)
            elif function == TANH:
                fastbp_tanhf_path(path, &out[0], &inp[0], n)
            else:
                fastbp_sigmoidf_path(path, &out[0], &inp[0], n)


def exp(real[::1] out, const real[::1] inp):
    """out[:] = exp(inp), by the selected path's loop (selected_path())."""
    _run(EXP, path_code(None), out, inp)


def tanh(real[::1] out, const real[::1] inp):
    """out[:] = tanh(inp), by the selected path's loop (selected_path())."""
    _run(TANH, path_code(None), out, inp)


def sigmoid(real[::1] out, const real[::1] inp):
    """out[:] = 1 / (1 + exp(-inp)), by the selected path's loop (selected_path())."""
    _run(SIGMOID, path_code(None), out, inp)


def exp_path(str path, real[::1] out, const real[::1] inp):
    """exp by the named path ("baseline", "avx2" or "avx512")."""
    _run(EXP, path_code(path), out, inp)


def tanh_path(str path, real[::1] out, const real[::1] inp):
    """tanh by the named path ("baseline", "avx2" or "avx512")."""
    _run(TANH, path_code(path), out, inp)


def sigmoid_path(str path, real[::1] out, const real[::1] inp):
    """sigmoid by the named path ("baseline", "avx2" or "avx512")."""
    _run(SIGMOID, path_code(path), out, inp)
