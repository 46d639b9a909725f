# Thin def wrappers that expose each kernel of layers.pxd to the tests, under
# the name of its reference twin (layers.dense_forward is the kernel,
# dense_forward here its wrapper). Arrays are flat and feature-major, as the
# kernels take them; whole arrays are one block (ld = N).

cimport layers
from linalg cimport load_blas, use_blas


def dense_forward(double[::1] z, const double[::1] inp, const double[::1] W, const double[::1] b,
                  Py_ssize_t N, Py_ssize_t J, Py_ssize_t K):
    load_blas()
    layers.dense_forward(&z[0], &inp[0], N, &W[0], &b[0], N, J, K)


def dense_backward(double[::1] dW, double[::1] db, const double[::1] delta, const double[::1] inp,
                   Py_ssize_t N, Py_ssize_t J, Py_ssize_t K):
    load_blas()
    layers.dense_backward(&dW[0], &db[0], &delta[0], &inp[0], N, N, J, K)


def dense_backward_input(double[::1] dinp, const double[::1] delta, const double[::1] W,
                         Py_ssize_t N, Py_ssize_t J, Py_ssize_t K):
    load_blas()
    layers.dense_backward_input(&dinp[0], &delta[0], &W[0], N, J, K)


def uses_blas(Py_ssize_t J, Py_ssize_t K):
    """Whether a (J,K) layer's products go to BLAS (so the tests cover both paths)."""
    return use_blas(J, K)


def tanh_forward(double[::1] a, const double[::1] z, Py_ssize_t size):
    layers.tanh_forward(&a[0], &z[0], size)


def tanh_backward(double[::1] dz, const double[::1] dout, const double[::1] a, Py_ssize_t size):
    layers.tanh_backward(&dz[0], &dout[0], &a[0], size)


def sigmoid_forward(double[::1] a, const double[::1] z, Py_ssize_t size):
    layers.sigmoid_forward(&a[0], &z[0], size)


def sigmoid_backward(double[::1] dz, const double[::1] dout, const double[::1] a, Py_ssize_t size):
    layers.sigmoid_backward(&dz[0], &dout[0], &a[0], size)


def relu_forward(double[::1] a, const double[::1] z, Py_ssize_t size):
    layers.relu_forward(&a[0], &z[0], size)


def relu_backward(double[::1] dz, const double[::1] dout, const double[::1] a, Py_ssize_t size):
    layers.relu_backward(&dz[0], &dout[0], &a[0], size)


def softmax_forward(double[::1] probs, const double[::1] z, Py_ssize_t N, Py_ssize_t C):
    cdef double[::1] scratch = memoryview(bytearray(8 * N)).cast("d")
    layers.softmax_forward(&probs[0], &z[0], &scratch[0], N, C)


def softmax_cross_entropy_backward(double[::1] delta, const double[::1] probs, const Py_ssize_t[::1] y,
                                   Py_ssize_t N, Py_ssize_t C):
    layers.softmax_cross_entropy_backward(&delta[0], &probs[0], &y[0], N, C)


def cross_entropy_loss(const double[::1] z, const Py_ssize_t[::1] y, Py_ssize_t N, Py_ssize_t C):
    cdef double[::1] scratch = memoryview(bytearray(8 * N * (C + 1))).cast("d")
    return layers.cross_entropy_loss(&z[0], &y[0], &scratch[0], N, C)


def sgd_update(double[::1] param, double[::1] dparam, double epsilon, double reg_lambda, Py_ssize_t size):
    layers.sgd_update(&param[0], &dparam[0], epsilon, reg_lambda, size)


def gather_batch(double[::1] X_batch, Py_ssize_t[::1] y_batch, const double[::1] X, const Py_ssize_t[::1] y,
                 const Py_ssize_t[::1] batch, Py_ssize_t N, Py_ssize_t D):
    layers.gather_batch(&X_batch[0], &y_batch[0], &X[0], &y[0], &batch[0], len(batch), N, D)
