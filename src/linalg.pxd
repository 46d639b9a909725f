# Matrix products: BLAS for the wide ones, plain loops for the skinny ones.
#
# Per-sample arrays are feature-major, (n,K)^T: in BLAS's column-major terms
# an n-by-K matrix with leading dimension ld (ld = n for a block of the
# workspace, ld = N for a block of rows of X). A weight matrix W (J,K) stored
# row-major is, to BLAS, the K-by-J matrix W^T.
#
# dgemm comes from SciPy's BLAS (scipy.linalg.cython_blas), loaded on the first
# training call that needs it rather than at import: importing scipy.linalg
# costs a quarter of a second, which `import fastbp` and the lecture's small
# networks should not pay.

from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer

ctypedef void (*Dgemm)(char *transa, char *transb, int *m, int *n, int *k, double *alpha,
                       double *a, int *lda, double *b, int *ldb, double *beta, double *c,
                       int *ldc) noexcept nogil

# One pointer per extension module that cimports this file, bound by load_blas.
cdef extern from *:
    """
    static void *fastbp_dgemm = 0;
    """
    void *fastbp_dgemm

# A product goes to BLAS when both dimensions of its weight matrix are at least
# this wide. Below it, BLAS's packing costs more than the product: with J = 2
# (the moons' two inputs) OpenBLAS reaches 0.3 GFLOP/s, while a loop over the
# samples streams through the block at the speed of the cache. Chosen by
# measurement (bench/bench_kernels.py); the choice depends on the shape only,
# so a given network always takes the same path.
cdef enum:
    MIN_BLAS_WIDTH = 8


cdef inline bint use_blas(Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    return J >= MIN_BLAS_WIDTH and K >= MIN_BLAS_WIDTH


cdef inline void load_blas() except *:
    # binds dgemm from SciPy's BLAS, once
    global fastbp_dgemm
    if fastbp_dgemm == NULL:
        from scipy.linalg import cython_blas
        capsule = cython_blas.__pyx_capi__["dgemm"]
        fastbp_dgemm = PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))


cdef inline void gemm(char transa, char transb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      const double *a, Py_ssize_t lda, const double *b, Py_ssize_t ldb,
                      double beta, double *c, Py_ssize_t ldc) noexcept nogil:
    # c = op(a).dot(op(b)) + beta * c, column-major; the trainer refuses sizes
    # beyond BLAS's 32-bit integers
    cdef int m_ = <int> m, n_ = <int> n, k_ = <int> k
    cdef int lda_ = <int> lda, ldb_ = <int> ldb, ldc_ = <int> ldc
    cdef double alpha = 1.0
    (<Dgemm> fastbp_dgemm)(&transa, &transb, &m_, &n_, &k_, &alpha, <double *> a, &lda_, <double *> b, &ldb_,
          &beta, c, &ldc_)


# Sums over the samples run in LANES interleaved partial sums (lane l takes
# samples l, l + LANES, ...), reduced pairwise at the end in a fixed order. One
# running sum would wait on the adder's latency at every sample; LANES = 32 is
# four AVX-512 registers, eight AVX2 ones, sixteen SSE2 ones, and the compiler
# vectorises the lanes without reordering any sum (no -ffast-math needed), so
# every vector width adds the same numbers in the same order. The order differs
# from BLAS's own blocking only in the last bits (KERNEL_RTOL in the tests).
cdef enum:
    LANES = 32


cdef inline double reduce_lanes(double *lanes) noexcept nogil:
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


cdef inline double dot(const double *a, const double *b, Py_ssize_t size) noexcept nogil:
    # np.dot(a, b), in LANES partial sums
    cdef double lanes[LANES]
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


cdef inline void dot2(double *out_a, double *out_b,
                      const double *shared, const double *a, const double *b,
                      Py_ssize_t size) noexcept nogil:
    # out_a = np.dot(shared, a); out_b = np.dot(shared, b): the sums of dot, two
    # at a time, so that shared is loaded once for both
    cdef double lanes_a[LANES]
    cdef double lanes_b[LANES]
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


cdef inline double total(const double *a, Py_ssize_t size) noexcept nogil:
    # np.sum(a), in the partial sums of dot
    cdef double lanes[LANES]
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


cdef inline void sweep_four(double *out, const double *c0, const double *c1, const double *c2, const double *c3,
                            double w0, double w1, double w2, double w3, bint start_from_zero,
                            Py_ssize_t n) noexcept nogil:
    # out = (((out or 0) + c0 * w0) + c1 * w1) + c2 * w2) + c3 * w3, sample by sample
    cdef Py_ssize_t i
    if start_from_zero:
        for i in range(n):
            out[i] = (((0.0 + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3
    else:
        for i in range(n):
            out[i] = (((out[i] + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3


cdef inline void sweep_last(double *out, const double **c, const double *w, Py_ssize_t m,
                            bint start_from_zero, double bias, Py_ssize_t n) noexcept nogil:
    # out = ((out or 0) + c[0] * w[0] + ... + c[m-1] * w[m-1]) + bias, added left to right, 1 <= m <= 4
    cdef Py_ssize_t i
    cdef double s
    cdef const double *c0 = c[0]
    cdef const double *c1 = c[1]
    cdef const double *c2 = c[2]
    cdef const double *c3 = c[3]
    cdef double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3]
    if m == 1:
        for i in range(n):
            s = 0.0 if start_from_zero else out[i]
            out[i] = (s + c0[i] * w0) + bias
    elif m == 2:
        for i in range(n):
            s = 0.0 if start_from_zero else out[i]
            out[i] = ((s + c0[i] * w0) + c1[i] * w1) + bias
    elif m == 3:
        for i in range(n):
            s = 0.0 if start_from_zero else out[i]
            out[i] = (((s + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + bias
    else:
        for i in range(n):
            s = 0.0 if start_from_zero else out[i]
            out[i] = ((((s + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3) + bias


cdef inline void weighted_sum(double *out,              # OUT (n,)
                              const double *columns,    # IN  J columns (n,), ld apart
                              Py_ssize_t ld,
                              const double *weights,    # IN  J weights, weight_stride apart
                              Py_ssize_t weight_stride,
                              double bias,
                              Py_ssize_t J, Py_ssize_t n) noexcept nogil:
    # out = sum over j of columns[j] * weights[j], then + bias, added in j order
    # from 0, four columns a pass over the samples: the rounding of the
    # column-by-column loop, with a quarter of its loads and stores of out.
    cdef const double *last[COLUMNS_PER_SWEEP]
    cdef double last_weights[COLUMNS_PER_SWEEP]
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
