# The compiled twin of fastbp/reference.py, in four parts:
#
#   vecmath.h / vecmath.pxd  vectorised exp, tanh and sigmoid with tested error bounds
#   linalg.pxd               matrix products: BLAS for wide ones, loops for skinny ones
#   layers.pxd               the forward/backward pairs, each named after its reference twin
#   driver.pxi (this file)   the driver: a workspace built once per training call and the
#                            fused loop that streams the samples through it in row blocks
#   _layers.pyx              thin def wrappers that expose each layer kernel to the tests
#
# The driver is compiled three times, as fastbp._kernels (baseline x86-64, or
# any other architecture), fastbp._kernels_avx2 and fastbp._kernels_avx512
# (x86-64 only), each a one-line .pyx that includes this file; the trainer
# imports the one the CPU runs best (fastbp/trainer.py). The build never lets
# the compiler contract a*b+c into an FMA and never reorders a sum, so the
# three compute the same bits; only their vector width differs.
#
# Two precisions: every cdef function below is fused over real (precision.pxd)
# and exists for float and double; a Network holds one dtype, chosen when it is
# built, and each of its methods runs the copy of that dtype. The workspace
# keeps its buffers as untyped pointers; each function casts them to real *.
#
# Shapes: N samples, D inputs, H hidden, C classes; a dense layer maps J inputs
# to K outputs. sizes is (D, H1, ..., C): L = len(sizes) - 1 dense layers.
# Compiler directives (no bounds checks, no wraparound) are set in setup.py;
# the Python layer (fastbp/trainer.py) is the only guard on shapes and labels.

cimport numpy as cnp
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

import numpy as np

from layers cimport *
from linalg cimport use_tiles
from precision cimport real
from products cimport FBP_LANES_D, FBP_LANES_F, fold_lanes

cnp.import_array()

ACTIVATION_CODES = {"tanh": TANH, "sigmoid": SIGMOID, "relu": RELU}

cdef extern from *:
    """
    /* 2: AVX-512 (F, DQ, BW, VL), 1: AVX2 with FMA, 0: neither (or not x86) */
    static int fastbp_cpu_level(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
                && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
            return 2;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return 1;
    #endif
        return 0;
    }
    """
    int fastbp_cpu_level() nogil


def cpu_level():
    """What this CPU runs: 2 for AVX-512, 1 for AVX2, 0 for neither."""
    return fastbp_cpu_level()


# ---------------------------------------------------------------- the workspace
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
# whole slabs, so 1 or 2 threads (or any number) add the same numbers in the
# same order: bit-identical results. Which thread takes which slab does not
# matter, so threads take the next free slab (OpenMP's dynamic schedule): on a
# shared machine, where one core is often slowed for a while, the other then
# takes more slabs instead of waiting for it at the end of the pass.

cdef enum:
    MAX_SLABS = 16
# A block's activations and deltas (block_rows * units * 2 doubles) are kept
# near BLOCK_BYTES, so that they stay in the per-core L2 cache between the
# forward and the backward sweep; within that, blocks are small enough that
# the rows fill the MAX_SLABS slabs (so that threads share the work evenly),
# but never below MIN_BLOCK_ROWS rows (the lecture's 200 samples stay one
# block). Measured with bench/bench_kernels.py on the development machine:
# from 64 to 1024 rows the medium and large jobs change by about the
# run-to-run noise (10-20%); 2048 rows is 15% slower on the medium one.
BLOCK_BYTES = 512 * 1024
MIN_BLOCK_ROWS = 256
# Blocks hold a whole number of the products' widest column of samples (an
# AVX-512 tile: 4 vectors of 64 bytes), so that no block ends in narrow
# remainder columns, whose few accumulators leave the FMA units idle. With
# the workspace on cache-line boundaries (aligned_empty), this took the large
# job (layers of 256 and 10 units, 128-row blocks instead of 120) from 120-126
# to 103-115 ms a pass on one thread and from 66-69 to 53-56 ms on two (4
# alternating runs of each build, the fastest of 3 calls of 2 passes each).
TILE_BYTES = 256
CACHE_LINE = 64
# Nor is a block's row (one feature's samples) a whole number of 4 KiB pages
# long: then every row of a tile starts at the same offset in its page, so the
# rows share the same few L1 sets, and a tile's loads wait on the previous
# tile's stores to the same page offset (4K aliasing). The medium job (layers of
# 64 and 2 units) took 1.86 ms a pass on one thread and 1.10 ms on two in
# 512-row blocks, 1.71 and 1.01 ms in 480-row ones (the fastest of 4
# alternating runs; 448, 544 and 640 rows were like 480).
PAGE_BYTES = 4096
# Below this many multiply-adds per pass, work stays on one thread. Measured
# (bench/bench_kernels.py): two threads gain 20% at 6000 multiply-adds a pass
# (H = 3, N = 500, about 6 us) and 1.5-2x above that; a shorter pass is about
# the cost of the fork and join it would pay for.
MIN_PARALLEL_WORK = 5000


ctypedef struct Workspace:
    Py_ssize_t num_layers         # L
    const Py_ssize_t *sizes       # (L+1,) D, H1, ..., C
    const Py_ssize_t *weight_offsets  # (L,) where Wl starts in the flat parameters
    const Py_ssize_t *bias_offsets    # (L,) where bl starts
    const Py_ssize_t *unit_offsets    # (L,) where layer l's outputs start, in units
    Py_ssize_t num_weights        # every weight, then every bias: num_params in all
    Py_ssize_t num_params
    Py_ssize_t units              # H1 + ... + C
    Py_ssize_t block_rows
    Py_ssize_t parallel_rows      # row counts from this up use num_threads
    int num_threads
    Activation activation
    Py_ssize_t itemsize           # 4 (float) or 8 (double): the buffers below hold reals
    void *outputs                 # (num_threads, block_rows * units): each layer's (n,K)^T
    void *deltas                  # same layout: the gradient at each layer's pre-activation
    void *scratch                 # (num_threads, block_rows * (C + 1))
    void *lanes                   # (num_threads, num_weights * lanes_per_weight): the partial
                                  # sums of the wide layers' weight gradients (layers.dense_backward)
    Py_ssize_t lanes_per_weight   # products.lanes_of: 8 (double) or 16 (float)
    void *slab_grads              # (MAX_SLABS, num_params)
    double *slab_losses           # (MAX_SLABS,): losses are summed in double (layers.cross_entropy_loss)


cdef inline Py_ssize_t num_blocks(const Workspace *ws, Py_ssize_t rows) noexcept nogil:
    return (rows + ws.block_rows - 1) // ws.block_rows


cdef inline Py_ssize_t num_slabs(const Workspace *ws, Py_ssize_t rows) noexcept nogil:
    return min(num_blocks(ws, rows), MAX_SLABS)


cdef inline void *element(void *buffer, const Workspace *ws, Py_ssize_t index) noexcept nogil:
    # &buffer[index] in a buffer of reals
    return <char *> buffer + index * ws.itemsize


cdef inline void *thread_outputs(const Workspace *ws, int thread, Py_ssize_t layer) noexcept nogil:
    return element(ws.outputs, ws, thread * ws.block_rows * ws.units + ws.unit_offsets[layer] * ws.block_rows)


cdef inline void *thread_deltas(const Workspace *ws, int thread, Py_ssize_t layer) noexcept nogil:
    return element(ws.deltas, ws, thread * ws.block_rows * ws.units + ws.unit_offsets[layer] * ws.block_rows)


cdef inline void *thread_scratch(const Workspace *ws, int thread) noexcept nogil:
    return element(ws.scratch, ws, thread * ws.block_rows * (ws.sizes[ws.num_layers] + 1))


cdef inline void *thread_lanes(const Workspace *ws, int thread, Py_ssize_t layer) noexcept nogil:
    return element(ws.lanes, ws, (thread * ws.num_weights + ws.weight_offsets[layer]) * ws.lanes_per_weight)


cdef inline void *slab_grads(const Workspace *ws, Py_ssize_t slab) noexcept nogil:
    return element(ws.slab_grads, ws, slab * ws.num_params)


# ---------------------------------------------------------------- one block

cdef void network_forward_block(const Workspace *ws, int thread,
                                const real *params,  # IN
                                const real *X,       # IN (n,D)^T, feature rows ld_X apart
                                Py_ssize_t ld_X, Py_ssize_t n) noexcept nogil:
    # reference.forward: z = dense_forward(inp, Wl, bl); inp = activation_forward(z) below the top
    cdef Py_ssize_t l, J, K
    cdef const real *inp = X
    cdef Py_ssize_t ld_inp = ld_X
    cdef real *z
    for l in range(ws.num_layers):
        J = ws.sizes[l]
        K = ws.sizes[l + 1]
        z = <real *> thread_outputs(ws, thread, l)
        dense_forward(z, inp, ld_inp, params + ws.weight_offsets[l], params + ws.bias_offsets[l], n, J, K)
        if l < ws.num_layers - 1:
            activation_forward(z, z, n * K, ws.activation)
        inp = z
        ld_inp = n


cdef void network_backward_block(const Workspace *ws, int thread,
                                 real *grads,             # OUT, accumulated
                                 const real *params,      # IN
                                 const real *X,           # IN (n,D)^T, feature rows ld_X apart
                                 Py_ssize_t ld_X,
                                 const Py_ssize_t *y,     # IN (n,)
                                 Py_ssize_t n) noexcept nogil:
    # reference.backward after network_forward_block: the data term only;
    # sgd_update adds the L2 term. The logits become probs, then delta, in place.
    cdef Py_ssize_t l, J, K
    cdef Py_ssize_t top = ws.num_layers - 1
    cdef Py_ssize_t C = ws.sizes[ws.num_layers]
    cdef real *delta = <real *> thread_outputs(ws, thread, top)
    cdef real *below
    cdef real *delta_below
    # delta3 = probs - onehot(y)
    softmax_forward(delta, delta, <real *> thread_scratch(ws, thread), n, C)
    softmax_cross_entropy_backward(delta, delta, y, n, C)
    for l in range(top, -1, -1):
        J = ws.sizes[l]
        K = ws.sizes[l + 1]
        if l == 0:
            dense_backward(grads + ws.weight_offsets[l], <real *> thread_lanes(ws, thread, l),
                           grads + ws.bias_offsets[l], delta, X, ld_X, n, J, K)
        else:
            below = <real *> thread_outputs(ws, thread, l - 1)
            delta_below = <real *> thread_deltas(ws, thread, l - 1)
            dense_backward(grads + ws.weight_offsets[l], <real *> thread_lanes(ws, thread, l),
                           grads + ws.bias_offsets[l], delta, below, n, n, J, K)
            # delta2 = delta3.dot(W2.T) * (1 - a1**2)
            if ws.activation == TANH:
                dense_tanh_backward_input(delta_below, delta, params + ws.weight_offsets[l], below, n, J, K)
            else:
                dense_backward_input(delta_below, delta, params + ws.weight_offsets[l], n, J, K)
                activation_backward(delta_below, delta_below, below, n * J, ws.activation)
            delta = delta_below


# ---------------------------------------------------------------- all rows, in slabs

cdef inline Py_ssize_t first_block(const Workspace *ws, Py_ssize_t slab, Py_ssize_t rows) noexcept nogil:
    # slab s holds blocks first_block(s) .. first_block(s + 1) - 1
    return slab * num_blocks(ws, rows) // num_slabs(ws, rows)


cdef inline Py_ssize_t rows_in_block(const Workspace *ws, Py_ssize_t block, Py_ssize_t rows) noexcept nogil:
    return min(ws.block_rows, rows - block * ws.block_rows)


cdef void slab_gradient(const Workspace *ws, int thread, Py_ssize_t slab, real *grads,
                        const real *params, const real *X, const Py_ssize_t *y,
                        Py_ssize_t rows) noexcept nogil:
    # grads = the data term's gradient over the blocks of this slab, added in
    # block order; a wide layer's weight gradient is carried in its partial
    # sums (lanes) through the blocks and added into grads at the end
    cdef Py_ssize_t block, start, n, l, J, K
    memset(grads, 0, ws.num_params * sizeof(real))
    for l in range(ws.num_layers):
        if use_tiles(ws.sizes[l], ws.sizes[l + 1]):
            memset(thread_lanes(ws, thread, l), 0, ws.sizes[l] * ws.sizes[l + 1] * ws.lanes_per_weight * sizeof(real))
    for block in range(first_block(ws, slab, rows), first_block(ws, slab + 1, rows)):
        start = block * ws.block_rows
        n = rows_in_block(ws, block, rows)
        network_forward_block(ws, thread, params, X + start, rows, n)
        network_backward_block(ws, thread, grads, params, X + start, rows, y + start, n)
    for l in range(ws.num_layers):
        J = ws.sizes[l]
        K = ws.sizes[l + 1]
        if use_tiles(J, K):
            fold_lanes(grads + ws.weight_offsets[l], <real *> thread_lanes(ws, thread, l), J * K)


cdef inline bint in_parallel(const Workspace *ws, Py_ssize_t rows) noexcept nogil:
    return ws.num_threads > 1 and num_slabs(ws, rows) > 1 and rows >= ws.parallel_rows


cdef real *network_gradient(const Workspace *ws, const real *params, const real *X,
                            const Py_ssize_t *y, Py_ssize_t rows) noexcept nogil:
    # reference.backward(model, X, y, reference.forward(model, X)), flat: -> slab 0's buffer
    cdef Py_ssize_t S = num_slabs(ws, rows)
    cdef Py_ssize_t slab, i
    cdef real *grads = <real *> slab_grads(ws, 0)
    cdef real *other
    if in_parallel(ws, rows):
        for slab in prange(S, nogil=True, num_threads=ws.num_threads, schedule="dynamic"):
            slab_gradient(ws, threadid(), slab, <real *> slab_grads(ws, slab), params, X, y, rows)
    else:
        for slab in range(S):
            slab_gradient(ws, 0, slab, <real *> slab_grads(ws, slab), params, X, y, rows)
    for slab in range(1, S):
        other = <real *> slab_grads(ws, slab)
        for i in range(ws.num_params):
            grads[i] = grads[i] + other[i]
    return grads


cdef double slab_data_loss(const Workspace *ws, int thread, Py_ssize_t slab, const real *params,
                           const real *X, const Py_ssize_t *y, Py_ssize_t rows) noexcept nogil:
    # the summed cross-entropy of the blocks of this slab, added in block order
    cdef Py_ssize_t block, start, n, top = ws.num_layers - 1
    cdef double loss = 0.0
    for block in range(first_block(ws, slab, rows), first_block(ws, slab + 1, rows)):
        start = block * ws.block_rows
        n = rows_in_block(ws, block, rows)
        network_forward_block(ws, thread, params, X + start, rows, n)
        loss = loss + cross_entropy_loss(<real *> thread_outputs(ws, thread, top), y + start,
                                         <real *> thread_scratch(ws, thread), n, ws.sizes[ws.num_layers])
    return loss


cdef double network_loss(const Workspace *ws, const real *params, const real *X,
                         const Py_ssize_t *y, Py_ssize_t rows, double reg_lambda) noexcept nogil:
    # reference.calculate_loss: (sum of -log p[y] + reg/2 * sum of |Wl|^2) / N,
    # summed in double in both precisions (see layers.cross_entropy_loss)
    cdef Py_ssize_t S = num_slabs(ws, rows)
    cdef Py_ssize_t slab, i
    cdef double data_loss = 0.0, weight_norm = 0.0
    if in_parallel(ws, rows):
        for slab in prange(S, nogil=True, num_threads=ws.num_threads, schedule="dynamic"):
            ws.slab_losses[slab] = slab_data_loss(ws, threadid(), slab, params, X, y, rows)
    else:
        for slab in range(S):
            ws.slab_losses[slab] = slab_data_loss(ws, 0, slab, params, X, y, rows)
    for slab in range(S):
        data_loss = data_loss + ws.slab_losses[slab]
    for i in range(ws.num_weights):
        weight_norm = weight_norm + <double> params[i] * <double> params[i]
    data_loss = data_loss + reg_lambda / 2 * weight_norm
    return 1.0 / rows * data_loss


cdef void train_pass(const Workspace *ws, real *params, const real *X, const Py_ssize_t *y,
                     Py_ssize_t rows, double epsilon, double reg_lambda) noexcept nogil:
    # reference.train_pass: every gradient first, then every parameter moves.
    # The step sizes are rounded to real once, as NumPy rounds a Python float
    # that multiplies a float32 array.
    cdef real *grads = network_gradient(ws, params, X, y, rows)
    cdef real step = <real> epsilon, weight_decay = <real> reg_lambda, no_decay = 0
    sgd_update(params, grads, step, weight_decay, ws.num_weights)
    sgd_update(params + ws.num_weights, grads + ws.num_weights, step, no_decay,
               ws.num_params - ws.num_weights)


cdef void train_epoch(const Workspace *ws, real *params,
                      real *X_batch, Py_ssize_t *y_batch,     # workspace (B,D)^T, (B,)
                      const real *X, const Py_ssize_t *y, Py_ssize_t N,
                      const Py_ssize_t *order, Py_ssize_t batch_size,
                      const double *epsilons, double reg_lambda) noexcept nogil:
    # reference.train_epoch: batch k of the shuffled order steps with epsilons[k];
    # reg_lambda * (B / N) keeps an epoch's weight decay that of one full pass
    cdef Py_ssize_t step, start, B, D = ws.sizes[0]
    cdef Py_ssize_t num_steps = (N + batch_size - 1) // batch_size
    for step in range(num_steps):
        start = step * batch_size
        B = min(batch_size, N - start)
        gather_batch(X_batch, y_batch, X, y, order + start, B, N, D)
        train_pass(ws, params, X_batch, y_batch, B, epsilons[step], reg_lambda * (<double> B / N))


cdef void run_passes(const Workspace *ws, real *params,
                     real *X_batch, Py_ssize_t *y_batch,      # workspace (B,D)^T, (B,); minibatches only
                     const real *X, const Py_ssize_t *y, Py_ssize_t N, Py_ssize_t B,
                     const Py_ssize_t *orders,                # (num_passes, N); minibatches only
                     const double *epsilons, double reg_lambda,
                     Py_ssize_t first_pass, Py_ssize_t num_passes, Py_ssize_t loss_every,
                     double *losses) noexcept nogil:
    # Network.train_passes without the GIL: the fused loop
    cdef Py_ssize_t i, p
    cdef Py_ssize_t steps_per_pass = (N + B - 1) // B
    for i in range(num_passes):
        if B == N:
            train_pass(ws, params, X, y, N, epsilons[i], reg_lambda)
        else:
            train_epoch(ws, params, X_batch, y_batch, X, y, N, orders + i * N, B,
                        epsilons + i * steps_per_pass, reg_lambda)
        p = first_pass + i
        if loss_every > 0 and p % loss_every == 0:
            losses[p // loss_every] = network_loss(ws, params, X, y, N, reg_lambda)


DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


cdef void *array_data(object array, object dtype, Py_ssize_t size, str name, bint writable=False) except NULL:
    # The address of a contiguous array's data, once its dtype and size are
    # checked: the kernels index it without bounds checks, so a wrong array
    # must stop here. (A size-0 array is never passed.)
    if not isinstance(array, np.ndarray):
        raise TypeError("%s must be a NumPy array, got %s" % (name, type(array).__name__))
    cdef cnp.ndarray checked = array
    if checked.dtype != dtype:
        raise ValueError("%s must have dtype %s, got %s" % (name, dtype, checked.dtype))
    if not checked.flags.c_contiguous or checked.size != size:
        raise ValueError("%s must be a contiguous array of %d elements, got shape %s"
                         % (name, size, array.shape))
    if writable and not checked.flags.writeable:
        raise ValueError("%s must be writable" % name)
    return cnp.PyArray_DATA(checked)


cdef class Network:
    """The workspace of one training (or inference) call, allocated once.

    ``Network(sizes, activation, X, y, batch_size, num_threads)``: X is the
    feature-major flat (N,D)^T buffer, float32 or float64, which sets the
    precision of every buffer and of the parameters the methods take; y the
    (N,) labels (may be empty for inference). NumPy allocates every buffer
    here; the kernels only view them.
    """

    cdef Workspace ws
    cdef readonly Py_ssize_t N, batch_size, block_rows
    cdef readonly int num_threads
    cdef readonly object dtype
    cdef bint single                      # float32: run the float copies of the kernels
    cdef object X                         # kept alive: the kernels read it through X_data
    cdef const void *X_data
    cdef const Py_ssize_t[::1] y
    cdef Py_ssize_t[::1] sizes, weight_offsets, bias_offsets, unit_offsets
    cdef object outputs, deltas, scratch, lanes, slab_grads, X_batch
    cdef double[::1] slab_losses
    cdef Py_ssize_t[::1] y_batch

    def __init__(self, sizes, int activation, X, const Py_ssize_t[::1] y,
                 Py_ssize_t batch_size, int num_threads, block_rows=None):
        sizes = [int(size) for size in sizes]
        L = len(sizes) - 1
        if not isinstance(X, np.ndarray) or X.dtype not in DTYPES:
            raise TypeError("X must be a float32 or float64 NumPy array")
        self.dtype = X.dtype
        self.single = X.dtype == np.float32
        self.N = len(X) // sizes[0]
        self.X = X
        self.X_data = array_data(X, self.dtype, self.N * sizes[0], "X")
        self.batch_size = batch_size
        self.y = y
        self.sizes = np.array(sizes, dtype=np.intp)
        layer_shapes = list(zip(sizes[:L], sizes[1:]))
        self.weight_offsets = np.cumsum([0] + [J * K for J, K in layer_shapes])[:L].astype(np.intp)
        num_weights = sum(J * K for J, K in layer_shapes)
        self.bias_offsets = (num_weights + np.cumsum([0] + sizes[1:])[:L]).astype(np.intp)
        self.unit_offsets = np.cumsum([0] + sizes[1:])[:L].astype(np.intp)
        units = sum(sizes[1:])
        # block_rows: the tests set it to check the partition against the reference
        self.block_rows = (block_rows_for(sizes, batch_size, self.dtype.itemsize) if block_rows is None
                           else block_rows)
        # threads only where a pass has the work to pay for them (the loss
        # sweeps all N rows even when the steps take minibatches)
        multiply_adds_per_row = num_weights
        parallel_rows = max(1, -(-MIN_PARALLEL_WORK // multiply_adds_per_row))
        self.num_threads = num_threads if max(self.N, batch_size) >= parallel_rows else 1
        self.outputs = aligned_empty(self.num_threads * self.block_rows * units, self.dtype)
        self.deltas = aligned_empty(self.outputs.size, self.dtype)
        self.scratch = aligned_empty(self.num_threads * self.block_rows * (sizes[L] + 1), self.dtype)
        lanes_per_weight = FBP_LANES_D if self.dtype == np.float64 else FBP_LANES_F
        self.lanes = aligned_empty(self.num_threads * num_weights * lanes_per_weight if uses_tiles(sizes) else 1,
                                   self.dtype)
        self.slab_grads = np.empty(MAX_SLABS * (num_weights + units), dtype=self.dtype)
        self.slab_losses = np.empty(MAX_SLABS)
        minibatches = batch_size < self.N
        self.X_batch = aligned_empty(batch_size * sizes[0] if minibatches else 1, self.dtype)
        self.y_batch = np.empty(batch_size if minibatches else 1, dtype=np.intp)

        self.ws.num_layers = L
        self.ws.sizes = &self.sizes[0]
        self.ws.weight_offsets = &self.weight_offsets[0]
        self.ws.bias_offsets = &self.bias_offsets[0]
        self.ws.unit_offsets = &self.unit_offsets[0]
        self.ws.num_weights = num_weights
        self.ws.num_params = num_weights + units
        self.ws.units = units
        self.ws.block_rows = self.block_rows
        self.ws.parallel_rows = parallel_rows
        self.ws.num_threads = self.num_threads
        self.ws.activation = <Activation> activation
        self.ws.itemsize = self.dtype.itemsize
        self.ws.outputs = cnp.PyArray_DATA(self.outputs)
        self.ws.deltas = cnp.PyArray_DATA(self.deltas)
        self.ws.scratch = cnp.PyArray_DATA(self.scratch)
        self.ws.lanes = cnp.PyArray_DATA(self.lanes)
        self.ws.lanes_per_weight = lanes_per_weight
        self.ws.slab_grads = cnp.PyArray_DATA(self.slab_grads)
        self.ws.slab_losses = &self.slab_losses[0]

    cdef void *params_data(self, params, bint writable=False) except NULL:
        return array_data(params, self.dtype, self.ws.num_params, "params", writable)

    def train_passes(self, params, const Py_ssize_t[::1] orders, const double[::1] epsilons,
                     double reg_lambda, Py_ssize_t first_pass, Py_ssize_t num_passes, Py_ssize_t loss_every,
                     double[::1] losses):
        """The fused loop: passes ``first_pass`` .. ``first_pass + num_passes - 1`` in C, without the GIL.

        Full batch: pass i is train_pass with ``epsilons[i]``; ``orders`` is
        not read. Minibatches: pass i is train_epoch over the permutation
        ``orders[i*N:(i+1)*N]`` with the step sizes that follow in ``epsilons``
        (both counted from this call's first pass). After every pass p with
        ``p % loss_every == 0`` (none when loss_every is 0), the loss on the
        whole training set goes to ``losses[p // loss_every]``: recording never
        returns to Python. Nothing is allocated here.
        """
        cdef Py_ssize_t N = self.N, B = self.batch_size
        cdef void *theta = self.params_data(params, writable=True)
        cdef const Py_ssize_t *order_data = &orders[0] if B < N else NULL
        cdef double *loss_data = &losses[0] if losses.shape[0] > 0 else NULL
        cdef void *X_batch = cnp.PyArray_DATA(self.X_batch)
        if num_passes <= 0:
            return
        with nogil:
            if self.single:
                run_passes(&self.ws, <float *> theta, <float *> X_batch, &self.y_batch[0], <const float *> self.X_data,
                           &self.y[0], N, B, order_data, &epsilons[0], reg_lambda, first_pass, num_passes,
                           loss_every, loss_data)
            else:
                run_passes(&self.ws, <double *> theta, <double *> X_batch, &self.y_batch[0],
                           <const double *> self.X_data, &self.y[0], N, B, order_data, &epsilons[0], reg_lambda,
                           first_pass, num_passes, loss_every, loss_data)

    def loss(self, params, double reg_lambda):
        """reference.calculate_loss on the whole training set."""
        cdef double loss
        cdef const void *theta = self.params_data(params)
        with nogil:
            if self.single:
                loss = network_loss(&self.ws, <const float *> theta, <const float *> self.X_data, &self.y[0],
                                    self.N, reg_lambda)
            else:
                loss = network_loss(&self.ws, <const double *> theta, <const double *> self.X_data, &self.y[0],
                                    self.N, reg_lambda)
        return loss

    def train_pass(self, params, double epsilon, double reg_lambda):
        """reference.train_pass on the whole training set, in place (for the tests)."""
        cdef void *theta = self.params_data(params, writable=True)
        with nogil:
            if self.single:
                train_pass(&self.ws, <float *> theta, <const float *> self.X_data, &self.y[0], self.N, epsilon,
                           reg_lambda)
            else:
                train_pass(&self.ws, <double *> theta, <const double *> self.X_data, &self.y[0], self.N, epsilon,
                           reg_lambda)

    def gradient(self, params, grads):
        """reference.gradients with reg_lambda = 0, flat, on the whole training set (for the tests)."""
        cdef const void *theta = self.params_data(params)
        cdef void *out = array_data(grads, self.dtype, self.ws.num_params, "grads", True)
        cdef void *result
        with nogil:
            if self.single:
                result = network_gradient(&self.ws, <const float *> theta, <const float *> self.X_data,
                                          &self.y[0], self.N)
            else:
                result = network_gradient(&self.ws, <const double *> theta, <const double *> self.X_data,
                                          &self.y[0], self.N)
        memcpy(out, result, self.ws.num_params * self.ws.itemsize)

    def forward_block(self, params, Py_ssize_t start, Py_ssize_t n):
        """reference.forward on rows start..start+n-1 (n <= block_rows) -> each layer's (n,K)^T (for the tests)."""
        cdef const void *theta = self.params_data(params)
        if self.single:
            network_forward_block(&self.ws, 0, <const float *> theta, <const float *> self.X_data + start,
                                  self.N, n)
        else:
            network_forward_block(&self.ws, 0, <const double *> theta, <const double *> self.X_data + start,
                                  self.N, n)
        return [self.outputs[self.unit_offsets[l] * self.block_rows:][:n * K].copy()
                for l, K in enumerate(self.sizes[1:])]


def aligned_empty(Py_ssize_t count, dtype):
    """An uninitialised 1-D array of count elements of dtype whose data starts
    on a CACHE_LINE boundary (NumPy guarantees 16 bytes), so that the kernels'
    64-byte vector loads of a row never straddle two cache lines, which costs
    two loads each."""
    dtype = np.dtype(dtype)
    spare = CACHE_LINE // dtype.itemsize
    buffer = np.empty(count + spare, dtype=dtype)
    cdef size_t address = <size_t> cnp.PyArray_DATA(buffer)
    cdef Py_ssize_t skip = <Py_ssize_t> ((CACHE_LINE - address % CACHE_LINE) % CACHE_LINE) // dtype.itemsize
    return buffer[skip:skip + count]


def block_rows_for(sizes, rows, itemsize=8):
    """Rows per block: a block's activations and deltas fill about BLOCK_BYTES;
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
    rows_per_slab = -(-rows // MAX_SLABS)
    spread_rows = -(-rows_per_slab // tile_rows) * tile_rows
    block_rows = min(cache_rows, max(MIN_BLOCK_ROWS, spread_rows))
    if block_rows * itemsize % PAGE_BYTES == 0 and block_rows > tile_rows:
        block_rows -= tile_rows
    return int(min(block_rows, rows))


cdef void slab_probabilities(const Workspace *ws, int thread, Py_ssize_t slab,
                             real *probs,               # OUT (rows,C)^T
                             const real *params, const real *X, Py_ssize_t rows) noexcept nogil:
    # reference.predict_proba on the blocks of this slab
    cdef Py_ssize_t block, start, n, c, C = ws.sizes[ws.num_layers]
    cdef real *top = <real *> thread_outputs(ws, thread, ws.num_layers - 1)
    for block in range(first_block(ws, slab, rows), first_block(ws, slab + 1, rows)):
        start = block * ws.block_rows
        n = rows_in_block(ws, block, rows)
        network_forward_block(ws, thread, params, X + start, rows, n)
        softmax_forward(top, top, <real *> thread_scratch(ws, thread), n, C)
        for c in range(C):
            memcpy(probs + c * rows + start, top + c * n, n * sizeof(real))


cdef void network_probabilities(const Workspace *ws, real *probs, const real *params, const real *X,
                                Py_ssize_t rows) noexcept nogil:
    # reference.predict_proba over all rows, in slabs
    cdef Py_ssize_t S = num_slabs(ws, rows), slab
    if in_parallel(ws, rows):
        for slab in prange(S, nogil=True, num_threads=ws.num_threads, schedule="dynamic"):
            slab_probabilities(ws, threadid(), slab, probs, params, X, rows)
    else:
        for slab in range(S):
            slab_probabilities(ws, 0, slab, probs, params, X, rows)


def predict_probabilities(probs,        # OUT (N,C)^T
                          params,       # IN
                          X,            # IN (N,D)^T
                          sizes, int activation, int num_threads):
    """reference.predict_proba, streamed in blocks: the working memory does not
    grow with N. probs and params have the dtype of X."""
    cdef Py_ssize_t N = len(X) // sizes[0]
    cdef Network network = Network(sizes, activation, X, np.zeros(N, dtype=np.intp), N, num_threads)
    cdef const void *theta = network.params_data(params)
    cdef void *out = array_data(probs, network.dtype, N * sizes[len(sizes) - 1], "probs", True)
    with nogil:
        if network.single:
            network_probabilities(&network.ws, <float *> out, <const float *> theta, <const float *> network.X_data,
                                  N)
        else:
            network_probabilities(&network.ws, <double *> out, <const double *> theta,
                                  <const double *> network.X_data, N)


def uses_tiles(sizes):
    """True when some layer of a network of these sizes is wide enough for the tiled products."""
    sizes = list(sizes)
    return any(use_tiles(J, K) for J, K in zip(sizes[:len(sizes) - 1], sizes[1:]))


# ---------------------------------------------------------------- X into the kernels' layout

cdef enum:
    # Rows per block of the copy: a block of X (TRANSPOSE_ROWS * D values) stays
    # in the cache while its D feature rows are written out, each a contiguous run.
    TRANSPOSE_ROWS = 256
    # Below this many values the copy stays on one thread (a copy this small
    # takes about the time of starting the second one).
    MIN_PARALLEL_TRANSPOSE = 65536


cdef void transpose_block(real *out,          # OUT (N,D)^T, rows start..stop-1 written
                          const real *X,      # IN  (N,D), row-major
                          Py_ssize_t N, Py_ssize_t D, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    # out[d*N + i] = X[i*D + d]
    cdef Py_ssize_t i, d
    for d in range(D):
        for i in range(start, stop):
            out[d * N + i] = X[i * D + d]


cdef void transpose_rows(real *out, const real *X, Py_ssize_t N, Py_ssize_t D, int num_threads) noexcept nogil:
    cdef Py_ssize_t block, num_blocks = (N + TRANSPOSE_ROWS - 1) // TRANSPOSE_ROWS
    if num_threads > 1 and N * D >= MIN_PARALLEL_TRANSPOSE:
        for block in prange(num_blocks, nogil=True, num_threads=num_threads, schedule="static"):
            transpose_block(out, X, N, D, block * TRANSPOSE_ROWS, min(N, (block + 1) * TRANSPOSE_ROWS))
    else:
        for block in range(num_blocks):
            transpose_block(out, X, N, D, block * TRANSPOSE_ROWS, min(N, (block + 1) * TRANSPOSE_ROWS))


def feature_major(X, int num_threads):
    """X (N,D), a C-contiguous float32 or float64 array -> X.T as one contiguous
    flat array of its dtype (N*D,): the kernels' layout. The same values as
    np.ascontiguousarray(X.T).ravel(), starting on a cache line (aligned_empty),
    copied in blocks of rows on up to num_threads threads (NumPy's strided
    copy took 7 ms for 100 000 x 20 here)."""
    if not isinstance(X, np.ndarray) or X.dtype not in DTYPES or X.ndim != 2 or not X.flags.c_contiguous:
        raise TypeError("X must be a C-contiguous 2-D float32 or float64 NumPy array")
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1]
    out = aligned_empty(N * D, X.dtype)
    if N * D == 0:
        return out
    cdef void *out_data = cnp.PyArray_DATA(out)
    cdef const void *X_data = cnp.PyArray_DATA(X)
    cdef bint single = X.dtype == np.float32
    with nogil:
        if single:
            transpose_rows(<float *> out_data, <const float *> X_data, N, D, num_threads)
        else:
            transpose_rows(<double *> out_data, <const double *> X_data, N, D, num_threads)
    return out
