/*
 * tiled_products_kernels.h -- the body of tiled_products.h's kernels, included once per
 * (target, precision) with the macros tiled_products.h lists; no include guard.
 * Defines fbp_combine_<FBP_SUFFIX> and fbp_correlate_<FBP_SUFFIX>.
 *
 * The tiles keep their accumulators in registers: constant-size arrays of
 * vectors indexed by fully unrolled loops (the tile functions are inlined with
 * constant sizes). Only the tiling differs between targets; the order of the
 * operations on each output (tiled_products.h, "Rounding") does not.
 */

/* FBP_REST_TILE (tiled_products.h) has cases for up to 5 rows left */
#if COMBINE_ROWS > 6 || CORRELATE_B > 6
#error "tiled_products_kernels.h: COMBINE_ROWS and CORRELATE_B must be at most 6"
#endif

#define FBP_FN(name) FBP_CAT(name, FBP_SUFFIX)
#if defined(__GNUC__) || defined(__clang__)
#define FBP_TILE static FBP_ATTR inline __attribute__((always_inline))
#else
#define FBP_TILE static FBP_ATTR __forceinline
#endif

/* ---------------------------------------------------------- combine
 * One tile: `rows` outputs (out, weights, bias and tanh_out start at its first
 * row) by vectors * W samples (out, inp and tanh_out start at its first sample). */
FBP_TILE void FBP_FN(fbp_combine_tile)(real *out, const real *inp, ptrdiff_t ld_inp, const real *weights,
                                       ptrdiff_t weight_q, ptrdiff_t weight_r, const real *bias, const real *tanh_out, ptrdiff_t n,
                                       ptrdiff_t num_in, const int rows, const int vectors)
{
    VEC acc[COMBINE_ROWS][COMBINE_VECTORS];
    VEC x[COMBINE_VECTORS];
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 8
        for (int v = 0; v < vectors; v++)
            acc[r][v] = VZERO;
    for (ptrdiff_t q = 0; q < num_in; q++) {
        const real *inp_q = inp + q * ld_inp;
        const real *weights_q = weights + q * weight_q;
#pragma GCC unroll 8
        for (int v = 0; v < vectors; v++)
            x[v] = VLOAD(inp_q + v * W);
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++) {
            VEC w = VSET1(weights_q[r * weight_r]);
#pragma GCC unroll 8
            for (int v = 0; v < vectors; v++)
                acc[r][v] = VFMA(x[v], w, acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++) {
        if (bias) {
            VEC b = VSET1(bias[r]);
#pragma GCC unroll 8
            for (int v = 0; v < vectors; v++)
                VSTORE(out + r * n + v * W, acc[r][v] + b);
        } else if (tanh_out) {
            VEC one = VSET1(1);
#pragma GCC unroll 8
            for (int v = 0; v < vectors; v++) {
                VEC a = VLOAD(tanh_out + r * n + v * W);
                VSTORE(out + r * n + v * W, acc[r][v] * (one - a * a));
            }
        } else {
#pragma GCC unroll 8
            for (int v = 0; v < vectors; v++)
                VSTORE(out + r * n + v * W, acc[r][v]);
        }
    }
}

/* Every output row for one column of vectors * W samples: full tiles of
 * COMBINE_ROWS rows, then one tile of the rows left. */
FBP_TILE void FBP_FN(fbp_combine_column)(real *out, const real *inp, ptrdiff_t ld_inp, const real *weights,
                                         ptrdiff_t weight_q, ptrdiff_t weight_r, const real *bias, const real *tanh_out, ptrdiff_t n,
                                         ptrdiff_t num_in, ptrdiff_t num_out, const int vectors)
{
    ptrdiff_t r = 0;
    for (; r + COMBINE_ROWS <= num_out; r += COMBINE_ROWS)
        FBP_FN(fbp_combine_tile)(out + r * n, inp, ld_inp, weights + r * weight_r, weight_q, weight_r,
                                 bias ? bias + r : NULL, tanh_out ? tanh_out + r * n : NULL, n, num_in,
                                 COMBINE_ROWS, vectors);
#define FBP_COMBINE_REST(ROWS)                                                                          \
    FBP_FN(fbp_combine_tile)(out + r * n, inp, ld_inp, weights + r * weight_r, weight_q, weight_r,     \
                             bias ? bias + r : NULL, tanh_out ? tanh_out + r * n : NULL, n, num_in,    \
                             ROWS, vectors)
    FBP_REST_TILE(num_out - r, COMBINE_ROWS, FBP_COMBINE_REST);
#undef FBP_COMBINE_REST
}

static FBP_ATTR void FBP_FN(fbp_combine)(real *out, const real *inp, ptrdiff_t ld_inp, const real *weights,
                                         ptrdiff_t weight_q, ptrdiff_t weight_r, const real *bias, const real *tanh_out, ptrdiff_t n,
                                         ptrdiff_t num_in, ptrdiff_t num_out)
{
    ptrdiff_t i = 0;
    for (; i + COMBINE_VECTORS * W <= n; i += COMBINE_VECTORS * W)
        FBP_FN(fbp_combine_column)(out + i, inp + i, ld_inp, weights, weight_q, weight_r, bias,
                                   tanh_out ? tanh_out + i : NULL, n, num_in, num_out, COMBINE_VECTORS);
    for (; i + W <= n; i += W)
        FBP_FN(fbp_combine_column)(out + i, inp + i, ld_inp, weights, weight_q, weight_r, bias,
                                   tanh_out ? tanh_out + i : NULL, n, num_in, num_out, 1);
    /* the last samples one by one, in the same order of operations as a lane */
    for (; i < n; i++) {
        for (ptrdiff_t r = 0; r < num_out; r++) {
            real acc = 0;
            for (ptrdiff_t q = 0; q < num_in; q++)
                acc = SFMA(inp[q * ld_inp + i], weights[q * weight_q + r * weight_r], acc);
            if (bias)
                out[r * n + i] = acc + bias[r];
            else if (tanh_out)
                out[r * n + i] = acc * ((real)1 - tanh_out[r * n + i] * tanh_out[r * n + i]);
            else
                out[r * n + i] = acc;
        }
    }
}

/* ---------------------------------------------------------- correlate
 * One tile: rows_a rows of A (from A) by rows_b rows of B (from B), all n
 * samples, added to the lanes of their outputs: lanes[(a * num_b + b) *
 * LANES + l] (lanes starts at the tile's corner), or, with from_zero, stored
 * there: the lanes start from zero without being read (a slab of one block
 * need not zero them first). */
FBP_TILE void FBP_FN(fbp_correlate_tile)(real *lanes, ptrdiff_t num_b, const real *A, ptrdiff_t ld_a,
                                         const real *B, ptrdiff_t n, int from_zero, const int rows_a,
                                         const int rows_b)
{
    enum { GROUP = LANES / W };  /* vectors per output's lanes */
    VEC acc[CORRELATE_A][CORRELATE_B][GROUP];
    VEC xa[CORRELATE_A][GROUP];
    const ptrdiff_t full = n - n % LANES;
#pragma GCC unroll 8
    for (int a = 0; a < rows_a; a++)
#pragma GCC unroll 8
        for (int b = 0; b < rows_b; b++)
#pragma GCC unroll 8
            for (int g = 0; g < GROUP; g++)
                acc[a][b][g] = from_zero ? VZERO : VLOAD(lanes + (a * num_b + b) * LANES + g * W);
    for (ptrdiff_t i = 0; i < full; i += LANES) {
#pragma GCC unroll 8
        for (int a = 0; a < rows_a; a++)
#pragma GCC unroll 8
            for (int g = 0; g < GROUP; g++)
                xa[a][g] = VLOAD(A + a * ld_a + i + g * W);
#pragma GCC unroll 8
        for (int b = 0; b < rows_b; b++) {
#pragma GCC unroll 8
            for (int g = 0; g < GROUP; g++) {
                VEC yb = VLOAD(B + b * n + i + g * W);
#pragma GCC unroll 8
                for (int a = 0; a < rows_a; a++)
                    acc[a][b][g] = VFMA(xa[a][g], yb, acc[a][b][g]);
            }
        }
    }
#pragma GCC unroll 8
    for (int a = 0; a < rows_a; a++)
#pragma GCC unroll 8
        for (int b = 0; b < rows_b; b++)
#pragma GCC unroll 8
            for (int g = 0; g < GROUP; g++)
                VSTORE(lanes + (a * num_b + b) * LANES + g * W, acc[a][b][g]);
    /* the last samples go to the lanes they would have had in a full group */
    for (ptrdiff_t i = full; i < n; i++)
        for (int a = 0; a < rows_a; a++)
            for (int b = 0; b < rows_b; b++) {
                real *lane = lanes + (a * num_b + b) * LANES + (i - full);
                *lane = SFMA(A[a * ld_a + i], B[b * n + i], *lane);
            }
}

/* rows_a rows of A against every row of B: full tiles of CORRELATE_B rows,
 * then one tile of the rows left */
FBP_TILE void FBP_FN(fbp_correlate_band)(real *lanes, ptrdiff_t num_b, const real *A, ptrdiff_t ld_a,
                                         const real *B, ptrdiff_t n, int from_zero, const int rows_a)
{
    ptrdiff_t b = 0;
    for (; b + CORRELATE_B <= num_b; b += CORRELATE_B)
        FBP_FN(fbp_correlate_tile)(lanes + b * LANES, num_b, A, ld_a, B + b * n, n, from_zero, rows_a, CORRELATE_B);
#define FBP_CORRELATE_REST(ROWS) \
    FBP_FN(fbp_correlate_tile)(lanes + b * LANES, num_b, A, ld_a, B + b * n, n, from_zero, rows_a, ROWS)
    FBP_REST_TILE(num_b - b, CORRELATE_B, FBP_CORRELATE_REST);
#undef FBP_CORRELATE_REST
}

/* every row of A against rows_b rows of B: bands of CORRELATE_A rows, then
 * the rows left one at a time */
FBP_TILE void FBP_FN(fbp_correlate_stripe)(real *lanes, ptrdiff_t num_b, const real *A, ptrdiff_t ld_a,
                                           const real *B, ptrdiff_t n, int from_zero, ptrdiff_t num_a,
                                           const int rows_b)
{
    ptrdiff_t a = 0;
    for (; a + CORRELATE_A <= num_a; a += CORRELATE_A)
        FBP_FN(fbp_correlate_tile)(lanes + a * num_b * LANES, num_b, A + a * ld_a, ld_a, B, n, from_zero,
                                   CORRELATE_A, rows_b);
    for (; a < num_a; a++)
        FBP_FN(fbp_correlate_tile)(lanes + a * num_b * LANES, num_b, A + a * ld_a, ld_a, B, n, from_zero, 1,
                                   rows_b);
}

/* The tiles cover the (num_a, num_b) outputs in either order, whichever
 * keeps the smaller operand in the L1 cache while the larger one streams
 * through once: bands of A outside (B inside) when A has more rows, stripes of
 * B outside when B has. Each output's lanes see the same operations either way. */
static FBP_ATTR void FBP_FN(fbp_correlate)(real *lanes, const real *A, ptrdiff_t ld_a, const real *B, ptrdiff_t n,
                                           ptrdiff_t num_a, ptrdiff_t num_b, int from_zero)
{
    ptrdiff_t a = 0, b = 0;
    if (num_a >= num_b) {
        for (; a + CORRELATE_A <= num_a; a += CORRELATE_A)
            FBP_FN(fbp_correlate_band)(lanes + a * num_b * LANES, num_b, A + a * ld_a, ld_a, B, n, from_zero,
                                       CORRELATE_A);
        for (; a < num_a; a++)
            FBP_FN(fbp_correlate_band)(lanes + a * num_b * LANES, num_b, A + a * ld_a, ld_a, B, n, from_zero, 1);
        return;
    }
    for (; b + CORRELATE_B <= num_b; b += CORRELATE_B)
        FBP_FN(fbp_correlate_stripe)(lanes + b * LANES, num_b, A, ld_a, B + b * n, n, from_zero, num_a,
                                     CORRELATE_B);
#define FBP_CORRELATE_REST(ROWS) \
    FBP_FN(fbp_correlate_stripe)(lanes + b * LANES, num_b, A, ld_a, B + b * n, n, from_zero, num_a, ROWS)
    FBP_REST_TILE(num_b - b, CORRELATE_B, FBP_CORRELATE_REST);
#undef FBP_CORRELATE_REST
}

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
#undef SFMA
#undef LANES
#undef COMBINE_ROWS
#undef COMBINE_VECTORS
#undef CORRELATE_A
#undef CORRELATE_B
