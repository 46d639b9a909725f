# fastbp._driver -- the compiled twin of fastbp/reference.py's training loop,
# compiled once; its hot loops run in the copy compiled for the CPU's target
# (src/dispatch.h). It includes, in the order of the data flow:
#
#   paths.pxi           the dispatch paths by name, FASTBP_KERNELS, the one check of a path
#   workspace.pxi       workspace_t (X, y, sizes, block partition, buffers, threads, path),
#                       its accessors, and the sizing rules with their byte count
#   network_blocks.pxi  the network on one block of rows (forward, backward), from layers.pxd
#   passes.pxi          all rows in slabs: gradient, loss, a pass, an epoch, the fused loop,
#                       the probabilities
#   layout.pxi          X into the kernels' feature-major layout
#   this file           the Python boundary: Workspace (allocates and fills a workspace_t,
#                       one entry point per operation, fused over the precision),
#                       predict_probabilities, the build's configuration
#
# Below these: layers.pxd (the forward/backward pairs, named after their
# reference twins), narrow_products.pxd and src/loops.h (the narrow layers' products and
# the element-wise loops), tiled_products.pxd and src/tiled_products.h (the wide layers'
# tiled products), gemm.pxd and src/gemm.h (the widest layers' packed products),
# vecmath.pxd and src/vecmath.h (exp, tanh, sigmoid).
#
# Two precisions: every cdef function is fused over real (precision.pxd) and
# exists for float and double; a Workspace holds one dtype, chosen when it is
# built, and its entry points are fused def functions, which Cython dispatches
# on the dtype of the parameters. The workspace keeps its buffers as untyped
# pointers; each function casts them to real *.
#
# Shapes: N samples, D inputs, H hidden, C classes; a dense layer maps J inputs
# to K outputs. sizes is (D, H1, ..., C): L = len(sizes) - 1 dense layers.
# Compiler directives (no bounds checks, no wraparound) are set in setup.py;
# the Python layer (fastbp/trainer.py) is the only guard on shapes and labels,
# and Workspace checks every array it is handed against its own sizes.

cimport numpy as cnp
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

import numpy as np

from gemm cimport (FBP_GEMM_NO_ACTIVATION, FBP_GEMM_PACK_ELEMENTS, carries_lanes, fbp_gemm_worth_sharing,
                   dense_backward_input_packed, dense_backward_packed, dense_forward_packed,
                   dense_forward_shared, dense_tanh_backward_input_packed, dense_tanh_backward_input_shared,
                   fused_activation, packs_weight_gradient, packs_weights_on_block, use_packed,
                   writes_weight_gradient)
from layers cimport *
from precision cimport real
from tiled_products cimport FBP_LANES_D, FBP_LANES_F, fold_lanes

cnp.import_array()

include "paths.pxi"
include "workspace.pxi"
include "network_blocks.pxi"
include "passes.pxi"
include "layout.pxi"

ACTIVATION_CODES = {"tanh": TANH, "sigmoid": SIGMOID, "relu": RELU}
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int fbp_openmp(void) { return 1; }
    static int fbp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int fbp_openmp(void) { return 0; }
    static int fbp_max_threads(void) { return 1; }
    #endif
    #if defined(__clang__)
    #define FBP_COMPILER "Clang " __clang_version__
    #elif defined(__GNUC__)
    #define FBP_COMPILER "GCC " __VERSION__
    #elif defined(_MSC_VER)
    #define FBP_COMPILER_MSVC 1
    #define FBP_COMPILER "MSVC"
    #else
    #define FBP_COMPILER "unknown"
    #endif
    """
    int fbp_openmp()
    int fbp_max_threads()
    const char *FBP_COMPILER


def max_threads():
    """OpenMP's own default team size (omp_get_max_threads: OMP_NUM_THREADS, or
    a limit set by threadpoolctl, or the cores); 1 in a build without OpenMP."""
    return fbp_max_threads()


def build_info():
    """The build's configuration: the compiler, OpenMP, the paths compiled."""
    return {"compiler": FBP_COMPILER.decode(), "openmp": bool(fbp_openmp()), "paths_built": built_paths()}


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


cdef class Workspace:
    """The workspace of one training (or inference) call, allocated once.

    ``Workspace(sizes, activation, X, y, batch_size, num_threads, block_rows=None, path=None, X_rows=None)``:
    X is the feature-major (N,D)^T, float32 or float64, which sets
    the precision of every buffer and of the parameters the methods take:
    feature_major's (D, ld) array (each feature's N samples, then padding),
    or the flat X.T (ld = N); y
    the (N,) labels (may be zeros for inference); path the dispatch path
    (None: selected_path()); X_rows, for minibatches, the same samples
    sample-major (N,D), which the batches are gathered from (None: a copy is
    made from X). A minibatch workspace may be given X_rows alone (X None):
    it makes the feature-major X the first time the loss, the probabilities
    or a full pass need it. NumPy allocates every buffer here, exactly those of
    workspace_buffers; the kernels only view them. ``nbytes`` is their total.
    """

    cdef workspace_t ws
    cdef readonly Py_ssize_t N, batch_size, block_rows, nbytes
    cdef readonly int num_threads
    cdef readonly object dtype, path
    cdef readonly dict buffers            # name -> the NumPy array the kernels view
    cdef object X                         # kept alive: the kernels read it through ws.X
    cdef object X_rows                    # and ws.X_rows
    cdef int feature_threads              # the threads that make the feature-major X when it is first needed
    cdef const Py_ssize_t[::1] y

    def __init__(self, sizes, int activation, X, const Py_ssize_t[::1] y,
                 Py_ssize_t batch_size, int num_threads, block_rows=None, path=None, X_rows=None):
        sizes = [int(size) for size in sizes]
        L = len(sizes) - 1
        given = X if X is not None else X_rows
        if not isinstance(given, np.ndarray) or given.dtype not in DTYPES:
            raise TypeError("X must be a float32 or float64 NumPy array")
        self.ws.path = path_code(path)
        self.path = PATHS[self.ws.path]
        self.dtype = given.dtype
        if given is X and X.ndim == 2:
            # feature_major's (D, ld): the samples are y's, the rows' padding never read
            if X.shape[0] != sizes[0] or X.shape[1] < y.shape[0]:
                raise ValueError("X must be the (%d, ld >= %d) feature-major X, got shape %s"
                                 % (sizes[0], y.shape[0], X.shape))
            self.N = y.shape[0]
            self.ws.ld_X = X.shape[1]
        else:
            self.N = given.size // sizes[0]
            self.ws.ld_X = self.N
        if y.shape[0] != self.N:
            raise ValueError("y must have %d labels, got %d" % (self.N, y.shape[0]))
        self.feature_threads = num_threads
        self.X = None
        self.ws.X = NULL
        if X is not None:
            self.X = X
            self.ws.X = array_data(X, self.dtype, sizes[0] * self.ws.ld_X, "X")
        if batch_size < self.N:
            # minibatches are gathered from the sample-major X (layers.gather_batch)
            if X_rows is None:
                X_rows = np.ascontiguousarray(X.reshape(sizes[0], self.ws.ld_X)[:, :self.N].T)
            if not isinstance(X_rows, np.ndarray) or X_rows.shape != (self.N, sizes[0]):
                raise ValueError("X_rows must be the (%d, %d) sample-major X" % (self.N, sizes[0]))
            self.X_rows = X_rows
            self.ws.X_rows = array_data(X_rows, self.dtype, self.N * sizes[0], "X_rows")
        elif X is None:
            raise ValueError("a full-batch workspace needs the feature-major X")
        else:
            self.X_rows = None
            self.ws.X_rows = NULL
        self.y = y
        self.batch_size = batch_size
        # block_rows: the tests set it to check the partition against the reference
        self.block_rows = (workspace_block_rows(sizes, self.N, batch_size, self.dtype.itemsize) if block_rows is None
                           else block_rows)
        layout = workspace_buffers(sizes, self.N, batch_size, self.dtype.itemsize, num_threads, self.block_rows)
        self.buffers = {name: aligned_empty(count, dtype) if name in ALIGNED_BUFFERS else np.empty(count, dtype)
                        for name, (count, dtype) in layout.items()}
        self.nbytes = sum(buffer_bytes(name, count, dtype) for name, (count, dtype) in layout.items())
        self.num_threads = threads_for(sizes, max(self.N, batch_size), num_threads)
        layer_shapes = list(zip(sizes[:L], sizes[1:]))
        num_weights = sum(J * K for J, K in layer_shapes)
        units = sum(sizes[1:])
        b = self.buffers
        b["sizes"][:] = sizes
        b["weight_offsets"][:] = np.cumsum([0] + [J * K for J, K in layer_shapes])[:L]
        b["bias_offsets"][:] = num_weights + np.cumsum([0] + sizes[1:])[:L]
        b["unit_offsets"][:] = np.cumsum([0] + sizes[1:])[:L]

        self.ws.num_layers = L
        self.ws.sizes = <const Py_ssize_t *> cnp.PyArray_DATA(b["sizes"])
        self.ws.weight_offsets = <const Py_ssize_t *> cnp.PyArray_DATA(b["weight_offsets"])
        self.ws.bias_offsets = <const Py_ssize_t *> cnp.PyArray_DATA(b["bias_offsets"])
        self.ws.unit_offsets = <const Py_ssize_t *> cnp.PyArray_DATA(b["unit_offsets"])
        self.ws.num_weights = num_weights
        self.ws.num_params = num_weights + units
        self.ws.units = units
        self.ws.N = self.N
        self.ws.batch_size = batch_size
        self.ws.y = &self.y[0]
        self.ws.X_batch = cnp.PyArray_DATA(b["X_batch"])
        self.ws.ld_batch = feature_stride(batch_size, self.dtype.itemsize)
        self.ws.y_batch = <Py_ssize_t *> cnp.PyArray_DATA(b["y_batch"])
        self.ws.block_rows = self.block_rows
        self.ws.parallel_rows = parallel_rows_for(sizes)
        self.ws.num_threads = self.num_threads
        self.ws.activation = <Activation> activation
        self.ws.itemsize = self.dtype.itemsize
        self.ws.outputs = cnp.PyArray_DATA(b["outputs"])
        self.ws.deltas = cnp.PyArray_DATA(b["deltas"])
        self.ws.scratch = cnp.PyArray_DATA(b["scratch"])
        self.ws.lanes = cnp.PyArray_DATA(b["lanes"])
        self.ws.lane_weights = lane_weights_for(sizes)
        self.ws.pack = cnp.PyArray_DATA(b["pack"])
        self.ws.pack_shared = cnp.PyArray_DATA(b["pack_shared"])
        self.ws.pack_shared_elements = shared_pack_elements(sizes, batch_size, self.block_rows, self.dtype.itemsize,
                                                            self.num_threads)
        self.ws.lanes_per_weight = FBP_LANES_D if self.dtype == np.float64 else FBP_LANES_F
        self.ws.slab_grads = cnp.PyArray_DATA(b["slab_grads"])
        self.ws.slab_losses = <double *> cnp.PyArray_DATA(b["slab_losses"])

    cdef check_params(self, params, bint writable=False):
        array_data(params, self.dtype, self.ws.num_params, "params", writable)

    cdef need_feature_major(self):
        # A minibatch workspace built from X_rows alone makes the feature-major
        # X (a copy as large as X) only for what reads all rows: the loss, the
        # probabilities, a full pass.
        if self.X is None:
            self.X = feature_major(self.X_rows, self.feature_threads)
            self.ws.X = cnp.PyArray_DATA(self.X)
            self.ws.ld_X = self.X.shape[1]

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
        self.check_params(params, writable=True)
        if loss_every > 0:
            self.need_feature_major()
        if num_passes > 0:
            _train_passes(self, params, orders, epsilons, reg_lambda, first_pass, num_passes, loss_every, losses)

    def loss(self, params, double reg_lambda):
        """reference.calculate_loss on the whole training set."""
        self.check_params(params)
        self.need_feature_major()
        return _loss(self, params, reg_lambda)

    def train_pass(self, params, double epsilon, double reg_lambda):
        """reference.train_pass on the whole training set, in place (for the tests)."""
        self.check_params(params, writable=True)
        self.need_feature_major()
        _train_pass(self, params, epsilon, reg_lambda)

    def gradient(self, params, grads):
        """reference.gradients with reg_lambda = 0, flat, on the whole training set (for the tests)."""
        self.check_params(params)
        array_data(grads, self.dtype, self.ws.num_params, "grads", True)
        self.need_feature_major()
        _gradient(self, params, grads)

    def forward_block(self, params, Py_ssize_t start, Py_ssize_t n):
        """reference.forward on rows start..start+n-1 (n <= block_rows) -> each layer's (n,K)^T (for the tests)."""
        self.check_params(params)
        if not (0 <= start and 0 < n <= self.block_rows and start + n <= self.N):
            raise ValueError("rows %d..%d are not a block of the %d rows" % (start, start + n - 1, self.N))
        self.need_feature_major()
        _forward_block(self, params, start, n)
        outputs = self.buffers["outputs"]
        return [outputs[self.ws.unit_offsets[l] * self.block_rows:][:n * K].copy()
                for l, K in enumerate(self.buffers["sizes"][1:])]

    def probabilities(self, probs, params):
        """reference.predict_proba on the N rows, into probs (N,C)^T."""
        self.check_params(params)
        array_data(probs, self.dtype, self.N * self.ws.sizes[self.ws.num_layers], "probs", True)
        self.need_feature_major()
        _probabilities(self, probs, params)


# The entry points' bodies, fused over the precision: Cython runs the copy of
# the parameters' dtype, which Workspace has checked is its own.

def _train_passes(Workspace w, real[::1] params, const Py_ssize_t[::1] orders, const double[::1] epsilons,
                  double reg_lambda, Py_ssize_t first_pass, Py_ssize_t num_passes, Py_ssize_t loss_every,
                  double[::1] losses):
    cdef const Py_ssize_t *order_data = &orders[0] if w.batch_size < w.N else NULL
    cdef double *loss_data = &losses[0] if losses.shape[0] > 0 else NULL
    with nogil:
        run_passes(&w.ws, &params[0], order_data, &epsilons[0], reg_lambda, first_pass, num_passes, loss_every,
                   loss_data)


def _loss(Workspace w, const real[::1] params, double reg_lambda):
    cdef double loss
    with nogil:
        loss = network_loss(&w.ws, &params[0], reg_lambda)
    return loss


def _train_pass(Workspace w, real[::1] params, double epsilon, double reg_lambda):
    with nogil:
        train_pass(&w.ws, &params[0], <const real *> w.ws.X, w.ws.ld_X, w.ws.y, w.N, epsilon, reg_lambda)


def _gradient(Workspace w, const real[::1] params, real[::1] grads):
    cdef real *result
    with nogil:
        result = network_gradient(&w.ws, &params[0], <const real *> w.ws.X, w.ws.ld_X, w.ws.y, w.N)
    memcpy(&grads[0], result, w.ws.num_params * sizeof(real))


def _forward_block(Workspace w, const real[::1] params, Py_ssize_t start, Py_ssize_t n):
    network_forward_block(&w.ws, 0, &params[0], <const real *> w.ws.X + start, w.ws.ld_X, n)


def _probabilities(Workspace w, real[::1] probs, const real[::1] params):
    with nogil:
        network_probabilities(&w.ws, &probs[0], &params[0])


def predict_probabilities(probs,        # OUT (N,C)^T
                          params,       # IN
                          X,            # IN (N,D)^T: feature_major's (D, ld), or flat
                          sizes, int activation, int num_threads, path=None):
    """reference.predict_proba, streamed in blocks: the working memory does not
    grow with N. probs and params have the dtype of X."""
    cdef Py_ssize_t N = len(probs) // sizes[len(sizes) - 1]
    Workspace(sizes, activation, X, np.zeros(N, dtype=np.intp), N, num_threads, path=path).probabilities(
        probs, params)
