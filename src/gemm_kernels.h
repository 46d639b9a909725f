/*
 * gemm_kernels.h -- the body of gemm.h's product, included once per
 * (precision, target) with the macros gemm.h lists; no include guard.
 * Defines fbp_gemm_<FBP_SUFFIX>.
 *
 * Only the tile and panel sizes differ between targets; the order of the
 * operations on each output (gemm.h, "Rounding") does not.
 */

#define NR (GEMM_NV * W)
#if GEMM_KC > FBP_GEMM_KC_MAX || GEMM_MC > FBP_GEMM_MC_MAX || GEMM_MC % GEMM_MR != 0 || GEMM_NV > 4
#error "gemm_kernels.h: GEMM_KC and GEMM_MC must fit FBP_GEMM_PACK_ELEMENTS, GEMM_MC be a multiple of GEMM_MR, GEMM_NV at most 4 (fbp_gemm_narrow_tile)"
#endif
/* columns of B per packed panel: a whole number of micro-panels */
#define GEMM_NC (FBP_GEMM_NC_MAX / NR * NR)

#define FBP_FN(name) FBP_CAT(name, FBP_SUFFIX)
#define FBP_TILE static FBP_ATTR FBP_GEMM_INLINE

/* dst = A(m, p) for m < mc, p < kc in micro-panels of GEMM_MR rows: panel
 * r0 / GEMM_MR holds dst[p * GEMM_MR + r] = A(r0 + r, p), 0 past mc. */
FBP_TILE void FBP_FN(fbp_gemm_pack_a)(real *dst, const real *A, ptrdiff_t a_m, ptrdiff_t a_p, ptrdiff_t mc,
                                      ptrdiff_t kc)
{
    for (ptrdiff_t r0 = 0; r0 < mc; r0 += GEMM_MR, dst += GEMM_MR * kc) {
        ptrdiff_t rows = mc - r0 < GEMM_MR ? mc - r0 : GEMM_MR;
        const real *panel = A + r0 * a_m;
        if (a_m == 1 && rows == GEMM_MR) {
            for (ptrdiff_t p = 0; p < kc; p++)
                memcpy(dst + p * GEMM_MR, panel + p * a_p, GEMM_MR * sizeof(real));
        } else if (rows == GEMM_MR) {
            /* a transpose: GEMM_MR rows read side by side, dst written in order */
            for (ptrdiff_t p = 0; p < kc; p++)
#pragma GCC unroll 16
                for (int r = 0; r < GEMM_MR; r++)
                    dst[p * GEMM_MR + r] = panel[r * a_m + p * a_p];
        } else {
            for (ptrdiff_t p = 0; p < kc; p++)
                for (int r = 0; r < GEMM_MR; r++)
                    dst[p * GEMM_MR + r] = r < rows ? panel[r * a_m + p * a_p] : 0;
        }
    }
}

/* dst = B(p, c) for p < kc, c < nc in micro-panels of NR columns: panel
 * c0 / NR holds dst[p * NR + c] = B(p, c0 + c), 0 past nc. */
FBP_TILE void FBP_FN(fbp_gemm_pack_b)(real *dst, const real *B, ptrdiff_t b_p, ptrdiff_t b_n, ptrdiff_t kc,
                                      ptrdiff_t nc)
{
    for (ptrdiff_t c0 = 0; c0 < nc; c0 += NR, dst += NR * kc) {
        ptrdiff_t cols = nc - c0 < NR ? nc - c0 : NR;
        const real *panel = B + c0 * b_n;
        if (b_n == 1 && cols == NR) {
            /* a constant size: copied in registers, no call */
            for (ptrdiff_t p = 0; p < kc; p++)
                memcpy(dst + p * NR, panel + p * b_p, NR * sizeof(real));
        } else if (b_n == 1) {
            for (ptrdiff_t p = 0; p < kc; p++) {
                memcpy(dst + p * NR, panel + p * b_p, cols * sizeof(real));
                for (ptrdiff_t c = cols; c < NR; c++)
                    dst[p * NR + c] = 0;
            }
        } else if (cols == NR && b_p == 1) {
            /* a transpose of NR rows of memory (B's columns, a weight gradient's
             * deltas), in steps of FBP_GEMM_TRANSPOSE_STEP p: each column's
             * cache line is read whole at once. Read side by side, p after p,
             * the NR columns' lines had to stay in L1 until their last p, and
             * where the columns are 4 KiB apart (1024 float32 samples) they
             * all fall in one set of the L1 cache and evict one another. */
            for (ptrdiff_t p0 = 0; p0 < kc; p0 += FBP_GEMM_TRANSPOSE_STEP) {
                ptrdiff_t steps = kc - p0 < FBP_GEMM_TRANSPOSE_STEP ? kc - p0 : FBP_GEMM_TRANSPOSE_STEP;
                for (int c = 0; c < NR; c++)
                    for (ptrdiff_t p = p0; p < p0 + steps; p++)
                        dst[p * NR + c] = panel[c * b_n + p];
            }
        } else if (cols == NR) {
            /* a transpose: NR columns read side by side, dst written in order */
            for (ptrdiff_t p = 0; p < kc; p++)
#pragma GCC unroll 64
                for (int c = 0; c < NR; c++)
                    dst[p * NR + c] = panel[c * b_n + p * b_p];
        } else {
            for (ptrdiff_t p = 0; p < kc; p++)
                for (int c = 0; c < NR; c++)
                    dst[p * NR + c] = c < cols ? panel[c * b_n + p * b_p] : 0;
        }
    }
}

/* The micro-kernel: the GEMM_MR by nv * W tile of C at c (rows ldc apart) =
 * (first ? 0 : c) + kc rank-1 updates, a[p * a_k + r * a_r] * b[p * NR + col]
 * (a packed micro-panel: a_r = 1, a_k = GEMM_MR; A read in place: its strides)
 * for p in order; then, when last, + bias[r] or times (1 - t*t), t at
 * tanh_out[r * ld_tanh + col] (bias and tanh_out NULL unless last); then, where
 * act is not NULL (last only), act (a vecmath.h loop: tanh, sigmoid) on each
 * row of the finished tile, from a copy on the stack, so that the loop's
 * input and output do not alias: the loop's own bits, as if it ran over C
 * afterwards, while the tile is still in L1 and on the thread that made it. nv is
 * GEMM_NV for a whole tile, fewer for the narrow last panel of a product whose
 * columns are a multiple of W but not of NR (a 32-wide float32 layer on
 * AVX-512): every call passes a constant, so each width is its own unrolled
 * loop. The width never changes an output's chain of operations. */
FBP_TILE void FBP_FN(fbp_gemm_tile)(real *c, ptrdiff_t ldc, const real *a, ptrdiff_t a_r, ptrdiff_t a_k,
                                    const real *b, ptrdiff_t kc, int first, const real *bias, const real *tanh_out,
                                    ptrdiff_t ld_tanh, FBP_GEMM_ACT(act), const int nv)
{
    VEC acc[GEMM_MR][GEMM_NV];
#pragma GCC unroll 16
    for (int r = 0; r < GEMM_MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = first ? VZERO : VLOAD(c + r * ldc + v * W);
    for (ptrdiff_t p = 0; p < kc; p++) {
        VEC x[GEMM_NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            x[v] = VLOAD(b + p * NR + v * W);
#pragma GCC unroll 16
        for (int r = 0; r < GEMM_MR; r++) {
            VEC w = VSET1(a[p * a_k + r * a_r]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = VFMA(x[v], w, acc[r][v]);
        }
    }
    real before_act[GEMM_MR * NR]; /* the finished tile, where act applies */
#pragma GCC unroll 16
    for (int r = 0; r < GEMM_MR; r++) {
        if (bias) {
            VEC bias_r = VSET1(bias[r]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = acc[r][v] + bias_r;
        } else if (tanh_out) {
            VEC one = VSET1(1);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) {
                VEC t = VLOAD(tanh_out + r * ld_tanh + v * W);
                acc[r][v] = acc[r][v] * (one - t * t);
            }
        }
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            VSTORE(act ? before_act + r * NR + v * W : c + r * ldc + v * W, acc[r][v]);
    }
    if (act)
        for (int r = 0; r < GEMM_MR; r++)
            act(c + r * ldc, before_act + r * NR, nv * W);
}

/* A tile that overhangs C (rows < GEMM_MR or cols < NR): the micro-kernel on a
 * local copy of its part of C (and of tanh_out, and of bias), zeros around it. */
FBP_TILE void FBP_FN(fbp_gemm_edge_tile)(real *c, ptrdiff_t ldc, const real *a, ptrdiff_t a_r, ptrdiff_t a_k,
                                         const real *b, ptrdiff_t kc, int first, const real *bias,
                                         const real *tanh_out, ptrdiff_t ld_tanh, FBP_GEMM_ACT(act), ptrdiff_t rows,
                                         ptrdiff_t cols)
{
    real tile[GEMM_MR * NR], tanh_tile[GEMM_MR * NR], bias_tile[GEMM_MR];
    memset(tile, 0, sizeof tile);
    memset(tanh_tile, 0, sizeof tanh_tile);
    memset(bias_tile, 0, sizeof bias_tile);
    for (ptrdiff_t r = 0; r < rows; r++) {
        if (!first)
            memcpy(tile + r * NR, c + r * ldc, cols * sizeof(real));
        if (tanh_out)
            memcpy(tanh_tile + r * NR, tanh_out + r * ld_tanh, cols * sizeof(real));
        if (bias)
            bias_tile[r] = bias[r];
    }
    FBP_FN(fbp_gemm_tile)(tile, NR, a, a_r, a_k, b, kc, first, bias ? bias_tile : NULL,
                          tanh_out ? tanh_tile : NULL, NR, act, GEMM_NV);
    for (ptrdiff_t r = 0; r < rows; r++)
        memcpy(c + r * ldc, tile + r * NR, cols * sizeof(real));
}

/* A whole number of vectors narrower than NR (cols = nv * W, nv < GEMM_NV):
 * the micro-kernel on C itself, one specialised width per nv, instead of a
 * copy through fbp_gemm_edge_tile. */
FBP_TILE void FBP_FN(fbp_gemm_narrow_tile)(real *c, ptrdiff_t ldc, const real *a, ptrdiff_t a_r, ptrdiff_t a_k,
                                           const real *b, ptrdiff_t kc, int first, const real *bias,
                                           const real *tanh_out, ptrdiff_t ld_tanh, FBP_GEMM_ACT(act), int nv)
{
    switch (nv) {
    case 1:
        FBP_FN(fbp_gemm_tile)(c, ldc, a, a_r, a_k, b, kc, first, bias, tanh_out, ld_tanh, act, 1);
        break;
#if GEMM_NV > 2
    case 2:
        FBP_FN(fbp_gemm_tile)(c, ldc, a, a_r, a_k, b, kc, first, bias, tanh_out, ld_tanh, act, 2);
        break;
#endif
#if GEMM_NV > 3
    case 3:
        FBP_FN(fbp_gemm_tile)(c, ldc, a, a_r, a_k, b, kc, first, bias, tanh_out, ld_tanh, act, 3);
        break;
#endif
    }
}

/* One tile of C at c: rows by cols (at most GEMM_MR by NR), whole, narrow or at
 * an edge. Inlined where it is called, once with a packed micro-panel's
 * constant strides and once with A's own, so that each copy of the
 * micro-kernel has its addressing fixed. */
FBP_TILE void FBP_FN(fbp_gemm_any_tile)(real *c, ptrdiff_t ldc, const real *a, ptrdiff_t a_r, ptrdiff_t a_k,
                                        const real *b, ptrdiff_t kc, int first, const real *bias,
                                        const real *tanh_out, ptrdiff_t ld_tanh, FBP_GEMM_ACT(act), ptrdiff_t rows,
                                        ptrdiff_t cols)
{
    if (rows == GEMM_MR && cols == NR)
        FBP_FN(fbp_gemm_tile)(c, ldc, a, a_r, a_k, b, kc, first, bias, tanh_out, ld_tanh, act, GEMM_NV);
    else if (rows == GEMM_MR && cols % W == 0)
        FBP_FN(fbp_gemm_narrow_tile)(c, ldc, a, a_r, a_k, b, kc, first, bias, tanh_out, ld_tanh, act,
                                     (int)(cols / W));
    else
        FBP_FN(fbp_gemm_edge_tile)(c, ldc, a, a_r, a_k, b, kc, first, bias, tanh_out, ld_tanh, act, rows, cols);
}

/* All of B packed at once (gemm.h's shared B, which the threads that take
 * chunks of C's rows then read instead of each packing its own copy): panel
 * (jc, pc), the kc by nc panel fbp_gemm_pack_b makes, starts at
 * jc * P + pc * (nc rounded up to NR); every column panel but the last is
 * GEMM_NC wide, a whole number of micro-panels. */
static inline ptrdiff_t FBP_FN(fbp_gemm_b_elements)(ptrdiff_t P, ptrdiff_t N)
{
    return P * ((N + NR - 1) / NR * NR);
}

static inline ptrdiff_t FBP_FN(fbp_gemm_b_panels)(ptrdiff_t P, ptrdiff_t N)
{
    return (N + GEMM_NC - 1) / GEMM_NC * ((P + GEMM_KC - 1) / GEMM_KC);
}

static inline ptrdiff_t FBP_FN(fbp_gemm_b_offset)(ptrdiff_t P, ptrdiff_t N, ptrdiff_t jc, ptrdiff_t pc)
{
    ptrdiff_t nc = N - jc < GEMM_NC ? N - jc : GEMM_NC;
    return jc * P + pc * ((nc + NR - 1) / NR * NR);
}

/* panel number `panel` (of fbp_gemm_b_panels, column panels outer) of all of B */
static FBP_ATTR void FBP_FN(fbp_gemm_pack_b_panel)(real *packed_b, const real *B, ptrdiff_t b_p, ptrdiff_t b_n,
                                                   ptrdiff_t P, ptrdiff_t N, ptrdiff_t panel)
{
    ptrdiff_t panels_p = (P + GEMM_KC - 1) / GEMM_KC;
    ptrdiff_t jc = panel / panels_p * GEMM_NC, pc = panel % panels_p * GEMM_KC;
    ptrdiff_t nc = N - jc < GEMM_NC ? N - jc : GEMM_NC, kc = P - pc < GEMM_KC ? P - pc : GEMM_KC;
    FBP_FN(fbp_gemm_pack_b)(packed_b + FBP_FN(fbp_gemm_b_offset)(P, N, jc, pc), B + pc * b_p + jc * b_n, b_p, b_n,
                            kc, nc);
}

/* gemm.h's product on one thread: pack is FBP_GEMM_PACK_ELEMENTS reals; act
 * (or NULL) the activation loop applied to each finished tile (fbp_gemm_tile);
 * packed_b all of B as fbp_gemm_pack_b_panel packs it, or NULL: then each
 * panel of B is packed here, into pack. The loops over the panels of p run in
 * order, outermost but one, so that each output's chain of multiply-adds runs
 * in p order through them. */
static FBP_ATTR void FBP_FN(fbp_gemm)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t a_m, ptrdiff_t a_p,
                                      const real *B, ptrdiff_t b_p, ptrdiff_t b_n, ptrdiff_t M, ptrdiff_t N,
                                      ptrdiff_t P, int accumulate, const real *bias, const real *tanh_out,
                                      ptrdiff_t ld_tanh, FBP_GEMM_ACT(act), real *pack, const real *packed_b_all)
{
    real *packed_a = pack + FBP_GEMM_KC_MAX * FBP_GEMM_NC_MAX;
    /* A read in place, not packed: where its p run along its rows (a_p == 1:
     * a weight gradient's samples, a backward-input product's outputs) and C
     * is at most one micro-panel wide, each value of A feeds one tile only, so
     * a packed copy would cost a pass over A that nothing pays back (a
     * 1024-32 layer's weight gradient spent as long packing as multiplying).
     * The micro-kernel reads GEMM_MR rows of A side by side, each in order; a
     * last panel of fewer rows is packed, zero-filled, as before. The order
     * of every output's chain is the same either way. */
    int a_in_place = a_p == 1 && N <= NR;
    for (ptrdiff_t jc = 0; jc < N; jc += GEMM_NC) {
        ptrdiff_t nc = N - jc < GEMM_NC ? N - jc : GEMM_NC;
        for (ptrdiff_t pc = 0; pc < P; pc += GEMM_KC) {
            ptrdiff_t kc = P - pc < GEMM_KC ? P - pc : GEMM_KC;
            int first = !accumulate && pc == 0;
            int last = pc + kc == P;
            const real *packed_b = pack;
            if (packed_b_all)
                packed_b = packed_b_all + FBP_FN(fbp_gemm_b_offset)(P, N, jc, pc);
            else
                FBP_FN(fbp_gemm_pack_b)(pack, B + pc * b_p + jc * b_n, b_p, b_n, kc, nc);
            for (ptrdiff_t ic = 0; ic < M; ic += GEMM_MC) {
                ptrdiff_t mc = M - ic < GEMM_MC ? M - ic : GEMM_MC;
                if (!a_in_place)
                    FBP_FN(fbp_gemm_pack_a)(packed_a, A + ic * a_m + pc * a_p, a_m, a_p, mc, kc);
                for (ptrdiff_t jr = 0; jr < nc; jr += NR) {
                    ptrdiff_t cols = nc - jr < NR ? nc - jr : NR;
                    const real *b = packed_b + jr * kc;
                    for (ptrdiff_t ir = 0; ir < mc; ir += GEMM_MR) {
                        ptrdiff_t rows = mc - ir < GEMM_MR ? mc - ir : GEMM_MR;
                        ptrdiff_t m = ic + ir, col = jc + jr;
                        real *c = C + m * ldc + col;
                        const real *bias_m = last && bias ? bias + m : NULL;
                        const real *tanh_m = last && tanh_out ? tanh_out + m * ld_tanh + col : NULL;
                        FBP_GEMM_ACT(act_m) = last ? act : NULL;
                        if (a_in_place && rows == GEMM_MR) {
                            FBP_FN(fbp_gemm_any_tile)(c, ldc, A + m * a_m + pc, a_m, 1, b, kc, first, bias_m,
                                                      tanh_m, ld_tanh, act_m, rows, cols);
                            continue;
                        }
                        const real *a = packed_a + ir * kc;
                        if (a_in_place) {  /* the last rows of A, fewer than GEMM_MR: packed (jr is 0: once) */
                            FBP_FN(fbp_gemm_pack_a)(packed_a, A + m * a_m + pc, a_m, a_p, rows, kc);
                            a = packed_a;
                        }
                        FBP_FN(fbp_gemm_any_tile)(c, ldc, a, 1, GEMM_MR, b, kc, first, bias_m, tanh_m, ld_tanh,
                                                  act_m, rows, cols);
                    }
                }
            }
        }
    }
}

#undef NR
#undef GEMM_NC
#undef FBP_TILE
#undef FBP_FN
#undef FBP_SUFFIX
#undef FBP_ATTR
#undef real
#undef VEC
#undef W
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VZERO
#undef VFMA
#undef GEMM_MR
#undef GEMM_NV
#undef GEMM_KC
#undef GEMM_MC
