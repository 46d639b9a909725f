"""FastBPRegressor: scikit-learn's MLPRegressor, parameter for parameter."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _params
from ._base import BaseFastBP


class FastBPRegressor(RegressorMixin, BaseFastBP):
    """A multi-layer perceptron regressor: :class:`sklearn.neural_network.MLPRegressor`'s
    parameters, defaults, attributes and results.

    loss: "squared_error" (identity outputs, half the mean squared error) or
    "poisson" (exp outputs, the Poisson deviance's half); the other parameters
    and the fitted attributes as in :class:`fastbp.FastBPClassifier` (no
    classes_). y may have several columns (one output each).
    """

    _parameter_constraints = {**BaseFastBP._parameter_constraints,
                              "loss": [StrOptions(set(_params.REGRESSOR_LOSSES))]}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        self._set_parameters({name: value for name, value in locals().items() if name not in ("self", "__class__")})

    def _is_classifier(self):
        return False

    def _output_activation(self):
        return _params.REGRESSOR_LOSSES[self.loss]

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.dtype.kind not in "biuf":  # scikit-learn's MLPRegressor fails later, in a NumPy subtraction
            raise TypeError("y must hold numbers (the regression targets), got an array of dtype %s" % y.dtype)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _decode_targets(self, y):
        return y

    def _score_function(self, y, predicted, sample_weight=None):
        return r2_score(y, predicted, sample_weight=sample_weight)

    @available_if(lambda estimator: estimator.solver in _params.STOCHASTIC_SOLVERS)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), from the current weights (the first call initialises them)."""
        return self._partial_fit(X, y, sample_weight)

    def _predict(self, X, check_input=True):
        output = self._forward(X, check_input=check_input)
        return output.ravel() if output.shape[1] == 1 else output

    def predict(self, X):
        """The predicted values, (N,) for one output, (N, n_outputs_) for several."""
        check_is_fitted(self)
        return self._predict(X)
