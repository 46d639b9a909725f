# workspace.pxi -- the workspace of one training (or inference) call: defines
# workspace_t (the one struct the compiled loops read: X, y, the layer sizes,
# the block partition, every buffer, the threads and the dispatch path), its
# accessors (num_blocks, slabs_over, num_slabs, first_block, rows_in_block, thread_outputs,
# thread_deltas, thread_scratch, thread_lanes, thread_pack, slab_grads), and the sizing
# rules: block_rows_for, workspace_block_rows, workspace_buffers (every buffer's length, the one
# source of both the allocation in _driver.Workspace and workspace_bytes, which
# the trainer's memory guard asks for), aligned_empty.
#
# A full-batch pass streams the samples through the network in blocks of
# block_rows rows: forward, softmax, delta and backward for one block while its
# activations are in cache, the gradients accumulated block after block. The
# working memory is a few blocks' worth, whatever N is.
#
# Reproducibility across thread counts: the blocks are grouped into at most
# MAX_SLABS consecutive slabs, a partition fixed by the number of rows and the
# layer sizes only. Each slab sums its blocks' gradients, in block order, into
# its own buffer; the slabs' sums are then added in slab order. Threads take
# whole slabs, so any number of threads adds the same numbers in the same
# order: bit-identical results. Which thread takes which slab does not matter,
# so threads take the next free slab (OpenMP's dynamic schedule): where one
# core is slowed for a while, the other takes more slabs instead of waiting
# for it at the end of the pass.
#
# The sizes below are rules with their reasons; bench/bench_kernels.py times
# the passes they shape (its results: bench/results/).

cdef enum:
    MAX_SLABS = 16
# A block's activations and deltas (block_rows * units * 2 reals) are kept
# near BLOCK_BYTES, so that they stay in the per-core L2 cache between the
# forward and the backward sweep; within that, blocks are small enough that
# the rows fill the MAX_SLABS slabs (so that threads share the work evenly),
# but never below MIN_BLOCK_ROWS rows (the lecture's 200 samples stay one
# block). Over a wide range of block sizes the passes' speed changes little;
# the bound is there for very wide layers, whose blocks would leave the cache.
BLOCK_BYTES = 512 * 1024
MIN_BLOCK_ROWS = 256
# A packed layer (gemm.h) copies its weights into panels once per block, and
# adds its weight gradient into the gradient once per block: on a block of a
# few dozen rows those copies take longer than the products. Where a layer is
# packed, blocks hold at least this many rows (when the data has them),
# whatever their activations' size: the packed products block for the
# caches themselves. bench/bench_kernels.py times the passes of such a
# network for several block sizes.
PACKED_BLOCK_ROWS = 512
# Blocks hold a whole number of the products' widest column of samples (an
# AVX-512 tile: 4 vectors of 64 bytes), so that no block ends in narrow
# remainder columns, whose few accumulators leave the FMA units idle; every
# buffer starts on a cache line (aligned_empty), so that no 64-byte vector
# load straddles two lines.
TILE_BYTES = 256
CACHE_LINE = 64
# Nor is a block's row (one feature's samples) a whole number of 4 KiB pages
# long: then every row of a tile starts at the same offset in its page, so the
# rows share the same few L1 sets, and a tile's loads wait on the previous
# tile's stores to the same page offset (4K aliasing).
PAGE_BYTES = 4096
# Below this many multiply-adds per pass (or minibatch step), work stays on
# one thread: a shorter pass takes about the time of the fork and join it
# would pay for. The threads wait passively between passes (they sleep,
# rather than spin against a busy neighbour), so waking the second one costs
# 60-80 us a pass on the development VM. Measured, 2-H-2 networks on N rows,
# one thread against two (wall clock, medians of 5): from 12 000 to 128 000
# multiply-adds a pass two threads took 1.6-4x as long; at 240 000-320 000
# they were 1.06-1.3x faster; from 1.3 million, 1.4-1.8x.
MIN_PARALLEL_WORK = 250_000


ctypedef struct workspace_t:
    Py_ssize_t num_layers         # L
    const Py_ssize_t *sizes       # (L+1,) D, H1, ..., C
    const Py_ssize_t *weight_offsets  # (L,) where Wl starts in the flat parameters
    const Py_ssize_t *bias_offsets    # (L,) where bl starts
    const Py_ssize_t *unit_offsets    # (L,) where layer l's outputs start, in units
    Py_ssize_t num_weights        # every weight, then every bias: num_params in all
    Py_ssize_t num_params
    Py_ssize_t units              # H1 + ... + C
    Py_ssize_t N                  # training rows
    Py_ssize_t batch_size         # B: N for full batches
    const void *X                 # (N,D)^T reals, feature-major, feature rows ld_X apart
    Py_ssize_t ld_X               # layout.feature_stride(N) for feature_major's X; N for a flat X.T
    const void *X_rows            # (N,D) reals, sample-major: the minibatches' source (gather_batch)
    const Py_ssize_t *y           # (N,) labels
    void *X_batch                 # (B,D)^T: the minibatch's rows (minibatches only), feature rows ld_batch apart
    Py_ssize_t ld_batch           # layers.feature_stride(B)
    Py_ssize_t *y_batch           # (B,)
    Py_ssize_t block_rows
    Py_ssize_t parallel_rows      # row counts from this up use num_threads
    int num_threads
    int path                      # src/dispatch.h's FASTBP_PATH_*: the target every kernel runs
    Activation activation
    Py_ssize_t itemsize           # 4 (float) or 8 (double): the buffers hold reals
    void *outputs                 # (num_threads, block_rows * units): each layer's (n,K)^T
    void *deltas                  # same layout: the gradient at each layer's pre-activation
    void *scratch                 # (num_threads, block_rows * (C + 1))
    # the partial sums of the tiled layers' weight gradients (layers.dense_backward),
    # for the layers that carry them (gemm.carries_lanes), one after the other:
    void *lanes                   # (num_threads, lane_weights * lanes_per_weight)
    Py_ssize_t lane_weights       # the weights of those layers
    Py_ssize_t lanes_per_weight   # tiled_products.lanes_of: 8 (double) or 16 (float)
    void *pack                    # (num_threads, FBP_GEMM_PACK_ELEMENTS): the packed products' panels (gemm.h)
    void *pack_shared             # (pack_shared_elements,): a packed product's B, shared by its threads (gemm.h)
    Py_ssize_t pack_shared_elements
    void *slab_grads              # (num_slabs(N), num_params)
    double *slab_losses           # (MAX_SLABS,): losses are summed in double (layers.cross_entropy_loss)


cdef inline Py_ssize_t num_blocks(const workspace_t *ws, Py_ssize_t rows) noexcept nogil:
    return (rows + ws.block_rows - 1) // ws.block_rows


cdef inline Py_ssize_t slabs_over(Py_ssize_t rows, Py_ssize_t block_rows) noexcept nogil:
    # the slabs of a pass over rows rows: one per block, at most MAX_SLABS; the one rule
    # both the passes (num_slabs) and the slab buffers' size (workspace_buffers) follow
    return min((rows + block_rows - 1) // block_rows, MAX_SLABS)


cdef inline Py_ssize_t num_slabs(const workspace_t *ws, Py_ssize_t rows) noexcept nogil:
    return slabs_over(rows, ws.block_rows)


cdef inline Py_ssize_t first_block(const workspace_t *ws, Py_ssize_t slab, Py_ssize_t rows) noexcept nogil:
    # slab s holds blocks first_block(s) .. first_block(s + 1) - 1
    return slab * num_blocks(ws, rows) // num_slabs(ws, rows)


cdef inline Py_ssize_t rows_in_block(const workspace_t *ws, Py_ssize_t block, Py_ssize_t rows) noexcept nogil:
    return min(ws.block_rows, rows - block * ws.block_rows)


cdef inline bint in_parallel(const workspace_t *ws, Py_ssize_t rows) noexcept nogil:
    return ws.num_threads > 1 and num_slabs(ws, rows) > 1 and rows >= ws.parallel_rows


cdef inline int step_threads(const workspace_t *ws, Py_ssize_t rows) noexcept nogil:
    # The threads that share a step's minibatch gather and parameter update:
    # the workspace's where the step over these rows ran its slabs on them or
    # has the work (rows * weights multiply-adds a sweep) and the rows that make a
    # product share them (gemm.h's fbp_gemm_worth_sharing, the products' own rule); else one. A step whose
    # products all ran on this thread left the gradient in this core's cache,
    # where a second thread's chunks of the update must fetch it: at minibatches
    # of 16 of a 64-1024-20 network (87 000 weights) the shared update made
    # float32 epochs on two threads 7% slower than on one.
    cdef bint shares_products = fbp_gemm_worth_sharing(rows, rows, <double> rows * ws.num_weights)
    if in_parallel(ws, rows) or shares_products:
        return ws.num_threads
    return 1


cdef inline void *element(void *buffer, const workspace_t *ws, Py_ssize_t index) noexcept nogil:
    # &buffer[index] in a buffer of reals
    return <char *> buffer + index * ws.itemsize


cdef inline void *thread_outputs(const workspace_t *ws, int thread, Py_ssize_t layer) noexcept nogil:
    return element(ws.outputs, ws, thread * ws.block_rows * ws.units + ws.unit_offsets[layer] * ws.block_rows)


cdef inline void *thread_deltas(const workspace_t *ws, int thread, Py_ssize_t layer) noexcept nogil:
    return element(ws.deltas, ws, thread * ws.block_rows * ws.units + ws.unit_offsets[layer] * ws.block_rows)


cdef inline void *thread_scratch(const workspace_t *ws, int thread) noexcept nogil:
    return element(ws.scratch, ws, thread * ws.block_rows * (ws.sizes[ws.num_layers] + 1))


cdef inline void *thread_lanes(const workspace_t *ws, int thread, Py_ssize_t layer) noexcept nogil:
    # the layer's partial sums follow those of the layers below it that carry lanes
    cdef Py_ssize_t l, offset = thread * ws.lane_weights
    for l in range(layer):
        if carries_lanes(ws.sizes[l], ws.sizes[l + 1]):
            offset += ws.sizes[l] * ws.sizes[l + 1]
    return element(ws.lanes, ws, offset * ws.lanes_per_weight)


cdef inline void *thread_pack(const workspace_t *ws, int thread) noexcept nogil:
    # the thread's packing buffer; a product called outside the slabs' threads
    # may share its rows with the other threads, each on its own buffer (gemm.h)
    return element(ws.pack, ws, thread * FBP_GEMM_PACK_ELEMENTS)


cdef inline void *slab_grads(const workspace_t *ws, Py_ssize_t slab) noexcept nogil:
    return element(ws.slab_grads, ws, slab * ws.num_params)


# ---------------------------------------------------------------- sizing

def block_rows_for(sizes, rows, itemsize=8):
    """Rows per block: a block's activations and deltas fill about BLOCK_BYTES,
    or PACKED_BLOCK_ROWS rows where that is more and a layer packs its
    weights (network_packs_weights);
    fewer rows where that gives every slab a block, but not fewer than
    MIN_BLOCK_ROWS; a multiple of TILE_BYTES of samples per feature (32
    doubles, 64 floats: the widest tile of the products) wherever the block
    holds that many, else of 8; one tile less where a row would be a whole
    number of PAGE_BYTES; never more rows than there are. It depends on
    the layer sizes, the precision and the number of rows only, never on the
    thread count.
    """
    units = sum(sizes[1:])
    tile_rows = TILE_BYTES // itemsize
    fit_rows = BLOCK_BYTES // (2 * itemsize * units)
    if fit_rows >= tile_rows:
        cache_rows = (fit_rows + tile_rows // 2) // tile_rows * tile_rows  # the nearest multiple
    else:
        cache_rows = max(8, fit_rows // 8 * 8)
    if network_packs_weights(sizes):
        cache_rows = max(cache_rows, PACKED_BLOCK_ROWS)
    rows_per_slab = -(-rows // MAX_SLABS)
    spread_rows = -(-rows_per_slab // tile_rows) * tile_rows
    block_rows = min(cache_rows, max(MIN_BLOCK_ROWS, spread_rows))
    if block_rows * itemsize % PAGE_BYTES == 0 and block_rows > tile_rows:
        block_rows -= tile_rows
    return int(min(block_rows, rows))


# A minibatch step of a network whose layers pack their weights (gemm.h) runs
# as one block of all its rows, up to MAX_STEP_BLOCK_ROWS, whose products the
# threads share, rather than as slabs of smaller blocks, one slab to a thread:
# the slabs each pack the weights, add a gradient buffer of their own and wake
# the threads for a region of their own every step. Measured on an AMD EPYC
# guest (minibatch epochs of 4096 samples, two threads, alternating): 784-256-10
# on steps of 512 in float32 12.8-13.1 ms instead of 16.3-17.1; 256-1024-5 on
# steps of 1024, 21.8-24.0 instead of 24.8-30.8; 256-256-5, 1024, float32
# 5.8-6.4 instead of 6.4-7.4. On full batches the slabs win (three layers of
# 256 on 1024 samples: 3.9 ms a pass in four blocks, 4.35 in one).
MAX_STEP_BLOCK_ROWS = 1024


def workspace_block_rows(sizes, Py_ssize_t N, Py_ssize_t batch_size, itemsize):
    """The rows per block of a workspace of N rows in steps of batch_size:
    the whole step where it is a minibatch of at most MAX_STEP_BLOCK_ROWS
    rows of a network that packs its weights, else block_rows_for."""
    if batch_size < N and batch_size <= MAX_STEP_BLOCK_ROWS and network_packs_weights(sizes):
        return int(batch_size)
    return block_rows_for(sizes, batch_size, itemsize)


def lane_weights_for(sizes):
    """The weights whose gradient goes through the tiled products' partial sums
    (gemm.carries_lanes: tiled layers not wide enough for the packed products)."""
    sizes = list(sizes)
    return sum(J * K for J, K in zip(sizes[:len(sizes) - 1], sizes[1:]) if carries_lanes(J, K))


def network_uses_packed(sizes):
    """True when some layer of a network of these sizes takes a packed product (src/gemm.h):
    it needs the packing buffer."""
    sizes = list(sizes)
    return any(packs_weight_gradient(J, K) for J, K in zip(sizes[:len(sizes) - 1], sizes[1:]))


def network_packs_weights(sizes):
    """True when some layer's forward and backward-input products take the packed GEMM
    (gemm.use_packed), which packs the layer's weights once per block."""
    sizes = list(sizes)
    return any(use_packed(J, K) for J, K in zip(sizes[:len(sizes) - 1], sizes[1:]))


def shared_pack_elements(sizes, Py_ssize_t batch_size, Py_ssize_t block_rows, itemsize, int threads):
    """The reals of the buffer where the threads that share a packed product
    pack its second operand once (gemm.h's shared_b): the largest such operand
    of a step, its columns rounded up to any path's micro-panel (at most
    TILE_BYTES of reals wide). The threads share a product where a step is one
    block (outside the slabs' OpenMP region); elsewhere, or on one thread,
    none (0)."""
    sizes = list(sizes)
    if threads < 2 or batch_size > block_rows or not network_uses_packed(sizes):
        return 0
    widest_panel = TILE_BYTES // itemsize
    largest = 0
    for J, K in zip(sizes[:len(sizes) - 1], sizes[1:]):
        if packs_weight_gradient(J, K):
            largest = max(largest, batch_size * (K + widest_panel - 1))  # dW: B is delta, (n, K)
        if use_packed(J, K):
            largest = max(largest, max(J, K) * (batch_size + widest_panel - 1))  # forward, backward-input: (J or K, n)
    return largest


def threads_for(sizes, rows, int num_threads):
    """The threads a workspace of these sizes uses: num_threads where a pass
    over max(N, B) rows has the work to pay for them (MIN_PARALLEL_WORK), else 1."""
    return num_threads if rows >= parallel_rows_for(sizes) else 1


def parallel_rows_for(sizes):
    """The fewest rows whose pass is worth a second thread: MIN_PARALLEL_WORK multiply-adds."""
    sizes = list(sizes)
    num_weights = sum(J * K for J, K in zip(sizes[:len(sizes) - 1], sizes[1:]))
    return max(1, -(-MIN_PARALLEL_WORK // num_weights))


def workspace_buffers(sizes, Py_ssize_t N, Py_ssize_t batch_size, itemsize, int num_threads, block_rows=None):
    """Every buffer a workspace allocates: {name: (elements, dtype)}; aligned
    buffers (aligned_empty) also hold CACHE_LINE bytes of slack, counted by
    buffer_bytes. _driver.Workspace allocates exactly these; workspace_bytes
    sums them."""
    sizes = [int(size) for size in sizes]
    real = np.dtype(np.float64 if itemsize == 8 else np.float32)
    L = len(sizes) - 1
    num_weights = sum(J * K for J, K in zip(sizes[:L], sizes[1:]))
    units = sum(sizes[1:])
    if block_rows is None:
        block_rows = workspace_block_rows(sizes, N, batch_size, itemsize)
    threads = threads_for(sizes, max(N, batch_size), num_threads)
    lanes_per_weight = FBP_LANES_D if itemsize == 8 else FBP_LANES_F
    minibatches = batch_size < N
    return {
        "sizes": (L + 1, np.dtype(np.intp)),
        "weight_offsets": (L, np.dtype(np.intp)),
        "bias_offsets": (L, np.dtype(np.intp)),
        "unit_offsets": (L, np.dtype(np.intp)),
        "outputs": (threads * block_rows * units, real),
        "deltas": (threads * block_rows * units, real),
        "scratch": (threads * block_rows * (sizes[L] + 1), real),
        "lanes": (max(1, threads * lane_weights_for(sizes) * lanes_per_weight), real),
        "pack": (threads * FBP_GEMM_PACK_ELEMENTS if network_uses_packed(sizes) else 1, real),
        "pack_shared": (max(1, shared_pack_elements(sizes, batch_size, block_rows, itemsize, threads)), real),
        # the slabs of a gradient over all N rows (Workspace.gradient; a pass's B <= N rows fill no more):
        # not MAX_SLABS' worth, which for a 1024-1024-10 network is 64 MB in float32, always above the
        # size up to which the C library reuses freed memory, so every call paid for fresh pages
        "slab_grads": (slabs_over(max(N, batch_size), block_rows) * (num_weights + units), real),
        "slab_losses": (MAX_SLABS, np.dtype(np.float64)),
        "X_batch": (feature_stride(batch_size, itemsize) * sizes[0] if minibatches else 1, real),
        "y_batch": (batch_size if minibatches else 1, np.dtype(np.intp)),
    }


# the buffers aligned on a cache line (aligned_empty); the others are NumPy's plain arrays
ALIGNED_BUFFERS = ("outputs", "deltas", "scratch", "lanes", "pack", "pack_shared", "X_batch")


def buffer_bytes(name, count, dtype):
    """The bytes the workspace allocates for one of workspace_buffers' entries."""
    spare = CACHE_LINE // np.dtype(dtype).itemsize if name in ALIGNED_BUFFERS else 0
    return (count + spare) * np.dtype(dtype).itemsize


def workspace_bytes(sizes, N, batch_size, itemsize, num_threads, block_rows=None):
    """The bytes a workspace of these sizes allocates: the memory guard's figure for it."""
    return sum(buffer_bytes(name, count, dtype) for name, (count, dtype)
               in workspace_buffers(sizes, N, batch_size, itemsize, num_threads, block_rows).items())


def aligned_empty(Py_ssize_t count, dtype):
    """An uninitialised 1-D array of count elements of dtype whose data starts
    on a CACHE_LINE boundary (NumPy guarantees 16 bytes), so that the kernels'
    64-byte vector loads of a row never straddle two cache lines, which costs
    two loads each. It allocates CACHE_LINE bytes more than it returns."""
    dtype = np.dtype(dtype)
    spare = CACHE_LINE // dtype.itemsize
    buffer = np.empty(count + spare, dtype=dtype)
    cdef size_t address = <size_t> cnp.PyArray_DATA(buffer)
    cdef Py_ssize_t skip = <Py_ssize_t> ((CACHE_LINE - address % CACHE_LINE) % CACHE_LINE) // dtype.itemsize
    return buffer[skip:skip + count]
