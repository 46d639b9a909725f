# The compiled twin of fastbp/reference_mlp.py: scikit-learn's MLP objective,
# its gradient and the optimisers' updates, on the layer kernels of layers.pxd.
#
#   batch_loss_and_gradient  reference_mlp.loss_and_gradients on a batch, flat
#   sgd_update, adam_update  reference_mlp.sgd_update / adam_update on the flat buffers
#   MLPWorkspace             the workspace of one fit (allocated once) and its
#                            fused epoch loops: gather, gradient, update, batch after batch
# and includes mlp_blocks.pxi: one block of rows forward and backward.
#
# Arrays are feature-major, (n,K)^T, as in layers.pxd; parameters are one flat
# buffer, every weight (W1, ..., WL) then every bias (b1, ..., bL): the order of
# scikit-learn's coefs_ + intercepts_ packed. A batch is processed in blocks of
# BLOCK_ROWS rows, whose gradients add up block after block, so the workspace
# does not grow with the batch. Every function is fused over real. The Python
# layer (fastbp/estimators/_compiled.py) is the only guard on shapes.
#
# Threads: a wide layer's products, and the optimiser's update, are shared
# between the workspace's threads, each taking a fixed range of the outputs
# (the layer's units, the weight gradient's rows, the parameters); every output
# is computed wholly by one thread, in the order one thread would compute it
# (tiled_products.h, "Rounding"), so the result is the same bits for every
# thread count. A product with too little work to pay for waking a thread
# (MIN_SHARED_WORK) stays on the calling thread.

cimport numpy as cnp
from cython.parallel cimport prange
from libc.float cimport DBL_EPSILON, FLT_EPSILON
from libc.math cimport log, pow, sqrt
from libc.string cimport memset

import numpy as np

from ._driver import aligned_empty, shared_pack_elements

from layers cimport (RELU, SIGMOID, TANH, Activation, activation_backward, activation_forward, dense_backward,
                     dense_backward_input, dense_forward, dense_tanh_backward_input, feature_stride, gather_rows,
                     softmax_forward)
from gemm cimport (FBP_GEMM_NO_ACTIVATION, FBP_GEMM_PACK_ELEMENTS, carries_lanes, dense_backward_input_packed,
                   dense_backward_packed, dense_forward_packed, dense_tanh_backward_input_packed, fused_activation,
                   packs_weight_gradient, packs_weights_on_block, writes_weight_gradient)
from narrow_products cimport bias_gradient, use_tiles
from precision cimport real
from tiled_products cimport (FBP_LANES_D, FBP_LANES_F, combine_features, correlate_features,
                             fastbp_combine_rows, fold_lanes)
from vecmath cimport vector_exp, vector_sigmoid

cnp.import_array()

include "paths.pxi"

# hidden activations: layers.pxd's codes, and identity
cdef enum:
    IDENTITY_HIDDEN = 3
HIDDEN_CODES = {"tanh": TANH, "logistic": SIGMOID, "relu": RELU, "identity": IDENTITY_HIDDEN}
# output activations (each with its canonical loss)
cdef enum Output:
    SOFTMAX = 0     # log_loss
    LOGISTIC = 1    # binary_log_loss
    IDENTITY = 2    # squared_error
    EXP = 3         # poisson
OUTPUT_CODES = {"softmax": SOFTMAX, "logistic": LOGISTIC, "identity": IDENTITY, "exp": EXP}
# Rows per block: a multiple of the products' widest tile (32 doubles, 64
# floats) whose activations stay in the L2 cache for the network sizes the
# estimators meet; the result depends on it only through the order of sums.
cdef enum:
    BLOCK_ROWS = 256
# A product is shared between the threads from this many multiply-adds on
# (about 200 microseconds of one core), the optimiser's update from this many
# parameters times UPDATE_COST (a square root and a division each). Waking the
# OpenMP threads, which wait passively (fastbp/_backend.py), and joining them
# costs tens of microseconds of CPU per product, and on a loaded machine a
# preempted thread holds up the step: on products of up to a million
# multiply-adds (bench/bench_estimators.py's three problems: 200-row batches,
# at most 64 x 100 or 20 x 256 weights) sharing made the fits 20-80% slower
# on a shared 2-core machine, so there they stay on one thread.
cdef enum:
    MIN_SHARED_WORK = 1 << 21
    UPDATE_COST = 64
# The parts go to the threads as each finishes its last (dynamic): on a core that
# another process also runs on, a thread takes fewer parts instead of holding up
# the others (an even split makes two threads as slow as the slower). A part keeps
# the products' tiles (4-6 outputs) full.
cdef enum:
    PARTS_PER_THREAD = 4
    MIN_PART_OUTPUTS = 8

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int fbp_mlp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int fbp_mlp_max_threads(void) { return 1; }
    #endif
    """
    int fbp_mlp_max_threads()


def adam_update_on_path(path, real[::1] params, const real[::1] grads, real[::1] ms, real[::1] vs, double rate,
                        double beta_1, double beta_2, double epsilon):
    """src/adam.h's update of params and the moments ms and vs, in place, on the named dispatch path."""
    cdef int code = path_code(path)
    cdef Py_ssize_t size = params.shape[0]
    if grads.shape[0] != size or ms.shape[0] != size or vs.shape[0] != size:
        raise ValueError("params, grads, ms and vs must have one length")
    if size:
        adam_update(code, &params[0], &grads[0], &ms[0], &vs[0], rate, beta_1, beta_2, epsilon, size)


def max_threads():
    """The threads a workspace uses by default: OpenMP's (OMP_NUM_THREADS, a threadpoolctl limit, else the cores)."""
    return fbp_mlp_max_threads()


ctypedef struct MLP:
    Py_ssize_t num_layers          # L
    const Py_ssize_t *sizes        # (L+1,) D, H1, ..., C
    const Py_ssize_t *weight_offsets  # (L,) where Wl starts in the flat parameters
    const Py_ssize_t *bias_offsets    # (L,) where bl starts
    const Py_ssize_t *unit_offsets    # (L,) where layer l's outputs start, in units
    Py_ssize_t num_weights, num_params, units
    int hidden                     # HIDDEN_CODES
    int path                       # the dispatch path of every kernel (paths.pxi)
    int num_threads                # the threads that may share a product
    Output output
    void *outputs                  # (BLOCK_ROWS * units): each layer's (n,K)^T
    void *deltas                   # same layout
    void *scratch                  # (BLOCK_ROWS * (C + 1))
    void *lanes                    # (num_weights * lanes_per_weight): the tiled layers' partial sums
    void *pack                     # (num_threads, FBP_GEMM_PACK_ELEMENTS): the packed products' panels
    void *pack_shared              # (pack_shared_elements,): a packed product's B, packed once for its threads
    Py_ssize_t pack_shared_elements
    Py_ssize_t lanes_per_weight
    void *grads                    # (num_params,)
    Py_ssize_t ld_batch            # the batch's X: feature rows this many reals apart (layers.feature_stride)


cdef inline real *layer_outputs(const MLP *ws, real *buffer, Py_ssize_t layer) noexcept nogil:
    return buffer + ws.unit_offsets[layer] * BLOCK_ROWS


# ---------------------------------------------------------------- one block

include "mlp_blocks.pxi"


# ---------------------------------------------------------------- a batch

# The L2 term's sum of squares runs in SQUARE_LANES interleaved partial sums:
# in one chain every addition waited for the last (about 4 cycles each), which
# took 10% of a 784-256-10 fit in minibatches of 128 (perf, two threads).
cdef enum:
    SQUARE_LANES = 8


cdef double sum_of_squares(const real *x, Py_ssize_t n) noexcept nogil:
    # np.dot(x, x) in double: x[i]**2 added into partial sum i % SQUARE_LANES,
    # in order, the partial sums then added pairwise (0+4, 1+5, 2+6, 3+7; then
    # those two apart; then the last two): a fixed order, whatever the threads
    cdef double lanes[SQUARE_LANES]
    cdef double value
    cdef Py_ssize_t i, k, width = SQUARE_LANES // 2, whole = n - n % SQUARE_LANES
    for k in range(SQUARE_LANES):
        lanes[k] = 0.0
    for i in range(whole // SQUARE_LANES):
        for k in range(SQUARE_LANES):
            value = x[i * SQUARE_LANES + k]
            lanes[k] = lanes[k] + value * value
    for i in range(whole, n):
        value = x[i]
        lanes[i - whole] = lanes[i - whole] + value * value
    while width > 0:
        for k in range(width):
            lanes[k] = lanes[k] + lanes[k + width]
        width = width // 2
    return lanes[0]


cdef double batch_loss_and_gradient(const MLP *ws, const real *params,
                                    const real *X, Py_ssize_t ld_X,      # IN (rows,D)^T
                                    const real *Y, Py_ssize_t ld_Y,      # IN (rows,C)^T
                                    const real *weights,                 # IN (rows,) or NULL
                                    Py_ssize_t rows, double alpha) noexcept nogil:
    # reference_mlp.loss_and_gradients: -> the objective; the gradient in ws.grads
    cdef real *grads = <real *> ws.grads
    cdef Py_ssize_t start, n, l, i, block, block_rows = BLOCK_ROWS
    cdef double loss = 0.0, squares = 0.0, weight_sum = rows
    cdef real alpha_r = <real> alpha, weight_sum_r
    # a batch of one block writes its packed layers' weight gradients (gemm.writes_weight_gradient):
    # those are not zeroed first (for a 784-256-10 layer, a pass over 1.6 MB a batch)
    cdef bint one_block = rows <= block_rows
    memset(grads + ws.num_weights, 0, (ws.num_params - ws.num_weights) * sizeof(real))
    for l in range(ws.num_layers):
        if not writes_weight_gradient(ws.sizes[l], ws.sizes[l + 1], one_block):
            memset(grads + ws.weight_offsets[l], 0, ws.sizes[l] * ws.sizes[l + 1] * sizeof(real))
    for l in range(ws.num_layers):
        if carries_lanes(ws.sizes[l], ws.sizes[l + 1]):
            memset(<real *> ws.lanes + ws.weight_offsets[l] * ws.lanes_per_weight, 0,
                   ws.sizes[l] * ws.sizes[l + 1] * ws.lanes_per_weight * sizeof(real))
    for block in range((rows + block_rows - 1) // block_rows):
        start = block * block_rows
        n = min(block_rows, rows - start)
        block_forward(ws, params, X + start, ld_X, n)
        loss = loss + block_loss_and_delta(ws, Y + start, ld_Y, weights + start if weights != NULL else NULL, n)
        block_backward(ws, grads, params, X + start, ld_X, n, one_block)
    for l in range(ws.num_layers):
        if carries_lanes(ws.sizes[l], ws.sizes[l + 1]):
            fold_lanes(ws.path, grads + ws.weight_offsets[l],
                       <real *> ws.lanes + ws.weight_offsets[l] * ws.lanes_per_weight, ws.sizes[l] * ws.sizes[l + 1])
    if weights != NULL:
        weight_sum = 0.0
        for i in range(rows):
            weight_sum = weight_sum + weights[i]
    weight_sum_r = <real> weight_sum
    # dW = (dW + alpha * W) / sum(s); db = db / sum(s) (a loop of its own, which vectorises)
    squares = sum_of_squares(params, ws.num_weights)
    for i in range(ws.num_weights):
        grads[i] = (grads[i] + alpha_r * params[i]) / weight_sum_r
    for i in range(ws.num_weights, ws.num_params):
        grads[i] = grads[i] / weight_sum_r
    return loss / weight_sum + (0.5 * alpha) * squares / weight_sum


# ---------------------------------------------------------------- the optimisers' updates

cdef void sgd_update(real *params, const real *grads, real *velocities, double learning_rate, double momentum,
                     bint nesterov, Py_ssize_t size) noexcept nogil:
    # v = momentum * v - learning_rate * g; params += v, or with Nesterov momentum * v - learning_rate * g
    cdef Py_ssize_t i
    for i in range(size):
        velocities[i] = momentum * velocities[i] - learning_rate * grads[i]
        if nesterov:
            params[i] = params[i] + (momentum * velocities[i] - learning_rate * grads[i])
        else:
            params[i] = params[i] + velocities[i]


cdef extern from "adam.h" nogil:
    void fastbp_adam_update_d(int path, double *params, const double *grads, double *ms, double *vs, double rate,
                              double beta_1, double beta_2, double epsilon, Py_ssize_t size)
    void fastbp_adam_update_f(int path, float *params, const float *grads, float *ms, float *vs, double rate,
                              double beta_1, double beta_2, double epsilon, Py_ssize_t size)


cdef inline void adam_update(int path, real *params, const real *grads, real *ms, real *vs, double learning_rate,
                             double beta_1, double beta_2, double epsilon, Py_ssize_t size) noexcept nogil:
    # m = beta_1 m + (1 - beta_1) g; v = beta_2 v + (1 - beta_2) g**2
    # params += -learning_rate * m / (sqrt(v) + epsilon), in double (src/adam.h)
    if real is double:
        fastbp_adam_update_d(path, params, grads, ms, vs, learning_rate, beta_1, beta_2, epsilon, size)
    else:
        fastbp_adam_update_f(path, params, grads, ms, vs, learning_rate, beta_1, beta_2, epsilon, size)


cdef inline void update_part(int path, real *params, const real *grads, real *state_a, real *state_b,
                             Py_ssize_t count, bint adam, double rate, double learning_rate, double momentum,
                             bint nesterov, double beta_1, double beta_2, double epsilon) noexcept nogil:
    # the optimiser's update of count parameters (adam at its bias-corrected rate)
    if adam:
        adam_update(path, params, grads, state_a, state_b, rate, beta_1, beta_2, epsilon, count)
    else:
        sgd_update(params, grads, state_a, learning_rate, momentum, nesterov, count)


cdef double run_epoch(const MLP *ws, real *params, real *state_a, real *state_b,
                      real *X_batch, real *Y_batch, real *w_batch,          # workspace (B,D)^T, (B,C)^T, (B,)
                      const real *X, const real *Y, const real *weights,    # IN (N,D), (N,C), (N,) or NULL
                      Py_ssize_t N, const Py_ssize_t *order, Py_ssize_t batch_size, bint gathered, bint adam,
                      double learning_rate, double momentum, bint nesterov,  # sgd
                      Py_ssize_t *t, double beta_1, double beta_2, double epsilon,  # adam: t counts its steps
                      double alpha) noexcept nogil:
    # One epoch of _solvers.fit_stochastic's inner loop: -> the sum over the
    # batches of the batch's objective times its size. gathered: the batch
    # buffers already hold the epoch's one batch, in this order
    cdef Py_ssize_t start, B, D = ws.sizes[0], C = ws.sizes[ws.num_layers], P = ws.num_params
    cdef Py_ssize_t num_batches = (N + batch_size - 1) // batch_size, k, part, parts, first, count
    cdef const real *grads = <real *> ws.grads
    cdef double batch_loss, rate = 0.0, summed = 0.0
    for k in range(num_batches):
        start = k * batch_size
        B = min(batch_size, N - start)
        if not gathered:
            gather_rows(ws.path, X_batch, ws.ld_batch, X, order + start, B, D, ws.num_threads)
            gather_rows(ws.path, Y_batch, B, Y, order + start, B, C)
            if weights != NULL:
                gather_rows(ws.path, w_batch, B, weights, order + start, B, 1)
        batch_loss = batch_loss_and_gradient(ws, params, X_batch, ws.ld_batch, Y_batch, B,
                                             w_batch if weights != NULL else NULL, B, alpha)
        summed = summed + batch_loss * B
        if adam:
            t[0] = t[0] + 1
            # reference_mlp.adam_learning_rate
            rate = learning_rate * sqrt(1 - pow(beta_2, <double> t[0])) / (1 - pow(beta_1, <double> t[0]))
        parts = num_parts(ws, UPDATE_COST * P, P)
        if parts == 1:
            # on this thread: an OpenMP region of one part still wakes the other
            # threads, which made a digits-sized fit on two threads 1.4x as long
            update_part(ws.path, params, grads, state_a, state_b, P, adam, rate, learning_rate, momentum, nesterov,
                        beta_1, beta_2, epsilon)
            continue
        for part in prange(parts, num_threads=ws.num_threads, schedule="dynamic"):
            # each parameter's update is its own: any split gives the same bits
            first = part_start(part, parts, P)
            count = part_start(part + 1, parts, P) - first
            update_part(ws.path, params + first, grads + first, state_a + first, state_b + first if adam else NULL,
                        count, adam, rate, learning_rate, momentum, nesterov, beta_1, beta_2, epsilon)
    return summed


# ---------------------------------------------------------------- the Python boundary

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


cdef void *data_of(object array, object dtype, Py_ssize_t size, str name) except NULL:
    # the address of a contiguous array's data, once its dtype and size are checked
    if not isinstance(array, np.ndarray) or array.dtype != dtype or not array.flags.c_contiguous:
        raise ValueError("%s must be a contiguous %s array" % (name, dtype))
    if array.size != size:
        raise ValueError("%s must have %d elements, got %d" % (name, size, array.size))
    return cnp.PyArray_DATA(array)


cdef class MLPWorkspace:
    """The workspace of one fit: ``MLPWorkspace(sizes, hidden, output, X, Y,
    weights, alpha, batch_size, num_threads=1)``, X (N,D) and Y (N,C) sample-major
    flat arrays of one dtype (which sets the precision), weights (N,) or None;
    each batch is gathered into the kernels' feature-major layout. num_threads
    may share each wide product (the same bits for every count). NumPy
    allocates every buffer here; the kernels only view them."""

    cdef MLP ws
    cdef readonly Py_ssize_t N, batch_size
    cdef readonly int num_threads
    cdef readonly object dtype
    cdef bint single
    cdef object X, Y, weights, outputs, deltas, scratch, lanes, pack, pack_shared, grads, X_batch, Y_batch, w_batch
    cdef Py_ssize_t[::1] sizes, weight_offsets, bias_offsets, unit_offsets
    cdef readonly double alpha
    # the order of the samples the batch buffers hold when they hold all N (one
    # batch an epoch), else None: a full-batch fit gathers X once, not every epoch
    cdef object held_order

    def __init__(self, sizes, str hidden, str output, X, Y, weights, double alpha, Py_ssize_t batch_size,
                 int num_threads=1):
        sizes = [int(size) for size in sizes]
        L = len(sizes) - 1
        self.dtype = X.dtype
        if self.dtype not in DTYPES:
            raise TypeError("X must be float32 or float64")
        self.single = self.dtype == np.float32
        self.N = X.size // sizes[0]
        self.batch_size = min(batch_size, self.N)
        self.X, self.Y, self.weights = X, Y, weights
        self.held_order = None
        self.alpha = alpha
        data_of(X, self.dtype, self.N * sizes[0], "X")
        data_of(Y, self.dtype, self.N * sizes[L], "Y")
        if weights is not None:
            data_of(weights, self.dtype, self.N, "weights")
        self.sizes = np.array(sizes, dtype=np.intp)
        num_weights = sum(J * K for J, K in zip(sizes[:L], sizes[1:]))
        units = sum(sizes[1:])
        self.weight_offsets = np.cumsum([0] + [J * K for J, K in zip(sizes[:L], sizes[1:])])[:L].astype(np.intp)
        self.bias_offsets = (num_weights + np.cumsum([0] + sizes[1:])[:L]).astype(np.intp)
        self.unit_offsets = np.cumsum([0] + sizes[1:])[:L].astype(np.intp)
        lanes_per_weight = FBP_LANES_D if not self.single else FBP_LANES_F
        self.outputs = np.empty(BLOCK_ROWS * units, dtype=self.dtype)
        self.deltas = np.empty(BLOCK_ROWS * units, dtype=self.dtype)
        self.scratch = np.empty(BLOCK_ROWS * (sizes[L] + 1), dtype=self.dtype)
        # indexed by weight offsets; a packed layer's part is never touched (so never mapped)
        self.lanes = np.empty(max(1, num_weights * lanes_per_weight), dtype=self.dtype)
        packed = any(packs_weight_gradient(J, K) for J, K in zip(sizes[:L], sizes[1:]))
        self.pack = np.empty(num_threads * FBP_GEMM_PACK_ELEMENTS if packed and num_threads >= 1 else 1,
                             dtype=self.dtype)
        # every block's products are shared by the threads (gemm.h's shared_b): room for
        # the largest operand of a block of up to BLOCK_ROWS rows (none on one thread)
        self.ws.pack_shared_elements = shared_pack_elements(sizes, min(self.batch_size, BLOCK_ROWS), BLOCK_ROWS,
                                                            self.dtype.itemsize, num_threads)
        self.pack_shared = aligned_empty(max(1, self.ws.pack_shared_elements), self.dtype)
        self.grads = np.empty(num_weights + units, dtype=self.dtype)
        # each feature's row padded where the rows would alias in the cache (layers.feature_stride)
        self.ws.ld_batch = feature_stride(self.batch_size, self.dtype.itemsize)
        self.X_batch = aligned_empty(self.ws.ld_batch * sizes[0], self.dtype)
        self.Y_batch = np.empty(self.batch_size * sizes[L], dtype=self.dtype)
        self.w_batch = np.empty(self.batch_size, dtype=self.dtype)
        self.ws.num_layers = L
        self.ws.sizes = &self.sizes[0]
        self.ws.weight_offsets = &self.weight_offsets[0]
        self.ws.bias_offsets = &self.bias_offsets[0]
        self.ws.unit_offsets = &self.unit_offsets[0]
        self.ws.num_weights = num_weights
        self.ws.num_params = num_weights + units
        self.ws.units = units
        self.ws.hidden = HIDDEN_CODES[hidden]
        self.ws.path = path_code(None)
        if num_threads < 1:
            raise ValueError("num_threads must be at least 1, got %d" % num_threads)
        self.ws.num_threads = self.num_threads = num_threads
        self.ws.output = <Output> OUTPUT_CODES[output]
        self.ws.outputs = cnp.PyArray_DATA(self.outputs)
        self.ws.deltas = cnp.PyArray_DATA(self.deltas)
        self.ws.scratch = cnp.PyArray_DATA(self.scratch)
        self.ws.lanes = cnp.PyArray_DATA(self.lanes)
        self.ws.pack = cnp.PyArray_DATA(self.pack)
        self.ws.pack_shared = cnp.PyArray_DATA(self.pack_shared)
        self.ws.lanes_per_weight = lanes_per_weight
        self.ws.grads = cnp.PyArray_DATA(self.grads)

    @property
    def pack_shared_elements(self):
        """The reals of the buffer where the threads pack a shared product's operand once (0: none)."""
        return self.ws.pack_shared_elements

    def loss_and_gradient(self, params):
        """reference_mlp.loss_and_gradients on the whole of X -> (loss, the flat gradient, a new array).
        The workspace's batch must hold every sample (batch_size N)."""
        cdef void *theta = data_of(params, self.dtype, self.ws.num_params, "params")
        cdef const void *X = cnp.PyArray_DATA(self.X)
        cdef const void *Y = cnp.PyArray_DATA(self.Y)
        cdef const void *w = cnp.PyArray_DATA(self.weights) if self.weights is not None else NULL
        cdef void *X_all = cnp.PyArray_DATA(self.X_batch)
        cdef void *Y_all = cnp.PyArray_DATA(self.Y_batch)
        cdef Py_ssize_t N = self.N, D = self.ws.sizes[0], C = self.ws.sizes[self.ws.num_layers]
        cdef double loss
        cdef double alpha = self.alpha
        if self.batch_size != N:
            raise ValueError("loss_and_gradient needs a workspace whose batch is the %d samples" % N)
        self.held_order = np.arange(N)
        with nogil:
            if self.single:
                gather_rows(self.ws.path, <float *> X_all, self.ws.ld_batch, <const float *> X, NULL, N, D)
                gather_rows(self.ws.path, <float *> Y_all, N, <const float *> Y, NULL, N, C)
                loss = batch_loss_and_gradient(&self.ws, <float *> theta, <const float *> X_all, self.ws.ld_batch,
                                               <const float *> Y_all, N, <const float *> w, N, alpha)
            else:
                gather_rows(self.ws.path, <double *> X_all, self.ws.ld_batch, <const double *> X, NULL, N, D)
                gather_rows(self.ws.path, <double *> Y_all, N, <const double *> Y, NULL, N, C)
                loss = batch_loss_and_gradient(&self.ws, <double *> theta, <const double *> X_all, self.ws.ld_batch,
                                               <const double *> Y_all, N, <const double *> w, N, alpha)
        return loss, self.grads.copy()

    def epoch(self, params, const Py_ssize_t[::1] order, str solver, state_a, state_b, double learning_rate,
              double momentum=0, bint nesterov=False, Py_ssize_t t=0, double beta_1=0, double beta_2=0,
              double epsilon=0):
        """One epoch over the samples in ``order``: batch after batch, the gradient
        and the optimiser's update of params and its state ("sgd": the
        velocities in state_a; "adam": the moments in state_a and state_b, t
        its steps so far) -> (the sum of the batches' losses times their sizes, t)."""
        cdef Py_ssize_t P = self.ws.num_params
        cdef void *theta = data_of(params, self.dtype, P, "params")
        cdef void *a = data_of(state_a, self.dtype, P, "state_a")
        cdef void *b = data_of(state_b, self.dtype, P, "state_b") if solver == "adam" else NULL
        cdef const void *X = cnp.PyArray_DATA(self.X)
        cdef const void *Y = cnp.PyArray_DATA(self.Y)
        cdef const void *w = cnp.PyArray_DATA(self.weights) if self.weights is not None else NULL
        cdef void *X_batch = cnp.PyArray_DATA(self.X_batch)
        cdef void *Y_batch = cnp.PyArray_DATA(self.Y_batch)
        cdef void *w_batch = cnp.PyArray_DATA(self.w_batch)
        cdef bint adam = solver == "adam"
        cdef double alpha = self.alpha, summed
        if order.shape[0] != self.N:
            raise ValueError("order must hold the %d sample indices" % self.N)
        cdef bint gathered = self.held_order is not None and np.array_equal(self.held_order, order)
        self.held_order = np.array(order, copy=True) if self.batch_size == self.N else None
        with nogil:
            if self.single:
                summed = run_epoch(&self.ws, <float *> theta, <float *> a, <float *> b, <float *> X_batch,
                                   <float *> Y_batch, <float *> w_batch, <const float *> X, <const float *> Y,
                                   <const float *> w, self.N, &order[0], self.batch_size, gathered, adam,
                                   learning_rate, momentum, nesterov, &t, beta_1, beta_2, epsilon, alpha)
            else:
                summed = run_epoch(&self.ws, <double *> theta, <double *> a, <double *> b, <double *> X_batch,
                                   <double *> Y_batch, <double *> w_batch, <const double *> X, <const double *> Y,
                                   <const double *> w, self.N, &order[0], self.batch_size, gathered, adam,
                                   learning_rate, momentum, nesterov, &t, beta_1, beta_2, epsilon, alpha)
        return summed, t
