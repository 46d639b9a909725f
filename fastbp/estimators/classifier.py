"""FastBPClassifier: scikit-learn's MLPClassifier, parameter for parameter."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _params
from ._base import BaseFastBP


class FastBPClassifier(ClassifierMixin, BaseFastBP):
    """A multi-layer perceptron classifier: :class:`sklearn.neural_network.MLPClassifier`'s
    parameters, defaults, attributes and results.

    Every parameter means what it means in MLPClassifier (hidden_layer_sizes,
    activation, solver "adam"/"sgd"/"lbfgs", alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol,
    verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
    validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun),
    and the same random_state draws the same initial weights, minibatches and
    validation split, so the fitted coefs_, intercepts_, loss_curve_ and n_iter_
    are MLPClassifier's to rounding (tests/api/test_estimator_mlp.py states how close).

    The output layer is one logistic unit for two classes, a softmax for more,
    and independent logistic units for a multi-label indicator y. X may be
    dense or sparse (CSR, CSC); float32 X trains float32 weights.

    Fitted attributes: classes_, n_features_in_ (feature_names_in_), coefs_,
    intercepts_, n_layers_, n_outputs_, out_activation_, n_iter_, t_, loss_,
    loss_curve_, best_loss_, validation_scores_, best_validation_score_ (the
    last five for the stochastic solvers).

    For the lecture's network (tanh, two-unit softmax, full-batch gradient
    descent, 20000 passes), which reproduces ``fastbp.build_model`` bit for bit,
    use :meth:`lecture`.
    """

    loss = "log_loss"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        self._set_parameters({name: value for name, value in locals().items() if name not in ("self", "__class__")})

    @classmethod
    def lecture(cls, **params):
        """The lecture's network with scikit-learn's interface: ``FastBPClassifier.lecture(random_state=0).fit(X, y)``
        is ``fastbp.build_model(X, y, 3)`` bit for bit. -> a :class:`fastbp.LectureClassifier`."""
        from .lecture import LectureClassifier
        return LectureClassifier(**params)

    def _is_classifier(self):
        return True

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                                     "call to fit. Previously got %s, `y` has %s" % (self.classes_, classes))
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` has %s. 'y' has %s."
                                 % (self.classes_, classes))
        # bool keeps float32 training in float32 (the targets are 0 and 1)
        return X, self._label_binarizer.transform(y).astype(bool)

    def _decode_targets(self, y):
        return self._label_binarizer.inverse_transform(y)

    def _score_function(self, y, predicted, sample_weight=None):
        return accuracy_score(y, predicted, sample_weight=sample_weight)

    @available_if(lambda estimator: estimator.solver in _params.STOCHASTIC_SOLVERS)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y). The first call needs ``classes``, every label any call will see."""
        if _check_partial_fit_first_call(self, classes):
            binarizer = LabelBinarizer()
            self._label_binarizer = binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
        return self._partial_fit(X, y, sample_weight)

    def _predict(self, X, check_input=True):
        output = self._forward(X, check_input=check_input)
        if self.n_outputs_ == 1:
            output = output.ravel()
        return self._label_binarizer.inverse_transform(output)

    def predict(self, X):
        """The predicted classes (N,), or the label indicator matrix for multi-label y."""
        check_is_fitted(self)
        return self._predict(X)

    def predict_proba(self, X):
        """Class probabilities (N, classes), columns in classes_ order."""
        check_is_fitted(self)
        output = self._forward(X)
        if self.n_outputs_ == 1:
            return np.vstack([1 - output.ravel(), output.ravel()]).T
        return output

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        probabilities = self.predict_proba(X)
        return np.log(probabilities, out=probabilities)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
