/*
 * transpose.h -- a square block of W rows by W columns transposed in vector
 * registers, for fastbp's gather of a minibatch's sample rows into feature
 * rows (loops.h, fastbp_gather_rows_*). Copies only, no arithmetic: every
 * target gives the same numbers.
 *
 *   fbp_transpose_d_<path>(out, ld, rows, c0):  out[c * ld + k] = rows[k][c0 + c]
 *   fbp_transpose_f_<path>(...)                 for k, c < fbp_transpose_width_{d,f}(path)
 *
 * W is one vector of the target: 8 doubles or 16 floats on AVX-512, 4 and 8
 * on AVX2. The W rows are loaded whole (one vector each), shuffled, and the
 * W columns stored whole, where copying one element at a time took a load and
 * a store per element: the gather of 128 samples of 784 features was a
 * quarter of a 784-32-10 minibatch step in float64. The baseline path has no
 * transpose (width 0): loops.h copies one element at a time there.
 */
#ifndef FASTBP_TRANSPOSE_H
#define FASTBP_TRANSPOSE_H

#include <stddef.h>

#include "dispatch.h" /* FBP_X86_DISPATCH, FBP_ATTR_AVX2/AVX512, the path codes */

#if FBP_X86_DISPATCH
#include <immintrin.h>

/* 4 x 4 doubles: pairs of rows interleaved, then 128-bit halves exchanged */
static FBP_ATTR_AVX2 void fbp_transpose_d_avx2(double *out, ptrdiff_t ld, const double *const *rows, ptrdiff_t c0)
{
    __m256d r0 = _mm256_loadu_pd(rows[0] + c0), r1 = _mm256_loadu_pd(rows[1] + c0);
    __m256d r2 = _mm256_loadu_pd(rows[2] + c0), r3 = _mm256_loadu_pd(rows[3] + c0);
    __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);  /* (r0[0] r1[0] | r0[2] r1[2]) */
    __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(out, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(out + ld, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(out + 2 * ld, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(out + 3 * ld, _mm256_permute2f128_pd(t1, t3, 0x31));
}

/* 8 x 8 floats: pairs of rows interleaved, then pairs of pairs, then 128-bit halves exchanged */
static FBP_ATTR_AVX2 void fbp_transpose_f_avx2(float *out, ptrdiff_t ld, const float *const *rows, ptrdiff_t c0)
{
    __m256 r[8], t[8], u[8];
    for (int k = 0; k < 8; k++)
        r[k] = _mm256_loadu_ps(rows[k] + c0);
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);      /* rk[0] rk+1[0] rk[1] rk+1[1] | the same of [4], [5] */
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);  /* the same of [2], [3] | [6], [7] */
    }
    for (int k = 0; k < 8; k += 4)
        for (int h = 0; h < 2; h++) {
            __m256d a = _mm256_castps_pd(t[k + h]), b = _mm256_castps_pd(t[k + 2 + h]);
            u[k + 2 * h] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, b));     /* column 2h (| 2h + 4) of rows k..k+3 */
            u[k + 2 * h + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, b)); /* column 2h + 1 (| 2h + 5) */
        }
    for (int c = 0; c < 4; c++) {
        _mm256_storeu_ps(out + c * ld, _mm256_permute2f128_ps(u[c], u[4 + c], 0x20));
        _mm256_storeu_ps(out + (c + 4) * ld, _mm256_permute2f128_ps(u[c], u[4 + c], 0x31));
    }
}

/* 8 x 8 doubles: pairs of rows interleaved, then 128-bit lanes gathered twice */
static FBP_ATTR_AVX512 void fbp_transpose_d_avx512(double *out, ptrdiff_t ld, const double *const *rows,
                                                   ptrdiff_t c0)
{
    __m512d r[8], t[8], u[8];
    for (int k = 0; k < 8; k++)
        r[k] = _mm512_loadu_pd(rows[k] + c0);
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm512_unpacklo_pd(r[k], r[k + 1]);      /* lane l: rk[2l] rk+1[2l] */
        t[k + 1] = _mm512_unpackhi_pd(r[k], r[k + 1]);  /* lane l: rk[2l+1] rk+1[2l+1] */
    }
    for (int k = 0; k < 8; k += 4)
        for (int h = 0; h < 2; h++) {
            /* lanes 0 and 2 (columns 0 and 4 for h = 0), or 1 and 3 (2 and 6), of rows k, k+1 then k+2, k+3;
             * and the same one column on (h = 1: t of odd columns) */
            u[k + h] = _mm512_shuffle_f64x2(t[k + h], t[k + 2 + h], 0x88);
            u[k + 2 + h] = _mm512_shuffle_f64x2(t[k + h], t[k + 2 + h], 0xdd);
        }
    /* u[k + j] for j < 4 holds columns j and j + 4 of rows k..k+3 (j = 0, 1, 2, 3 for columns 0, 1, 2, 3) */
    for (int c = 0; c < 4; c++) {
        _mm512_storeu_pd(out + c * ld, _mm512_shuffle_f64x2(u[c], u[4 + c], 0x88));
        _mm512_storeu_pd(out + (c + 4) * ld, _mm512_shuffle_f64x2(u[c], u[4 + c], 0xdd));
    }
}

/* 16 x 16 floats: pairs of rows interleaved, pairs of pairs, then 128-bit lanes gathered twice */
static FBP_ATTR_AVX512 void fbp_transpose_f_avx512(float *out, ptrdiff_t ld, const float *const *rows,
                                                   ptrdiff_t c0)
{
    __m512 r[16], t[16], u[16], v[16];
    for (int k = 0; k < 16; k++)
        r[k] = _mm512_loadu_ps(rows[k] + c0);
    for (int k = 0; k < 16; k += 2) {
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);      /* lane l: rk[4l] rk+1[4l] rk[4l+1] rk+1[4l+1] */
        t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);  /* lane l: the same of 4l+2, 4l+3 */
    }
    for (int k = 0; k < 16; k += 4)
        for (int h = 0; h < 2; h++) {
            __m512d a = _mm512_castps_pd(t[k + h]), b = _mm512_castps_pd(t[k + 2 + h]);
            u[k + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));     /* lane l: column 4l + 2h, rows k..k+3 */
            u[k + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)); /* lane l: column 4l + 2h + 1 */
        }
    /* u[k + j], j < 4: lane l holds column 4l + j of rows k..k+3 */
    for (int k = 0; k < 16; k += 8)
        for (int j = 0; j < 4; j++) {
            v[k + j] = _mm512_shuffle_f32x4(u[k + j], u[k + 4 + j], 0x88);     /* columns j, j+8 of rows k..k+7 */
            v[k + 4 + j] = _mm512_shuffle_f32x4(u[k + j], u[k + 4 + j], 0xdd); /* columns j+4, j+12 */
        }
    /* v[j] (rows 0..7) and v[8 + j] (rows 8..15): columns j, j + 8 for j < 4, j, j + 8 for 4 <= j < 8 */
    for (int j = 0; j < 8; j++) {
        _mm512_storeu_ps(out + j * ld, _mm512_shuffle_f32x4(v[j], v[8 + j], 0x88));
        _mm512_storeu_ps(out + (j + 8) * ld, _mm512_shuffle_f32x4(v[j], v[8 + j], 0xdd));
    }
}
#endif

/* The rows (and columns) of one transpose on this path: 0 where there is none */
static inline int fbp_transpose_width_d(int path)
{
#if FBP_X86_DISPATCH
    if (path == FASTBP_PATH_AVX512)
        return 8;
    if (path == FASTBP_PATH_AVX2)
        return 4;
#endif
    (void)path;
    return 0;
}

static inline int fbp_transpose_width_f(int path)
{
#if FBP_X86_DISPATCH
    if (path == FASTBP_PATH_AVX512)
        return 16;
    if (path == FASTBP_PATH_AVX2)
        return 8;
#endif
    (void)path;
    return 0;
}

/* rows[k][c0 + c] -> out[c * ld + k], k, c < fbp_transpose_width_{d,f}(path) (not 0) */
static inline void fbp_transpose_d(int path, double *out, ptrdiff_t ld, const double *const *rows, ptrdiff_t c0)
{
#if FBP_X86_DISPATCH
    if (path == FASTBP_PATH_AVX512)
        fbp_transpose_d_avx512(out, ld, rows, c0);
    else
        fbp_transpose_d_avx2(out, ld, rows, c0);
#else
    (void)path, (void)out, (void)ld, (void)rows, (void)c0;
#endif
}

static inline void fbp_transpose_f(int path, float *out, ptrdiff_t ld, const float *const *rows, ptrdiff_t c0)
{
#if FBP_X86_DISPATCH
    if (path == FASTBP_PATH_AVX512)
        fbp_transpose_f_avx512(out, ld, rows, c0);
    else
        fbp_transpose_f_avx2(out, ld, rows, c0);
#else
    (void)path, (void)out, (void)ld, (void)rows, (void)c0;
#endif
}

#endif /* FASTBP_TRANSPOSE_H */
