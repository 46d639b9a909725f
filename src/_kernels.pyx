# The compiled twin of fastbp/reference.py.
#
# Every kernel below mirrors the reference function of the same name: same
# inputs in the same order, outputs first, sizes last, and a comment quoting the
# NumPy line it computes. Arrays are flat C-ordered views with their shape in a
# comment (N samples, D inputs, H hidden, C classes; a dense layer maps J inputs
# to K outputs), so that the fused loop can carve every layer out of one
# parameter buffer and one workspace without touching Python.
#
# Layout: weights are (J,K) as in the model dict, but every per-sample array
# (X, activations, logits, deltas) is stored transposed, feature-major, marked
# (K,N)^T: the reference's (N,K) array z is held as z.T. Then every inner loop
# runs over the N samples, long and contiguous, instead of over a hidden
# layer of 3 units, and the compiler vectorises it.
#
# Compiler directives (no bounds checks, no wraparound) are set in setup.py;
# FASTBP_DEBUG=1 at build time turns the checks back on. With them off, the
# Python layer (fastbp/trainer.py) is the only guard on shapes and labels.

from libc.math cimport exp, log

cimport numpy as cnp
import numpy as np

cnp.import_array()

# ---------------------------------------------------------------- NumPy's own elementwise loops
#
# tanh (and the exp of sigmoid) over a whole layer is the costliest part of a
# pass. Rather than call libm once per element, the kernels call NumPy's own
# compiled float64 loops for np.tanh and np.exp (SIMD where the CPU has it),
# looked up once, here, in the ufunc's table of loops (PyUFuncObject.functions
# and .types, public fields of NumPy's C API) and run without the GIL. They are
# the very loops the reference runs, so these steps agree with it bit for bit,
# and are about 5x faster than glibc's tanh.

ctypedef void (*UnaryLoop)(char **args, const cnp.npy_intp *dimensions, const cnp.npy_intp *steps,
                           void *data) noexcept nogil

cdef struct NumpyLoop:
    UnaryLoop function
    void *data


cdef NumpyLoop float64_loop(cnp.ufunc ufunc) except *:
    cdef int i
    for i in range(ufunc.ntypes):
        if ufunc.types[2 * i] == cnp.NPY_DOUBLE and ufunc.types[2 * i + 1] == cnp.NPY_DOUBLE:
            return NumpyLoop(<UnaryLoop> ufunc.functions[i], ufunc.data[i])
    raise ImportError("numpy.%s has no float64 -> float64 loop" % ufunc.__name__)


cdef NumpyLoop NUMPY_TANH = float64_loop(np.tanh)
cdef NumpyLoop NUMPY_EXP = float64_loop(np.exp)


cdef inline void apply_numpy_loop(NumpyLoop loop, double[::1] out, const double[::1] inp,
                                  Py_ssize_t size) noexcept nogil:
    # out[:size] = ufunc(inp[:size]); out may be inp itself (an exact overlap,
    # which NumPy's loops support: it is np.tanh(x, out=x))
    cdef char *args[2]
    cdef cnp.npy_intp dimensions[1]
    cdef cnp.npy_intp steps[2]
    if size == 0:
        return
    args[0] = <char *> &inp[0]
    args[1] = <char *> &out[0]
    dimensions[0] = size
    steps[0] = sizeof(double)
    steps[1] = sizeof(double)
    loop.function(args, dimensions, steps, loop.data)


# ---------------------------------------------------------------- sums

cdef inline double dot(const double[::1] a, const double[::1] b, Py_ssize_t size) noexcept nogil:
    # np.dot(a, b) in four interleaved partial sums, added as (s0 + s1) + (s2 + s3):
    # one running sum would wait on the adder's latency at every sample. The order
    # is fixed, so results are reproducible; it differs from BLAS's own blocking
    # only in the last bits (KERNEL_RTOL in the tests).
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t i, tail = size - size % 4
    for i in range(0, tail, 4):
        s0 = s0 + a[i] * b[i]
        s1 = s1 + a[i + 1] * b[i + 1]
        s2 = s2 + a[i + 2] * b[i + 2]
        s3 = s3 + a[i + 3] * b[i + 3]
    for i in range(tail, size):
        s0 = s0 + a[i] * b[i]
    return (s0 + s1) + (s2 + s3)


cdef inline double total(const double[::1] a, Py_ssize_t size) noexcept nogil:
    # np.sum(a), in the partial sums of dot
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t i, tail = size - size % 4
    for i in range(0, tail, 4):
        s0 = s0 + a[i]
        s1 = s1 + a[i + 1]
        s2 = s2 + a[i + 2]
        s3 = s3 + a[i + 3]
    for i in range(tail, size):
        s0 = s0 + a[i]
    return (s0 + s1) + (s2 + s3)


# ---------------------------------------------------------------- forward / backward pairs

cpdef void dense_forward(double[::1] z,              # OUT (N,K)^T
                         const double[::1] inp,      # IN  (N,J)^T
                         const double[::1] W,        # IN  (J,K)
                         const double[::1] b,        # IN  (1,K)
                         Py_ssize_t N, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # z = inp.dot(W) + b
    # For each sample the sum runs over j in order, then adds b, as NumPy does.
    cdef Py_ssize_t n, j, k
    cdef double w
    for k in range(K):
        for n in range(N):
            z[k * N + n] = 0.0
        for j in range(J):
            w = W[j * K + k]
            for n in range(N):
                z[k * N + n] = z[k * N + n] + inp[j * N + n] * w
        for n in range(N):
            z[k * N + n] = z[k * N + n] + b[k]


cpdef void dense_backward(double[::1] dW,            # OUT (J,K), accumulated
                          double[::1] db,            # OUT (1,K), accumulated
                          const double[::1] delta,   # IN  (N,K)^T
                          const double[::1] inp,     # IN  (N,J)^T
                          Py_ssize_t N, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dW = inp.T.dot(delta); db = np.sum(delta, axis=0, keepdims=True)
    # Adds to gradients that the caller zeroes once per step.
    cdef Py_ssize_t j, k
    for k in range(K):
        db[k] = db[k] + total(delta[k * N:(k + 1) * N], N)
    for j in range(J):
        for k in range(K):
            dW[j * K + k] = dW[j * K + k] + dot(inp[j * N:(j + 1) * N], delta[k * N:(k + 1) * N], N)


cpdef void dense_backward_input(double[::1] dinp,         # OUT (N,J)^T
                                const double[::1] delta,  # IN  (N,K)^T
                                const double[::1] W,      # IN  (J,K)
                                Py_ssize_t N, Py_ssize_t J, Py_ssize_t K) noexcept nogil:
    # dinp = delta.dot(W.T)
    cdef Py_ssize_t n, j, k
    cdef double w
    for j in range(J):
        for n in range(N):
            dinp[j * N + n] = 0.0
        for k in range(K):
            w = W[j * K + k]
            for n in range(N):
                dinp[j * N + n] = dinp[j * N + n] + delta[k * N + n] * w


cpdef void tanh_forward(double[::1] a,          # OUT (N,K)^T, may be z itself
                        const double[::1] z,    # IN  (N,K)^T
                        Py_ssize_t size) noexcept nogil:
    # a = np.tanh(z), by NumPy's own loop: bit for bit the reference's
    apply_numpy_loop(NUMPY_TANH, a, z, size)


cpdef void tanh_backward(double[::1] dz,           # OUT (N,K)^T, may be dout itself
                         const double[::1] dout,   # IN  (N,K)^T
                         const double[::1] a,      # IN  (N,K)^T, the forward output
                         Py_ssize_t size) noexcept nogil:
    # dz = dout * (1 - np.power(a, 2))
    cdef Py_ssize_t i
    for i in range(size):
        dz[i] = dout[i] * (1.0 - a[i] * a[i])


cpdef void sigmoid_forward(double[::1] a,          # OUT (N,K)^T, may be z itself
                           const double[::1] z,    # IN  (N,K)^T
                           Py_ssize_t size) noexcept nogil:
    # a = 1.0 / (1.0 + np.exp(-z)), with NumPy's own exp loop; exp overflows to
    # inf below -709, giving exactly 0
    cdef Py_ssize_t i
    for i in range(size):
        a[i] = -z[i]
    apply_numpy_loop(NUMPY_EXP, a, a, size)
    for i in range(size):
        a[i] = 1.0 / (1.0 + a[i])


cpdef void sigmoid_backward(double[::1] dz,           # OUT (N,K)^T, may be dout itself
                            const double[::1] dout,   # IN  (N,K)^T
                            const double[::1] a,      # IN  (N,K)^T, the forward output
                            Py_ssize_t size) noexcept nogil:
    # dz = dout * (a * (1 - a))
    cdef Py_ssize_t i
    for i in range(size):
        dz[i] = dout[i] * (a[i] * (1.0 - a[i]))


cpdef void relu_forward(double[::1] a,          # OUT (N,K)^T, may be z itself
                        const double[::1] z,    # IN  (N,K)^T
                        Py_ssize_t size) noexcept nogil:
    # a = np.maximum(z, 0.0)
    cdef Py_ssize_t i
    for i in range(size):
        a[i] = z[i] if z[i] > 0.0 else 0.0


cpdef void relu_backward(double[::1] dz,           # OUT (N,K)^T, may be dout itself
                         const double[::1] dout,   # IN  (N,K)^T
                         const double[::1] a,      # IN  (N,K)^T, the forward output
                         Py_ssize_t size) noexcept nogil:
    # dz = dout * (a > 0)
    cdef Py_ssize_t i
    for i in range(size):
        dz[i] = dout[i] * (1.0 if a[i] > 0.0 else 0.0)


# The hidden-layer activations, numbered as in fastbp.trainer.ACTIVATION_CODES
# (the order of reference.ACTIVATIONS).
cpdef enum Activation:
    TANH = 0
    SIGMOID = 1
    RELU = 2


cdef inline void activation_forward(double[::1] a, const double[::1] z, Py_ssize_t size,
                                    Activation activation) noexcept nogil:
    # reference.ACTIVATIONS[name][0]
    if activation == SIGMOID:
        sigmoid_forward(a, z, size)
    elif activation == RELU:
        relu_forward(a, z, size)
    else:
        tanh_forward(a, z, size)


cdef inline void activation_backward(double[::1] dz, const double[::1] dout, const double[::1] a,
                                     Py_ssize_t size, Activation activation) noexcept nogil:
    # reference.ACTIVATIONS[name][1]
    if activation == SIGMOID:
        sigmoid_backward(dz, dout, a, size)
    elif activation == RELU:
        relu_backward(dz, dout, a, size)
    else:
        tanh_backward(dz, dout, a, size)


cpdef void softmax_forward(double[::1] probs,     # OUT (N,C)^T, may be z itself
                           const double[::1] z,   # IN  (N,C)^T
                           Py_ssize_t N, Py_ssize_t C) noexcept nogil:
    # shifted = z - z.max(axis=1, keepdims=True); exp_scores = np.exp(shifted)
    # probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    cdef Py_ssize_t n, c
    cdef double row_max, row_total, z_cn
    for n in range(N):
        row_max = z[n]
        for c in range(1, C):
            if z[c * N + n] > row_max:
                row_max = z[c * N + n]
        row_total = 0.0
        for c in range(C):
            z_cn = z[c * N + n]
            # exp(0) is exactly 1: skipping it for the row's max halves the exps when C = 2
            probs[c * N + n] = 1.0 if z_cn == row_max else exp(z_cn - row_max)
            row_total = row_total + probs[c * N + n]
        for c in range(C):
            probs[c * N + n] = probs[c * N + n] / row_total


cpdef void softmax_cross_entropy_backward(double[::1] delta,        # OUT (N,C)^T, may be probs itself
                                          const double[::1] probs,  # IN  (N,C)^T
                                          const Py_ssize_t[::1] y,  # IN  (N,)
                                          Py_ssize_t N, Py_ssize_t C) noexcept nogil:
    # delta = probs.copy(); delta[np.arange(len(y)), y] -= 1
    cdef Py_ssize_t n, i
    for i in range(N * C):
        delta[i] = probs[i]
    for n in range(N):
        delta[y[n] * N + n] = delta[y[n] * N + n] - 1.0


cpdef double cross_entropy_loss(const double[::1] z,       # IN (N,C)^T
                                const Py_ssize_t[::1] y,   # IN (N,)
                                Py_ssize_t N, Py_ssize_t C) noexcept nogil:
    # shifted = z - z.max(axis=1, keepdims=True)
    # np.sum(np.log(np.sum(np.exp(shifted), axis=1)) - shifted[np.arange(N), y])
    cdef Py_ssize_t n, c
    cdef double row_max, row_total, loss = 0.0
    for n in range(N):
        row_max = z[n]
        for c in range(1, C):
            if z[c * N + n] > row_max:
                row_max = z[c * N + n]
        row_total = 0.0
        for c in range(C):
            row_total = row_total + exp(z[c * N + n] - row_max)
        loss = loss + (log(row_total) - (z[y[n] * N + n] - row_max))
    return loss


cpdef void sgd_update(double[::1] param,     # IN/OUT (any shape, flat)
                      double[::1] dparam,    # IN/OUT (same shape)
                      double epsilon, double reg_lambda, Py_ssize_t size) noexcept nogil:
    # dparam += reg_lambda * param; param += -epsilon * dparam
    cdef Py_ssize_t i
    for i in range(size):
        dparam[i] = dparam[i] + reg_lambda * param[i]
        param[i] = param[i] + (-epsilon) * dparam[i]


# ---------------------------------------------------------------- the network, carved from flat buffers
#
# sizes is (D, H1, ..., C): L = len(sizes) - 1 dense layers, layer l mapping
# sizes[l] inputs to sizes[l+1] outputs (l counts from 0; the model dict's
# W1 is layer 0).
# params holds every weight matrix in layer order, then every bias; grads has
# the same layout. Weights and biases each form one block, so the update is two
# flat loops: the weights with L2, the biases without.
# outputs holds each layer's output (N,K)^T in layer order: hidden activations,
# then the logits, which the backward pass overwrites with probs and then delta.
# deltas has the layout of outputs; the block of hidden layer l receives the
# gradient with respect to that layer's pre-activation z.

cdef inline Py_ssize_t num_weights(const Py_ssize_t[::1] sizes) noexcept nogil:
    cdef Py_ssize_t l, total = 0
    for l in range(sizes.shape[0] - 1):
        total += sizes[l] * sizes[l + 1]
    return total


cdef inline Py_ssize_t weight_offset(const Py_ssize_t[::1] sizes, Py_ssize_t layer) noexcept nogil:
    cdef Py_ssize_t l, offset = 0
    for l in range(layer):
        offset += sizes[l] * sizes[l + 1]
    return offset


cdef inline Py_ssize_t bias_offset(const Py_ssize_t[::1] sizes, Py_ssize_t layer) noexcept nogil:
    cdef Py_ssize_t l, offset = num_weights(sizes)
    for l in range(layer):
        offset += sizes[l + 1]
    return offset


cdef inline Py_ssize_t output_offset(const Py_ssize_t[::1] sizes, Py_ssize_t layer,
                                     Py_ssize_t N) noexcept nogil:
    cdef Py_ssize_t l, offset = 0
    for l in range(layer):
        offset += N * sizes[l + 1]
    return offset


cpdef void network_forward(double[::1] outputs,          # OUT sum over layers of (N,K)^T
                           const double[::1] params,     # IN
                           const double[::1] X,          # IN (N,D)^T
                           const Py_ssize_t[::1] sizes,  # IN (D, H1, ..., C)
                           Py_ssize_t N, Activation activation) noexcept nogil:
    # reference.forward: z = dense_forward(inp, Wl, bl); inp = activation_forward(z) below the top
    cdef Py_ssize_t l, J, K, w, b, out
    cdef Py_ssize_t num_layers = sizes.shape[0] - 1
    cdef const double[::1] inp = X
    for l in range(num_layers):
        J = sizes[l]
        K = sizes[l + 1]
        w = weight_offset(sizes, l)
        b = bias_offset(sizes, l)
        out = output_offset(sizes, l, N)
        dense_forward(outputs[out:out + N * K], inp, params[w:w + J * K], params[b:b + K], N, J, K)
        if l < num_layers - 1:
            activation_forward(outputs[out:out + N * K], outputs[out:out + N * K], N * K, activation)
        inp = outputs[out:out + N * K]


cpdef void network_backward(double[::1] grads,            # OUT, zeroed here, then accumulated
                            double[::1] outputs,          # IN/OUT: the logits become delta
                            double[::1] deltas,           # scratch, layout of outputs
                            const double[::1] params,     # IN
                            const double[::1] X,          # IN (N,D)^T
                            const Py_ssize_t[::1] y,      # IN (N,)
                            const Py_ssize_t[::1] sizes,  # IN (D, H1, ..., C)
                            Py_ssize_t N, Activation activation) noexcept nogil:
    # reference.backward: the data term only; sgd_update adds the L2 term
    cdef Py_ssize_t l, J, K, w, b, below, i
    cdef Py_ssize_t num_layers = sizes.shape[0] - 1
    cdef Py_ssize_t C = sizes[num_layers]
    cdef Py_ssize_t top = output_offset(sizes, num_layers - 1, N)
    cdef const double[::1] inp
    cdef double[::1] delta = outputs[top:top + N * C]
    for i in range(grads.shape[0]):
        grads[i] = 0.0
    # delta3 = probs - onehot(y), in place over the logits
    softmax_forward(delta, delta, N, C)
    softmax_cross_entropy_backward(delta, delta, y, N, C)
    for l in range(num_layers - 1, -1, -1):
        J = sizes[l]
        K = sizes[l + 1]
        w = weight_offset(sizes, l)
        b = bias_offset(sizes, l)
        if l == 0:
            dense_backward(grads[w:w + J * K], grads[b:b + K], delta, X, N, J, K)
        else:
            below = output_offset(sizes, l - 1, N)
            dense_backward(grads[w:w + J * K], grads[b:b + K], delta, outputs[below:below + N * J], N, J, K)
            # delta2 = delta3.dot(W2.T) * (1 - a1**2)
            dense_backward_input(deltas[below:below + N * J], delta, params[w:w + J * K], N, J, K)
            activation_backward(deltas[below:below + N * J], deltas[below:below + N * J],
                                outputs[below:below + N * J], N * J, activation)
            delta = deltas[below:below + N * J]


cpdef void train_pass(double[::1] params, double[::1] grads,       # IN/OUT, OUT
                      double[::1] outputs, double[::1] deltas,     # workspace
                      const double[::1] X, const Py_ssize_t[::1] y, const Py_ssize_t[::1] sizes,
                      Py_ssize_t N, double epsilon, double reg_lambda,
                      Activation activation) noexcept nogil:
    # reference.train_pass: every gradient first, then every parameter moves
    cdef Py_ssize_t W = num_weights(sizes)
    cdef Py_ssize_t P = params.shape[0]
    network_forward(outputs, params, X, sizes, N, activation)
    network_backward(grads, outputs, deltas, params, X, y, sizes, N, activation)
    sgd_update(params[:W], grads[:W], epsilon, reg_lambda, W)
    sgd_update(params[W:], grads[W:], epsilon, 0.0, P - W)


cpdef void gather_batch(double[::1] X_batch,           # OUT (B,D)^T
                        Py_ssize_t[::1] y_batch,       # OUT (B,)
                        const double[::1] X,           # IN  (N,D)^T
                        const Py_ssize_t[::1] y,       # IN  (N,)
                        const Py_ssize_t[::1] batch,   # IN  (B,) sample indices
                        Py_ssize_t N, Py_ssize_t D) noexcept nogil:
    # X_batch, y_batch = X[batch], y[batch]
    cdef Py_ssize_t i, d, B = batch.shape[0]
    for d in range(D):
        for i in range(B):
            X_batch[d * B + i] = X[d * N + batch[i]]
    for i in range(B):
        y_batch[i] = y[batch[i]]


cdef void train_epoch(double[::1] params, double[::1] grads,       # IN/OUT, OUT
                      double[::1] outputs, double[::1] deltas,     # workspace
                      double[::1] X_batch, Py_ssize_t[::1] y_batch,  # workspace (B,D)^T, (B,)
                      const double[::1] X, const Py_ssize_t[::1] y, const Py_ssize_t[::1] sizes,
                      Py_ssize_t N, const Py_ssize_t[::1] order, Py_ssize_t batch_size,
                      const double[::1] epsilons, double reg_lambda,
                      Activation activation) noexcept nogil:
    # reference.train_epoch: batch k of the shuffled order steps with epsilons[k];
    # reg_lambda * (B / N) keeps an epoch's weight decay that of one full pass
    cdef Py_ssize_t step, start, B, D = sizes[0]
    cdef Py_ssize_t num_steps = (N + batch_size - 1) // batch_size
    for step in range(num_steps):
        start = step * batch_size
        B = min(batch_size, N - start)
        gather_batch(X_batch[:B * D], y_batch[:B], X, y, order[start:start + B], N, D)
        train_pass(params, grads, outputs, deltas, X_batch[:B * D], y_batch[:B], sizes, B,
                   epsilons[step], reg_lambda * (<double> B / N), activation)


def train_passes(double[::1] params, double[::1] grads,             # IN/OUT, OUT
                 double[::1] outputs, double[::1] deltas,           # workspace
                 double[::1] X_batch, Py_ssize_t[::1] y_batch,      # workspace, minibatches only
                 double[::1] losses, double[::1] loss_outputs,      # OUT, workspace (N samples)
                 const double[::1] X, const Py_ssize_t[::1] y, const Py_ssize_t[::1] sizes,
                 Py_ssize_t N, const Py_ssize_t[::1] orders, Py_ssize_t batch_size,
                 const double[::1] epsilons, double reg_lambda, int activation,
                 Py_ssize_t first_pass, Py_ssize_t num_passes, Py_ssize_t loss_every):
    """The fused loop: passes ``first_pass`` .. ``first_pass + num_passes - 1`` in C, without the GIL.

    Full batch (``batch_size == N``): pass i is train_pass with ``epsilons[i]``;
    ``orders`` is not read. Minibatches: pass i is train_epoch over the
    permutation ``orders[i*N:(i+1)*N]`` with the step sizes that follow in
    ``epsilons`` (both counted from this call's first pass). After every pass p
    with ``p % loss_every == 0`` (none when loss_every is 0), the loss on the
    whole training set goes to ``losses[p // loss_every]``: recording never
    returns to Python. No allocation inside the loop: fastbp.trainer allocates
    the workspace once per training call.
    """
    cdef Py_ssize_t i, p, steps_per_pass = (N + batch_size - 1) // batch_size
    with nogil:
        for i in range(num_passes):
            if batch_size == N:
                train_pass(params, grads, outputs, deltas, X, y, sizes, N, epsilons[i], reg_lambda,
                           <Activation> activation)
            else:
                train_epoch(params, grads, outputs, deltas, X_batch, y_batch, X, y, sizes, N,
                            orders[i * N:(i + 1) * N], batch_size,
                            epsilons[i * steps_per_pass:(i + 1) * steps_per_pass], reg_lambda,
                            <Activation> activation)
            p = first_pass + i
            if loss_every > 0 and p % loss_every == 0:
                losses[p // loss_every] = calculate_loss(params, loss_outputs, X, y, sizes, N, reg_lambda,
                                                         <Activation> activation)


cpdef double calculate_loss(const double[::1] params, double[::1] outputs,   # IN, workspace
                            const double[::1] X, const Py_ssize_t[::1] y,
                            const Py_ssize_t[::1] sizes, Py_ssize_t N,
                            double reg_lambda, Activation activation) noexcept nogil:
    # reference.calculate_loss: (sum of -log p[y] + reg/2 * sum of |Wl|^2) / N
    cdef Py_ssize_t i, num_layers = sizes.shape[0] - 1
    cdef Py_ssize_t C = sizes[num_layers]
    cdef Py_ssize_t top = output_offset(sizes, num_layers - 1, N)
    cdef double data_loss, weight_norm = 0.0
    network_forward(outputs, params, X, sizes, N, activation)
    data_loss = cross_entropy_loss(outputs[top:top + N * C], y, N, C)
    for i in range(num_weights(sizes)):
        weight_norm = weight_norm + params[i] * params[i]
    data_loss = data_loss + reg_lambda / 2 * weight_norm
    return 1.0 / N * data_loss
