# Test and benchmark wrappers around src/vecmath.h: fastbp's own vectorised
# exp, tanh and sigmoid (float64 and float32), with run-time dispatch to
# AVX2 / AVX-512 loops.
# The kernels (src/layers.pxd) call the C functions directly; these wrappers
# exist so that tests/test_vecmath.py and bench/bench_vecmath.py can reach every
# dispatch path. Each takes (out, inp), two contiguous arrays of one length and
# one dtype, float64 or float32 (which picks the precision); out may be inp itself.

from precision cimport real

cdef extern from "vecmath.h" nogil:
    int FASTBP_PATH_DEFAULT
    int FASTBP_PATH_AVX2
    int FASTBP_PATH_AVX512
    int fastbp_vecmath_path_available(int path)
    int fastbp_vecmath_selected_path()
    void fastbp_exp_path(int path, double *out, const double *inp, Py_ssize_t n) noexcept
    void fastbp_tanh_path(int path, double *out, const double *inp, Py_ssize_t n) noexcept
    void fastbp_sigmoid_path(int path, double *out, const double *inp, Py_ssize_t n) noexcept
    void fastbp_expf_path(int path, float *out, const float *inp, Py_ssize_t n) noexcept
    void fastbp_tanhf_path(int path, float *out, const float *inp, Py_ssize_t n) noexcept
    void fastbp_sigmoidf_path(int path, float *out, const float *inp, Py_ssize_t n) noexcept

PATHS = ("default", "avx2", "avx512")
cdef dict _PATH_CODES = {"default": FASTBP_PATH_DEFAULT, "avx2": FASTBP_PATH_AVX2,
                         "avx512": FASTBP_PATH_AVX512}


def available_paths():
    """The dispatch paths this CPU (and OS) can run, best last."""
    return [p for p in PATHS if fastbp_vecmath_path_available(_PATH_CODES[p])]


def selected_path():
    """The path exp / tanh / sigmoid dispatch to."""
    return PATHS[fastbp_vecmath_selected_path()]


cdef int _path_code(str path) except -1:
    if path not in _PATH_CODES:
        raise ValueError(f"unknown path {path!r}; expected one of {PATHS}")
    cdef int code = _PATH_CODES[path]
    if not fastbp_vecmath_path_available(code):
        raise RuntimeError(f"this CPU cannot run the {path!r} path")
    return code


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
    """out[:] = exp(inp), by the dispatched loop."""
    _run(EXP, fastbp_vecmath_selected_path(), out, inp)


def tanh(real[::1] out, const real[::1] inp):
    """out[:] = tanh(inp), by the dispatched loop."""
    _run(TANH, fastbp_vecmath_selected_path(), out, inp)


def sigmoid(real[::1] out, const real[::1] inp):
    """out[:] = 1 / (1 + exp(-inp)), by the dispatched loop."""
    _run(SIGMOID, fastbp_vecmath_selected_path(), out, inp)


def exp_path(str path, real[::1] out, const real[::1] inp):
    """exp by the named path ("default", "avx2" or "avx512")."""
    _run(EXP, _path_code(path), out, inp)


def tanh_path(str path, real[::1] out, const real[::1] inp):
    """tanh by the named path ("default", "avx2" or "avx512")."""
    _run(TANH, _path_code(path), out, inp)


def sigmoid_path(str path, real[::1] out, const real[::1] inp):
    """sigmoid by the named path ("default", "avx2" or "avx512")."""
    _run(SIGMOID, _path_code(path), out, inp)
