/*
 * gemm.h -- the packed, cache-blocked product of the wide dense layers, for
 * fastbp, float64 and float32.
 *
 * One product, three uses (per-sample arrays feature-major, (n,K)^T):
 *
 *   fastbp_gemm_path:  C[m][c] = (C[m][c] or 0) + sum over p of A(m, p) * B(p, c),
 *                      then + bias[m], or times (1 - tanh_out[m][c]^2)
 *       dense_forward         z = inp.dot(W) + b:     C = z (K,n),    A(k, j) = W[j, k],  B(j, i) = inp[j][i]
 *       dense_backward_input  dinp = delta.dot(W.T):  C = dinp (J,n), A(j, k) = W[j, k],  B(k, i) = delta[k][i]
 *                             (and tanh_backward with it, while the tile is in registers)
 *       dense_backward        dW += inp.T.dot(delta): C = dW (J,K),   A(j, i) = inp[j][i], B(i, k) = delta[k][i]
 *
 * The method is the one of the BLIS framework (Van Zee and van de Geijn, ACM
 * TOMS 2015): panels of B (KC rows by NC columns) and of A (MC rows by KC)
 * are copied ("packed") into the workspace in the order the micro-kernel
 * reads them, so that every load of the micro-kernel is contiguous; a B
 * micro-panel (KC by NR) stays in the L1 cache while the A block (MC by KC)
 * stays in L2 and its micro-panels stream past it; the micro-kernel keeps an
 * MR by NR tile of C in registers and adds KC rank-1 updates to it. (Where C
 * is one micro-panel wide and A's p run along its rows, each value of A feeds
 * one tile: A is then read in place, gemm_kernels.h.) Packing
 * zero-fills the last panel's rows and columns past M and N, so that every
 * tile is a full one; a tile that overhangs C is computed in a local copy.
 *
 * Rounding. Every output is one chain of multiply-adds over p in order, from
 * 0 (or from C's value where the product accumulates), then the epilogue:
 *   acc = 0 (or C); acc = fma(A(m, p), B(p, c), acc) for p = 0, 1, ..., P - 1;
 *   out = acc + bias[m] (rounded once), or acc * (1 - t*t) (t*t, 1 - t*t and
 *   the product each rounded), or acc.
 * Between two panels of KC the running sum waits in C, in its own precision:
 * storing it does not round it. So the order depends on the shape only, never
 * on the blocking, the tile, the vector width or the number of threads (which
 * share the rows m of C in chunks, each output staying with one thread). This is the
 * order of tiled_products.h's combine_features, to the bit: a wide layer's forward
 * and backward-input products give the same numbers through either. The weight
 * gradient's sums run over the samples, dW[j][k] = fma(inp[j][i],
 * delta[k][i], dW[j][k]) for each sample i in order, block after block, from
 * the zero each slab starts with: one chain per weight, where tiled_products.h
 * carries 8 or 16 partial sums (which, 8 or 16 times the size of the weights,
 * no longer fit any cache when a layer is 784 by 512).
 * On the AVX2 and AVX-512 paths each step is a fused multiply-add; on the
 * baseline path it is tiled_products.h's baseline step (FBP_BASELINE_VFMA_*):
 * fused on AArch64, a multiplication and an addition on x86-64. The
 * including unit is compiled with -ffp-contract=off (setup.py).
 *
 * Targets: the copies and the path argument of dispatch.h, as
 * tiled_products.h: the baseline copy is plain C (GCC's and Clang's vector
 * extensions where they exist, one element at a time elsewhere: MSVC, other
 * compilers), the AVX2 and AVX-512 copies only where FBP_X86_DISPATCH.
 */
#ifndef FASTBP_GEMM_H
#define FASTBP_GEMM_H

#include <stddef.h>
#include <string.h>

#include "dispatch.h"        /* FBP_X86_DISPATCH, FBP_ATTR_AVX2/AVX512, FBP_PICK, the path codes */
#include "tiled_products.h"  /* the baseline vector types fbp_v2d, fbp_v4f and their macros, FBP_CAT */

#include "pool.h"            /* fbp_pool_run: the threads that share a product */
#include "vecmath.h"         /* the activations a forward product may apply to its tiles, FBP_RESTRICT */

/* Elements of the packing buffer one thread needs: a KC by NC panel of B and
 * an MC by KC block of A, for the largest of the targets' sizes below. */
#define FBP_GEMM_KC_MAX 256
#define FBP_GEMM_NC_MAX 512
#define FBP_GEMM_MC_MAX 256
#define FBP_GEMM_PACK_ELEMENTS (FBP_GEMM_KC_MAX * (FBP_GEMM_NC_MAX + FBP_GEMM_MC_MAX))
/* p per step of a packed transpose (gemm_kernels.h): a 64-byte cache line of float32 */
#define FBP_GEMM_TRANSPOSE_STEP 16

/* The activation a forward product applies to its finished tiles (fastbp_gemm_path's
 * activation): none, or vecmath.h's tanh or sigmoid loop */
#define FBP_GEMM_NO_ACTIVATION 0
#define FBP_GEMM_TANH 1
#define FBP_GEMM_SIGMOID 2
/* a parameter or variable `name`: such a loop on reals of the including precision, or NULL */
#define FBP_GEMM_ACT(name) void (*name)(real *FBP_RESTRICT, const real *FBP_RESTRICT, ptrdiff_t)

/* The kernels' small functions are inlined into the product where the
 * compiler can be told to (their loops are then unrolled for constant sizes) */
#if defined(__GNUC__) || defined(__clang__)
#define FBP_GEMM_INLINE inline __attribute__((always_inline))
#else
#define FBP_GEMM_INLINE inline
#endif

/* ------------------------------------------------------------ the kernels
 *
 * gemm_kernels.h is included once per (precision, target): it defines
 * fbp_gemm_<SUFFIX> (SUFFIX d_baseline, f_avx2, ...) from the macros of
 * tiled_products.h (FBP_SUFFIX, FBP_ATTR, real, VEC, W, VLOAD, VSTORE, VSET1,
 * VZERO, VFMA) and these:
 *   GEMM_MR      rows of C per tile (one broadcast each)
 *   GEMM_NV      vectors of C per tile row: NR = GEMM_NV * W columns
 *   GEMM_KC      rank-1 updates per packed panel: KC * NR reals of B, at
 *                most 32 KiB, stay in the L1 data cache (48 KiB on the
 *                development machine's cores) while the tiles use them
 *   GEMM_MC      rows of A per packed block (a multiple of GEMM_MR)
 * MR * NV accumulators fit the register file: AVX-512 has 32 vector
 * registers, AVX2 and SSE2 16. The AVX-512 tile was chosen among 6 x 4,
 * 8 x 3 and 12 x 2 by their rates on one core at the layer shapes of
 * bench/bench_gemm.py (8 x 3 about 10% slower, the other two alike); the
 * AVX2 and baseline tiles fill their registers as tiled_products.h's do, untuned.
 */

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
#define GEMM_MR 4
#define GEMM_NV 3
#define GEMM_KC 256
#define GEMM_MC 128
#include "gemm_kernels.h"

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
#define GEMM_MR 4
#define GEMM_NV 3
#define GEMM_KC 256
#define GEMM_MC 128
#include "gemm_kernels.h"

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
#define GEMM_MR 6
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 192
#include "gemm_kernels.h"

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
#define GEMM_MR 6
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_MC 192
#include "gemm_kernels.h"

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
#define GEMM_MR 6
#define GEMM_NV 4
#define GEMM_KC 128
#define GEMM_MC 192
#include "gemm_kernels.h"

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
#define GEMM_MR 6
#define GEMM_NV 4
#define GEMM_KC 128
#define GEMM_MC 192
#include "gemm_kernels.h"
#endif

/* ------------------------------------------------------------ threads
 *
 * Below this many multiply-adds (a few tens of microseconds of one core) a
 * product stays on the calling thread. Handing chunks to a worker that is
 * still spinning costs a few microseconds, but one that has gone to sleep must
 * be woken, which on a KVM guest (where waking an idle core goes through the
 * hypervisor) costs tens of microseconds: at 2^19, products of about a million
 * multiply-adds (a 64-100 layer on 200-row batches; 64-1024 on 16) ran their
 * fits 1.4x and their epochs 1.15x as long on two threads as on one (an Intel
 * Xeon guest). At 2^21 rather than 2^22, the 3.2 million multiply-adds of a
 * 784-32 layer's products on 128-row minibatches are shared, and its float32
 * epochs took 1.29-1.31 ms instead of 1.73-1.75 (an AMD EPYC guest, alternating
 * processes). Nor is a product shared where it has fewer than
 * FBP_GEMM_MIN_SHARED_SIDE columns or terms per output (the samples of a
 * minibatch of 16): such a product is mostly its writes to C, and sharing the
 * 3.2 million multiply-adds of a 784-256 layer on 16-row minibatches (and the
 * update after them) made the float32 epochs 1.1-1.2x as long. */
#define FBP_GEMM_MIN_PARALLEL_WORK (1 << 21)
/* Shared between threads, the rows of C go in chunks, each to the next free
 * thread of pool.h: on a machine where another process holds one core, the
 * thread there takes fewer chunks (or none) instead of holding up the other
 * (an even split made two threads as slow as one). Each chunk packs its own
 * copy of B's panels and reuses each B micro-panel for its rows only, so a
 * chunk should be as tall as an A block (GEMM_MC): with chunks of 48 rows, a
 * 1024-wide layer's products on two threads spent a tenth of their time
 * packing and ran 19% slower per multiply-add than on one thread. So a
 * product gets about FBP_GEMM_CHUNKS_PER_THREAD chunks per thread, each a
 * multiple of FBP_GEMM_CHUNK_QUANTUM rows (a multiple of every target's
 * GEMM_MR), from FBP_GEMM_CHUNK_MIN_ROWS to FBP_GEMM_CHUNK_MAX_ROWS (the
 * widest GEMM_MC). */
#define FBP_GEMM_MIN_SHARED_SIDE 32
/* whether threads share a product with N columns and P terms per output, work = M * N * P */
static inline int fbp_gemm_worth_sharing(ptrdiff_t N, ptrdiff_t P, double work)
{
    return work >= FBP_GEMM_MIN_PARALLEL_WORK && N >= FBP_GEMM_MIN_SHARED_SIDE && P >= FBP_GEMM_MIN_SHARED_SIDE;
}
#define FBP_GEMM_CHUNKS_PER_THREAD 3
#define FBP_GEMM_CHUNK_QUANTUM 12
#define FBP_GEMM_CHUNK_MIN_ROWS 48
#define FBP_GEMM_CHUNK_MAX_ROWS 192

static inline ptrdiff_t fbp_gemm_chunk_rows(ptrdiff_t M, int threads)
{
    ptrdiff_t share = (M + (ptrdiff_t)threads * FBP_GEMM_CHUNKS_PER_THREAD - 1) /
                      ((ptrdiff_t)threads * FBP_GEMM_CHUNKS_PER_THREAD);
    ptrdiff_t rows = (share + FBP_GEMM_CHUNK_QUANTUM - 1) / FBP_GEMM_CHUNK_QUANTUM * FBP_GEMM_CHUNK_QUANTUM;
    if (rows < FBP_GEMM_CHUNK_MIN_ROWS)
        rows = FBP_GEMM_CHUNK_MIN_ROWS;
    if (rows > FBP_GEMM_CHUNK_MAX_ROWS)
        rows = FBP_GEMM_CHUNK_MAX_ROWS;
    return rows;
}

/* C (M, N) at row stride ldc, as described at the top; A(m, p) at
 * A[m*a_m + p*a_p], B(p, c) at B[p*b_p + c*b_n]; accumulate: start from C
 * instead of 0; bias (M,) and tanh_out (rows ld_tanh apart), at most one
 * non-NULL; activation: FBP_GEMM_TANH or FBP_GEMM_SIGMOID to apply that
 * function (vecmath.h's loop on this path, the bits of running it over C
 * afterwards) to every output once its sum is done, with bias only (a layer's
 * forward product and activation: the pass over the block's outputs that the
 * activation would take after the product is saved, and the threads that
 * share the product share it). pack: threads * FBP_GEMM_PACK_ELEMENTS reals. P >= 1. With
 * threads > 1 and the work to pay for them, the chunks of rows of C are
 * shared between the threads of pool.h (or stay on the caller inside a
 * parallel region); each output is computed by one thread, whichever, in
 * the same order.
 * shared_b (shared_b_elements reals, or NULL): where the caller lets the
 * threads share one packed copy of B. Every chunk of rows reads all of B, and
 * packing it per chunk cost a 784-256 layer's forward product on 128-row
 * minibatches a quarter more work in chunks of 48 rows (one core, a C
 * harness). So where B fits and the product is shared between pool.h's
 * threads, they first pack all of B's panels into shared_b, a panel a chunk,
 * then compute the rows of C from it. Inside an OpenMP region (the slabs of
 * a full batch, each thread with its own product) shared_b is not touched:
 * the slabs' threads would share it. Packing moves numbers only: the bits
 * are those of the unshared product. */
#define FBP_GEMM_DEFINE(PREC, real, NAME, TANH, SIGMOID)                                                           \
    typedef void (*fbp_gemm_act_##PREC)(real *FBP_RESTRICT, const real *FBP_RESTRICT, ptrdiff_t);                 \
    static inline fbp_gemm_act_##PREC fbp_gemm_activation_##PREC(int path, int activation)                        \
    {                                                                                                             \
        return activation == FBP_GEMM_TANH ? FBP_PICK(TANH, path)                                                 \
               : activation == FBP_GEMM_SIGMOID ? FBP_PICK(SIGMOID, path) : NULL;                                 \
    }                                                                                                             \
                                                                                                                  \
    typedef struct {                                                                                              \
        int path;                                                                                                 \
        real *C;                                                                                                  \
        ptrdiff_t ldc, a_m, a_p, b_p, b_n, M, N, P, ld_tanh, chunk_rows;                                          \
        const real *A, *B, *bias, *tanh_out;                                                                      \
        fbp_gemm_act_##PREC act;                                                                                  \
        int accumulate;                                                                                           \
        real *pack, *packed_b;                                                                                    \
    } fbp_gemm_job_##PREC;                                                                                        \
                                                                                                                  \
    static void fbp_gemm_chunk_##PREC(void *context, ptrdiff_t chunk, int worker)                                 \
    {                                                                                                             \
        const fbp_gemm_job_##PREC *j = (const fbp_gemm_job_##PREC *)context;                                      \
        ptrdiff_t m0 = chunk * j->chunk_rows;                                                                     \
        ptrdiff_t rows = j->M - m0 < j->chunk_rows ? j->M - m0 : j->chunk_rows;                                   \
        FBP_PICK(fbp_gemm_##PREC, j->path)(j->C + m0 * j->ldc, j->ldc, j->A + m0 * j->a_m, j->a_m, j->a_p, j->B,  \
                                             j->b_p, j->b_n, rows, j->N, j->P, j->accumulate,                     \
                                             j->bias ? j->bias + m0 : NULL,                                       \
                                             j->tanh_out ? j->tanh_out + m0 * j->ld_tanh : NULL, j->ld_tanh,      \
                                             j->act, j->pack + (ptrdiff_t)worker * FBP_GEMM_PACK_ELEMENTS,        \
                                             j->packed_b);                                                        \
    }                                                                                                             \
                                                                                                                  \
    static void fbp_gemm_pack_b_chunk_##PREC(void *context, ptrdiff_t panel, int worker)                          \
    {                                                                                                             \
        const fbp_gemm_job_##PREC *j = (const fbp_gemm_job_##PREC *)context;                                      \
        (void)worker;                                                                                             \
        FBP_PICK(fbp_gemm_pack_b_panel_##PREC, j->path)(j->packed_b, j->B, j->b_p, j->b_n, j->P, j->N, panel);    \
    }                                                                                                             \
                                                                                                                  \
    static inline void NAME(int path, int threads, real *C, ptrdiff_t ldc, const real *A, ptrdiff_t a_m,         \
                            ptrdiff_t a_p, const real *B, ptrdiff_t b_p, ptrdiff_t b_n, ptrdiff_t M, ptrdiff_t N, \
                            ptrdiff_t P, int accumulate, const real *bias, const real *tanh_out,                  \
                            ptrdiff_t ld_tanh, int activation, real *pack, real *shared_b,                        \
                            ptrdiff_t shared_b_elements)                                                          \
    {                                                                                                             \
        fbp_gemm_act_##PREC act = fbp_gemm_activation_##PREC(path, activation);                                   \
        ptrdiff_t chunk_rows = fbp_gemm_chunk_rows(M, threads);                                                   \
        ptrdiff_t chunks = (M + chunk_rows - 1) / chunk_rows;                                                     \
        if (threads > 1 && chunks > 1 && fbp_gemm_worth_sharing(N, P, (double)M * N * P)) {                       \
            fbp_gemm_job_##PREC job = {path, C, ldc, a_m, a_p, b_p, b_n, M, N, P, ld_tanh,                        \
                                       chunk_rows, A, B, bias, tanh_out, act, accumulate, pack, NULL};            \
            if (shared_b && !fbp_pool_in_parallel_region() &&                                                     \
                FBP_PICK(fbp_gemm_b_elements_##PREC, path)(P, N) <= shared_b_elements) {                          \
                job.packed_b = shared_b;                                                                          \
                fbp_pool_run(threads, FBP_PICK(fbp_gemm_b_panels_##PREC, path)(P, N),                             \
                             fbp_gemm_pack_b_chunk_##PREC, &job);                                                 \
            }                                                                                                     \
            fbp_pool_run(threads, chunks, fbp_gemm_chunk_##PREC, &job);                                           \
            return;                                                                                               \
        }                                                                                                         \
        FBP_PICK(fbp_gemm_##PREC, path)(C, ldc, A, a_m, a_p, B, b_p, b_n, M, N, P, accumulate, bias, tanh_out,   \
                                          ld_tanh, act, pack, NULL);                                              \
    }

FBP_GEMM_DEFINE(d, double, fastbp_gemm_path, fbp_tanh, fbp_sigmoid)
FBP_GEMM_DEFINE(f, float, fastbp_gemmf_path, fbp_tanhf, fbp_sigmoidf)

#undef FBP_GEMM_DEFINE

/* ------------------------------------------------------------ the tiles, shared
 *
 * tiled_products.h's combine (the forward and backward-input products of a
 * layer too narrow to pack, e.g. 784 inputs to 32 outputs) shared between
 * pool.h's threads under the products' own rule (fbp_gemm_worth_sharing, the
 * samples as the columns): its outputs in parts of whole tiles, each part one
 * call of the combine on its outputs, so that each output is the same chain
 * whichever thread computes it, and no tile is split (each tile sweeps all the
 * inputs). Where a minibatch step is one block, its narrow layers' products
 * otherwise ran on the caller while the other thread waited: at 784-32-10 on
 * minibatches of 128, the 784-32 forward product was an eighth of the epoch. */
#define FBP_COMBINE_PARTS_PER_THREAD 2

static inline ptrdiff_t fbp_combine_part_start(ptrdiff_t part, ptrdiff_t parts, ptrdiff_t tiles, int tile_rows,
                                               ptrdiff_t outputs)
{
    ptrdiff_t start = part * tiles / parts * tile_rows;
    return start < outputs ? start : outputs;
}

#define FBP_COMBINE_SHARED_DEFINE(PREC, real, NAME, COMBINE)                                                     \
    typedef struct {                                                                                              \
        int path, tile_rows;                                                                                      \
        real *out;                                                                                                \
        const real *inp, *weights, *bias, *tanh_out;                                                              \
        ptrdiff_t ld_inp, weight_q, weight_r, n, num_in, num_out, parts, tiles;                                   \
    } fbp_combine_job_##PREC;                                                                                     \
                                                                                                                  \
    static void fbp_combine_part_##PREC(void *context, ptrdiff_t part, int worker)                                \
    {                                                                                                             \
        const fbp_combine_job_##PREC *j = (const fbp_combine_job_##PREC *)context;                                \
        ptrdiff_t r0 = fbp_combine_part_start(part, j->parts, j->tiles, j->tile_rows, j->num_out);                \
        ptrdiff_t r1 = fbp_combine_part_start(part + 1, j->parts, j->tiles, j->tile_rows, j->num_out);            \
        (void)worker;                                                                                             \
        if (r1 > r0)                                                                                              \
            COMBINE(j->path, j->out + r0 * j->n, j->inp, j->ld_inp, j->weights + r0 * j->weight_r, j->weight_q,   \
                    j->weight_r, j->bias ? j->bias + r0 : NULL, j->tanh_out ? j->tanh_out + r0 * j->n : NULL,     \
                    j->n, j->num_in, r1 - r0);                                                                    \
    }                                                                                                             \
                                                                                                                  \
    /* COMBINE's product (tiled_products.h), its outputs shared by up to threads threads */                      \
    static inline void NAME(int path, int threads, real *out, const real *inp, ptrdiff_t ld_inp,                  \
                            const real *weights, ptrdiff_t weight_q, ptrdiff_t weight_r, const real *bias,        \
                            const real *tanh_out, ptrdiff_t n, ptrdiff_t num_in, ptrdiff_t num_out)               \
    {                                                                                                             \
        int tile_rows = fastbp_combine_rows(path);                                                                \
        ptrdiff_t tiles = (num_out + tile_rows - 1) / tile_rows;                                                  \
        ptrdiff_t parts = (ptrdiff_t)threads * FBP_COMBINE_PARTS_PER_THREAD;                                      \
        if (threads < 2 || tiles < 2 || !fbp_gemm_worth_sharing(n, num_in, (double)n * num_in * num_out)) {      \
            COMBINE(path, out, inp, ld_inp, weights, weight_q, weight_r, bias, tanh_out, n, num_in, num_out);     \
            return;                                                                                               \
        }                                                                                                         \
        fbp_combine_job_##PREC job = {path, tile_rows, out, inp, weights, bias, tanh_out, ld_inp, weight_q,       \
                                      weight_r, n, num_in, num_out, parts < tiles ? parts : tiles, tiles};        \
        fbp_pool_run(threads, job.parts, fbp_combine_part_##PREC, &job);                                          \
    }

FBP_COMBINE_SHARED_DEFINE(d, double, fastbp_combine_shared_path, fastbp_combine_features_path)
FBP_COMBINE_SHARED_DEFINE(f, float, fastbp_combinef_shared_path, fastbp_combine_featuresf_path)

#undef FBP_COMBINE_SHARED_DEFINE

#endif /* FASTBP_GEMM_H */
