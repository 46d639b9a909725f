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
    # (lanes[0] + lanes[16]) ... in halving steps: a fixed pairwise order
    cdef int width, l
    width = LANES // 2
    while width > 0:
        for l in range(width):
            lanes[l] = lanes[l] + lanes[l + width]
        width = width // 2
    return lanes[0]


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


cdef inline void add_scaled_columns(double *out,              # IN/OUT (n,)
                                    const double *columns,    # IN (n,) columns, ld apart
                                    Py_ssize_t ld,
                                    const double *weights,    # IN one weight per column,
                                    Py_ssize_t weight_stride,  # weight_stride apart
                                    Py_ssize_t num_columns, Py_ssize_t n) noexcept nogil:
    # for c in range(num_columns): out += columns[c] * weights[c], in that order.
    # Four columns per sweep, each sample's sum still added column by column:
    # the same rounding as four sweeps, a quarter of the loads and stores of out.
    cdef Py_ssize_t i, c, tail = num_columns - num_columns % 4
    cdef const double *c0
    cdef const double *c1
    cdef const double *c2
    cdef const double *c3
    cdef double w0, w1, w2, w3
    for c in range(0, tail, 4):
        c0 = columns + c * ld
        c1 = c0 + ld
        c2 = c1 + ld
        c3 = c2 + ld
        w0 = weights[c * weight_stride]
        w1 = weights[(c + 1) * weight_stride]
        w2 = weights[(c + 2) * weight_stride]
        w3 = weights[(c + 3) * weight_stride]
        for i in range(n):
            out[i] = (((out[i] + c0[i] * w0) + c1[i] * w1) + c2[i] * w2) + c3[i] * w3
    for c in range(tail, num_columns):
        c0 = columns + c * ld
        w0 = weights[c * weight_stride]
        for i in range(n):
            out[i] = out[i] + c0[i] * w0
