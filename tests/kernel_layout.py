"""The compiled kernels' array layout, for the tests that call them directly.

Per-sample arrays are feature-major: the reference's (N,K) array is the flat
buffer of its transpose (src/layers.pxd). Parameters are one flat buffer, every
weight matrix then every bias, in reference.parameter_names order.
"""

import numpy as np

from fastbp import _backend, reference


def feature_major(a, dtype=np.float64):
    """(N,K) -> the flat (N,K)^T buffer the kernels take, in dtype."""
    return np.ascontiguousarray(np.asarray(a, dtype=dtype).T).ravel()


def sample_major(flat, N, K):
    """The flat (N,K)^T buffer -> an (N,K) view, as the reference holds it."""
    return flat.reshape(K, N).T


def flatten(model, sizes):
    """-> (the kernels' flat parameter buffer, its parameter names)."""
    names = reference.parameter_names(len(sizes) - 1)
    return _backend.flat_params(model, names), names


def unflatten(flat, names, like):
    """A flat parameter buffer -> a model dict shaped like ``like`` (copies; its activation kept)."""
    model, offset = {}, 0
    for name in names:
        model[name] = flat[offset:offset + like[name].size].reshape(like[name].shape).copy()
        offset += like[name].size
    if "activation" in like:
        model["activation"] = like["activation"]
    return model


def perturbed_network(sizes, N, activation, seed=13, dtype=np.float64):
    """-> (X, y, model): random data and the lecture's initialisation plus noise,
    so that no weight is special; arrays in dtype (the same draws for both)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=N).astype(np.intp)
    model = reference.init_params(sizes, seed=3)
    for name in model:
        model[name] = (model[name] + 0.1 * rng.standard_normal(model[name].shape)).astype(dtype)
    model["activation"] = activation
    return X, y, model
