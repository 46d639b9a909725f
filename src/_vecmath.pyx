# Test and benchmark wrappers around src/vecmath.h: fastbp's own vectorised
# float64 exp, tanh and sigmoid, with run-time dispatch to AVX2 / AVX-512 loops.
# The kernels (src/layers.pxd) call the C functions directly; these wrappers
# exist so that tests/test_vecmath.py and bench/bench_vecmath.py can reach every
# dispatch path. Each takes (out, inp), two contiguous float64 arrays of one
# length; out may be inp itself.

cdef extern from "vecmath.h" nogil:
    int FASTBP_PATH_DEFAULT
    int FASTBP_PATH_AVX2
    int FASTBP_PATH_AVX512
    int fastbp_vecmath_path_available(int path)
    int fastbp_vecmath_selected_path()
    void fastbp_exp_path(int path, double *out, const double *inp, Py_ssize_t n) noexcept
    void fastbp_tanh_path(int path, double *out, const double *inp, Py_ssize_t n) noexcept
    void fastbp_sigmoid_path(int path, double *out, const double *inp, Py_ssize_t n) noexcept

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


cdef Py_ssize_t _check(double[::1] out, const double[::1] inp) except -1:
    if out.shape[0] != inp.shape[0]:
        raise ValueError(f"out has {out.shape[0]} elements, inp has {inp.shape[0]}")
    return out.shape[0]


ctypedef void (*PathLoop)(int path, double *out, const double *inp, Py_ssize_t n) noexcept nogil


cdef _run(PathLoop loop, int path, double[::1] out, const double[::1] inp):
    # out[:] = f(inp) by one path's loop; &view[0] on an empty view would be out
    # of range, hence the n > 0 guard (the C functions accept n = 0)
    cdef Py_ssize_t n = _check(out, inp)
    if n > 0:
        with nogil:
            loop(path, &out[0], &inp[0], n)


def exp(double[::1] out, const double[::1] inp):
    """out[:] = exp(inp), by the dispatched loop."""
    _run(fastbp_exp_path, fastbp_vecmath_selected_path(), out, inp)


def tanh(double[::1] out, const double[::1] inp):
    """out[:] = tanh(inp), by the dispatched loop."""
    _run(fastbp_tanh_path, fastbp_vecmath_selected_path(), out, inp)


def sigmoid(double[::1] out, const double[::1] inp):
    """out[:] = 1 / (1 + exp(-inp)), by the dispatched loop."""
    _run(fastbp_sigmoid_path, fastbp_vecmath_selected_path(), out, inp)


def exp_path(str path, double[::1] out, const double[::1] inp):
    """exp by the named path ("default", "avx2" or "avx512")."""
    _run(fastbp_exp_path, _path_code(path), out, inp)


def tanh_path(str path, double[::1] out, const double[::1] inp):
    """tanh by the named path ("default", "avx2" or "avx512")."""
    _run(fastbp_tanh_path, _path_code(path), out, inp)


def sigmoid_path(str path, double[::1] out, const double[::1] inp):
    """sigmoid by the named path ("default", "avx2" or "avx512")."""
    _run(fastbp_sigmoid_path, _path_code(path), out, inp)
