"""The two training loops: minibatch epochs for "sgd" and "adam", and SciPy's
L-BFGS-B on the whole objective for "lbfgs".

Both draw from ``estimator._random_state`` exactly what scikit-learn's MLPs
draw, in the same order (the early-stopping split, then one shuffle per
epoch), so the same random_state gives the same batches.
"""

import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing, gen_batches
from sklearn.utils.optimize import _check_optimize_result

from . import _compiled, _optimizers, _params


def fit_stochastic(estimator, X, y, sample_weight, incremental):
    """Epochs of minibatch steps until max_iter, a stall, or (incremental) one epoch."""
    compiled = _compiled.applies(X)
    flat = _compiled.flatten(estimator) if compiled else None
    params = estimator.coefs_ + estimator.intercepts_
    if not incremental or not hasattr(estimator, "_optimizer"):
        estimator._optimizer = _optimizers.make_optimizer(estimator, params)
    if estimator.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    if estimator.early_stopping:
        X_train, X_val, y_train, y_val, weight_train, weight_val = _validation_split(estimator, X, y, sample_weight)
    else:
        X_train, y_train, weight_train = X, y, sample_weight
        X_val = y_val = weight_val = None
    num_samples = X_train.shape[0]
    sample_index = np.arange(num_samples, dtype=int)
    batch = _params.batch_size(estimator.batch_size, num_samples)
    optimizer = estimator._optimizer
    workspace = _compiled.workspace(estimator, X_train, y_train, weight_train, batch) if compiled else None
    try:
        estimator.n_iter_ = 0
        for _ in range(estimator.max_iter):
            if estimator.shuffle:
                sample_index = _shuffled(sample_index, estimator._random_state)
            if workspace is not None:
                summed_loss = optimizer.epoch(workspace, flat, sample_index)
            else:
                summed_loss = _reference_epoch(estimator, optimizer, params, X_train, y_train, weight_train,
                                               sample_index, batch)
            estimator.n_iter_ += 1
            estimator.loss_ = summed_loss / num_samples
            estimator.t_ += num_samples
            estimator.loss_curve_.append(estimator.loss_)
            if estimator.verbose:
                print("Iteration %d, loss = %.8f" % (estimator.n_iter_, estimator.loss_))
            _count_stall(estimator, X_val, y_val, weight_val)
            optimizer.iteration_ends(estimator.t_)
            if estimator._no_improvement_count > estimator.n_iter_no_change:
                if estimator.early_stopping:
                    message = ("Validation score did not improve more than tol=%f for %d consecutive epochs."
                               % (estimator.tol, estimator.n_iter_no_change))
                else:
                    message = ("Training loss did not improve more than tol=%f for %d consecutive epochs."
                               % (estimator.tol, estimator.n_iter_no_change))
                if optimizer.trigger_stopping(message, estimator.verbose):
                    break
                estimator._no_improvement_count = 0
            if incremental:
                break
            if estimator.n_iter_ == estimator.max_iter:
                warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
                              "hasn't converged yet." % estimator.max_iter, ConvergenceWarning, stacklevel=2)
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.", stacklevel=2)
    if estimator.early_stopping:
        estimator.coefs_ = estimator._best_coefs
        estimator.intercepts_ = estimator._best_intercepts


def _shuffled(sample_index, random_state):
    """sklearn.utils.shuffle(sample_index, random_state=random_state): the same draw
    (its resample shuffles arange(N) with random_state, then indexes), without its
    checks of the arguments, which cost more than the shuffle of a small epoch."""
    order = np.arange(len(sample_index))
    random_state.shuffle(order)
    return sample_index[order]


def _reference_epoch(estimator, optimizer, params, X, y, sample_weight, sample_index, batch):
    """One epoch on the NumPy reference -> the sum of the batches' losses times their sizes."""
    summed_loss = 0.0
    for batch_slice in gen_batches(X.shape[0], batch):
        rows = sample_index[batch_slice] if estimator.shuffle else batch_slice
        X_batch = _safe_indexing(X, rows) if estimator.shuffle else X[rows]
        weight_batch = None if sample_weight is None else sample_weight[rows]
        batch_loss, coef_grads, intercept_grads = estimator._loss_and_gradients(X_batch, y[rows], weight_batch)
        summed_loss += batch_loss * (batch_slice.stop - batch_slice.start)
        optimizer.update(params, coef_grads + intercept_grads)
    return summed_loss


def _validation_split(estimator, X, y, sample_weight):
    """The early-stopping split, stratified for single-output classifiers, from the estimator's generator."""
    stratify = y if estimator._is_classifier() and estimator.n_outputs_ == 1 else None
    arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
    parts = train_test_split(*arrays, random_state=estimator._random_state,
                             test_size=estimator.validation_fraction, stratify=stratify)
    X_train, X_val, y_train, y_val = parts[:4]
    weight_train, weight_val = (None, None) if sample_weight is None else parts[4:]
    if X_val.shape[0] < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                         "your dataset.")
    return X_train, X_val, y_train, estimator._decode_targets(y_val), weight_train, weight_val


def _count_stall(estimator, X_val, y_val, weight_val):
    """Count epochs without improvement by tol: of the validation score with
    early stopping (keeping the best weights), of the training loss without."""
    if estimator.early_stopping:
        score = estimator._validation_score(X_val, y_val, weight_val)
        estimator.validation_scores_.append(score)
        if estimator.verbose:
            print("Validation score: %f" % score)
        if score < estimator.best_validation_score_ + estimator.tol:
            estimator._no_improvement_count += 1
        else:
            estimator._no_improvement_count = 0
        if score > estimator.best_validation_score_:
            estimator.best_validation_score_ = score
            estimator._best_coefs = [W.copy() for W in estimator.coefs_]
            estimator._best_intercepts = [b.copy() for b in estimator.intercepts_]
    else:
        if estimator.loss_curve_[-1] > estimator.best_loss_ - estimator.tol:
            estimator._no_improvement_count += 1
        else:
            estimator._no_improvement_count = 0
        if estimator.loss_curve_[-1] < estimator.best_loss_:
            estimator.best_loss_ = estimator.loss_curve_[-1]


def fit_lbfgs(estimator, X, y, sample_weight):
    """SciPy's L-BFGS-B on the full objective; the weights are one flat vector, weights then biases."""
    shapes = [W.shape for W in estimator.coefs_] + [b.shape for b in estimator.intercepts_]
    bounds = np.cumsum([0] + [int(np.prod(shape)) for shape in shapes])

    def unpack(flat):
        arrays = [flat[start:stop].reshape(shape) for start, stop, shape in zip(bounds[:-1], bounds[1:], shapes)]
        L = len(estimator.coefs_)
        estimator.coefs_, estimator.intercepts_ = arrays[:L], arrays[L:]

    # the compiled objective takes the weights in X's precision: float64 X only (SciPy's vector is float64)
    workspace = (_compiled.workspace(estimator, X, y, sample_weight, X.shape[0])
                 if _compiled.applies(X) and X.dtype == np.float64 else None)

    def objective(flat):
        unpack(flat)
        if workspace is not None:
            return workspace.loss_and_gradient(flat)
        loss, coef_grads, intercept_grads = estimator._loss_and_gradients(X, y, sample_weight)
        return loss, _pack(coef_grads, intercept_grads)

    result = scipy.optimize.minimize(objective, _pack(estimator.coefs_, estimator.intercepts_), method="L-BFGS-B",
                                     jac=True, options={"maxfun": estimator.max_fun, "maxiter": estimator.max_iter,
                                                        "gtol": estimator.tol})
    estimator.n_iter_ = _check_optimize_result("lbfgs", result, estimator.max_iter)
    estimator.loss_ = result.fun
    unpack(result.x)


def _pack(coefs, intercepts):
    return np.hstack([array.ravel() for array in coefs + intercepts])
