"""The estimators' compiled path: src/_mlp.pyx's workspace for one fit, fed in
the kernels' layout. Dense X only; a sparse X trains on the NumPy reference
(fastbp/reference_mlp.py), one minibatch's rows at a time."""

import numpy as np
import scipy.sparse

from .. import _mlp

# The tests switch this off to run the same fits on the reference.
ENABLED = True


def applies(X):
    return ENABLED and not scipy.sparse.issparse(X)


def workspace(estimator, X, y, sample_weight, batch_size):
    """The workspace of a fit on (X, y, sample_weight): X and y sample-major (X itself when it is
    C-contiguous), in X's dtype, on OpenMP's threads (OMP_NUM_THREADS, a threadpoolctl limit)."""
    layer_units = [W.shape[0] for W in estimator.coefs_] + [estimator.coefs_[-1].shape[1]]
    features = np.ascontiguousarray(X).ravel()
    targets = np.ascontiguousarray(y, dtype=X.dtype).ravel()
    weights = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=X.dtype)
    return _mlp.MLPWorkspace(layer_units, estimator.activation, estimator.out_activation_, features, targets,
                             weights, float(estimator.alpha), batch_size, _mlp.max_threads())


def flatten(estimator):
    """Make coefs_ and intercepts_ views of one flat buffer (the kernels' layout: every weight, then every bias)
    -> the buffer."""
    arrays = estimator.coefs_ + estimator.intercepts_
    flat = np.concatenate([array.ravel() for array in arrays])
    views, start = [], 0
    for array in arrays:
        views.append(flat[start:start + array.size].reshape(array.shape))
        start += array.size
    L = len(estimator.coefs_)
    estimator.coefs_, estimator.intercepts_ = views[:L], views[L:]
    return flat
