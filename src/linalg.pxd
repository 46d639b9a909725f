# Products of the skinny layers: plain loops in a fixed order, and the
# dispatch between them and the register-tiled products of the wide layers
# (products.pxd, src/products.h).
#
# Per-sample arrays are feature-major, (n,K)^T: feature k's n samples are
# contiguous. Every function here exists for float and double (precision.pxd);
# the sums run in the arrays' precision, as NumPy's sums do.

from precision cimport real

# A layer takes the tiled products when its weight matrix has at least this
# many weights. A tile of the tiled products holds 4-6 outputs by 8-32 samples
# in registers; on a smaller matrix most of each tile is wasted, and the loops
# here, which stream through the block one output at a time, are as fast or
# faster. Measured (bench/bench_kernels.py --products, 256 rows, AVX-512, in
# GFLOP/s, forward / weight gradient, loops against tiles): 2 x 3: 2.4 / 2.7
# against 2.2 / 2.2; 2 x 8 and 4 x 4: even; 2 x 16: 6.0 / 4.9 against
# 6.1 / 6.3; 2 x 64: 4.8 / 3.8 against 7.2 / 9.4; 20 x 256: 14 / 6.8 against
# 64 / 31. The lecture's network (2 inputs, 3 hidden units, 2 classes) stays on
# the loops. The choice depends on the shape only, so a given network always
# takes the same path.
cdef enum:
    MIN_TILED_WEIGHTS = 32


cdef inline bint use_tiles(Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    return J * K >= MIN_TILED_WEIGHTS


# Sums over the samples run in LANES interleaved partial sums (lane l takes
# samples l, l + LANES, ...), reduced pairwise at the end in a fixed order. One
# running sum would wait on the adder's latency at every sample; LANES = 32 is
# four AVX-512 registers, eight AVX2 ones, sixteen SSE2 ones, and the compiler
# vectorises the lanes without reordering any sum (no -ffast-math needed), so
# every vector width adds the same numbers in the same order. The order differs
# from NumPy's (BLAS's) own blocking only in the last bits (KERNEL_RTOL in the tests).
cdef enum:
    LANES = 32


cdef inline real reduce_lanes(real *lanes) noexcept nogil:
    # lanes[l] += lanes[l + 16], then + 8, + 4, + 2, + 1: a fixed pairwise order,
    # each step a loop of constant length that the compiler vectorises
    cdef int l
    for l in range(16):
        lanes[l] = lanes[l] + lanes[l + 16]
    for l in range(8):
        lanes[l] = lanes[l] + lanes[l + 8]
    for l in range(4):
        lanes[l] = lanes[l] + lanes[l + 4]
    for l in range(2):
        lanes[l] = lanes[l] + lanes[l + 2]
    return lanes[0] + lanes[1]


cdef inline real dot(const real *a, const real *b, Py_ssize_t size) noexcept nogil:
    # np.dot(a, b), in LANES partial sums
    cdef real lanes[LANES]
    cdef Py_ssize_t chunk, l, i, tail = size - size % LANES
    for l in range(LANES):
        lanes[l] = 0.0
    for chunk in range(size // LANES):
        i = chunk * LANES
        for l in range(LANES):
            lanes[l] = lanes[l] + a[i + l] * b[i + l]
    for i in range(tail, size):
        lanes[i - tail] = lanes[i - tail] + a[i] * b[i]
    return reduce_lanes(lanes)


cdef inline void dot2(real *out_a, real *out_b,
                      const real *shared, const real *a, const real *b,
                      Py_ssize_t size) noexcept nogil:
    # out_a = np.dot(shared, a); out_b = np.dot(shared, b): the sums of dot, two
    # at a time, so that shared is loaded once for both
    cdef real lanes_a[LANES]
    cdef real lanes_b[LANES]
    cdef Py_ssize_t chunk, l, i, tail = size - size % LANES
    for l in range(LANES):
        lanes_a[l] = 0.0
        lanes_b[l] = 0.0
    for chunk in range(size // LANES):
        i = chunk * LANES
        for l in range(LANES):
            lanes_a[l] = lanes_a[l] + shared[i + l] * a[i + l]
            lanes_b[l] = lanes_b[l] + shared[i + l] * b[i + l]
    for i in range(tail, size):
        lanes_a[i - tail] = lanes_a[i - tail] + shared[i] * a[i]
        lanes_b[i - tail] = lanes_b[i - tail] + shared[i] * b[i]
    out_a[0] = reduce_lanes(lanes_a)
    out_b[0] = reduce_lanes(lanes_b)


cdef inline real total(const real *a, Py_ssize_t size) noexcept nogil:
    # np.sum(a), in the partial sums of dot
    cdef real lanes[LANES]
    cdef Py_ssize_t chunk, l, i, tail = size - size % LANES
    for l in range(LANES):
        lanes[l] = 0.0
    for chunk in range(size // LANES):
        i = chunk * LANES
        for l in range(LANES):
            lanes[l] = lanes[l] + a[i + l]
    for i in range(tail, size):
        lanes[i - tail] = lanes[i - tail] + a[i]
    return reduce_lanes(lanes)


cdef enum:
    COLUMNS_PER_SWEEP = 4


cdef inline void sweep_four(real *out, const real *c0, const real *c1, const real *c2, const real *c3,
                            real w0, real w1, real w2, real w3, bint start_from_zero,
                            Py_ssize_t n) noexcept nogil:
    # out = (((out or 0) + c0 * w0) + c1 * w1) + c2 * w2) + c3 * w3, sample by sample
    cdef Py_ssize_t i
    cdef real zero = 0
    if start_from_zero:
        for i in range(n):
            out[i] = (((zero + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3
    else:
        for i in range(n):
            out[i] = (((out[i] + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3


cdef inline void sweep_last(real *out, const real **c, const real *w, Py_ssize_t m,
                            bint start_from_zero, real bias, Py_ssize_t n) noexcept nogil:
    # out = ((out or 0) + c[0] * w[0] + ... + c[m-1] * w[m-1]) + bias, added left to right, 1 <= m <= 4
    cdef Py_ssize_t i
    cdef real s, zero = 0
    cdef const real *c0 = c[0]
    cdef const real *c1 = c[1]
    cdef const real *c2 = c[2]
    cdef const real *c3 = c[3]
    cdef real w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3]
    if m == 1:
        for i in range(n):
            s = zero if start_from_zero else out[i]
            out[i] = (s + c0[i] * w0) + bias
    elif m == 2:
        for i in range(n):
            s = zero if start_from_zero else out[i]
            out[i] = ((s + c0[i] * w0) + c1[i] * w1) + bias
    elif m == 3:
        for i in range(n):
            s = zero if start_from_zero else out[i]
            out[i] = (((s + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + bias
    else:
        for i in range(n):
            s = zero if start_from_zero else out[i]
            out[i] = ((((s + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3) + bias


cdef inline void weighted_sum(real *out,                # OUT (n,)
                              const real *columns,      # IN  J columns (n,), ld apart
                              Py_ssize_t ld,
                              const real *weights,      # IN  J weights, weight_stride apart
                              Py_ssize_t weight_stride,
                              real bias,
                              Py_ssize_t J, Py_ssize_t n) noexcept nogil:
    # out = sum over j of columns[j] * weights[j], then + bias, added in j order
    # from 0, four columns a pass over the samples: the rounding of the
    # column-by-column loop, with a quarter of its loads and stores of out.
    cdef const real *last[COLUMNS_PER_SWEEP]
    cdef real last_weights[COLUMNS_PER_SWEEP]
    cdef Py_ssize_t j = 0, c, m
    while J - j > COLUMNS_PER_SWEEP:
        sweep_four(out, columns + j * ld, columns + (j + 1) * ld, columns + (j + 2) * ld, columns + (j + 3) * ld,
                   weights[j * weight_stride], weights[(j + 1) * weight_stride],
                   weights[(j + 2) * weight_stride], weights[(j + 3) * weight_stride], j == 0, n)
        j = j + COLUMNS_PER_SWEEP
    m = J - j
    for c in range(COLUMNS_PER_SWEEP):
        last[c] = columns + (j + min(c, m - 1)) * ld
        last_weights[c] = weights[(j + min(c, m - 1)) * weight_stride]
    sweep_last(out, last, last_weights, m, j == 0, bias, n)
