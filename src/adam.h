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
/* One body per target and precision: W parameters at a time as doubles (a
 * float array's loaded by LOAD as floats and promoted, stored by STORE
 * rounded to float; SQUARE(p) gives g * g, squared in the array's precision),
 * with that target's double intrinsics, then the tail one at a time. m and v
 * are read back after they are stored: the step uses them as stored. */
#define FBP_ADAM_VECTOR_BODY(real, W, VD, LOAD, STORE, SQUARE, MUL, ADD, DIV, SQRT, SET1)                       \
    ptrdiff_t i = 0;                                                                                            \
    for (; i + W <= size; i += W) {                                                                             \
        VD g = LOAD(grads + i);                                                                                 \
        STORE(ms + i, ADD(MUL(SET1(beta_1), LOAD(ms + i)), MUL(SET1(1.0 - beta_1), g)));                        \
        STORE(vs + i, ADD(MUL(SET1(beta_2), LOAD(vs + i)), MUL(SET1(1.0 - beta_2), SQUARE(grads + i))));        \
        VD step = DIV(MUL(SET1(-rate), LOAD(ms + i)), ADD(SQRT(LOAD(vs + i)), SET1(epsilon)));                  \
        STORE(params + i, ADD(LOAD(params + i), step));                                                         \
    }                                                                                                           \
    FBP_ADAM_TAIL(real)

#define FBP_SQUARE_D4(p) _mm256_mul_pd(_mm256_loadu_pd(p), _mm256_loadu_pd(p))
#define FBP_LOAD_F4(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define FBP_STORE_F4(p, v) _mm_storeu_ps((p), _mm256_cvtpd_ps(v))
#define FBP_SQUARE_F4(p) _mm256_cvtps_pd(_mm_mul_ps(_mm_loadu_ps(p), _mm_loadu_ps(p)))
#define FBP_SQUARE_D8(p) _mm512_mul_pd(_mm512_loadu_pd(p), _mm512_loadu_pd(p))
#define FBP_LOAD_F8(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define FBP_STORE_F8(p, v) _mm256_storeu_ps((p), _mm512_cvtpd_ps(v))
#define FBP_SQUARE_F8(p) _mm512_cvtps_pd(_mm256_mul_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p)))

static FBP_ATTR_AVX2 FBP_ADAM_SIGNATURE(double, fbp_adam_update_d_avx2)
{
    FBP_ADAM_VECTOR_BODY(double, 4, __m256d, _mm256_loadu_pd, _mm256_storeu_pd, FBP_SQUARE_D4, _mm256_mul_pd,
                         _mm256_add_pd, _mm256_div_pd, _mm256_sqrt_pd, _mm256_set1_pd)
}

static FBP_ATTR_AVX2 FBP_ADAM_SIGNATURE(float, fbp_adam_update_f_avx2)
{
    FBP_ADAM_VECTOR_BODY(float, 4, __m256d, FBP_LOAD_F4, FBP_STORE_F4, FBP_SQUARE_F4, _mm256_mul_pd,
                         _mm256_add_pd, _mm256_div_pd, _mm256_sqrt_pd, _mm256_set1_pd)
}

static FBP_ATTR_AVX512 FBP_ADAM_SIGNATURE(double, fbp_adam_update_d_avx512)
{
    FBP_ADAM_VECTOR_BODY(double, 8, __m512d, _mm512_loadu_pd, _mm512_storeu_pd, FBP_SQUARE_D8, _mm512_mul_pd,
                         _mm512_add_pd, _mm512_div_pd, _mm512_sqrt_pd, _mm512_set1_pd)
}

static FBP_ATTR_AVX512 FBP_ADAM_SIGNATURE(float, fbp_adam_update_f_avx512)
{
    FBP_ADAM_VECTOR_BODY(float, 8, __m512d, FBP_LOAD_F8, FBP_STORE_F8, FBP_SQUARE_F8, _mm512_mul_pd,
                         _mm512_add_pd, _mm512_div_pd, _mm512_sqrt_pd, _mm512_set1_pd)
}
#undef FBP_ADAM_VECTOR_BODY
#undef FBP_SQUARE_D4
#undef FBP_SQUARE_D8
#undef FBP_LOAD_F4
#undef FBP_STORE_F4
#undef FBP_SQUARE_F4
#undef FBP_LOAD_F8
#undef FBP_STORE_F8
#undef FBP_SQUARE_F8
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
