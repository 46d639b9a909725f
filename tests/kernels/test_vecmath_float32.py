"""fastbp's float32 exp / tanh / sigmoid (src/vecmath.h, via fastbp._vecmath).

Expected values come from mpmath (40 digits) or from the float64 C library as
NumPy calls it, rounded to float32; never from the code under test. The
float64 result of the C library is within 1 ulp of float64 (2^-29 of a float32
ulp) of the exact value, so rounding it to float32 gives the correctly rounded
float32 value except in ties closer than that, which a sample of 10^6 points
does not meet in practice.

Errors are counted in float32 ulps as the distance between the two results'
positions in the ordered list of float32 values (so a subnormal result's ulp
is 2^-149, and 1.0 vs the float just below it is 1 ulp).
"""

import mpmath
import numpy as np
import pytest

from fastbp import _vecmath as vm

# The documented bounds (src/vecmath.h, "float32"): expf is the float64 exp
# rounded once, within 1 ulp of the correctly rounded float32 value; tanhf is
# computed in float32 and is within 2 ulp of it.
MAX_ULP = {"exp": 1, "tanh": 2}
# sigmoid = 1/(1 + exp(-x)) in float32, the float32 reference's expression:
# exp's error (<= 1.5 ulp of the exact value), then the rounding of 1 + e and
# of the division: at most 3.5 * 2^-24 relative, under 4 ulp of the result.
MAX_ULP_SIGMOID = 4
# Below this, exp(-x) overflows float32 and the expression gives exactly 0, in
# NumPy's float32 arithmetic as here.
SIGMOID_ZERO_BELOW = -88.72

MPMATH_DIGITS = 40
N_MPMATH = 3000
N_WIDE = 1_000_000

PATHS = ("baseline", "avx2", "avx512")
FLOAT32 = np.float32


def available(path):
    if path not in vm.available_paths():
        pytest.skip(f"this CPU lacks {path} (or the build is not x86 GCC/Clang)")
    return path


def ordered(values):
    """float32 values -> integers that order like them (+0 and -0 both 0)."""
    bits = np.asarray(values, dtype=FLOAT32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def ulp_distance(got, expected):
    """|got - expected| in float32 ulps; NaN must meet NaN (0), anything else is inf."""
    got, expected = np.asarray(got, FLOAT32), np.asarray(expected, FLOAT32)
    distance = np.abs(ordered(got) - ordered(expected)).astype(np.float64)
    nan_got, nan_expected = np.isnan(got), np.isnan(expected)
    distance[nan_got & nan_expected] = 0.0
    distance[nan_got != nan_expected] = np.inf
    return distance


def run(name, x, path):
    out = np.empty_like(x)
    getattr(vm, name + "_path")(path, out, x)
    return out


def wide_inputs(rng):
    """10^6 float32 inputs: uniform over the ranges that matter, log-uniform over
    every magnitude (subnormals included), and the special values."""
    n = N_WIDE // 5
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38,
                         np.finfo(FLOAT32).max, -np.finfo(FLOAT32).max, 88.72, 88.73, -87.3, -103.9, -104.0,
                         0.55, np.nextafter(FLOAT32(0.55), FLOAT32(0)), 10.0, 9.0], dtype=FLOAT32)
    magnitudes = np.exp(rng.uniform(np.log(1e-45), np.log(3.4e38), n))
    parts = [rng.uniform(-10, 10, n), rng.uniform(-1, 1, n), rng.uniform(-104, 89, n),
             magnitudes * rng.choice([-1.0, 1.0], n), rng.uniform(0.5, 0.6, n - len(specials))]
    return np.concatenate(parts + [specials]).astype(FLOAT32)


@pytest.fixture(scope="module")
def wide():
    return wide_inputs(np.random.default_rng(20261128))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name, ref", [("exp", np.exp), ("tanh", np.tanh)])
def test_within_bound_of_float64_libm_on_a_million_points(wide, name, ref, path):
    with np.errstate(all="ignore"):
        expected = ref(wide.astype(np.float64)).astype(FLOAT32)
    got = run(name, wide, available(path))
    err = ulp_distance(got, expected)
    worst = int(err.argmax())
    assert err.max() <= MAX_ULP[name], (
        f"{name}({wide[worst]!r}) = {got[worst]!r}, expected {expected[worst]!r}: {err.max()} ulp")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name, fn", [("exp", mpmath.exp), ("tanh", mpmath.tanh)])
def test_within_bound_of_mpmath(name, fn, path):
    rng = np.random.default_rng(7)
    limit = 88.0 if name == "exp" else 10.0
    x = np.concatenate([rng.uniform(-limit, limit, N_MPMATH // 2),
                        np.exp(rng.uniform(np.log(1e-30), np.log(limit), N_MPMATH // 2))]).astype(FLOAT32)
    with mpmath.workdps(MPMATH_DIGITS):
        expected = np.array([float(fn(mpmath.mpf(float(v)))) for v in x]).astype(FLOAT32)
    err = ulp_distance(run(name, x, available(path)), expected)
    assert err.max() <= MAX_ULP[name], f"{name}: {err.max()} ulp at x = {x[int(err.argmax())]!r}"


def test_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 89.0, -104.0], dtype=FLOAT32)
    tanh, exp = np.empty_like(x), np.empty_like(x)
    vm.tanh(tanh, x)
    vm.exp(exp, x)
    # tanh keeps the sign of zero and of tiny inputs, saturates at +-1
    assert tanh[0] == 0 and not np.signbit(tanh[0]) and tanh[1] == 0 and np.signbit(tanh[1])
    assert tanh[2] == 1 and tanh[3] == -1 and np.isnan(tanh[4])
    assert tanh[5] == x[5] and tanh[6] == x[6]
    # exp: exp(0) = 1, overflow to inf past ln(FLT_MAX) = 88.72, underflow to 0 past -103.97
    assert exp[0] == 1 and exp[1] == 1 and exp[2] == np.inf and exp[3] == 0 and np.isnan(exp[4])
    assert exp[7] == np.inf and exp[8] == 0


def test_tanh_is_odd():
    x = np.random.default_rng(3).uniform(0, 12, 100_000).astype(FLOAT32)
    plus, minus = np.empty_like(x), np.empty_like(x)
    vm.tanh(plus, x)
    vm.tanh(minus, -x)
    np.testing.assert_array_equal(minus, -plus)


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_the_fma_paths_compute_the_same_bits(wide, name):
    # AVX2 and AVX-512 run the same fused multiply-adds in the same order
    np.testing.assert_array_equal(run(name, wide, available("avx2")), run(name, wide, available("avx512")))


def test_sigmoid_within_bound_and_zero_where_numpy_float32_gives_zero(wide):
    got = np.empty_like(wide)
    vm.sigmoid(got, wide)
    finite_exp = wide > SIGMOID_ZERO_BELOW
    with np.errstate(all="ignore"):
        exact = (1.0 / (1.0 + np.exp(-wide.astype(np.float64)))).astype(FLOAT32)
        numpy_float32 = 1.0 / (1.0 + np.exp(-wide))
    assert numpy_float32.dtype == FLOAT32
    assert ulp_distance(got[finite_exp], exact[finite_exp]).max() <= MAX_ULP_SIGMOID
    np.testing.assert_array_equal(got[~finite_exp & ~np.isnan(wide)], numpy_float32[~finite_exp & ~np.isnan(wide)])
    assert np.all(got[wide < -89] == 0)


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
@pytest.mark.parametrize("n", [0, 1, 7, 255, 256, 257, 1000])
def test_in_place_matches_out_of_place(name, n):
    x = np.random.default_rng(n).uniform(-5, 5, n).astype(FLOAT32)
    out = np.empty_like(x)
    getattr(vm, name)(out, x)
    in_place = x.copy()
    getattr(vm, name)(in_place, in_place)
    np.testing.assert_array_equal(in_place, out)


def test_mixed_precisions_are_refused():
    with pytest.raises((TypeError, ValueError)):
        vm.tanh(np.empty(3, dtype=FLOAT32), np.zeros(3))
