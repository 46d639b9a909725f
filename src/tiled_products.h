/*
 * tiled_products.h -- the block products of the dense layers, register-tiled, for
 * fastbp, float64 and float32.
 *
 * Per-sample arrays are feature-major ((n,K)^T: feature k's n samples are
 * contiguous), so a dense layer needs two products. Each function takes the
 * dispatch path first (dispatch.h's FASTBP_PATH_*: the workspace's path, one
 * per training call; the tests pass every path this CPU runs), and has a
 * float twin (suffix f):
 *
 *   fastbp_combine_features_path:   out[r][i] = sum over q of inp[q][i] * w(q, r), then + bias[r]
 *                              or, instead, times (1 - tanh_out[r][i]^2)
 *       dense_forward        (z = inp.dot(W) + b:      q = j, r = k, w(j, k) = W[j*K + k])
 *       dense_backward_input (dinp = delta.dot(W.T):   q = k, r = j, w(k, j) = W[j*K + k], no bias),
 *       and tanh_backward with it (dz = dinp * (1 - a**2), tanh_out = a): the
 *       same operations as the two kernels one after the other, done while the
 *       tile is in registers rather than in a second sweep over the block
 *   fastbp_correlate_features_path: grad[a][b] += sum over i of A[a][i] * B[b][i], in two steps:
 *       the samples are added into LANES partial sums per output (lanes), block
 *       after block, and fastbp_fold_lanes_path adds each output's lanes into grad
 *       once, when the last block is in
 *       dense_backward       (dW = inp.T.dot(delta):   A = inp, B = delta)
 *
 * They take the place of BLAS (dgemm/sgemm) for these shapes: one dimension
 * of every product is a layer width and another a block of a few hundred
 * rows, where a general GEMM spends much of its time packing and in per-call
 * overhead (bench/bench_kernels.py --products times these kernels against the
 * loops of narrow layers; bench/README.md has the comparison with OpenBLAS).
 *
 * Rounding. Every output is computed in a fixed order that depends on the
 * shape only, never on the vector width, tile or thread:
 *   combine:   acc = 0; acc = fma(inp[q][i], w(q, r), acc) for q = 0, 1, ...;
 *              out = acc + bias[r] (the dot product rounded, then the bias
 *              added, as NumPy's inp.dot(W) + b), or out = acc * (1 - a*a),
 *              a*a, 1 - a*a and the product each rounded, as tanh_backward;
 *   correlate: sample i of a block goes to logical lane i % LANES (8 doubles
 *              or 16 floats: one AVX-512 register, two AVX2 ones, four SSE2
 *              ones); each lane is an fma chain in sample order, block after
 *              block; fold_lanes adds the lanes pairwise (lane l + lane
 *              l + LANES/2 for l < LANES/2, and so on) and adds the sum to grad.
 *              The lanes are carried across the blocks of a slab (one load
 *              and one store per output and block) rather than added into one
 *              number at the end of every block, which costs a reduction per
 *              output and block (bench/bench_kernels.py --products).
 * On a CPU with FMA (the AVX2 and AVX-512 paths, and every AArch64 CPU, whose
 * baseline path fuses) each step is one fused multiply-add; the baseline x86-64
 * path (no FMA: CPUs before 2013) and other architectures multiply and add, two
 * roundings. The AVX2 and AVX-512 paths
 * compute the same bits. Against NumPy the results differ in the last bits
 * only (BLAS sums in its own order).
 *
 * The including translation unit must be compiled with -ffp-contract=off
 * (setup.py): the fused steps are written as fma explicitly, and nothing else
 * may be fused.
 */
#ifndef FASTBP_TILED_PRODUCTS_H
#define FASTBP_TILED_PRODUCTS_H

#include <stddef.h>
#include <string.h>

#include "dispatch.h"  /* FBP_X86_DISPATCH, FBP_ATTR_AVX2/AVX512, FBP_PICK, the path codes */

#if FBP_X86_DISPATCH
#include <immintrin.h>
#endif

/* Logical lanes of the sums over samples in fastbp_correlate_features_path. */
#define FBP_LANES_D 8
#define FBP_LANES_F 16

/* ------------------------------------------------------------ the kernels
 *
 * tiled_products_kernels.h is included once per (precision, target) below: it
 * defines fbp_combine_<SUFFIX> and fbp_correlate_<SUFFIX> (SUFFIX d_baseline,
 * f_avx2, ...) from these macros:
 *   FBP_SUFFIX         name suffix, FBP_ATTR  the target attribute
 *   real, VEC, W       element type, vector type, elements per vector
 *   VLOAD, VSTORE      unaligned load and store, VSET1 broadcast, VZERO
 *   VFMA(a, b, c)      a*b + c lane by lane, SFMA the same on scalars
 *   LANES              logical lanes of correlate (a multiple of W)
 *   COMBINE_ROWS, COMBINE_VECTORS, CORRELATE_A, CORRELATE_B   tile sizes
 * The tiles are sized to the register file: AVX-512 has 32 vector
 * registers, AVX2 and SSE2 16.
 */

/* Outputs per combine tile: the baseline path's (16 vector registers, no FMA)
 * and the FMA paths' (AVX2, AVX-512). fastbp_combine_rows tells a caller
 * that shares a product's outputs between threads, so that each part is a
 * whole number of tiles (a part of 8 outputs on 6-output tiles would sweep
 * the inputs twice, the second time for 2 outputs). */
#define FBP_COMBINE_ROWS_BASELINE 4
#define FBP_COMBINE_ROWS_FMA 6

#define FBP_CAT_(a, b) a##_##b
#define FBP_CAT(a, b) FBP_CAT_(a, b)

/* The tile of the rows left after the full tiles: a switch on their number
 * (1 .. MAX - 1, MAX <= 6), each case a call CALL(rows) with a constant row
 * count, so that the tile is unrolled for it. Cases at or above MAX cannot
 * occur; they call the 1-row tile, which fits the tile's arrays. */
#define FBP_REST_TILE(count, MAX, CALL)     \
    switch (count) {                        \
    case 1: CALL(1); break;                 \
    case 2: CALL(2 < (MAX) ? 2 : 1); break; \
    case 3: CALL(3 < (MAX) ? 3 : 1); break; \
    case 4: CALL(4 < (MAX) ? 4 : 1); break; \
    case 5: CALL(5 < (MAX) ? 5 : 1); break; \
    default: break;                         \
    }

/* baseline: SSE2 on x86-64 (GCC's vector extensions; plain C vectors on other
 * architectures), no FMA; AArch64: NEON vectors with FMA (every AArch64 CPU
 * has it), so that it computes the bits of the x86 FMA paths; one element at a
 * time with other compilers */
#if defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#include <arm_neon.h>
typedef float64x2_t fbp_v2d;
typedef float32x4_t fbp_v4f;
#define FBP_BASELINE_VFMA_D(a, b, c) vfmaq_f64((c), (a), (b))
#define FBP_BASELINE_VFMA_F(a, b, c) vfmaq_f32((c), (a), (b))
#define FBP_BASELINE_SFMA_D(a, b, c) __builtin_fma((a), (b), (c))
#define FBP_BASELINE_SFMA_F(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#if defined(__GNUC__) || defined(__clang__)
typedef double fbp_v2d __attribute__((vector_size(16)));
typedef float fbp_v4f __attribute__((vector_size(16)));
#endif
#define FBP_BASELINE_VFMA_D(a, b, c) ((a) * (b) + (c))
#define FBP_BASELINE_VFMA_F(a, b, c) ((a) * (b) + (c))
#define FBP_BASELINE_SFMA_D(a, b, c) ((a) * (b) + (c))
#define FBP_BASELINE_SFMA_F(a, b, c) ((a) * (b) + (c))
#endif
#if defined(__GNUC__) || defined(__clang__)
#define FBP_BASELINE_WD 2
#define FBP_BASELINE_WF 4
#define FBP_LOAD_V2D(p) ({ fbp_v2d v_; memcpy(&v_, (p), sizeof v_); v_; })
#define FBP_LOAD_V4F(p) ({ fbp_v4f v_; memcpy(&v_, (p), sizeof v_); v_; })
#define FBP_SET1_V2D(s) ((fbp_v2d){(s), (s)})
#define FBP_SET1_V4F(s) ((fbp_v4f){(s), (s), (s), (s)})
#define FBP_STORE_V(p, v) do { __typeof__(v) v_ = (v); memcpy((p), &v_, sizeof v_); } while (0)
#else
typedef double fbp_v2d;
typedef float fbp_v4f;
#define FBP_BASELINE_WD 1
#define FBP_BASELINE_WF 1
#define FBP_LOAD_V2D(p) (*(p))
#define FBP_LOAD_V4F(p) (*(p))
#define FBP_SET1_V2D(s) (s)
#define FBP_SET1_V4F(s) (s)
#define FBP_STORE_V(p, v) (*(p) = (v))
#endif

#define FBP_SUFFIX d_baseline
#define FBP_ATTR
#define real double
#define VEC fbp_v2d
#define W FBP_BASELINE_WD
#define VLOAD(p) FBP_LOAD_V2D(p)
#define VSTORE(p, v) FBP_STORE_V(p, v)
#define VSET1(s) FBP_SET1_V2D(s)
#define VZERO FBP_SET1_V2D(0.0)
#define VFMA(a, b, c) FBP_BASELINE_VFMA_D(a, b, c)
#define SFMA(a, b, c) FBP_BASELINE_SFMA_D(a, b, c)
#define LANES FBP_LANES_D
#define COMBINE_ROWS FBP_COMBINE_ROWS_BASELINE
#define COMBINE_VECTORS 2
#define CORRELATE_A 1
#define CORRELATE_B 2
#include "tiled_products_kernels.h"

#define FBP_SUFFIX f_baseline
#define FBP_ATTR
#define real float
#define VEC fbp_v4f
#define W FBP_BASELINE_WF
#define VLOAD(p) FBP_LOAD_V4F(p)
#define VSTORE(p, v) FBP_STORE_V(p, v)
#define VSET1(s) FBP_SET1_V4F(s)
#define VZERO FBP_SET1_V4F(0.0f)
#define VFMA(a, b, c) FBP_BASELINE_VFMA_F(a, b, c)
#define SFMA(a, b, c) FBP_BASELINE_SFMA_F(a, b, c)
#define LANES FBP_LANES_F
#define COMBINE_ROWS FBP_COMBINE_ROWS_BASELINE
#define COMBINE_VECTORS 2
#define CORRELATE_A 1
#define CORRELATE_B 2
#include "tiled_products_kernels.h"

#if FBP_X86_DISPATCH
#define FBP_SUFFIX d_avx2
#define FBP_ATTR FBP_ATTR_AVX2
#define real double
#define VEC __m256d
#define W 4
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSTORE(p, v) _mm256_storeu_pd((p), (v))
#define VSET1(s) _mm256_set1_pd(s)
#define VZERO _mm256_setzero_pd()
#define VFMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define SFMA(a, b, c) __builtin_fma((a), (b), (c))
#define LANES FBP_LANES_D
#define COMBINE_ROWS FBP_COMBINE_ROWS_FMA
#define COMBINE_VECTORS 2
#define CORRELATE_A 2
#define CORRELATE_B 2
#include "tiled_products_kernels.h"

#define FBP_SUFFIX f_avx2
#define FBP_ATTR FBP_ATTR_AVX2
#define real float
#define VEC __m256
#define W 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSET1(s) _mm256_set1_ps(s)
#define VZERO _mm256_setzero_ps()
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define SFMA(a, b, c) __builtin_fmaf((a), (b), (c))
#define LANES FBP_LANES_F
#define COMBINE_ROWS FBP_COMBINE_ROWS_FMA
#define COMBINE_VECTORS 2
#define CORRELATE_A 2
#define CORRELATE_B 2
#include "tiled_products_kernels.h"

#define FBP_SUFFIX d_avx512
#define FBP_ATTR FBP_ATTR_AVX512
#define real double
#define VEC __m512d
#define W 8
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd((p), (v))
#define VSET1(s) _mm512_set1_pd(s)
#define VZERO _mm512_setzero_pd()
#define VFMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define SFMA(a, b, c) __builtin_fma((a), (b), (c))
#define LANES FBP_LANES_D
#define COMBINE_ROWS FBP_COMBINE_ROWS_FMA
#define COMBINE_VECTORS 4
#define CORRELATE_A 4
#define CORRELATE_B 6
#include "tiled_products_kernels.h"

#define FBP_SUFFIX f_avx512
#define FBP_ATTR FBP_ATTR_AVX512
#define real float
#define VEC __m512
#define W 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSET1(s) _mm512_set1_ps(s)
#define VZERO _mm512_setzero_ps()
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define SFMA(a, b, c) __builtin_fmaf((a), (b), (c))
#define LANES FBP_LANES_F
#define COMBINE_ROWS FBP_COMBINE_ROWS_FMA
#define COMBINE_VECTORS 4
#define CORRELATE_A 4
#define CORRELATE_B 6
#include "tiled_products_kernels.h"
#endif

/* ------------------------------------------------------------ dispatch */

/* the outputs of one combine tile on this path */
static inline int fastbp_combine_rows(int path)
{
    return path == FASTBP_PATH_BASELINE ? FBP_COMBINE_ROWS_BASELINE : FBP_COMBINE_ROWS_FMA;
}

/* out (num_out, n) = for each r: sum over q of inp[q*ld_inp + i] * weights[q*weight_q + r*weight_r],
 * then + bias[r], or times (1 - tanh_out[r*n + i]^2) (at most one of bias and
 * tanh_out non-NULL). out must not overlap the inputs. */
static inline void fastbp_combine_features_path(int path, double *out, const double *inp, ptrdiff_t ld_inp,
                                                const double *weights, ptrdiff_t weight_q, ptrdiff_t weight_r,
                                                const double *bias, const double *tanh_out, ptrdiff_t n,
                                                ptrdiff_t num_in, ptrdiff_t num_out)
{
    FBP_PICK(fbp_combine_d, path)(out, inp, ld_inp, weights, weight_q, weight_r, bias, tanh_out, n, num_in,
                                      num_out);
}

static inline void fastbp_combine_featuresf_path(int path, float *out, const float *inp, ptrdiff_t ld_inp,
                                                 const float *weights, ptrdiff_t weight_q, ptrdiff_t weight_r,
                                                 const float *bias, const float *tanh_out, ptrdiff_t n,
                                                 ptrdiff_t num_in, ptrdiff_t num_out)
{
    FBP_PICK(fbp_combine_f, path)(out, inp, ld_inp, weights, weight_q, weight_r, bias, tanh_out, n, num_in,
                                      num_out);
}

/* lanes[(a*num_b + b)*LANES + i % LANES] += A[a*ld_a + i] * B[b*n + i], for i < n in order, a < num_a,
 * b < num_b: the sums of grad[a*num_b + b] in LANES partial sums (see "Rounding"); with from_zero
 * the lanes start from zero instead (they are written, never read first) */
static inline void fastbp_correlate_features_path(int path, double *lanes, const double *A, ptrdiff_t ld_a,
                                                  const double *B, ptrdiff_t n, ptrdiff_t num_a, ptrdiff_t num_b,
                                                  int from_zero)
{
    FBP_PICK(fbp_correlate_d, path)(lanes, A, ld_a, B, n, num_a, num_b, from_zero);
}

static inline void fastbp_correlate_featuresf_path(int path, float *lanes, const float *A, ptrdiff_t ld_a,
                                                   const float *B, ptrdiff_t n, ptrdiff_t num_a, ptrdiff_t num_b,
                                                   int from_zero)
{
    FBP_PICK(fbp_correlate_f, path)(lanes, A, ld_a, B, n, num_a, num_b, from_zero);
}

/* grad[o] += the sum of lanes[o*LANES .. o*LANES + LANES - 1], added pairwise, for o < count:
 * each stage adds the upper half of the partial sums into the lower half
 * (lane l + lane l + LANES/2, then l + LANES/4, ...), and the sum is then
 * added to grad[o]. Every path computes these bits.
 *
 * The baseline path writes the stages out with constant lengths, so that the
 * compiler keeps them in registers: a loop over the stage, with the sums in a
 * stack array, stalled on store forwarding and took a quarter of a minibatch
 * epoch of a 784-32-10 network in float32. The AVX2 and AVX-512 paths fold
 * a vector's worth of outputs at once (8 or 16): each stage adds the halves
 * of two outputs' sums side by side (one shuffle pair, one add), a butterfly
 * that ends with one output per element; the outputs are loaded in the order
 * that leaves the results in grad's. Folded one output at a time, at
 * baseline width, the fold took a quarter of a minibatch epoch at B = 16
 * (64-1024-20, float32). */
#if FBP_LANES_D != 8 || FBP_LANES_F != 16
#error "fastbp_fold_lanes: its stages are written for 8 double and 16 float lanes"
#endif
static inline void fbp_fold_lanes_d_baseline(double *grad, const double *lanes, ptrdiff_t count)
{
    for (ptrdiff_t o = 0; o < count; o++) {
        const double *x = lanes + o * FBP_LANES_D;
        double s4[4], s2[2];
        for (int l = 0; l < 4; l++)
            s4[l] = x[l] + x[l + 4];
        for (int l = 0; l < 2; l++)
            s2[l] = s4[l] + s4[l + 2];
        grad[o] = grad[o] + (s2[0] + s2[1]);
    }
}

static inline void fbp_fold_lanes_f_baseline(float *grad, const float *lanes, ptrdiff_t count)
{
    for (ptrdiff_t o = 0; o < count; o++) {
        const float *x = lanes + o * FBP_LANES_F;
        float s8[8], s4[4], s2[2];
        for (int l = 0; l < 8; l++)
            s8[l] = x[l] + x[l + 8];
        for (int l = 0; l < 4; l++)
            s4[l] = s8[l] + s8[l + 4];
        for (int l = 0; l < 2; l++)
            s2[l] = s4[l] + s4[l + 2];
        grad[o] = grad[o] + (s2[0] + s2[1]);
    }
}

#if FBP_X86_DISPATCH
/* In the butterflies below, "slot" s is the s-th output loaded; the comments
 * give which slot's sum each element holds after each stage. */

/* 16 float outputs a group, one __m512 of 16 lanes each */
static FBP_ATTR_AVX512 void fbp_fold_lanes_f_avx512(float *grad, const float *lanes, ptrdiff_t count)
{
    ptrdiff_t o = 0;
    for (; o + 16 <= count; o += 16) {
        const float *x = lanes + o * FBP_LANES_F;
        __m512 u[8], t[4], w[2];
        /* s8 = lanes 0-7 + lanes 8-15: u[m] = [s8 of slot 2m | s8 of slot 2m+1] */
        for (int m = 0; m < 8; m++) {
            /* slot s holds output 4 (s % 4) + s / 4, so that the last stage's
             * element p is output p */
            int s0 = 2 * m, s1 = 2 * m + 1;
            __m512 a = _mm512_loadu_ps(x + (4 * (s0 % 4) + s0 / 4) * FBP_LANES_F);
            __m512 b = _mm512_loadu_ps(x + (4 * (s1 % 4) + s1 / 4) * FBP_LANES_F);
            u[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
        }
        /* s4 = s8[0-3] + s8[4-7]: t[p]'s 128-bit quarters are the s4 of slots 4p .. 4p+3 */
        for (int p = 0; p < 4; p++)
            t[p] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * p], u[2 * p + 1], 0x88),
                                 _mm512_shuffle_f32x4(u[2 * p], u[2 * p + 1], 0xDD));
        /* s2 = s4[0-1] + s4[2-3]: w[r]'s quarter k is the s2 of slots 8r+k and 8r+4+k */
        for (int r = 0; r < 2; r++)
            w[r] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * r], t[2 * r + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_ps(t[2 * r], t[2 * r + 1], _MM_SHUFFLE(3, 2, 3, 2)));
        /* s2[0] + s2[1]: quarter k holds slots k, 4+k, 8+k, 12+k, which are outputs 4k .. 4k+3 */
        __m512 sum = _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
        _mm512_storeu_ps(grad + o, _mm512_add_ps(_mm512_loadu_ps(grad + o), sum));
    }
    fbp_fold_lanes_f_baseline(grad + o, lanes + o * FBP_LANES_F, count - o);
}

/* 8 double outputs a group, one __m512d of 8 lanes each */
static FBP_ATTR_AVX512 void fbp_fold_lanes_d_avx512(double *grad, const double *lanes, ptrdiff_t count)
{
    ptrdiff_t o = 0;
    for (; o + 8 <= count; o += 8) {
        const double *x = lanes + o * FBP_LANES_D;
        __m512d u[4], t[2];
        /* s4 = lanes 0-3 + lanes 4-7: u[m] = [s4 of slot 2m | s4 of slot 2m+1] */
        for (int m = 0; m < 4; m++) {
            /* slot s holds output 2 (s % 4) + s / 4, so that the last stage's
             * element p is output p */
            int s0 = 2 * m, s1 = 2 * m + 1;
            __m512d a = _mm512_loadu_pd(x + (2 * (s0 % 4) + s0 / 4) * FBP_LANES_D);
            __m512d b = _mm512_loadu_pd(x + (2 * (s1 % 4) + s1 / 4) * FBP_LANES_D);
            u[m] = _mm512_add_pd(_mm512_shuffle_f64x2(a, b, 0x44), _mm512_shuffle_f64x2(a, b, 0xEE));
        }
        /* s2 = s4[0-1] + s4[2-3]: t[p]'s 128-bit quarters are the s2 of slots 4p .. 4p+3 */
        for (int p = 0; p < 2; p++)
            t[p] = _mm512_add_pd(_mm512_shuffle_f64x2(u[2 * p], u[2 * p + 1], 0x88),
                                 _mm512_shuffle_f64x2(u[2 * p], u[2 * p + 1], 0xDD));
        /* s2[0] + s2[1]: quarter k holds slots k and 4+k, which are outputs 2k and 2k+1 */
        __m512d sum = _mm512_add_pd(_mm512_unpacklo_pd(t[0], t[1]), _mm512_unpackhi_pd(t[0], t[1]));
        _mm512_storeu_pd(grad + o, _mm512_add_pd(_mm512_loadu_pd(grad + o), sum));
    }
    fbp_fold_lanes_d_baseline(grad + o, lanes + o * FBP_LANES_D, count - o);
}

/* 8 float outputs a group, two __m256 of 8 lanes each */
static FBP_ATTR_AVX2 void fbp_fold_lanes_f_avx2(float *grad, const float *lanes, ptrdiff_t count)
{
    ptrdiff_t o = 0;
    for (; o + 8 <= count; o += 8) {
        const float *x = lanes + o * FBP_LANES_F;
        __m256 s8[8], t[4], w[2];
        /* s8 = lanes 0-7 + lanes 8-15, one slot each; slot s holds output
         * 4 (s % 2) + s / 2, so that the last stage's element p is output p */
        for (int s = 0; s < 8; s++) {
            const float *xs = x + (4 * (s % 2) + s / 2) * FBP_LANES_F;
            s8[s] = _mm256_add_ps(_mm256_loadu_ps(xs), _mm256_loadu_ps(xs + 8));
        }
        /* s4 = s8[0-3] + s8[4-7]: t[p]'s 128-bit halves are the s4 of slots 2p and 2p+1 */
        for (int p = 0; p < 4; p++)
            t[p] = _mm256_add_ps(_mm256_permute2f128_ps(s8[2 * p], s8[2 * p + 1], 0x20),
                                 _mm256_permute2f128_ps(s8[2 * p], s8[2 * p + 1], 0x31));
        /* s2 = s4[0-1] + s4[2-3]: w[r]'s half h is the s2 of slots 4r+h and 4r+2+h */
        for (int r = 0; r < 2; r++)
            w[r] = _mm256_add_ps(_mm256_shuffle_ps(t[2 * r], t[2 * r + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm256_shuffle_ps(t[2 * r], t[2 * r + 1], _MM_SHUFFLE(3, 2, 3, 2)));
        /* s2[0] + s2[1]: half h holds slots h, 2+h, 4+h, 6+h, which are outputs 4h .. 4h+3 */
        __m256 sum = _mm256_add_ps(_mm256_shuffle_ps(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm256_shuffle_ps(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
        _mm256_storeu_ps(grad + o, _mm256_add_ps(_mm256_loadu_ps(grad + o), sum));
    }
    fbp_fold_lanes_f_baseline(grad + o, lanes + o * FBP_LANES_F, count - o);
}

/* 4 double outputs a group, two __m256d of 4 lanes each */
static FBP_ATTR_AVX2 void fbp_fold_lanes_d_avx2(double *grad, const double *lanes, ptrdiff_t count)
{
    ptrdiff_t o = 0;
    for (; o + 4 <= count; o += 4) {
        const double *x = lanes + o * FBP_LANES_D;
        __m256d s4[4], t[2];
        /* s4 = lanes 0-3 + lanes 4-7, one slot each; slot s holds output
         * 2 (s % 2) + s / 2, so that the last stage's element p is output p */
        for (int s = 0; s < 4; s++) {
            const double *xs = x + (2 * (s % 2) + s / 2) * FBP_LANES_D;
            s4[s] = _mm256_add_pd(_mm256_loadu_pd(xs), _mm256_loadu_pd(xs + 4));
        }
        /* s2 = s4[0-1] + s4[2-3]: t[p]'s 128-bit halves are the s2 of slots 2p and 2p+1 */
        for (int p = 0; p < 2; p++)
            t[p] = _mm256_add_pd(_mm256_permute2f128_pd(s4[2 * p], s4[2 * p + 1], 0x20),
                                 _mm256_permute2f128_pd(s4[2 * p], s4[2 * p + 1], 0x31));
        /* s2[0] + s2[1]: half h holds slots h and 2+h, which are outputs 2h and 2h+1 */
        __m256d sum = _mm256_add_pd(_mm256_unpacklo_pd(t[0], t[1]), _mm256_unpackhi_pd(t[0], t[1]));
        _mm256_storeu_pd(grad + o, _mm256_add_pd(_mm256_loadu_pd(grad + o), sum));
    }
    fbp_fold_lanes_d_baseline(grad + o, lanes + o * FBP_LANES_D, count - o);
}
#endif

static inline void fastbp_fold_lanes_path(int path, double *grad, const double *lanes, ptrdiff_t count)
{
    FBP_PICK(fbp_fold_lanes_d, path)(grad, lanes, count);
}

static inline void fastbp_fold_lanesf_path(int path, float *grad, const float *lanes, ptrdiff_t count)
{
    FBP_PICK(fbp_fold_lanes_f, path)(grad, lanes, count);
}

#endif /* FASTBP_TILED_PRODUCTS_H */
