"""fastbp: the backprop lecture's network, trained by compiled kernels that
agree with a plain NumPy reference (:mod:`fastbp.reference`).

The lecture's functional API, without globals::

    X, y = fastbp.datasets.make_moons()
    model = fastbp.build_model(X, y, 3, print_loss=True)
    fastbp.predict(model, X)
"""

from . import datasets, exercise, reference, schedules
from .model_files import ModelFileError, load, save
from .sweeps import sweep
from .trainer import (DivergenceError, DivergenceWarning, TrainingRun, build_model, calculate_loss, predict,
                      predict_proba, train)

__version__ = "0.1.0"
__all__ = ["DivergenceError", "DivergenceWarning", "FastBPClassifier", "ModelFileError", "build_model", "calculate_loss", "datasets", "exercise", "load",
           "predict", "predict_proba", "reference", "save", "schedules", "sweep", "train", "TrainingRun"]


def __getattr__(name):
    # The estimator imports scikit-learn, which takes most of a second: only when asked for.
    if name == "FastBPClassifier":
        from .estimator import FastBPClassifier
        return FastBPClassifier
    raise AttributeError("module 'fastbp' has no attribute %r" % name)
