/*
 * adam.h -- Adam's update of the estimators' parameters (src/_mlp.pyx,
 * fastbp/reference_mlp.py's adam_update), float64 and float32, on the
 * dispatch paths of dispatch.h.
 *
 *   fastbp_adam_update_d(path, params, grads, ms, vs, rate, beta_1, beta_2, epsilon, size)
 *   fastbp_adam_update_f(path, ...)   the same on float arrays
 *
 * For each parameter, in double (a float's values promoted, each result
 * rounded to float where it is stored):
 *   m = beta_1 * m + (1 - beta_1) * g
 *   v = beta_2 * v + (1 - beta_2) * (g * g)     (g * g in the arrays' precision)
 *   p = p + ((-rate) * m) / (sqrt(v) + epsilon)  (m and v as stored)
 * The operations are those of a C expression evaluated left to right, each
 * rounded once (IEEE multiply, add, divide and square root; no fused
 * multiply-add: the unit is compiled with -ffp-contract=off), so every path
 * computes the same bits; only the vector width differs. The baseline path
 * is the plain loop. The AVX2 and AVX-512 paths say the same operations with
 * intrinsics: a C compiler does not vectorise sqrt, which may set errno, and
 * the one-parameter-at-a-time loop took about a tenth of a digits-sized fit.
 */
#ifndef FASTBP_ADAM_H
#define FASTBP_ADAM_H

#include <math.h>
#include <stddef.h>

#include "dispatch.h"

#if FBP_X86_DISPATCH
#include <immintrin.h>
#endif

/* the element-wise update of parameters i .. size-1, one at a time */
#define FBP_ADAM_TAIL(real)                                                                                     \
    for (; i < size; i++) {                                                                                     \
        ms[i] = (real)(beta_1 * ms[i] + (1.0 - beta_1) * grads[i]);                                             \
        vs[i] = (real)(beta_2 * vs[i] + (1.0 - beta_2) * (real)(grads[i] * grads[i]));                          \
        params[i] = (real)(params[i] + ((-rate) * ms[i]) / (sqrt((double)vs[i]) + epsilon));                   \
    }

#define FBP_ADAM_SIGNATURE(real, name)                                                                          \
    void name(real *params, const real *grads, real *ms, real *vs, double rate, double beta_1, double beta_2,   \
              double epsilon, ptrdiff_t size)

static FBP_ADAM_SIGNATURE(double, fbp_adam_update_d_baseline)
{
    ptrdiff_t i = 0;
    FBP_ADAM_TAIL(double)
}

static FBP_ADAM_SIGNATURE(float, fbp_adam_update_f_baseline)
{
    ptrdiff_t i = 0;
    FBP_ADAM_TAIL(float)
}

#if FBP_X86_DISPATCH
/* The moments' step on a vector of doubles: m, v and g in double, gg = g * g
 * (a float array's rounded to float before it is promoted). */
#define FBP_ADAM_MOMENTS(MUL, ADD, SET1, m, v, g, gg)                                                           \
    m = ADD(MUL(SET1(beta_1), m), MUL(SET1(1.0 - beta_1), g));                                                  \
    v = ADD(MUL(SET1(beta_2), v), MUL(SET1(1.0 - beta_2), gg));

static FBP_ATTR_AVX2 FBP_ADAM_SIGNATURE(double, fbp_adam_update_d_avx2)
{
    ptrdiff_t i = 0;
    for (; i + 4 <= size; i += 4) {
        __m256d g = _mm256_loadu_pd(grads + i), m = _mm256_loadu_pd(ms + i), v = _mm256_loadu_pd(vs + i);
        FBP_ADAM_MOMENTS(_mm256_mul_pd, _mm256_add_pd, _mm256_set1_pd, m, v, g, _mm256_mul_pd(g, g))
        _mm256_storeu_pd(ms + i, m);
        _mm256_storeu_pd(vs + i, v);
        __m256d step = _mm256_div_pd(_mm256_mul_pd(_mm256_set1_pd(-rate), m),
                                     _mm256_add_pd(_mm256_sqrt_pd(v), _mm256_set1_pd(epsilon)));
        _mm256_storeu_pd(params + i, _mm256_add_pd(_mm256_loadu_pd(params + i), step));
    }
    FBP_ADAM_TAIL(double)
}

static FBP_ATTR_AVX2 FBP_ADAM_SIGNATURE(float, fbp_adam_update_f_avx2)
{
    ptrdiff_t i = 0;
    for (; i + 4 <= size; i += 4) {
        __m128 gf = _mm_loadu_ps(grads + i);
        __m256d g = _mm256_cvtps_pd(gf), gg = _mm256_cvtps_pd(_mm_mul_ps(gf, gf));
        __m256d m = _mm256_cvtps_pd(_mm_loadu_ps(ms + i)), v = _mm256_cvtps_pd(_mm_loadu_ps(vs + i));
        FBP_ADAM_MOMENTS(_mm256_mul_pd, _mm256_add_pd, _mm256_set1_pd, m, v, g, gg)
        __m128 m_stored = _mm256_cvtpd_ps(m), v_stored = _mm256_cvtpd_ps(v);
        _mm_storeu_ps(ms + i, m_stored);
        _mm_storeu_ps(vs + i, v_stored);
        __m256d step = _mm256_div_pd(_mm256_mul_pd(_mm256_set1_pd(-rate), _mm256_cvtps_pd(m_stored)),
                                     _mm256_add_pd(_mm256_sqrt_pd(_mm256_cvtps_pd(v_stored)),
                                                   _mm256_set1_pd(epsilon)));
        _mm_storeu_ps(params + i, _mm256_cvtpd_ps(_mm256_add_pd(_mm256_cvtps_pd(_mm_loadu_ps(params + i)), step)));
    }
    FBP_ADAM_TAIL(float)
}

static FBP_ATTR_AVX512 FBP_ADAM_SIGNATURE(double, fbp_adam_update_d_avx512)
{
    ptrdiff_t i = 0;
    for (; i + 8 <= size; i += 8) {
        __m512d g = _mm512_loadu_pd(grads + i), m = _mm512_loadu_pd(ms + i), v = _mm512_loadu_pd(vs + i);
        FBP_ADAM_MOMENTS(_mm512_mul_pd, _mm512_add_pd, _mm512_set1_pd, m, v, g, _mm512_mul_pd(g, g))
        _mm512_storeu_pd(ms + i, m);
        _mm512_storeu_pd(vs + i, v);
        __m512d step = _mm512_div_pd(_mm512_mul_pd(_mm512_set1_pd(-rate), m),
                                     _mm512_add_pd(_mm512_sqrt_pd(v), _mm512_set1_pd(epsilon)));
        _mm512_storeu_pd(params + i, _mm512_add_pd(_mm512_loadu_pd(params + i), step));
    }
    FBP_ADAM_TAIL(double)
}

static FBP_ATTR_AVX512 FBP_ADAM_SIGNATURE(float, fbp_adam_update_f_avx512)
{
    ptrdiff_t i = 0;
    for (; i + 8 <= size; i += 8) {
        __m256 gf = _mm256_loadu_ps(grads + i);
        __m512d g = _mm512_cvtps_pd(gf), gg = _mm512_cvtps_pd(_mm256_mul_ps(gf, gf));
        __m512d m = _mm512_cvtps_pd(_mm256_loadu_ps(ms + i)), v = _mm512_cvtps_pd(_mm256_loadu_ps(vs + i));
        FBP_ADAM_MOMENTS(_mm512_mul_pd, _mm512_add_pd, _mm512_set1_pd, m, v, g, gg)
        __m256 m_stored = _mm512_cvtpd_ps(m), v_stored = _mm512_cvtpd_ps(v);
        _mm256_storeu_ps(ms + i, m_stored);
        _mm256_storeu_ps(vs + i, v_stored);
        __m512d step = _mm512_div_pd(_mm512_mul_pd(_mm512_set1_pd(-rate), _mm512_cvtps_pd(m_stored)),
                                     _mm512_add_pd(_mm512_sqrt_pd(_mm512_cvtps_pd(v_stored)),
                                                   _mm512_set1_pd(epsilon)));
        _mm256_storeu_ps(params + i,
                         _mm512_cvtpd_ps(_mm512_add_pd(_mm512_cvtps_pd(_mm256_loadu_ps(params + i)), step)));
    }
    FBP_ADAM_TAIL(float)
}
#undef FBP_ADAM_MOMENTS
#endif /* FBP_X86_DISPATCH */

static inline void fastbp_adam_update_d(int path, double *params, const double *grads, double *ms, double *vs,
                                        double rate, double beta_1, double beta_2, double epsilon, ptrdiff_t size)
{
    FBP_PICK(fbp_adam_update_d, path)(params, grads, ms, vs, rate, beta_1, beta_2, epsilon, size);
}

static inline void fastbp_adam_update_f(int path, float *params, const float *grads, float *ms, float *vs,
                                        double rate, double beta_1, double beta_2, double epsilon, ptrdiff_t size)
{
    FBP_PICK(fbp_adam_update_f, path)(params, grads, ms, vs, rate, beta_1, beta_2, epsilon, size);
}

#undef FBP_ADAM_TAIL
#undef FBP_ADAM_SIGNATURE

#endif /* FASTBP_ADAM_H */
