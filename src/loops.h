/*
 * loops.h -- the plain loops of fastbp's layers, compiled once per target of
 * dispatch.h, float64 and float32: the products of narrow layers (whose
 * weight matrices are too small for tiled_products.h's tiles) and the element-wise
 * loops of the layer kernels (layers.pxd). Defines, for P = d (double) and
 * f (float), each taking the path (dispatch.h's FASTBP_PATH_*) first:
 *
 *   fastbp_dot_P, fastbp_dot2_P, fastbp_total_P, fastbp_weighted_sum_P   (narrow products, narrow_products.pxd)
 *   fastbp_tanh_backward_P, fastbp_sigmoid_backward_P, fastbp_relu_forward_P,
 *   fastbp_relu_backward_P, fastbp_softmax_forward_P, fastbp_softmax_forward_two_P,
 *   fastbp_softmax_cross_entropy_backward_P, fastbp_cross_entropy_loss_P,
 *   fastbp_sgd_update_P, fastbp_sgd_update_shared_P (pool.h's threads)   (layers.pxd)
 *   fastbp_add_slabs_shared_P (the slabs' gradients summed; pool.h's)     (layers.pxd)
 *   fastbp_gather_rows_P, fastbp_gather_batch_P (copies, compiled once)    (layers.pxd)
 *
 * The bodies are in loops_kernels.h. The softmax and the loss call the
 * vector exp of their own target (vecmath.h).
 *
 * Rounding. Sums over samples run in FBP_SUM_LANES = 32 interleaved partial
 * sums (lane l takes samples l, l + 32, ...), reduced pairwise at the end in
 * a fixed order (lane l + lane l + 16, then + 8, + 4, + 2, + 1). One running
 * sum would wait on the adder's latency at every sample; 32 lanes are four
 * AVX-512 registers, eight AVX2 ones, sixteen SSE2 ones, and the compiler
 * vectorises them without reordering any sum. The order differs from NumPy's
 * (BLAS's) own blocking in the last bits only (KERNEL_RTOL in the tests).
 * Nothing here is an fma, so every target computes the same bits.
 */
#ifndef FASTBP_LOOPS_H
#define FASTBP_LOOPS_H

#include <math.h>
#include <stddef.h>

#include "dispatch.h"
#include "vecmath.h"
#include "pool.h"      /* fbp_pool_run: the threads of fbp_run_in_chunks and of the gather */
#include "transpose.h" /* the gather's vector transposes */

#define FBP_SUM_LANES 32

#ifndef FBP_CAT
#define FBP_CAT_(a, b) a##_##b
#define FBP_CAT(a, b) FBP_CAT_(a, b)
#endif

#define FBP_SUFFIX d_baseline
#define FBP_ATTR
#define real double
#define VEXP(out, inp, n) fbp_run(fbp_exp_baseline, (out), (inp), (n))
#include "loops_kernels.h"

#define FBP_SUFFIX f_baseline
#define FBP_ATTR
#define real float
#define VEXP(out, inp, n) fbp_runf(fbp_expf_baseline, (out), (inp), (n))
#include "loops_kernels.h"

#if FBP_X86_DISPATCH
#define FBP_SUFFIX d_avx2
#define FBP_ATTR FBP_ATTR_AVX2
#define real double
#define VEXP(out, inp, n) fbp_run(fbp_exp_avx2, (out), (inp), (n))
#include "loops_kernels.h"

#define FBP_SUFFIX f_avx2
#define FBP_ATTR FBP_ATTR_AVX2
#define real float
#define VEXP(out, inp, n) fbp_runf(fbp_expf_avx2, (out), (inp), (n))
#include "loops_kernels.h"

#define FBP_SUFFIX d_avx512
#define FBP_ATTR FBP_ATTR_AVX512
#define real double
#define VEXP(out, inp, n) fbp_run(fbp_exp_avx512, (out), (inp), (n))
#include "loops_kernels.h"

#define FBP_SUFFIX f_avx512
#define FBP_ATTR FBP_ATTR_AVX512
#define real float
#define VEXP(out, inp, n) fbp_runf(fbp_expf_avx512, (out), (inp), (n))
#include "loops_kernels.h"
#endif

/* Element-wise work shared between pool.h's threads: fbp_run_in_chunks(threads,
 * size, apply, context) calls apply(context, start, count) on consecutive
 * chunks of FBP_UPDATE_CHUNK elements (the last one shorter), each on whichever
 * thread claims it, all on the caller when size is under two chunks. An element
 * belongs to one chunk and its result to no other element's, so the bits do
 * not depend on the threads. The update and the slabs' sums (the entries
 * below) go through it. FBP_UPDATE_CHUNK is a multiple of every target's
 * vector width; a chunk of the slabs' sums stays in the L2 cache while every
 * slab is added into it, so the sums are read and written once, not once per
 * slab. */
#define FBP_UPDATE_CHUNK 16384

typedef void (*fbp_range_fn)(const void *context, ptrdiff_t start, ptrdiff_t count);

typedef struct {
    fbp_range_fn apply;
    const void *context;
    ptrdiff_t size;
} fbp_range_job;

static void fbp_range_chunk(void *job, ptrdiff_t chunk, int worker)
{
    const fbp_range_job *j = (const fbp_range_job *)job;
    ptrdiff_t start = chunk * FBP_UPDATE_CHUNK;
    (void)worker;
    j->apply(j->context, start, j->size - start < FBP_UPDATE_CHUNK ? j->size - start : FBP_UPDATE_CHUNK);
}

static inline void fbp_run_in_chunks(int threads, ptrdiff_t size, fbp_range_fn apply, const void *context)
{
    fbp_range_job job = {apply, context, size};
    fbp_pool_run(size >= 2 * FBP_UPDATE_CHUNK ? threads : 1, (size + FBP_UPDATE_CHUNK - 1) / FBP_UPDATE_CHUNK,
                 fbp_range_chunk, &job);
}

/* The entry points of one precision: each calls its path's copy. */
#define FBP_LOOP_ENTRIES(REAL, P)                                                                                 \
    static inline REAL fastbp_dot_##P(int path, const REAL *a, const REAL *b, ptrdiff_t size)                    \
    { return FBP_PICK(fbp_dot_##P, path)(a, b, size); }                                                         \
    static inline void fastbp_dot2_##P(int path, REAL *out_a, REAL *out_b, const REAL *shared, const REAL *a,    \
                                       const REAL *b, ptrdiff_t size)                                            \
    { FBP_PICK(fbp_dot2_##P, path)(out_a, out_b, shared, a, b, size); }                                         \
    static inline REAL fastbp_total_##P(int path, const REAL *a, ptrdiff_t size)                                 \
    { return FBP_PICK(fbp_total_##P, path)(a, size); }                                                          \
    static inline void fastbp_weighted_sum_##P(int path, REAL *out, const REAL *columns, ptrdiff_t ld,           \
                                               const REAL *weights, ptrdiff_t weight_stride, REAL bias,          \
                                               ptrdiff_t J, ptrdiff_t n)                                         \
    { FBP_PICK(fbp_weighted_sum_##P, path)(out, columns, ld, weights, weight_stride, bias, J, n); }             \
    static inline void fastbp_tanh_backward_##P(int path, REAL *dz, const REAL *dout, const REAL *a,             \
                                                ptrdiff_t size)                                                  \
    { FBP_PICK(fbp_tanh_backward_##P, path)(dz, dout, a, size); }                                               \
    static inline void fastbp_sigmoid_backward_##P(int path, REAL *dz, const REAL *dout, const REAL *a,          \
                                                   ptrdiff_t size)                                               \
    { FBP_PICK(fbp_sigmoid_backward_##P, path)(dz, dout, a, size); }                                            \
    static inline void fastbp_relu_forward_##P(int path, REAL *a, const REAL *z, ptrdiff_t size)                 \
    { FBP_PICK(fbp_relu_forward_##P, path)(a, z, size); }                                                       \
    static inline void fastbp_relu_backward_##P(int path, REAL *dz, const REAL *dout, const REAL *a,             \
                                                ptrdiff_t size)                                                  \
    { FBP_PICK(fbp_relu_backward_##P, path)(dz, dout, a, size); }                                               \
    static inline void fastbp_softmax_forward_##P(int path, REAL *probs, const REAL *z, REAL *scratch,           \
                                                  ptrdiff_t n, ptrdiff_t C)                                      \
    { FBP_PICK(fbp_softmax_forward_##P, path)(probs, z, scratch, n, C); }                                       \
    static inline void fastbp_softmax_forward_two_##P(int path, REAL *probs, const REAL *z, REAL *scratch,       \
                                                      ptrdiff_t n)                                               \
    { FBP_PICK(fbp_softmax_forward_two_##P, path)(probs, z, scratch, n); }                                      \
    static inline void fastbp_softmax_cross_entropy_backward_##P(int path, REAL *delta, const REAL *probs,       \
                                                                 const ptrdiff_t *y, ptrdiff_t n, ptrdiff_t C)   \
    { FBP_PICK(fbp_softmax_cross_entropy_backward_##P, path)(delta, probs, y, n, C); }                          \
    static inline double fastbp_cross_entropy_loss_##P(int path, const REAL *z, const ptrdiff_t *y,              \
                                                       REAL *scratch, ptrdiff_t n, ptrdiff_t C)                  \
    { return FBP_PICK(fbp_cross_entropy_loss_##P, path)(z, y, scratch, n, C); }                                 \
    static inline void fastbp_sgd_update_##P(int path, REAL *param, REAL *dparam, REAL epsilon,                  \
                                             REAL reg_lambda, ptrdiff_t size)                                    \
    { FBP_PICK(fbp_sgd_update_##P, path)(param, dparam, epsilon, reg_lambda, size); }                           \
    typedef struct {                                                                                             \
        int path;                                                                                                \
        REAL *param, *dparam, epsilon, reg_lambda;                                                               \
    } fbp_sgd_update_job_##P;                                                                                    \
    static void fbp_sgd_update_range_##P(const void *context, ptrdiff_t start, ptrdiff_t count)                 \
    {                                                                                                            \
        const fbp_sgd_update_job_##P *j = (const fbp_sgd_update_job_##P *)context;                               \
        FBP_PICK(fbp_sgd_update_##P, j->path)(j->param + start, j->dparam + start, j->epsilon, j->reg_lambda,   \
                                               count);                                                           \
    }                                                                                                            \
    static inline void fastbp_sgd_update_shared_##P(int path, int threads, REAL *param, REAL *dparam,          \
                                                    REAL epsilon, REAL reg_lambda, ptrdiff_t size)              \
    {                                                                                                            \
        fbp_sgd_update_job_##P job = {path, param, dparam, epsilon, reg_lambda};                                 \
        fbp_run_in_chunks(threads, size, fbp_sgd_update_range_##P, &job);                                       \
    }                                                                                                            \
    typedef struct {                                                                                             \
        int path;                                                                                                \
        REAL *sums;                                                                                              \
        ptrdiff_t stride, num_slabs;                                                                             \
    } fbp_add_slabs_job_##P;                                                                                     \
    static void fbp_add_slabs_range_##P(const void *context, ptrdiff_t start, ptrdiff_t count)                  \
    {                                                                                                            \
        const fbp_add_slabs_job_##P *j = (const fbp_add_slabs_job_##P *)context;                                 \
        FBP_PICK(fbp_add_slabs_##P, j->path)(j->sums + start, j->stride, j->num_slabs, count);                  \
    }                                                                                                            \
    static inline void fastbp_add_slabs_shared_##P(int path, int threads, REAL *sums, ptrdiff_t stride,         \
                                                   ptrdiff_t num_slabs, ptrdiff_t size)                         \
    {                                                                                                            \
        fbp_add_slabs_job_##P job = {path, sums, stride, num_slabs};                                             \
        if (num_slabs > 1)                                                                                       \
            fbp_run_in_chunks(threads, size, fbp_add_slabs_range_##P, &job);                                    \
    }

/* fastbp_gather_rows_P(path, threads, X_batch, ld, X_rows, batch, B, D):
 * X_batch (B,D)^T = X_rows[batch], its feature rows ld >= B apart (X_rows
 * sample-major (N,D); batch NULL: the first B rows); fastbp_gather_batch_P(path,
 * threads, X_batch, ld, y_batch, X_rows, y, batch, B, D) also y_batch = y[batch].
 * Copies only: every path gives the same numbers. A sample's features are
 * one contiguous row of X_rows (in the feature-major layout they would lie a
 * row of N apart: D cache misses per sample). Where the path has vector
 * transposes (transpose.h: AVX2, AVX-512), W samples' rows are read W
 * features at a time, one vector each, and written as W feature rows of W
 * samples; elsewhere, and for the samples and features left over,
 * FBP_GATHER_ROWS samples are read side by side, one element at a time, so
 * that their writes to each feature's row of X_batch fill a cache line. The
 * features are shared in chunks of FBP_GATHER_FEATURES (a multiple of every
 * W) between pool.h's threads: the reads wait on memory, and two cores wait
 * for twice as many lines at once. */
#define FBP_GATHER_ROWS 16
#define FBP_GATHER_FEATURES 64
#define FBP_GATHER_DEFINE(REAL, P)                                                                               \
    typedef struct {                                                                                             \
        int path;                                                                                                \
        REAL *X_batch;                                                                                           \
        ptrdiff_t ld;                                                                                            \
        const REAL *X_rows;                                                                                      \
        const ptrdiff_t *batch;                                                                                  \
        ptrdiff_t B, D;                                                                                          \
    } fbp_gather_job_##P;                                                                                        \
    static void fbp_gather_chunk_##P(void *context, ptrdiff_t chunk, int worker)                                \
    {                                                                                                            \
        const fbp_gather_job_##P *j = (const fbp_gather_job_##P *)context;                                      \
        /* in locals: the stores to X_batch could otherwise alias *j, which would be read again every time */   \
        REAL *X_batch = j->X_batch;                                                                              \
        const REAL *X_rows = j->X_rows;                                                                          \
        const ptrdiff_t *batch = j->batch;                                                                       \
        ptrdiff_t ld = j->ld, B = j->B, D = j->D;                                                                \
        ptrdiff_t d0 = chunk * FBP_GATHER_FEATURES;                                                              \
        ptrdiff_t d1 = D - d0 < FBP_GATHER_FEATURES ? D : d0 + FBP_GATHER_FEATURES;                             \
        ptrdiff_t w = fbp_transpose_width_##P(j->path), i0 = 0;                                                  \
        (void)worker;                                                                                            \
        if (w > 0) /* whole groups of w samples, by transposes (and their features past the last w) */          \
            for (; B - i0 >= w; i0 += w) {                                                                       \
                const REAL *rows[FBP_GATHER_ROWS];                                                               \
                const ptrdiff_t *group = batch ? batch + i0 : NULL;                                              \
                for (ptrdiff_t k = 0; k < w; k++)                                                                \
                    rows[k] = X_rows + (group ? group[k] : i0 + k) * D;                                          \
                ptrdiff_t d = d0;                                                                                \
                for (; d1 - d >= w; d += w)                                                                      \
                    fbp_transpose_##P(j->path, X_batch + d * ld + i0, ld, rows, d);                             \
                for (; d < d1; d++)                                                                              \
                    for (ptrdiff_t k = 0; k < w; k++)                                                            \
                        X_batch[d * ld + i0 + k] = rows[k][d];                                                   \
            }                                                                                                    \
        for (; i0 < B; i0 += FBP_GATHER_ROWS) {                                                                  \
            ptrdiff_t n = B - i0 < FBP_GATHER_ROWS ? B - i0 : FBP_GATHER_ROWS;                                   \
            const REAL *rows[FBP_GATHER_ROWS] = {0}; /* GCC cannot see that a whole group sets them all */       \
            for (ptrdiff_t k = 0; k < n; k++)                                                                    \
                rows[k] = X_rows + (batch ? batch[i0 + k] : i0 + k) * D;                                         \
            if (n == FBP_GATHER_ROWS) { /* a constant count: the compiler unrolls the samples */                 \
                for (ptrdiff_t d = d0; d < d1; d++)                                                              \
                    for (int k = 0; k < FBP_GATHER_ROWS; k++)                                                    \
                        X_batch[d * ld + i0 + k] = rows[k][d];                                                   \
            } else {                                                                                             \
                for (ptrdiff_t d = d0; d < d1; d++)                                                              \
                    for (ptrdiff_t k = 0; k < n; k++)                                                            \
                        X_batch[d * ld + i0 + k] = rows[k][d];                                                   \
            }                                                                                                    \
        }                                                                                                        \
    }                                                                                                            \
    static inline void fastbp_gather_rows_##P(int path, int threads, REAL *X_batch, ptrdiff_t ld,                \
                                              const REAL *X_rows, const ptrdiff_t *batch, ptrdiff_t B,           \
                                              ptrdiff_t D)                                                       \
    {                                                                                                            \
        fbp_gather_job_##P job = {path, X_batch, ld, X_rows, batch, B, D};                                        \
        fbp_pool_run(threads, (D + FBP_GATHER_FEATURES - 1) / FBP_GATHER_FEATURES, fbp_gather_chunk_##P, &job); \
    }                                                                                                            \
    static inline void fastbp_gather_batch_##P(int path, int threads, REAL *X_batch, ptrdiff_t ld,               \
                                               ptrdiff_t *y_batch, const REAL *X_rows, const ptrdiff_t *y,       \
                                               const ptrdiff_t *batch, ptrdiff_t B, ptrdiff_t D)                 \
    {                                                                                                            \
        fastbp_gather_rows_##P(path, threads, X_batch, ld, X_rows, batch, B, D);                                 \
        for (ptrdiff_t i = 0; i < B; i++)                                                                        \
            y_batch[i] = y[batch[i]];                                                                            \
    }

FBP_GATHER_DEFINE(double, d)
FBP_GATHER_DEFINE(float, f)

FBP_LOOP_ENTRIES(double, d)
FBP_LOOP_ENTRIES(float, f)

#endif /* FASTBP_LOOPS_H */
