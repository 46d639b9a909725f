/*
 * loops_kernels.h -- the bodies of loops.h's loops, included once per
 * (precision, target) with the macros loops.h lists; no include guard.
 * Defines fbp_<loop>_<FBP_SUFFIX> for every loop loops.h declares.
 *
 * Plain C loops, vectorised by the compiler for the target of FBP_ATTR. The
 * including translation unit is compiled with -ffp-contract=off and nothing
 * here says fma, so every target computes the same bits: only the vector
 * width changes.
 */

#define FBP_FN(name) FBP_CAT(name, FBP_SUFFIX)
#define FBP_LOOP static FBP_ATTR
#define FBP_INNER static FBP_ATTR inline

/* ---------------------------------------------------------- narrow-layer products
 * Sums over the samples run in FBP_SUM_LANES interleaved partial sums (lane l
 * takes samples l, l + LANES, ...), reduced pairwise at the end in a fixed
 * order (loops.h, "Rounding"). */

/* lanes[l] += lanes[l + 16], then + 8, + 4, + 2, + 1 */
FBP_INNER real FBP_FN(fbp_reduce_lanes)(real *lanes)
{
    for (int half = FBP_SUM_LANES / 2; half >= 2; half /= 2)
        for (int l = 0; l < half; l++)
            lanes[l] = lanes[l] + lanes[l + half];
    return lanes[0] + lanes[1];
}

/* np.dot(a, b) */
FBP_LOOP real FBP_FN(fbp_dot)(const real *a, const real *b, ptrdiff_t size)
{
    real lanes[FBP_SUM_LANES];
    ptrdiff_t tail = size - size % FBP_SUM_LANES;
    for (int l = 0; l < FBP_SUM_LANES; l++)
        lanes[l] = 0;
    for (ptrdiff_t i = 0; i < tail; i += FBP_SUM_LANES)
        for (int l = 0; l < FBP_SUM_LANES; l++)
            lanes[l] = lanes[l] + a[i + l] * b[i + l];
    for (ptrdiff_t i = tail; i < size; i++)
        lanes[i - tail] = lanes[i - tail] + a[i] * b[i];
    return FBP_FN(fbp_reduce_lanes)(lanes);
}

/* out_a = np.dot(shared, a); out_b = np.dot(shared, b): dot's sums, two at a time */
FBP_LOOP void FBP_FN(fbp_dot2)(real *out_a, real *out_b, const real *shared, const real *a, const real *b,
                               ptrdiff_t size)
{
    real lanes_a[FBP_SUM_LANES], lanes_b[FBP_SUM_LANES];
    ptrdiff_t tail = size - size % FBP_SUM_LANES;
    for (int l = 0; l < FBP_SUM_LANES; l++)
        lanes_a[l] = lanes_b[l] = 0;
    for (ptrdiff_t i = 0; i < tail; i += FBP_SUM_LANES)
        for (int l = 0; l < FBP_SUM_LANES; l++) {
            lanes_a[l] = lanes_a[l] + shared[i + l] * a[i + l];
            lanes_b[l] = lanes_b[l] + shared[i + l] * b[i + l];
        }
    for (ptrdiff_t i = tail; i < size; i++) {
        lanes_a[i - tail] = lanes_a[i - tail] + shared[i] * a[i];
        lanes_b[i - tail] = lanes_b[i - tail] + shared[i] * b[i];
    }
    *out_a = FBP_FN(fbp_reduce_lanes)(lanes_a);
    *out_b = FBP_FN(fbp_reduce_lanes)(lanes_b);
}

/* np.sum(a), in the partial sums of dot */
FBP_LOOP real FBP_FN(fbp_total)(const real *a, ptrdiff_t size)
{
    real lanes[FBP_SUM_LANES];
    ptrdiff_t tail = size - size % FBP_SUM_LANES;
    for (int l = 0; l < FBP_SUM_LANES; l++)
        lanes[l] = 0;
    for (ptrdiff_t i = 0; i < tail; i += FBP_SUM_LANES)
        for (int l = 0; l < FBP_SUM_LANES; l++)
            lanes[l] = lanes[l] + a[i + l];
    for (ptrdiff_t i = tail; i < size; i++)
        lanes[i - tail] = lanes[i - tail] + a[i];
    return FBP_FN(fbp_reduce_lanes)(lanes);
}

/* out = sum over j of columns[j] * weights[j], then + bias, added in j order
 * from 0, four columns a sweep over the samples: the rounding of the
 * column-by-column loop, with a quarter of its loads and stores of out. */
FBP_LOOP void FBP_FN(fbp_weighted_sum)(real *out, const real *columns, ptrdiff_t ld, const real *weights,
                                       ptrdiff_t weight_stride, real bias, ptrdiff_t J, ptrdiff_t n)
{
    ptrdiff_t j = 0;
    for (; J - j > 4; j += 4) {
        const real *c0 = columns + j * ld, *c1 = c0 + ld, *c2 = c1 + ld, *c3 = c2 + ld;
        real w0 = weights[j * weight_stride], w1 = weights[(j + 1) * weight_stride];
        real w2 = weights[(j + 2) * weight_stride], w3 = weights[(j + 3) * weight_stride];
        if (j == 0)
            for (ptrdiff_t i = 0; i < n; i++)
                out[i] = ((((real)0 + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3;
        else
            for (ptrdiff_t i = 0; i < n; i++)
                out[i] = (((out[i] + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3;
    }
    /* the last 1 to 4 columns, then the bias; a sweep that starts from 0 when j == 0 */
    {
        const ptrdiff_t m = J - j;
        const real *c0 = columns + j * ld;
        const real *c1 = columns + (j + (m > 1 ? 1 : 0)) * ld;
        const real *c2 = columns + (j + (m > 2 ? 2 : 0)) * ld;
        const real *c3 = columns + (j + (m > 3 ? 3 : 0)) * ld;
        real w0 = weights[j * weight_stride];
        real w1 = weights[(j + (m > 1 ? 1 : 0)) * weight_stride];
        real w2 = weights[(j + (m > 2 ? 2 : 0)) * weight_stride];
        real w3 = weights[(j + (m > 3 ? 3 : 0)) * weight_stride];
        const int from_zero = j == 0;
        if (m == 1)
            for (ptrdiff_t i = 0; i < n; i++)
                out[i] = ((from_zero ? (real)0 : out[i]) + c0[i] * w0) + bias;
        else if (m == 2)
            for (ptrdiff_t i = 0; i < n; i++)
                out[i] = (((from_zero ? (real)0 : out[i]) + c0[i] * w0) + c1[i] * w1) + bias;
        else if (m == 3)
            for (ptrdiff_t i = 0; i < n; i++)
                out[i] = ((((from_zero ? (real)0 : out[i]) + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + bias;
        else
            for (ptrdiff_t i = 0; i < n; i++)
                out[i] = (((((from_zero ? (real)0 : out[i]) + c0[i] * w0) + c1[i] * w1) + c2[i] * w2)
                          + c3[i] * w3) + bias;
    }
}

/* ---------------------------------------------------------- element-wise layer loops
 * The loops of the layer kernels of the same names (layers.pxd), in the order
 * of operations of the NumPy lines quoted there. */

FBP_LOOP void FBP_FN(fbp_tanh_backward)(real *dz, const real *dout, const real *a, ptrdiff_t size)
{
    for (ptrdiff_t i = 0; i < size; i++)
        dz[i] = dout[i] * ((real)1 - a[i] * a[i]);
}

FBP_LOOP void FBP_FN(fbp_sigmoid_backward)(real *dz, const real *dout, const real *a, ptrdiff_t size)
{
    for (ptrdiff_t i = 0; i < size; i++)
        dz[i] = dout[i] * (a[i] * ((real)1 - a[i]));
}

FBP_LOOP void FBP_FN(fbp_relu_forward)(real *a, const real *z, ptrdiff_t size)
{
    for (ptrdiff_t i = 0; i < size; i++)
        a[i] = z[i] > (real)0 ? z[i] : (real)0;
}

FBP_LOOP void FBP_FN(fbp_relu_backward)(real *dz, const real *dout, const real *a, ptrdiff_t size)
{
    for (ptrdiff_t i = 0; i < size; i++)
        dz[i] = dout[i] * (a[i] > (real)0 ? (real)1 : (real)0);
}

/* out = z.max(axis=1) */
FBP_INNER void FBP_FN(fbp_row_max)(real *out, const real *z, ptrdiff_t n, ptrdiff_t C)
{
    for (ptrdiff_t i = 0; i < n; i++)
        out[i] = z[i];
    for (ptrdiff_t c = 1; c < C; c++)
        for (ptrdiff_t i = 0; i < n; i++)
            if (z[c * n + i] > out[i])
                out[i] = z[c * n + i];
}

FBP_LOOP void FBP_FN(fbp_softmax_forward_two)(real *probs, const real *z, real *scratch, ptrdiff_t n)
{
    const real *z0 = z, *z1 = z + n;
    for (ptrdiff_t i = 0; i < n; i++)
        scratch[i] = z0[i] >= z1[i] ? -(z0[i] - z1[i]) : -(z1[i] - z0[i]);
    VEXP(scratch, scratch, n);
    for (ptrdiff_t i = 0; i < n; i++) {
        real e = scratch[i];
        real larger = (real)1 / ((real)1 + e);
        int second_larger = z1[i] > z0[i];
        real p0 = second_larger ? e * larger : larger;
        real p1 = second_larger ? larger : e * larger;
        probs[i] = p0;
        probs[n + i] = p1;
    }
}

FBP_LOOP void FBP_FN(fbp_softmax_forward)(real *probs, const real *z, real *scratch, ptrdiff_t n, ptrdiff_t C)
{
    FBP_FN(fbp_row_max)(scratch, z, n, C);
    for (ptrdiff_t c = 0; c < C; c++)
        for (ptrdiff_t i = 0; i < n; i++)
            probs[c * n + i] = z[c * n + i] - scratch[i];
    VEXP(probs, probs, n * C);
    for (ptrdiff_t i = 0; i < n; i++)
        scratch[i] = probs[i];
    for (ptrdiff_t c = 1; c < C; c++)
        for (ptrdiff_t i = 0; i < n; i++)
            scratch[i] = scratch[i] + probs[c * n + i];
    for (ptrdiff_t c = 0; c < C; c++)
        for (ptrdiff_t i = 0; i < n; i++)
            probs[c * n + i] = probs[c * n + i] / scratch[i];
}

FBP_LOOP void FBP_FN(fbp_softmax_cross_entropy_backward)(real *delta, const real *probs, const ptrdiff_t *y,
                                                         ptrdiff_t n, ptrdiff_t C)
{
    for (ptrdiff_t c = 0; c < C; c++)
        for (ptrdiff_t i = 0; i < n; i++)
            delta[c * n + i] = probs[c * n + i] - (y[i] == c ? (real)1 : (real)0);
}

FBP_LOOP double FBP_FN(fbp_cross_entropy_loss)(const real *z, const ptrdiff_t *y, real *scratch, ptrdiff_t n,
                                               ptrdiff_t C)
{
    real *maxima = scratch + n * C;
    double loss = 0.0;
    FBP_FN(fbp_row_max)(maxima, z, n, C);
    for (ptrdiff_t c = 0; c < C; c++)
        for (ptrdiff_t i = 0; i < n; i++)
            scratch[c * n + i] = z[c * n + i] - maxima[i];
    VEXP(scratch, scratch, n * C);
    for (ptrdiff_t i = 0; i < n; i++) {
        real row_total = scratch[i];
        for (ptrdiff_t c = 1; c < C; c++)
            row_total = row_total + scratch[c * n + i];
        loss = loss + (log((double)row_total) - (double)(z[y[i] * n + i] - maxima[i]));
    }
    return loss;
}

FBP_LOOP void FBP_FN(fbp_sgd_update)(real *param, real *dparam, real epsilon, real reg_lambda, ptrdiff_t size)
{
    for (ptrdiff_t i = 0; i < size; i++) {
        dparam[i] = dparam[i] + reg_lambda * param[i];
        param[i] = param[i] + (-epsilon) * dparam[i];
    }
}

/* sums[i] = ((sums[i] + sums[stride + i]) + sums[2 * stride + i]) + ...: the
 * gradients of num_slabs slabs, buffers stride reals apart, added in slab
 * order into the first, for i < size (the driver's passes.network_gradient) */
FBP_LOOP void FBP_FN(fbp_add_slabs)(real *sums, ptrdiff_t stride, ptrdiff_t num_slabs, ptrdiff_t size)
{
    for (ptrdiff_t s = 1; s < num_slabs; s++) {
        const real *other = sums + s * stride;
        for (ptrdiff_t i = 0; i < size; i++)
            sums[i] = sums[i] + other[i];
    }
}

#undef FBP_INNER
#undef FBP_LOOP
#undef FBP_FN
#undef FBP_SUFFIX
#undef FBP_ATTR
#undef real
#undef VEXP
