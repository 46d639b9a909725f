"""fastbp: the backprop lecture's network, trained by compiled kernels that
agree with a plain NumPy reference (:mod:`fastbp.reference`).

The lecture's functional API, without globals::

    X, y = fastbp.datasets.make_moons()
    model = fastbp.build_model(X, y, 3, print_loss=True)
    fastbp.predict(model, X)
"""

import importlib

from . import datasets, exercise, reference, schedules
from ._version import __version__ as __version__  # re-exported
from ._backend import show_config
from .model_files import ModelFileError, load, save
from .trainer import (DivergenceError, DivergenceWarning, TrainingRun, build_model, calculate_loss, predict,
                      predict_proba, train)

__all__ = ["DivergenceError", "DivergenceWarning", "FastBPClassifier", "FastBPRegressor", "LectureClassifier",
           "ModelFileError", "build_model",
           "calculate_loss", "datasets", "diagnostics", "exercise", "load", "plot", "predict", "predict_proba",
           "reference", "save", "schedules", "show_config", "sweep", "train", "TrainingRun"]

# Submodules imported on first use as fastbp.<name>, so that `import fastbp`
# stays fast: plot imports matplotlib when it draws, and neither is needed to train.
_LAZY_SUBMODULES = ("animate", "demo", "diagnostics", "plot")


_ESTIMATORS = ("FastBPClassifier", "FastBPRegressor", "LectureClassifier")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module("." + name, __name__)  # also binds it here: asked once
    # The estimator imports scikit-learn, which takes most of a second, and the
    # sweep fastbp.diagnostics: only when asked for.
    if name in _ESTIMATORS:
        from . import estimators
        return getattr(estimators, name)
    if name == "playground":  # the live page in a notebook; needs the extra fastbp[playground]
        from .playground_app.server import playground
        return playground
    if name == "sweep":
        from .sweeps import sweep
        return sweep
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES) | set(_ESTIMATORS) | {"playground", "sweep"})
