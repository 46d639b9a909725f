/*
 * vecmath.h -- vectorisable exp, tanh and sigmoid for fastbp, float64 and float32.
 *
 *   void fastbp_exp_path    (int path, double *out, const double *inp, ptrdiff_t n);
 *   void fastbp_tanh_path   (int path, double *out, const double *inp, ptrdiff_t n);
 *   void fastbp_sigmoid_path(int path, double *out, const double *inp, ptrdiff_t n);
 *   void fastbp_expf_path, fastbp_tanhf_path, fastbp_sigmoidf_path: the same on float arrays
 *        (see "float32" below: expf within 1 ulp, tanhf within 2 ulp)
 *   fbp_exp_<path>, fbp_tanh_<path>, ... (path baseline, avx2, avx512): one
 *        path's loop, for the loops of the same target (loops.h)
 *
 * out[i] = f(inp[i]) for 0 <= i < n, by the loop of dispatch.h's path. out may be exactly inp (in place); other
 * overlaps are not supported. n may be 0. Everything is static, so several
 * extension modules may include this header; each gets its own copy.
 *
 * How: range reduction + polynomial, 2^k built from integer bits, and selects
 * instead of branches, so that the loop bodies are straight-line code that
 * GCC -O3 auto-vectorises without -ffast-math. The including translation unit
 * MUST be compiled with -ffp-contract=off (fastbp's setup.py does), so that the
 * compiler fuses nothing on its own: the arithmetic is IEEE double operations
 * in a fixed order. The polynomial steps are written as fbp_madd(a, b, c):
 * one fused multiply-add in the AVX2 and AVX-512 paths (every CPU with AVX2
 * has FMA), a multiply and an add in the baseline SSE2 path. So the AVX2 and
 * AVX-512 paths return bit-identical results (tests/kernels/test_vecmath.py checks
 * this on 10^6 points), and the baseline path, taken only by x86-64 CPUs
 * without AVX2 (before 2013), differs from them in the last bit at some
 * points; every path is tested against the same 2-ulp bound. FMA halves the
 * polynomials' cost (bench/bench_vecmath.py times each path).
 *
 * Dispatch: each loop is stamped once per target of dispatch.h (the build's
 * baseline, and on x86 with GCC or Clang FBP_ATTR_AVX2 and FBP_ATTR_AVX512);
 * the caller passes the path.
 *
 * Vectorisation (checked with GCC 12.2, -O3 -ffp-contract=off, x86-64
 * baseline, -fopt-info-vec-optimized and objdump of the built module): every
 * kernel loop (exp, tanh, sigmoid, x3 targets) reports "loop vectorized";
 * the baseline path uses 16-byte SSE2 vectors (2 doubles: mulpd/divpd, blends
 * as andpd/andnpd/orpd, integer psubq/psrlq/psllq), the AVX2 path 32-byte ymm
 * vectors, the AVX-512 path 64-byte zmm vectors (mask-register blends); the
 * baseline path has no vfmadd* instruction.
 *
 * Accuracy (see the comment at each element function for how it was
 * measured): exp max 0.75 ulp, tanh max 1.47 ulp measured vs mpmath in the
 * baseline path; with FMA, on 15 000 tanh and 12 000 exp points vs mpmath at
 * 40 digits, no result is more than 1 ulp from the correctly rounded one; the
 * stated and tested bound is 2 ulp from the correctly rounded result for both,
 * over the whole double range, subnormal results in units of 2^-1074.
 */
#ifndef FASTBP_VECMATH_H
#define FASTBP_VECMATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define FBP_INLINE static inline __attribute__((always_inline))
#define FBP_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define FBP_INLINE static __forceinline
#define FBP_RESTRICT __restrict
#else
#define FBP_INLINE static inline
#define FBP_RESTRICT
#endif

/* Clang honours this pragma (GCC has no equivalent; it relies on the
 * -ffp-contract=off command-line flag). */
#if defined(__clang__)
#define FBP_NO_CONTRACT _Pragma("clang fp contract(off)")
#else
#define FBP_NO_CONTRACT
#endif

#include "dispatch.h"  /* FBP_X86_DISPATCH, FBP_ATTR_AVX2/AVX512, FBP_PICK, the path codes */

/* ------------------------------------------------------------ bit casts */

FBP_INLINE uint64_t fbp_bits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
FBP_INLINE double fbp_double(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }
FBP_INLINE uint32_t fbp_bitsf(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
FBP_INLINE float fbp_float(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }

/* The clamp limits are passed to the element functions from the kernel,
 * where an empty asm hides their values from the optimiser. With literal
 * constants, GCC 12 splits the loop body into per-case blocks (the clamped
 * arm is a constant, so exp(710) folds) and the SSE2/AVX2 loops no longer
 * if-convert ("control flow in loop"): only the AVX-512 one, with masked
 * operations, vectorised. The asm emits no instruction. */
typedef struct { double exp_hi, exp_lo, tanh_hi; float tanhf_hi; } fbp_limits;
#define FBP_LIMITS_INIT {710.0, -746.0, 20.0, 10.0f}
#if defined(__GNUC__) || defined(__clang__)
#define FBP_OPAQUE(v) __asm__("" : "+m"(v))
#else
#define FBP_OPAQUE(v) ((void)0)
#endif

#define FBP_SIGN_MASK 0x8000000000000000ULL
#define FBP_ABS_MASK 0x7fffffffffffffffULL

/* a*b + c, rounded once where the path has FMA (fused = 1: the AVX2 and
 * AVX-512 paths, compiled with the "fma" target), rounded twice in the
 * baseline path (fused = 0). fused is a constant after inlining, so each
 * stamped loop contains only its own form. The polynomials below use it: half
 * the operations where FMA exists, and one rounding fewer per step. */
FBP_INLINE double fbp_madd(double a, double b, double c, int fused)
{
    FBP_NO_CONTRACT
#if FBP_X86_DISPATCH || defined(__FMA__) || defined(__aarch64__)
    if (fused)
        return __builtin_fma(a, b, c);
#endif
    return a * b + c;
}

FBP_INLINE float fbp_maddf(float a, float b, float c, int fused)
{
    FBP_NO_CONTRACT
#if FBP_X86_DISPATCH || defined(__FMA__) || defined(__aarch64__)
    if (fused)
        return __builtin_fmaf(a, b, c);
#endif
    return a * b + c;
}

/* ------------------------------------------------------------ shared core
 *
 * Range reduction y = k ln2 + r, |r| <= ln2/2 (+ a hair, since k comes from
 * a rounded product), with k = nearest integer to y/ln2 obtained by adding
 * 1.5 * 2^52: the sum rounds to an integer and its low mantissa bits ARE k
 * (two's complement), so k never goes through a float->int conversion (which
 * would need AVX-512DQ to vectorise and is undefined for NaN). Valid for
 * |y/ln2| < 2^51; callers clamp y first.
 *
 * Cody-Waite: LN2_HI has its low 21 mantissa bits zero, so k*LN2_HI is exact
 * for |k| < 2^21 and y - k*LN2_HI is exact (Sterbenz); LN2_LO is the next 53
 * bits of ln2.
 */
#define FBP_SHIFTER 0x1.8p52
#define FBP_INV_LN2 0x1.71547652b82fep0
#define FBP_LN2_HI 0x1.62e42fee00000p-1
#define FBP_LN2_LO 0x1.a39ef35793c76p-33

/* expm1(r) - r for |r| <= 0.3466 as r^2 (1/2 + r Q(r)), Q of degree 9.
 * Q is a near-minimax fit (least squares at 200 Chebyshev nodes, 60-digit
 * mpmath) of (expm1(r) - r - r^2/2) / r^3 on [-0.34661, 0.34661], coefficients
 * rounded to double; the rounded polynomial's error relative to expm1(r) is
 * < 2.3e-18 (0.02 ulp) on that interval (checked at 4001 points in mpmath). */
FBP_INLINE double fbp_expm1_minus_r(double r, int fused)
{
    FBP_NO_CONTRACT
    double q = 2.091468739985978e-09;
    q = fbp_madd(q, r, 2.5100386186397813e-08, fused);
    q = fbp_madd(q, r, 2.7557273641943187e-07, fused);
    q = fbp_madd(q, r, 2.755726845833706e-06, fused);
    q = fbp_madd(q, r, 2.4801587325548793e-05, fused);
    q = fbp_madd(q, r, 0.00019841269863054865, fused);
    q = fbp_madd(q, r, 0.0013888888888883748, fused);
    q = fbp_madd(q, r, 0.008333333333330062, fused);
    q = fbp_madd(q, r, 0.04166666666666667, fused);
    q = fbp_madd(q, r, 0.16666666666666669, fused);
    q = fbp_madd(q, r, 0.5, fused);
    return (r * r) * q;
}

/* ------------------------------------------------------------ exp
 *
 * exp(x) = 2^k (1 + expm1(r)). The clamp to [-746, 710] (NaN passes through
 * both selects untouched) keeps k in [-1077, 1025]; 2^k is applied as two
 * factors 2^k1 * 2^k2 (k1 = floor(k/2), both normal numbers, exponent fields
 * built with unsigned shifts only: SSE2 has no 64-bit arithmetic shift), so
 *   - x > 709.78 (incl. +inf, clamped to 710) overflows to +inf in the last
 *     multiplication, like a correctly rounded exp;
 *   - x < -708.4 underflows gradually: (1+p) * 2^k1 is exact (stays normal)
 *     and the single rounding happens in the final multiplication, so the
 *     subnormal result carries at most the normal-range relative error plus
 *     that one rounding; x < -745.14 (incl. -inf, clamped to -746) gives +0.
 * exp(+-0) = 1 exactly (k = 0, r = 0, p = 0), exp(NaN) = NaN.
 *
 * Error: < 1 ulp of the exact result over the whole double range (bound
 * stated and tested: <= 2 ulp from the correctly rounded result), and for
 * subnormal results < 1 unit of the subnormal spacing 2^-1074. A priori: r is
 * carried as r + rlo (reduction error ~2^-60 relative), 1 + r is split exactly
 * and all small terms are summed before one last rounding; polynomial error
 * 2^-58; subnormal results get one more rounding, in the final multiply.
 * Measured (tests/kernels/test_vecmath.py plus an offline run of 1.2*10^5 random points
 * vs mpmath at 50 digits, over [-745.2, 709.8] with dense sampling of the
 * subnormal-result range and of [-1, 1]): max 0.75 ulp vs the exact value
 * (the max is at a subnormal result, x = -709.06), 1.4% of points > 0.5 ulp;
 * max 1 ulp vs NumPy's np.exp on 10^6 points over the whole double range.
 */
FBP_INLINE double fbp_exp_elem(double x, const fbp_limits *lim, int fused)
{
    FBP_NO_CONTRACT
    double xc = x > lim->exp_hi ? lim->exp_hi : x;    /* 710 */
    xc = xc < lim->exp_lo ? lim->exp_lo : xc;          /* -746 */
    double t = xc * FBP_INV_LN2 + FBP_SHIFTER;
    double kd = t - FBP_SHIFTER;
    uint64_t ku = fbp_bits(t) - fbp_bits(FBP_SHIFTER) + 2048u; /* k + 2048 >= 0 */
    double rhi = xc - kd * FBP_LN2_HI;                /* exact */
    double c = kd * FBP_LN2_LO;
    double r = rhi - c;
    double rlo = (rhi - r) - c;                       /* r + rlo = rhi - c (Fast2Sum) */
    /* e^r = 1 + r + r^2 (1/2 + r Q(r)); 1 + r is split exactly (Fast2Sum,
     * |r| < 1) so that all the small terms are added in one last rounding. */
    double one_r = 1.0 + r;
    double one_r_lo = (1.0 - one_r) + r;
    double tail = one_r_lo + (rlo + fbp_expm1_minus_r(r, fused));
    double er = one_r + tail;
    uint64_t h = ku >> 1;                            /* k1 + 1024 */
    double s1 = fbp_double((h - 1u) << 52);          /* 2^k1 */
    double s2 = fbp_double((ku - h - 1u) << 52);     /* 2^(k - k1) */
    return (er * s1) * s2;
}

/* ------------------------------------------------------------ tanh
 *
 * a = |x|, clamped to 20 (tanh(20) rounds to 1; +inf -> 1, NaN passes), and
 * both of these are computed and one selected:
 *   a < 0.347:  a + a^3 P(a^2), P of degree 8, a near-minimax fit (as above)
 *               of (tanh(a) - a)/a^3 on [0, 0.347^2]; rounded polynomial error
 *               relative to tanh < 2.3e-18. Pure relative accuracy near 0, no
 *               cancellation; for |x| < 2^-27 (incl. subnormals, where a^2
 *               underflows to 0) the sum rounds to a exactly.
 *   a >= 0.347: e = expm1(2a) = (2^k - 1) + 2^k expm1(r)  (2a >= ln2 so k >= 1
 *               and 2^k - 1 is exact), tanh = e / (e + 2). No 1 - 2/(E+1)
 *               cancellation: every step has bounded relative error.
 * then the sign of x is put back (so tanh(-0) = -0, tanh(-inf) = -1).
 *
 * Error: <= 2 ulp from the correctly rounded result over the whole double
 * range (including subnormals, where the result is x itself). Measured
 * (tests/kernels/test_vecmath.py plus an offline run of 6*10^5 random points vs
 * mpmath at 50 digits over [-20, 20], [-2, 2], [0.3, 0.7] and log-uniform
 * magnitudes down to 1e-300): max 1.47 ulp vs the exact value, all of it in the
 * e/(e+2) branch (the polynomial branch stays near 0.5 ulp); max 2 ulp vs
 * NumPy's np.tanh on 10^6 points over the whole double range. The rounding of
 * e + 2 is the largest term (up to ~1 ulp when e + 2 lies just above a power
 * of 2), then the division (0.5 ulp). With the reduction's fused steps (FMA
 * paths), 4*10^5 points vs mpmath (uniform on [-20, 20], [-2, 2], [0.3, 0.7]
 * and log-uniform magnitudes from 1e-300 to 20): max 1.49 ulp, at the same
 * point and the same value as with the unfused steps.
 */
#define FBP_TANH_SMALL 0.347

FBP_INLINE double fbp_tanh_elem(double x, const fbp_limits *lim, int fused)
{
    FBP_NO_CONTRACT
    double a = fbp_double(fbp_bits(x) & FBP_ABS_MASK);
    a = a > lim->tanh_hi ? lim->tanh_hi : a;              /* 20 */

    /* small |x|: odd polynomial */
    double s = a * a;
    double ps = -0.00019276251187049932;
    ps = fbp_madd(ps, s, 0.0005799998559382108, fused);
    ps = fbp_madd(ps, s, -0.0014546395924497065, fused);
    ps = fbp_madd(ps, s, 0.003592044346242083, fused);
    ps = fbp_madd(ps, s, -0.00886323207146012, fused);
    ps = fbp_madd(ps, s, 0.021869488455675896, fused);
    ps = fbp_madd(ps, s, -0.053968253967314396, fused);
    ps = fbp_madd(ps, s, 0.1333333333333291, fused);
    ps = fbp_madd(ps, s, -0.3333333333333333, fused);
    double small = fbp_madd(a * s, ps, a, fused);

    /* larger |x|: expm1 formulation */
    /* k and r as in exp, each step one fused multiply-add where the path has
     * FMA (three operations fewer than a multiply and a subtraction each: 6%
     * of tanh's time on AVX-512); y - kd * LN2_HI is exact either way */
    double y = a + a;
    double t = fbp_madd(y, FBP_INV_LN2, FBP_SHIFTER, fused);
    double kd = t - FBP_SHIFTER;
    uint64_t k = fbp_bits(t) - fbp_bits(FBP_SHIFTER);  /* 0 <= k <= 58 */
    double r = fbp_madd(-kd, FBP_LN2_LO, fbp_madd(-kd, FBP_LN2_HI, y, fused), fused);
    double p = r + fbp_expm1_minus_r(r, fused);                /* expm1(r) */
    double sc = fbp_double((k + 1023u) << 52);         /* 2^k */
    double e = fbp_madd(sc, p, sc - 1.0, fused);
    double large = e / (e + 2.0);

    /* res = a < 0.347 ? small : large, as an integer blend: for a >= 0 (NaN
     * included) the bit patterns order like the values, so the sign bit of
     * bits(a) - bits(0.347) is the comparison. A ?: here lets GCC sink each
     * arm's arithmetic into a branch, which then no longer if-converts
     * (the division may trap) on SSE2/AVX2; SSE2 also cannot turn a double
     * comparison into a 64-bit integer mask. NaN takes "large" (NaN). */
    uint64_t m = (uint64_t)0 - ((fbp_bits(a) - fbp_bits(FBP_TANH_SMALL)) >> 63);
    uint64_t res = (fbp_bits(small) & m) | (fbp_bits(large) & ~m);
    return fbp_double(res | (fbp_bits(x) & FBP_SIGN_MASK));
}

/* ------------------------------------------------------------ sigmoid
 *
 * 1 / (1 + exp(-x)) with the exp above, the same expression as NumPy's
 * 1.0 / (1.0 + np.exp(-z)): for x < -709.78 exp(-x) overflows to +inf and the
 * result is exactly 0; sigmoid(+inf) = 1, sigmoid(-inf) = 0, NaN -> NaN.
 * Error: that of exp plus two roundings (<= ~2 ulp); not separately tested
 * against mpmath. */
FBP_INLINE double fbp_sigmoid_elem(double x, const fbp_limits *lim, int fused)
{
    FBP_NO_CONTRACT
    return 1.0 / (1.0 + fbp_exp_elem(-x, lim, fused));
}

/* ------------------------------------------------------------ float32
 *
 * expf evaluates the float64 exp above on the widened input and rounds the
 * result to float once. The float64 value is within 2 ulp of float64 (2^-51
 * relative) of the exact one, 2^-28 of a float32 ulp, so the float32 result
 * is the correctly rounded one except where the exact value lies within
 * 2^-28 ulp of a midpoint between two floats: the stated and tested bound is
 * 1 ulp of float32 (subnormal results in units of 2^-149). Overflow,
 * underflow, +-0, +-inf and NaN follow from the float64 function and the one
 * conversion: expf(89) = inf, expf(-104) = 0.
 *
 * tanhf is the hot one (every hidden unit of every sample, each pass), so it
 * is computed in float, 16 lanes per AVX-512 vector instead of 8, on the plan
 * of the float64 tanh:
 *   a = |x| clamped to 10 (tanh(10) rounds to 1 in float; +inf -> 1);
 *   a < 0.55:  a + a^3 P(a^2), P of degree 4, a near-minimax fit (least
 *              squares at 300 Chebyshev nodes, mpmath at 40 digits) of
 *              (tanh(a) - a)/a^3 on [0, 0.55^2], coefficients rounded to
 *              float: error relative to tanh < 5.9e-9 (0.1 ulp); for
 *              subnormal x, a^2 underflows and the result is x exactly;
 *   a >= 0.55: e = expm1(2a) = 2^k expm1(r) + (2^k - 1), r = 2a - k ln2 by
 *              Cody-Waite (LN2_HIF has 7 trailing zero bits, k <= 29, so
 *              k * LN2_HIF is exact), expm1(r) = r + r^2 Q(r), Q of degree 5
 *              fitted as above on |r| <= 0.35: error < 2e-9 relative; then
 *              tanh = e / (e + 2), whose sensitivity to e's error is
 *              2 / (e + 2) <= 1/2 here (e >= expm1(1.1) = 2.004);
 * then the sign of x is put back (tanhf(-0) = -0, tanhf(-inf) = -1).
 * Stated and tested bound: 2 ulp of float32 from the correctly rounded result.
 * Measured on every float in [2^-126, 10] (1.08e9 inputs; below, the result
 * is x; above, 1) against the float64 tanh rounded to float
 * (bench/bench_vecmath.py --float32-exhaustive): at most 1 ulp on the
 * baseline and FMA paths, 0.3% of results not correctly rounded. vs mpmath on
 * a sample of 10^7 points: at most 1.5 ulp of the exact value.
 */
#define FBP_SHIFTERF 0x1.8p23f
#define FBP_INV_LN2F 0x1.715476p0f
#define FBP_LN2_HIF 0x1.62e4p-1f
#define FBP_LN2_LOF 0x1.7f7d1cp-20f
#define FBP_TANHF_SMALL 0.55f
#define FBP_SIGN_MASKF 0x80000000u
#define FBP_ABS_MASKF 0x7fffffffu

FBP_INLINE float fbp_expf_elem(float x, const fbp_limits *lim, int fused)
{
    return (float)fbp_exp_elem((double)x, lim, fused);
}

FBP_INLINE float fbp_tanhf_elem(float x, const fbp_limits *lim, int fused)
{
    FBP_NO_CONTRACT
    float a = fbp_float(fbp_bitsf(x) & FBP_ABS_MASKF);
    a = a > lim->tanhf_hi ? lim->tanhf_hi : a;             /* 10 */

    /* small |x|: odd polynomial */
    float s = a * a;
    float ps = -0.006604849826544523f;
    ps = fbp_maddf(ps, s, 0.02130611054599285f, fused);
    ps = fbp_maddf(ps, s, -0.053908802568912506f, fused);
    ps = fbp_maddf(ps, s, 0.13333110511302948f, fused);
    ps = fbp_maddf(ps, s, -0.3333333134651184f, fused);
    float small = fbp_maddf(a * s, ps, a, fused);

    /* larger |x|: expm1 formulation */
    float y = a + a;
    float t = y * FBP_INV_LN2F + FBP_SHIFTERF;
    float kd = t - FBP_SHIFTERF;
    uint32_t k = fbp_bitsf(t) - fbp_bitsf(FBP_SHIFTERF);  /* 0 <= k <= 29 */
    float r = (y - kd * FBP_LN2_HIF) - kd * FBP_LN2_LOF;
    float q = 0.00019849684031214565f;
    q = fbp_maddf(q, r, 0.0013934479793533683f, fused);
    q = fbp_maddf(q, r, 0.008333374746143818f, fused);
    q = fbp_maddf(q, r, 0.041666459292173386f, fused);
    q = fbp_maddf(q, r, 0.1666666716337204f, fused);
    q = fbp_maddf(q, r, 0.5f, fused);
    float p = fbp_maddf(r * r, q, r, fused);                /* expm1(r) */
    float sc = fbp_float((k + 127u) << 23);                 /* 2^k */
    float e = fbp_maddf(sc, p, sc - 1.0f, fused);
    float large = e / (e + 2.0f);

    /* a < 0.55 ? small : large, as the integer blend of the float64 tanh */
    uint32_t m = (uint32_t)0 - ((fbp_bitsf(a) - fbp_bitsf(FBP_TANHF_SMALL)) >> 31);
    uint32_t res = (fbp_bitsf(small) & m) | (fbp_bitsf(large) & ~m);
    return fbp_float(res | (fbp_bitsf(x) & FBP_SIGN_MASKF));
}

/* sigmoidf mirrors NumPy's float32 1.0 / (1.0 + np.exp(-z)): exp rounded to
 * float, then the sum and the division in float, as the float32 reference
 * computes them (within ~2 ulp of the exact sigmoid, like the float64 one). */
FBP_INLINE float fbp_sigmoidf_elem(float x, const fbp_limits *lim, int fused)
{
    FBP_NO_CONTRACT
    return 1.0f / (1.0f + fbp_expf_elem(-x, lim, fused));
}

/* ------------------------------------------------------------ loops
 *
 * The kernels take restrict pointers (so GCC vectorises without a runtime
 * alias check); the dispatcher below routes the in-place case through a
 * small stack buffer instead of passing aliased pointers. */
typedef void (*fbp_kernel_fn)(double *FBP_RESTRICT, const double *FBP_RESTRICT, ptrdiff_t);

typedef void (*fbp_kernelf_fn)(float *FBP_RESTRICT, const float *FBP_RESTRICT, ptrdiff_t);

#define FBP_STAMP_KERNEL(NAME, ATTR, ELEM, FUSED, REAL)                               \
    static ATTR void NAME(REAL *FBP_RESTRICT out, const REAL *FBP_RESTRICT inp,     \
                          ptrdiff_t n)                                              \
    {                                                                               \
        fbp_limits lim = FBP_LIMITS_INIT;                                           \
        FBP_OPAQUE(lim);                                                            \
        for (ptrdiff_t i = 0; i < n; i++)                                           \
            out[i] = ELEM(inp[i], &lim, FUSED);                                     \
    }

#define FBP_STAMP_ALL(SUFFIX, ATTR, FUSED)                                        \
    FBP_STAMP_KERNEL(fbp_exp_##SUFFIX, ATTR, fbp_exp_elem, FUSED, double)         \
    FBP_STAMP_KERNEL(fbp_tanh_##SUFFIX, ATTR, fbp_tanh_elem, FUSED, double)       \
    FBP_STAMP_KERNEL(fbp_sigmoid_##SUFFIX, ATTR, fbp_sigmoid_elem, FUSED, double) \
    FBP_STAMP_KERNEL(fbp_expf_##SUFFIX, ATTR, fbp_expf_elem, FUSED, float)        \
    FBP_STAMP_KERNEL(fbp_tanhf_##SUFFIX, ATTR, fbp_tanhf_elem, FUSED, float)      \
    FBP_STAMP_KERNEL(fbp_sigmoidf_##SUFFIX, ATTR, fbp_sigmoidf_elem, FUSED, float)

/* The portable loop fuses where every CPU of the architecture has FMA
 * (AArch64), so that it computes the bits of the x86 AVX2 and AVX-512 paths
 * (tests/kernels/c/kernel_grid.c compares them); the x86-64 baseline does not. */
#if defined(__aarch64__)
#define FBP_BASELINE_FUSED 1
#else
#define FBP_BASELINE_FUSED 0
#endif

#define FBP_NO_ATTR
FBP_STAMP_ALL(baseline, FBP_NO_ATTR, FBP_BASELINE_FUSED)

#if FBP_X86_DISPATCH
/* GCC/Clang inline the baseline element functions into these (their ISA is
 * a subset), with fused = 1. */
FBP_STAMP_ALL(avx2, FBP_ATTR_AVX2, 1)
FBP_STAMP_ALL(avx512, FBP_ATTR_AVX512, 1)
#endif

/* ------------------------------------------------------------ dispatch */

#define FBP_INPLACE_BLOCK 256

static inline void fbp_run(fbp_kernel_fn kernel, double *out, const double *inp, ptrdiff_t n)
{
    if (n <= 0)
        return;
    if (out != inp) {
        kernel(out, inp, n);
        return;
    }
    double buf[FBP_INPLACE_BLOCK];
    for (ptrdiff_t i = 0; i < n; i += FBP_INPLACE_BLOCK) {
        ptrdiff_t m = n - i < FBP_INPLACE_BLOCK ? n - i : FBP_INPLACE_BLOCK;
        memcpy(buf, inp + i, (size_t)m * sizeof(double));
        kernel(out + i, buf, m);
    }
}

static inline void fbp_runf(fbp_kernelf_fn kernel, float *out, const float *inp, ptrdiff_t n)
{
    if (n <= 0)
        return;
    if (out != inp) {
        kernel(out, inp, n);
        return;
    }
    float buf[FBP_INPLACE_BLOCK];
    for (ptrdiff_t i = 0; i < n; i += FBP_INPLACE_BLOCK) {
        ptrdiff_t m = n - i < FBP_INPLACE_BLOCK ? n - i : FBP_INPLACE_BLOCK;
        memcpy(buf, inp + i, (size_t)m * sizeof(float));
        kernel(out + i, buf, m);
    }
}

/* The entry points: path is dispatch.h's FASTBP_PATH_*, which the caller has
 * checked with fastbp_path_available; an unknown path runs the baseline loop. */
static inline void fastbp_exp_path(int path, double *out, const double *inp, ptrdiff_t n)
{
    fbp_run(FBP_PICK(fbp_exp, path), out, inp, n);
}
static inline void fastbp_tanh_path(int path, double *out, const double *inp, ptrdiff_t n)
{
    fbp_run(FBP_PICK(fbp_tanh, path), out, inp, n);
}
static inline void fastbp_sigmoid_path(int path, double *out, const double *inp, ptrdiff_t n)
{
    fbp_run(FBP_PICK(fbp_sigmoid, path), out, inp, n);
}

static inline void fastbp_expf_path(int path, float *out, const float *inp, ptrdiff_t n)
{
    fbp_runf(FBP_PICK(fbp_expf, path), out, inp, n);
}
static inline void fastbp_tanhf_path(int path, float *out, const float *inp, ptrdiff_t n)
{
    fbp_runf(FBP_PICK(fbp_tanhf, path), out, inp, n);
}
static inline void fastbp_sigmoidf_path(int path, float *out, const float *inp, ptrdiff_t n)
{
    fbp_runf(FBP_PICK(fbp_sigmoidf, path), out, inp, n);
}

#endif /* FASTBP_VECMATH_H */
