# layout.pxi -- X into the kernels' layout: defines row_stride (how far apart
# feature_major's feature rows lie, layers.feature_stride) and feature_major
# (X (N,D) -> X.T, each feature's row on a cache line), a blocked copy on the
# threads.

cdef enum:
    # Rows per block of the copy: a block of X (TRANSPOSE_ROWS * D values) stays
    # in the cache while its D feature rows are written out, each a contiguous run.
    TRANSPOSE_ROWS = 256
    # Below this many values the copy stays on one thread (a copy this small
    # takes about the time of starting the second one).
    MIN_PARALLEL_TRANSPOSE = 65536


def row_stride(Py_ssize_t N, Py_ssize_t itemsize):
    """The reals from one feature's row of feature_major's X of N samples to
    the next (layers.feature_stride: padded where the rows would alias in the
    cache)."""
    return feature_stride(N, itemsize)


cdef void transpose_block(real *out,          # OUT (N,D)^T, feature rows ld apart; rows start..stop-1 written
                          const real *X,      # IN  (N,D), row-major
                          Py_ssize_t N, Py_ssize_t D, Py_ssize_t ld,
                          Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    # out[d*ld + i] = X[i*D + d]
    cdef Py_ssize_t i, d
    for d in range(D):
        for i in range(start, stop):
            out[d * ld + i] = X[i * D + d]


cdef void transpose_rows(real *out, const real *X, Py_ssize_t N, Py_ssize_t D, Py_ssize_t ld,
                         int num_threads) noexcept nogil:
    cdef Py_ssize_t block, copy_blocks = (N + TRANSPOSE_ROWS - 1) // TRANSPOSE_ROWS
    if num_threads > 1 and N * D >= MIN_PARALLEL_TRANSPOSE:
        for block in prange(copy_blocks, nogil=True, num_threads=num_threads, schedule="static"):
            transpose_block(out, X, N, D, ld, block * TRANSPOSE_ROWS, min(N, (block + 1) * TRANSPOSE_ROWS))
    else:
        for block in range(copy_blocks):
            transpose_block(out, X, N, D, ld, block * TRANSPOSE_ROWS, min(N, (block + 1) * TRANSPOSE_ROWS))


def feature_major(X, int num_threads):
    """X (N,D), a C-contiguous float32 or float64 array -> X.T as a (D, ld)
    C-contiguous array of its dtype, ld = row_stride(N): the kernels'
    layout, each feature's N samples starting a row (on a cache line,
    aligned_empty), the ld - N reals after them zero and never read.
    ``out[:, :N]`` holds the values of X.T. Copied in blocks of rows on up to
    num_threads threads (a blocked copy keeps the rows it reads in the cache,
    where NumPy's strided copy does not)."""
    if not isinstance(X, np.ndarray) or X.dtype not in DTYPES or X.ndim != 2 or not X.flags.c_contiguous:
        raise TypeError("X must be a C-contiguous 2-D float32 or float64 NumPy array")
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1]
    cdef Py_ssize_t ld = feature_stride(N, X.dtype.itemsize)
    out = aligned_empty(D * ld, X.dtype).reshape(D, ld)
    out[:, N:] = 0
    if N * D == 0:
        return out
    _copy_transposed(out.reshape(-1), X, ld, num_threads)
    return out


def _copy_transposed(real[::1] out, const real[:, ::1] X, Py_ssize_t ld, int num_threads):
    # out = X.T, feature rows ld apart: the fused copy of feature_major (one per precision)
    with nogil:
        transpose_rows(&out[0], &X[0, 0], X.shape[0], X.shape[1], ld, num_threads)
