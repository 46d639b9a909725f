"""What FastBPClassifier and FastBPRegressor share: the parameters, the
initialisation, fit and partial_fit, the objective's gradient and the forward
pass of prediction. The classes add their targets and output layers."""

import copy
from itertools import chain

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .. import _validation, reference_mlp
from . import _params, _solvers, _state

# Rows per block of prediction: the forward pass of a block of a sparse X is
# dense (its first layer's output), so prediction holds at most this many rows
# of every layer at once, whatever N is.
PREDICT_BLOCK_ROWS = 4096


# Copies of the weights a stochastic fit holds at once: the weights, their
# gradients, the optimiser's one or two moments, the float64 draws, and the
# best weights of early stopping.
WEIGHT_COPIES = 6


def _check_network_memory(layer_units, dtype):
    """Refuse, before drawing them, weights that would not fit in memory (a clear ValueError, not a crash)."""
    num_params = sum(J * K + K for J, K in zip(layer_units[:-1], layer_units[1:]))
    _validation.check_memory(max(np.dtype(dtype).itemsize, 8) * num_params * WEIGHT_COPIES,
                             "a network of layers %s" % (layer_units,))


class BaseFastBP(BaseEstimator):
    """The shared machinery; see FastBPClassifier and FastBPRegressor."""

    _parameter_constraints = dict(_params.PARAMETER_CONSTRAINTS)

    def _set_parameters(self, params):
        for name, value in params.items():
            setattr(self, name, value)

    # ------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to X (dense, CSR or CSC; float32 stays float32) and y,
        weighting each sample's loss by sample_weight. With warm_start, from the
        weights of the last fit."""
        return self._fit_or_undo(X, y, sample_weight, incremental=False)

    def _partial_fit(self, X, y, sample_weight):
        if self.solver not in _params.STOCHASTIC_SOLVERS:
            raise AttributeError("partial_fit is only available for stochastic optimizers. %s is not stochastic."
                                 % self.solver)
        return self._fit_or_undo(X, y, sample_weight, incremental=True)

    def _fit_or_undo(self, X, y, sample_weight, incremental):
        """_fit, and if it raises, the estimator as it was before the call (unfitted for a first fit)."""
        before = copy.deepcopy(vars(self))  # the optimiser changes the weights and its moments in place
        try:
            return self._fit(X, y, sample_weight, incremental)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    def _fit(self, X, y, sample_weight, incremental):
        hidden = _params.hidden_sizes(self.hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if scipy.sparse.issparse(X) and X.format == "csc":
            X = X.tocsr()  # the minibatches are rows: one conversion, never a dense copy
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [X.shape[1]] + hidden + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            _check_network_memory(layer_units, X.dtype)
            self._initialize(layer_units, X.dtype)
        if self.solver in _params.STOCHASTIC_SOLVERS:
            _solvers.fit_stochastic(self, X, y, sample_weight, incremental)
        else:
            _solvers.fit_lbfgs(self, X, y, sample_weight)
        if not all(np.isfinite(w).all() for w in chain(self.coefs_, self.intercepts_)):
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.")
        return self

    def _initialize(self, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        self.coefs_, self.intercepts_ = reference_mlp.init_coefs(layer_units, self.activation, self._random_state,
                                                                 dtype)
        self._best_coefs = [W.copy() for W in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        if self.solver in _params.STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _loss_and_gradients(self, X, y, sample_weight):
        """The objective on the batch (X, y) and its gradient (the reference's loss_and_gradients)."""
        return reference_mlp.loss_and_gradients(self.coefs_, self.intercepts_, X, y, sample_weight, self.alpha,
                                                self.activation, self.out_activation_, self.loss)

    # ------------------------------------------------------------ model files

    def saved_state(self):
        """A fitted estimator's state for a model file (fastbp.save) -> (arrays,
        description): a dict of numeric or text NumPy arrays (the weights in their
        dtype, the loss curve, the optimiser's moments or velocities, classes_, ...)
        and a JSON-ready dict of ``parameters`` (get_params) and ``state``.
        :meth:`from_saved_state` makes an estimator that predicts the same bits and
        goes on training (fit with warm_start, partial_fit) to the same bits; what
        is and is not kept is listed in fastbp/estimators/_state.py (in short:
        everything but the state of NumPy's global generator when random_state is
        None). Raises ValueError for a parameter a file cannot hold (an object)."""
        check_is_fitted(self)
        return _state.saved_state(self)

    @classmethod
    def from_saved_state(cls, arrays, description):
        """The fitted estimator that :meth:`saved_state` described; raises
        ValueError (or KeyError, TypeError) if the pieces do not fit together."""
        return _state.restore(cls, arrays, description)

    # ------------------------------------------------------------ predicting

    def _forward(self, X, check_input=True):
        """The network's output (N, n_outputs_), computed in blocks of rows."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        if scipy.sparse.issparse(X):
            X = X.tocsr()
        if X.shape[0] <= PREDICT_BLOCK_ROWS:
            return self._forward_block(X)
        return np.vstack([self._forward_block(X[start:start + PREDICT_BLOCK_ROWS])
                          for start in range(0, X.shape[0], PREDICT_BLOCK_ROWS)])

    def _forward_block(self, X):
        output = X
        for l, (W, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            output = safe_sparse_dot(output, W)
            output += b
            reference_mlp.ACTIVATIONS[self.activation if l < self.n_layers_ - 2 else self.out_activation_](output)
        return output

    def _validation_score(self, X, y, sample_weight):
        """The early-stopping score (accuracy or R^2) on the validation set; NaN if the outputs are not finite."""
        predicted = self._predict(X, check_input=False)
        if np.issubdtype(predicted.dtype, np.floating) and not np.isfinite(predicted).all():
            return np.nan
        return self._score_function(y, predicted, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
