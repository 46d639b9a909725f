"""scikit-learn estimators: FastBPClassifier and FastBPRegressor, drop-ins for
scikit-learn's MLPClassifier and MLPRegressor, and LectureClassifier, the
lecture's network (fastbp.build_model) with scikit-learn's interface.

The modules, one job each: _params (the parameters and their constraints),
_optimizers (SGD and Adam state), _solvers (the training loops), _base (fit,
partial_fit, the gradient, prediction), classifier, regressor, lecture.
"""

from .classifier import FastBPClassifier
from .lecture import LectureClassifier
from .regressor import FastBPRegressor

__all__ = ["FastBPClassifier", "FastBPRegressor", "LectureClassifier"]
