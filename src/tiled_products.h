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
 *       after block, and fastbp_fold_lanes adds each output's lanes into grad
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
#define COMBINE_ROWS 4
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
#define COMBINE_ROWS 4
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
#define COMBINE_ROWS 6
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
#define COMBINE_ROWS 6
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
#define COMBINE_ROWS 6
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
#define COMBINE_ROWS 6
#define COMBINE_VECTORS 4
#define CORRELATE_A 4
#define CORRELATE_B 6
#include "tiled_products_kernels.h"
#endif

/* ------------------------------------------------------------ dispatch */

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
 * b < num_b: the sums of grad[a*num_b + b] in LANES partial sums (see "Rounding") */
static inline void fastbp_correlate_features_path(int path, double *lanes, const double *A, ptrdiff_t ld_a,
                                                  const double *B, ptrdiff_t n, ptrdiff_t num_a, ptrdiff_t num_b)
{
    FBP_PICK(fbp_correlate_d, path)(lanes, A, ld_a, B, n, num_a, num_b);
}

static inline void fastbp_correlate_featuresf_path(int path, float *lanes, const float *A, ptrdiff_t ld_a,
                                                   const float *B, ptrdiff_t n, ptrdiff_t num_a, ptrdiff_t num_b)
{
    FBP_PICK(fbp_correlate_f, path)(lanes, A, ld_a, B, n, num_a, num_b);
}

/* grad[o] += the sum of lanes[o*LANES .. o*LANES + LANES - 1], added pairwise, for o < count:
 * each stage adds the upper half of the partial sums into the lower half
 * (lane l + lane l + LANES/2, then l + LANES/4, ...). The stages are written
 * out with constant lengths, so that the compiler keeps them in registers
 * and vectorises them: a loop over the stage, with the sums in a stack
 * array, stalled on store forwarding and took a quarter of a minibatch
 * epoch of a 784-32-10 network in float32. */
#if FBP_LANES_D != 8 || FBP_LANES_F != 16
#error "fastbp_fold_lanes: its stages are written for 8 double and 16 float lanes"
#endif
static inline void fastbp_fold_lanes(double *grad, const double *lanes, ptrdiff_t count)
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

static inline void fastbp_fold_lanesf(float *grad, const float *lanes, ptrdiff_t count)
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

#endif /* FASTBP_TILED_PRODUCTS_H */
