"""fastbp's own vectorised exp / tanh / sigmoid (src/vecmath.h, via fastbp._vecmath).

Expected values come from mpmath (50 digits, then rounded correctly to double)
or from the C library as NumPy calls it (np.exp / np.tanh), never from the code
under test.

The ulp error of a result is measured at the expected value: |got - expected|
divided by the spacing of doubles in the binade of `expected` (2^-1074, the
subnormal spacing, for subnormal or zero expected values).
"""

import math

import mpmath
import numpy as np
import pytest

from fastbp import _vecmath as vm

# The documented bound (src/vecmath.h): at most 2 ulp from the correctly rounded
# result over the whole double range, subnormal results included.
MAX_ULP_VS_MPMATH = 2
# NumPy's np.exp / np.tanh (glibc, or NumPy's own SIMD loops) are within 1 ulp
# of the correctly rounded value, so two results each within its bound can be
# 2 + 1 ulp apart.
MAX_ULP_VS_LIBM = 3
# sigmoid = 1/(1 + exp(-x)) in both: exp's difference (<= 3 ulp, see above)
# shrinks through 1 + e, and the addition and division round alike, so a few
# ulp covers it.
MAX_ULP_SIGMOID_VS_NUMPY = 4

MPMATH_DIGITS = 50
N_MPMATH = 3000  # points per function (a few seconds of mpmath at most)
N_LIBM = 1_000_000

DBL_MAX = np.finfo(np.float64).max
TINY = 5e-324  # smallest subnormal

PATHS = ("baseline", "avx2", "avx512")


# ---------------------------------------------------------------- helpers


def ulp_at(expected):
    """Spacing of doubles in the binade of each expected value (array)."""
    a = np.abs(np.asarray(expected, dtype=np.float64))
    _, e = np.frexp(a)  # a = m * 2**e, 0.5 <= m < 1
    binade = np.maximum(e.astype(np.int64) - 1, -1022)
    return np.ldexp(1.0, (binade - 52).astype(np.int32))


def ulp_errors(got, expected):
    """Elementwise |got - expected| in ulp of expected, for finite pairs; an
    infinite expected value counts as 2^1024 (so DBL_MAX vs inf is 1 ulp);
    NaN must meet NaN (0) and nothing else (inf)."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    err = np.zeros(got.shape)
    nan_g, nan_e = np.isnan(got), np.isnan(expected)
    err[nan_g != nan_e] = np.inf
    both = ~nan_g & ~nan_e
    # scaled by 2^-60 where huge, so that inf can stand for 2^1024 (-> 2^964)
    big = both & ((np.abs(got) > 2.0**1000) | (np.abs(expected) > 2.0**1000))

    def scaled(v):
        return np.where(np.isinf(v), np.copysign(2.0**964, v), np.ldexp(v, -60))

    g = np.where(big, scaled(got), got)
    x = np.where(big, scaled(expected), expected)
    u = np.where(big, np.ldexp(1.0, 1023 - 52 - 60), ulp_at(expected))
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.where(g == x, 0.0, np.abs(g - x) / u)
    err[both] = d[both]
    return err


def correctly_rounded(exact):
    """The double nearest to an mpmath value, subnormals and overflow included."""
    if exact == 0:
        return 0.0
    if abs(exact) < mpmath.mpf(2) ** -1022:
        return math.ldexp(float(mpmath.nint(exact * mpmath.mpf(2) ** 1074)), -1074)
    with mpmath.workprec(53):
        r = +exact  # rounds to 53 bits, to nearest
    if abs(r) >= mpmath.mpf(2) ** 1024:
        return math.copysign(math.inf, float(r))
    return float(r)  # exact: r has 53 bits and a normal exponent


def run(name, x, path=None):
    out = np.empty_like(x)
    if path is None:
        getattr(vm, name)(out, x)
    else:
        getattr(vm, name + "_path")(path, out, x)
    return out


def log_uniform(rng, lo, hi, n):
    return np.exp(rng.uniform(math.log(lo), math.log(hi), n))


# ---------------------------------------------------------------- inputs


def mpmath_inputs_exp(rng):
    n = N_MPMATH // 6
    return np.concatenate([
        rng.uniform(-745.2, 709.8, 2 * n),          # the whole finite-result range
        rng.uniform(-745.14, -708.4, n),             # subnormal results
        rng.uniform(-1.0, 1.0, n),
        rng.uniform(700.0, 709.78, n // 2),          # near overflow
        np.concatenate([log_uniform(rng, 1e-300, 1e-3, n // 4), -log_uniform(rng, 1e-300, 1e-3, n // 4)]),
    ])


def mpmath_inputs_tanh(rng):
    n = N_MPMATH // 6
    tiny = log_uniform(rng, TINY, 1e-3, n)
    return np.concatenate([
        rng.uniform(-20.0, 20.0, n),
        rng.uniform(-1.0, 1.0, n),
        rng.uniform(0.3, 0.4, n // 2),               # around the polynomial / expm1 switch (0.347)
        -rng.uniform(0.3, 0.4, n // 2),
        rng.uniform(-3.0, 3.0, n),
        np.concatenate([tiny, -tiny]),               # relative accuracy near 0, subnormals
    ])


def libm_inputs(rng):
    """About 10^6 points over the whole double range, with its edges."""
    n = N_LIBM
    # every double equally likely by bit pattern (all exponents, NaNs, infs)
    bits = rng.integers(0, 2**64, n // 5, dtype=np.uint64, endpoint=False).view(np.float64)
    mags = log_uniform(rng, TINY, DBL_MAX / 2, n // 5)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, TINY, -TINY, 2.2250738585072014e-308,
                        -2.2250738585072009e-308, DBL_MAX, -DBL_MAX, 1.0, -1.0, 709.782712893384,
                        709.7827128933841, -708.3964185322641, -745.1332191019411, -745.1332191019412,
                        -746.0, 710.0, 19.0, 19.1, 20.0, 22.0, 0.347, -0.347,
                        np.nextafter(0.347, 0), np.nextafter(0.347, 1)])
    return np.concatenate([
        bits,
        mags, -mags,
        rng.uniform(-750.0, 712.0, n // 5),          # exp's whole interesting range and beyond
        rng.uniform(-25.0, 25.0, n // 10),           # tanh's
        rng.uniform(-745.2, -708.3, n // 20),        # exp's subnormal results
        rng.normal(0.0, 2.0, n // 20),
        special,
    ])


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20240611)


@pytest.fixture(scope="module")
def wide(rng):
    return libm_inputs(rng)


# ---------------------------------------------------------------- accuracy


def available(path):
    if path not in vm.available_paths():
        pytest.skip(f"this CPU lacks {path} (or the build is not x86 GCC/Clang)")
    return path


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name, fn", [("exp", mpmath.exp), ("tanh", mpmath.tanh)])
def test_within_2_ulp_of_mpmath(rng, name, fn, path):
    # every path: the baseline one rounds each step of the polynomials, the
    # FMA paths round each multiply-add once; the bound holds for both
    x = (mpmath_inputs_exp if name == "exp" else mpmath_inputs_tanh)(rng)
    with mpmath.workdps(MPMATH_DIGITS):
        expected = np.array([correctly_rounded(fn(mpmath.mpf(float(v)))) for v in x])
    got = run(name, x, available(path))
    err = ulp_errors(got, expected)
    worst = int(err.argmax())
    assert err.max() <= MAX_ULP_VS_MPMATH, (
        f"{name}({x[worst]!r}) = {got[worst]!r}, correctly rounded {expected[worst]!r}: {err.max()} ulp")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name, ref", [("exp", np.exp), ("tanh", np.tanh)])
def test_close_to_libm_on_a_million_points(wide, name, ref, path):
    with np.errstate(all="ignore"):
        expected = ref(wide)
    got = run(name, wide, available(path))
    err = ulp_errors(got, expected)
    worst = int(err.argmax())
    assert err.max() <= MAX_ULP_VS_LIBM, (
        f"{name}({wide[worst]!r}) = {got[worst]!r}, NumPy {expected[worst]!r}: {err.max()} ulp")
    # NaN exactly where the C library has NaN
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))


def test_exp_special_values():
    x = np.array([0.0, -0.0, -np.inf, np.inf, np.nan, 1000.0, 709.79, -1000.0, -745.2, 1.0, TINY, -TINY])
    got = run("exp", x)
    assert got[0] == 1.0 and got[1] == 1.0
    assert got[2] == 0.0 and not np.signbit(got[2])
    assert got[3] == np.inf
    assert np.isnan(got[4])
    assert got[5] == np.inf and got[6] == np.inf
    assert got[7] == 0.0 and not np.signbit(got[7]) and got[8] == 0.0
    assert ulp_errors(got[9:10], [math.e])[0] <= MAX_ULP_VS_MPMATH  # math.e: e correctly rounded
    assert got[10] == 1.0 and got[11] == 1.0
    # smallest subnormal: exp(-745.13...) rounds to 2^-1074
    assert run("exp", np.array([-745.1332191019411]))[0] == TINY


def test_tanh_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, TINY, -TINY, 1e-310, -1e-200, 1e-9, 30.0, -30.0, 1e300])
    got = run("tanh", x)
    assert got[0] == 0.0 and not np.signbit(got[0])
    assert got[1] == 0.0 and np.signbit(got[1])
    assert got[2] == 1.0 and got[3] == -1.0
    assert np.isnan(got[4])
    # tanh(x) rounds to x itself for |x| < 2^-27
    np.testing.assert_array_equal(got[5:10], x[5:10])
    assert got[10] == 1.0 and got[11] == -1.0 and got[12] == 1.0


def test_tanh_is_odd(rng):
    x = np.concatenate([rng.uniform(0, 25, 10_000), log_uniform(rng, TINY, 1.0, 10_000)])
    np.testing.assert_array_equal(run("tanh", -x), -run("tanh", x))


# ---------------------------------------------------------------- dispatch


def test_paths_reported():
    paths = vm.available_paths()
    assert paths[0] == "baseline" and set(paths) <= set(PATHS)
    assert vm.selected_path() == paths[-1]  # the best the CPU has


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_the_fma_paths_compute_the_same_bits(wide, name):
    # AVX2 and AVX-512 evaluate the same expressions with the same fused
    # multiply-adds (src/vecmath.h): only the vector width differs
    available("avx2")
    available("avx512")
    want = run(name, wide, "avx2")
    got = run(name, wide, "avx512")
    np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))


def test_unknown_or_unavailable_path_raises():
    x = np.ones(3)
    with pytest.raises(ValueError):
        vm.exp_path("sse9", x, x)
    for path in set(PATHS) - set(vm.available_paths()):
        with pytest.raises(ValueError, match="cannot run|has only the paths"):
            vm.tanh_path(path, x, x)


# ---------------------------------------------------------------- calling conventions


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
@pytest.mark.parametrize("n", [0, 1, 7, 255, 256, 257, 1000])
def test_in_place_matches_out_of_place(rng, name, n):
    x = rng.uniform(-30, 30, n)
    want = run(name, x)
    y = x.copy()
    getattr(vm, name)(y, y)
    np.testing.assert_array_equal(y.view(np.uint64), want.view(np.uint64))
    for path in vm.available_paths():
        want = run(name, x, path)
        y = x.copy()
        getattr(vm, name + "_path")(path, y, y)
        np.testing.assert_array_equal(y.view(np.uint64), want.view(np.uint64))


def test_empty_and_length_mismatch():
    e = np.empty(0)
    vm.exp(e, e)
    vm.tanh(np.empty(0), e)
    vm.sigmoid_path("baseline", e, e)
    with pytest.raises(ValueError):
        vm.tanh(np.empty(3), np.empty(4))


def test_strided_input_is_refused():
    x = np.ones(10)
    with pytest.raises(ValueError):
        vm.exp(np.empty(5), x[::2])


# ---------------------------------------------------------------- sigmoid


def test_sigmoid_semantics_like_numpy():
    x = np.array([-1000.0, -710.0, -709.8, -np.inf, np.inf, 1000.0, 0.0, -0.0, np.nan, 40.0])
    got = run("sigmoid", x)
    with np.errstate(over="ignore"):
        numpy_says = 1.0 / (1.0 + np.exp(-x))
    # exp(-x) overflows to inf: exactly 0, as in NumPy
    assert got[0] == 0.0 and got[1] == 0.0 and got[2] == 0.0 and got[3] == 0.0
    np.testing.assert_array_equal(got[:4], numpy_says[:4])
    assert got[4] == 1.0 and got[5] == 1.0 and got[9] == 1.0
    assert got[6] == 0.5 and got[7] == 0.5
    assert np.isnan(got[8])


def test_sigmoid_close_to_numpy(wide):
    with np.errstate(all="ignore"):
        expected = 1.0 / (1.0 + np.exp(-wide))
    got = run("sigmoid", wide)
    err = ulp_errors(got, expected)
    worst = int(err.argmax())
    assert err.max() <= MAX_ULP_SIGMOID_VS_NUMPY, (
        f"sigmoid({wide[worst]!r}) = {got[worst]!r}, NumPy {expected[worst]!r}: {err.max()} ulp")
