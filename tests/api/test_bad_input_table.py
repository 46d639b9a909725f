"""The bad-input matrix of the public API (docs/bad-input.md), one test per row.

BAD_INPUTS below is the table: docs/bad-input.md is generated from it
(``python tests/api/test_bad_input_table.py`` rewrites the doc) and a test checks
that the committed doc is the generated one, so every documented row is a test.

An outcome is "accepted" (the call returns a valid result), an exception type
with a fragment of its message, or, for the command line, "exit N" with a
fragment of what goes to stderr (N = 2: a usage error, before any work).
"""

import os
import pickle
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp import cli, model_files

# tests/api/ -> the repository; not repo_paths.REPO, since this file also runs as a script
# (python tests/api/test_bad_input_table.py), with only tests/api/ on sys.path
REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "bad-input.md"


@dataclass
class Inputs:
    """What every row's call starts from: the lecture's data, a small trained model and files."""

    X: np.ndarray
    y: np.ndarray
    model: dict
    tmp: str

    def file(self, name):
        return os.path.join(self.tmp, name)


def changed(model, **arrays):
    return dict(model, **arrays)


def cli_call(*argv):
    """A row's call for the command line: -> ("exit", status) (stderr is captured by the test)."""
    def call(d):
        argv_here = [arg.format(tmp=d.tmp) for arg in argv]
        try:
            status = cli.main(argv_here)
        except SystemExit as exit_:
            status = exit_.code
        return ("exit", status)
    return call


def classifier(**params):
    from fastbp import LectureClassifier
    return LectureClassifier(**dict(dict(max_iter=20, random_state=0), **params))


def mlp_classifier(**params):
    from fastbp import FastBPClassifier
    return FastBPClassifier(**dict(dict(max_iter=5, random_state=0), **params))


def mlp_regressor(**params):
    from fastbp import FastBPRegressor
    return FastBPRegressor(**dict(dict(max_iter=5, random_state=0), **params))


HUGE = 1e300  # finite, but its square is not
TRAIN = fastbp.train


def train(d, X=None, y=None, **kwargs):
    kwargs.setdefault("num_passes", 20)
    return TRAIN(d.X if X is None else X, d.y if y is None else y, **kwargs)


# (entry point, input, outcome, call)
BAD_INPUTS = [
    # ---- train: X
    ("train", "X a list of lists", "accepted", lambda d: train(d, X=d.X.tolist())),
    ("train", "X of integers", "accepted", lambda d: train(d, X=np.round(d.X * 10).astype(np.int64))),
    ("train", "X Fortran-ordered, read-only", "accepted", lambda d: train(d, X=read_only(np.asfortranarray(d.X)))),
    ("train", "X a string", "TypeError: X must hold real numbers", lambda d: train(d, X="X")),
    ("train", "X None", "TypeError: X must hold real numbers", lambda d: train(d, X=None or np.array(None))),
    ("train", "X of dtype object", "TypeError: X must hold real numbers", lambda d: train(d, X=d.X.astype(object))),
    ("train", "X complex", "TypeError: X must hold real numbers", lambda d: train(d, X=d.X + 0j)),
    ("train", "X bool", "TypeError: X must hold real numbers", lambda d: train(d, X=d.X > 0)),
    ("train", "X datetime64", "TypeError: X must hold real numbers",
     lambda d: train(d, X=np.zeros(d.X.shape, dtype="datetime64[s]"))),
    ("train", "X of strings", "TypeError: X must hold real numbers", lambda d: train(d, X=d.X.astype(str))),
    ("train", "X 1-D", "ValueError: X must be 2-D", lambda d: train(d, X=d.X[:, 0])),
    ("train", "X 3-D", "ValueError: X must be 2-D", lambda d: train(d, X=d.X[:, :, None])),
    ("train", "X ragged lists", "ValueError: X must be a 2-D array of numbers",
     lambda d: train(d, X=[[1.0, 2.0], [3.0]], y=[0, 1])),
    ("train", "X with a NaN", "ValueError: X contains NaN or infinity", lambda d: train(d, X=with_value(d.X, np.nan))),
    ("train", "X with an infinity", "ValueError: X contains NaN or infinity",
     lambda d: train(d, X=with_value(d.X, -np.inf))),
    ("train", "X with no samples", "ValueError: X is empty", lambda d: train(d, X=d.X[:0], y=d.y[:0])),
    ("train", "X with no features", "ValueError: X is empty", lambda d: train(d, X=d.X[:, :0])),
    ("train", "X huge values (1e300)", "accepted", lambda d: train(d, X=d.X * HUGE)),
    ("train", "X beyond float32 with dtype float32", "ValueError: X has values beyond the range of float32",
     lambda d: train(d, X=d.X * HUGE, dtype="float32")),
    ("train", "X a 10^11-row view (1.6 TB as a copy)", "ValueError: would need",
     lambda d: train(d, X=np.broadcast_to(d.X[:1], (10**11, 2)), y=np.broadcast_to(np.int8(0), (10**11,)))),
    # ---- train: y
    ("train", "y integer-valued floats (0.0, 1.0)", "accepted", lambda d: train(d, y=d.y.astype(float))),
    ("train", "y a list", "accepted", lambda d: train(d, y=d.y.tolist())),
    ("train", "y non-integer floats", "ValueError: y has non-integer labels", lambda d: train(d, y=d.y + 0.5)),
    ("train", "y with a NaN", "ValueError: y contains NaN or infinity",
     lambda d: train(d, y=with_value(d.y.astype(float), np.nan))),
    ("train", "y bool", "TypeError: y must hold integer class labels", lambda d: train(d, y=d.y == 1)),
    ("train", "y of strings", "TypeError: y must hold integer class labels", lambda d: train(d, y=d.y.astype(str))),
    ("train", "y of dtype object", "TypeError: y must hold integer class labels",
     lambda d: train(d, y=d.y.astype(object))),
    ("train", "y complex", "TypeError: y must hold integer class labels", lambda d: train(d, y=d.y + 0j)),
    ("train", "y datetime64", "TypeError: y must hold integer class labels",
     lambda d: train(d, y=d.y.astype("datetime64[s]"))),
    ("train", "y None", "TypeError: y must hold integer class labels", lambda d: train(d, y=np.array(None))),
    ("train", "y 2-D", "ValueError: y must be 1-D", lambda d: train(d, y=d.y[:, None])),
    ("train", "y shorter than X", "ValueError: y has 199 labels but X has 200 samples",
     lambda d: train(d, y=d.y[:-1])),
    ("train", "y negative", "ValueError: y has a negative label", lambda d: train(d, y=d.y - 1)),
    ("train", "y a single class", "ValueError: y has a single class", lambda d: train(d, y=np.zeros_like(d.y))),
    ("train", "one sample", "ValueError: y has a single class", lambda d: train(d, X=d.X[:1], y=d.y[:1])),
    ("train", "two samples of two classes", "accepted", lambda d: train(d, X=d.X[:2], y=np.array([0, 1]))),
    ("train", "y with a class missing (0, 2)", "ValueError: no sample of class [1]", lambda d: train(d, y=d.y * 2)),
    ("train", "y label 10^12", "ValueError: labels must be 0..C-1 with C at most",
     lambda d: train(d, y=np.where(d.y == 1, 10**12, 0))),
    # ---- train: sizes and hyperparameters
    ("train", "hidden=0 (a zero-width layer)", "ValueError: hidden must be >= 1", lambda d: train(d, hidden=0)),
    ("train", "hidden=(3, 0)", "ValueError: hidden must be >= 1", lambda d: train(d, hidden=(3, 0))),
    ("train", "hidden=()", "ValueError: hidden must name at least one hidden layer", lambda d: train(d, hidden=())),
    ("train", "hidden=2.5", "TypeError: hidden must be a positive integer", lambda d: train(d, hidden=2.5)),
    ("train", "hidden='3'", "TypeError: hidden must be a positive integer", lambda d: train(d, hidden="3")),
    ("train", "hidden=True", "TypeError: hidden must be", lambda d: train(d, hidden=True)),
    ("train", "hidden=(10^5, 10^5) (80 GB of weights)", "ValueError: would need",
     lambda d: train(d, hidden=(10**5, 10**5))),
    ("train", "num_passes=0", "accepted", lambda d: train(d, num_passes=0)),
    ("train", "num_passes=-1", "ValueError: num_passes must be >= 0", lambda d: train(d, num_passes=-1)),
    ("train", "num_passes=1.5", "TypeError: num_passes must be an integer", lambda d: train(d, num_passes=1.5)),
    ("train", "num_passes=10^13 (80 TB of step sizes)", "ValueError: would need",
     lambda d: train(d, num_passes=10**13)),
    ("train", "epsilon=0", "ValueError: epsilon must be a finite positive number", lambda d: train(d, epsilon=0)),
    ("train", "epsilon=NaN", "ValueError: epsilon must be a finite positive number",
     lambda d: train(d, epsilon=float("nan"))),
    ("train", "epsilon='0.01'", "TypeError: epsilon must be a real number", lambda d: train(d, epsilon="0.01")),
    ("train", "epsilon=1e6 (diverges)", "DivergenceError: training diverged at pass",
     lambda d: train(d, epsilon=1e6, num_passes=500)),
    ("train", "epsilon=1e6, on_divergence='warn'", "accepted",
     lambda d: train(d, epsilon=1e6, num_passes=500, on_divergence="warn")),
    ("train", "on_divergence='ignore'", "ValueError: on_divergence must be one of",
     lambda d: train(d, on_divergence="ignore")),
    ("train", "reg_lambda=-1", "ValueError: reg_lambda must be a finite non-negative number",
     lambda d: train(d, reg_lambda=-1)),
    ("train", "reg_lambda=inf", "ValueError: reg_lambda must be a finite non-negative number",
     lambda d: train(d, reg_lambda=float("inf"))),
    ("train", "seed=-1", "ValueError: seed must be >= 0", lambda d: train(d, seed=-1)),
    ("train", "seed=2^32", "ValueError: seed must be <= 4294967295", lambda d: train(d, seed=2**32)),
    ("train", "seed=1.0", "TypeError: seed must be an integer", lambda d: train(d, seed=1.0)),
    ("train", "loss_every=-1", "ValueError: loss_every must be >= 0", lambda d: train(d, loss_every=-1)),
    ("train", "backend='torch'", "ValueError: backend must be one of", lambda d: train(d, backend="torch")),
    ("train", "activation='softplus'", "ValueError: activation must be one of",
     lambda d: train(d, activation="softplus")),
    ("train", "batch_size=0", "ValueError: batch_size must be >= 1", lambda d: train(d, batch_size=0)),
    ("train", "batch_size above N", "ValueError: batch_size must be <= the number of samples",
     lambda d: train(d, batch_size=201)),
    ("train", "schedule='bogus'", "ValueError: schedule must be one of", lambda d: train(d, schedule="bogus")),
    ("train", "schedule=3", "TypeError: schedule must be a name", lambda d: train(d, schedule=3)),
    ("train", "num_threads=0", "ValueError: num_threads must be >= 1", lambda d: train(d, num_threads=0)),
    ("train", "dtype='float16'", "ValueError: dtype must be float64 or float32", lambda d: train(d, dtype="float16")),
    ("train", "dtype=3", "TypeError: dtype must be 'float64' or 'float32'", lambda d: train(d, dtype=3)),
    ("train", "initial_model a list", "TypeError: initial_model must be a dict", lambda d: train(d, initial_model=[])),
    ("train", "initial_model of other hidden sizes",
     "ValueError: initial_model has hidden layers (3,) but hidden is (4,)",
     lambda d: train(d, hidden=4, initial_model=d.model)),
    ("train", "initial_model read-only", "accepted",
     lambda d: train(d, initial_model={k: read_only(v) for k, v in d.model.items()})),
    ("train", "y beyond initial_model's classes", "ValueError: y has label 2 but the model has only 2 classes",
     lambda d: train(d, y=d.y * 2, initial_model=d.model)),
    # ---- build_model
    ("build_model", "nn_hdim=0", "ValueError: nn_hdim must be >= 1", lambda d: fastbp.build_model(d.X, d.y, 0)),
    ("build_model", "nn_hdim=None", "TypeError: nn_hdim must be an integer",
     lambda d: fastbp.build_model(d.X, d.y, None)),
    ("build_model", "y integer-valued floats", "accepted",
     lambda d: fastbp.build_model(d.X, d.y.astype(float), 3, num_passes=20)),
    ("build_model", "epsilon=1e6 with print_loss", "DivergenceError: training diverged at pass",
     lambda d: fastbp.build_model(d.X, d.y, 3, num_passes=2000, epsilon=1e6, print_loss=True)),
    ("build_model", "X with a NaN", "ValueError: X contains NaN or infinity",
     lambda d: fastbp.build_model(with_value(d.X, np.nan), d.y, 3)),
    # ---- predict, predict_proba
    ("predict", "model not a dict", "TypeError: model must be a dict", lambda d: fastbp.predict([1], d.X)),
    ("predict", "model without b2", "ValueError: model must have keys W1..WL and b1..bL",
     lambda d: fastbp.predict({k: v for k, v in d.model.items() if k != "b2"}, d.X)),
    ("predict", "model with an extra key", "ValueError: model has unexpected keys",
     lambda d: fastbp.predict(changed(d.model, bias=1), d.X)),
    ("predict", "model with a NaN weight", "ValueError: model['W2'] contains NaN or infinity",
     lambda d: fastbp.predict(changed(d.model, W2=with_value(d.model["W2"], np.nan, index=0)), d.X)),
    ("predict", "model of float16", "TypeError: model has arrays of dtype float16",
     lambda d: fastbp.predict({k: v.astype(np.float16) for k, v in d.model.items()}, d.X)),
    ("predict", "model mixing float32 and float64", "ValueError: model mixes float32 and float64",
     lambda d: fastbp.predict(changed(d.model, W1=d.model["W1"].astype(np.float32)), d.X)),
    ("predict", "model W1 complex", "TypeError: model['W1'] must hold real numbers",
     lambda d: fastbp.predict(changed(d.model, W1=d.model["W1"] + 0j), d.X)),
    ("predict", "model W1 of dtype object", "TypeError: model['W1'] must hold real numbers",
     lambda d: fastbp.predict(changed(d.model, W1=d.model["W1"].astype(object)), d.X)),
    ("predict", "model W2 with the wrong rows", "ValueError: model['W2'] has 2 rows but layer 1 has 3 outputs",
     lambda d: fastbp.predict(changed(d.model, W2=d.model["W2"][:2]), d.X)),
    ("predict", "model b1 of the wrong shape", "ValueError: model['b1'] must be 2-D",
     lambda d: fastbp.predict(changed(d.model, b1=d.model["b1"].ravel()), d.X)),
    ("predict", "model with a zero-width layer", "ValueError: model['W1'] is empty",
     lambda d: fastbp.predict({"W1": np.zeros((2, 0)), "b1": np.zeros((1, 0)), "W2": np.zeros((0, 2)),
                               "b2": np.zeros((1, 2))}, d.X)),
    ("predict", "model with activation 'softplus'", "ValueError: model['activation'] must be one of",
     lambda d: fastbp.predict(changed(d.model, activation="softplus"), d.X)),
    ("predict", "model of integers", "accepted",
     lambda d: fastbp.predict({k: np.round(v).astype(int) for k, v in d.model.items()}, d.X)),
    ("predict", "model weights 1e300", "accepted",
     lambda d: fastbp.predict({k: v * HUGE for k, v in d.model.items()}, d.X)),
    ("predict", "X with 3 features for a 2-input model", "ValueError: X has 3 features but the model expects 2",
     lambda d: fastbp.predict(d.model, np.hstack([d.X, d.X[:, :1]]))),
    ("predict", "X one sample", "accepted", lambda d: fastbp.predict(d.model, d.X[:1])),
    ("predict", "X 1-D (one sample, unwrapped)", "ValueError: X must be 2-D",
     lambda d: fastbp.predict(d.model, d.X[0])),
    ("predict", "X with no samples", "ValueError: X is empty", lambda d: fastbp.predict(d.model, d.X[:0])),
    ("predict", "X complex", "TypeError: X must hold real numbers", lambda d: fastbp.predict(d.model, d.X + 0j)),
    ("predict", "X huge values (1e300)", "accepted", lambda d: fastbp.predict(d.model, d.X * HUGE)),
    ("predict", "num_threads=0", "ValueError: num_threads must be >= 1",
     lambda d: fastbp.predict(d.model, d.X, num_threads=0)),
    ("predict_proba", "X with an infinity", "ValueError: X contains NaN or infinity",
     lambda d: fastbp.predict_proba(d.model, with_value(d.X, np.inf))),
    ("predict_proba", "X of strings", "TypeError: X must hold real numbers",
     lambda d: fastbp.predict_proba(d.model, d.X.astype(str))),
    ("predict_proba", "X bool", "TypeError: X must hold real numbers",
     lambda d: fastbp.predict_proba(d.model, d.X > 0)),
    ("predict_proba", "X a 10^11-row view (1.6 TB as a copy)", "ValueError: would need",
     lambda d: fastbp.predict_proba(d.model, np.broadcast_to(d.X[:1], (10**11, 2)))),
    ("predict_proba", "float32 model, float64 X", "accepted",
     lambda d: fastbp.predict_proba({k: v.astype(np.float32) for k, v in d.model.items()}, d.X)),
    # ---- calculate_loss
    ("calculate_loss", "y integer-valued floats", "accepted",
     lambda d: fastbp.calculate_loss(d.model, d.X, d.y.astype(float))),
    ("calculate_loss", "y label beyond the output layer", "ValueError: y has label 2 but the model has only 2 classes",
     lambda d: fastbp.calculate_loss(d.model, d.X, d.y * 2)),
    ("calculate_loss", "y a single class", "accepted",
     lambda d: fastbp.calculate_loss(d.model, d.X, np.zeros_like(d.y))),
    ("calculate_loss", "y of strings", "TypeError: y must hold integer class labels",
     lambda d: fastbp.calculate_loss(d.model, d.X, d.y.astype(str))),
    ("calculate_loss", "y longer than X", "ValueError: y has 201 labels but X has 200 samples",
     lambda d: fastbp.calculate_loss(d.model, d.X, np.append(d.y, 0))),
    ("calculate_loss", "reg_lambda=-0.5", "ValueError: reg_lambda must be a finite non-negative number",
     lambda d: fastbp.calculate_loss(d.model, d.X, d.y, reg_lambda=-0.5)),
    ("calculate_loss", "model weights 1e300 (the loss overflows)", "accepted",
     lambda d: fastbp.calculate_loss({k: v * HUGE for k, v in d.model.items()}, d.X, d.y)),
    # ---- the estimator
    ("LectureClassifier.fit", "y of strings", "accepted", lambda d: classifier().fit(d.X, np.where(d.y, "a", "b"))),
    ("LectureClassifier.fit", "y integer-valued floats", "accepted",
     lambda d: classifier().fit(d.X, d.y.astype(float))),
    ("LectureClassifier.fit", "X of dtype object holding numbers", "accepted",
     lambda d: classifier().fit(d.X.astype(object), d.y)),
    ("LectureClassifier.fit", "X with a NaN", "ValueError: Input X contains NaN",
     lambda d: classifier().fit(with_value(d.X, np.nan), d.y)),
    ("LectureClassifier.fit", "X complex", "ValueError: Complex data not supported",
     lambda d: classifier().fit(d.X + 1j, d.y)),
    ("LectureClassifier.fit", "y a single class", "ValueError: y has one class",
     lambda d: classifier().fit(d.X, np.zeros_like(d.y))),
    ("LectureClassifier.fit", "y continuous", "ValueError: Unknown label type",
     lambda d: classifier().fit(d.X, d.y + 0.5)),
    ("LectureClassifier.fit", "hidden_layer_sizes=0", "InvalidParameterError: The 'hidden_layer_sizes' parameter",
     lambda d: classifier(hidden_layer_sizes=0).fit(d.X, d.y)),
    ("LectureClassifier.fit", "hidden_layer_sizes=(10^5, 10^5)", "ValueError: would need",
     lambda d: classifier(hidden_layer_sizes=(10**5, 10**5)).fit(d.X, d.y)),
    ("LectureClassifier.fit", "learning_rate_init=NaN", "InvalidParameterError: The 'learning_rate_init' parameter",
     lambda d: classifier(learning_rate_init=float("nan")).fit(d.X, d.y)),
    ("LectureClassifier.fit", "learning_rate_init=2e8 (diverges)",
     "DivergenceError: training diverged at pass",
     lambda d: classifier(learning_rate_init=2e8, max_iter=500).fit(d.X, d.y)),
    ("LectureClassifier.predict", "before fit", "NotFittedError: is not fitted yet",
     lambda d: classifier().predict(d.X)),
    ("LectureClassifier.predict", "X with 3 features", "ValueError: X has 3 features",
     lambda d: classifier().fit(d.X, d.y).predict(np.hstack([d.X, d.X[:, :1]]))),
    # ---- the scikit-learn MLP estimators (each outcome is MLPClassifier's or MLPRegressor's own)
    ("FastBPClassifier.fit", "X with a NaN", "ValueError: Input X contains NaN",
     lambda d: mlp_classifier().fit(with_value(d.X, np.nan), d.y)),
    ("FastBPClassifier.fit", "hidden_layer_sizes=0", "InvalidParameterError: The 'hidden_layer_sizes' parameter",
     lambda d: mlp_classifier(hidden_layer_sizes=0).fit(d.X, d.y)),
    ("FastBPClassifier.fit", "hidden_layer_sizes=(10^5, 10^5)", "ValueError: would need",
     lambda d: mlp_classifier(hidden_layer_sizes=(10**5, 10**5)).fit(d.X, d.y)),
    ("FastBPClassifier.fit", "solver='newton'", "InvalidParameterError: The 'solver' parameter",
     lambda d: mlp_classifier(solver="newton").fit(d.X, d.y)),
    ("FastBPClassifier.fit", "sample_weight of another length", "ValueError: sample_weight.shape == (20,)",
     lambda d: mlp_classifier().fit(d.X, d.y, sample_weight=np.ones(20))),
    ("FastBPClassifier.fit", "warm_start, then y with other classes",
     "ValueError: warm_start can only be used where `y` has the same classes",
     lambda d: mlp_classifier(warm_start=True).fit(d.X, d.y + np.arange(len(d.y)) % 3).fit(d.X, d.y)),
    ("FastBPClassifier.fit", "early_stopping with a one-sample validation set",
     "ValueError: should be greater or equal to the number of classes",
     lambda d: mlp_classifier(early_stopping=True, validation_fraction=0.001).fit(d.X, d.y)),
    ("FastBPClassifier.partial_fit", "first call without classes",
     "ValueError: classes must be passed on the first call to partial_fit",
     lambda d: mlp_classifier().partial_fit(d.X, d.y)),
    ("FastBPClassifier.partial_fit", "a class not in classes", "ValueError: `y` has classes not in `self.classes_`",
     lambda d: mlp_classifier().partial_fit(d.X, d.y, classes=[0, 1]).partial_fit(d.X, d.y + 1)),
    ("FastBPClassifier.partial_fit", "early_stopping=True", "ValueError: partial_fit does not support early_stopping",
     lambda d: mlp_classifier(early_stopping=True).partial_fit(d.X, d.y, classes=[0, 1])),
    ("FastBPClassifier.partial_fit", "solver='lbfgs'", "AttributeError: has no attribute 'partial_fit'",
     lambda d: mlp_classifier(solver="lbfgs").partial_fit(d.X, d.y, classes=[0, 1])),
    ("FastBPClassifier.predict", "before fit", "NotFittedError: is not fitted yet",
     lambda d: mlp_classifier().predict(d.X)),
    ("FastBPRegressor.fit", "y of strings", "TypeError: y must hold numbers",
     lambda d: mlp_regressor().fit(d.X, np.where(d.y, "a", "b"))),
    ("FastBPRegressor.fit", "targets of 1e6 with learning_rate_init=1e6 (diverges)",
     "ValueError: Solver produced non-finite parameter weights",
     lambda d: mlp_regressor(solver="sgd", learning_rate_init=1e6).fit(d.X, d.y * 1e6)),
    # ---- model files
    ("load", "no such file", "FileNotFoundError: No such file", lambda d: fastbp.load(d.file("missing.npz"))),
    ("load", "a directory", "IsADirectoryError: Is a directory", lambda d: fastbp.load(d.tmp)),
    ("load", "a text file", "ModelFileError: is not a fastbp model file", lambda d: fastbp.load(d.file("text.npz"))),
    ("load", "a pickle disguised as a model", "ModelFileError: carries a pickle; fastbp never loads one",
     lambda d: fastbp.load(d.file("pickle.npz"))),
    ("load", "a file of a future format version", "ModelFileError: reads versions up to 1",
     lambda d: fastbp.load(d.file("future.npz"))),
    ("load", "a file truncated to half", "ModelFileError: truncated or corrupted",
     lambda d: fastbp.load(d.file("truncated.npz"))),
    ("save", "a list", "TypeError: save takes a model dict", lambda d: fastbp.save([1], d.file("saved.npz"))),
    ("save", "a model with a NaN", "ValueError: model['b1'] contains NaN or infinity",
     lambda d: fastbp.save(changed(d.model, b1=d.model["b1"] * np.nan), d.file("saved.npz"))),
    # ---- the command line
    ("fastbp", "an unknown subcommand", "exit 2: invalid choice: 'bogus'", cli_call("bogus")),
    ("fastbp demo", "an unknown option", "exit 2: unrecognized arguments: --bogus", cli_call("demo", "--bogus")),
    ("fastbp demo", "--hidden 0", "exit 2: argument --hidden: value must be >= 1", cli_call("demo", "--hidden", "0")),
    ("fastbp demo", "--hidden abc", "exit 2: argument --hidden: invalid literal", cli_call("demo", "--hidden", "abc")),
    ("fastbp demo", "--passes 10", "exit 2: argument --passes: value must be >= 200",
     cli_call("demo", "--passes", "10")),
    ("fastbp demo", "--epsilon nan", "exit 2: argument --epsilon: value must be a finite positive number",
     cli_call("demo", "--epsilon", "nan")),
    ("fastbp demo", "--epsilon -1", "exit 2: argument --epsilon: value must be a finite positive number",
     cli_call("demo", "--epsilon", "-1")),
    ("fastbp demo", "--seed -1", "exit 2: argument --seed: value must be >= 0", cli_call("demo", "--seed", "-1")),
    ("fastbp demo", "--seed 2^32 - 1", "exit 2: argument --seed: value must be <= 4294967294",
     cli_call("demo", "--seed", "4294967295")),
    ("fastbp demo", "--out an existing file", "exit 2: exists and is not a directory",
     cli_call("demo", "--out", "{tmp}/text.npz")),
    ("fastbp demo", "--epsilon 1e6 (diverges)", "exit 1: fastbp demo: training diverged at pass",
     "tests/api/test_robustness.py::test_the_demo_reports_divergence_with_status_1"),
    ("fastbp check", "no file named", "exit 2: the following arguments are required: FILE.py", cli_call("check")),
    ("fastbp check", "no such file", "exit 2: no such file", cli_call("check", "{tmp}/missing.py")),
    ("fastbp check", "a directory", "exit 2: is not a file", cli_call("check", "{tmp}")),
    ("fastbp check", "a file with a syntax error", "exit 2: SyntaxError", cli_call("check", "{tmp}/syntax_error.py")),
    ("fastbp check", "a backprop that raises", "exit 1: RuntimeError: not written yet",
     cli_call("check", "{tmp}/raising.py")),
    ("fastbp sweep", "--hidden 0", "exit 2: argument --hidden: value must be >= 1", cli_call("sweep", "--hidden", "0")),
    ("fastbp sweep", "--epsilon abc", "exit 2: argument --epsilon: could not convert",
     cli_call("sweep", "--epsilon", "abc")),
    ("fastbp sweep", "--passes 5", "exit 2: argument --passes: value must be >= 200",
     cli_call("sweep", "--passes", "5")),
    ("fastbp sweep", "--seed -1", "exit 2: argument --seed: value must be >= 0", cli_call("sweep", "--seed", "-1")),
    ("fastbp sweep", "--data bogus", "exit 2: argument --data: invalid choice", cli_call("sweep", "--data", "bogus")),
    ("fastbp sweep", "--activation softplus", "exit 2: argument --activation: invalid choice",
     cli_call("sweep", "--activation", "softplus")),
    ("fastbp sweep", "--n-jobs 0", "exit 2: argument --n-jobs: value must be >= 1", cli_call("sweep", "--n-jobs", "0")),
    ("fastbp sweep", "--backend bogus", "exit 2: argument --backend: invalid choice",
     cli_call("sweep", "--backend", "bogus")),
    ("fastbp sweep", "--scheduler nonsense", "exit 2: scheduler must be a Dask scheduler address",
     cli_call("sweep", "--scheduler", "nonsense")),
    ("fastbp sweep", "--scheduler-timeout 0", "exit 2: argument --scheduler-timeout: value must be a finite positive",
     cli_call("sweep", "--scheduler-timeout", "0")),
    ("fastbp sweep", "--hidden with no value", "exit 2: argument --hidden: expected at least one argument",
     cli_call("sweep", "--hidden")),
    ("fastbp sweep", "--out an existing file", "exit 2: exists and is not a directory",
     cli_call("sweep", "--out", "{tmp}/text.npz")),
    ("fastbp sweep", "--epsilon 1e6 (diverges)", "exit 0: the row's run_class is 'diverged'",
     cli_call("sweep", "--hidden", "3", "--epsilon", "1e6", "--passes", "200", "--n-jobs", "1",
              "--out", "{tmp}/sweep")),
]


def read_only(array):
    array = np.array(array)
    array.setflags(write=False)
    return array


def with_value(array, value, index=7):
    array = np.array(array)
    array.flat[index] = value
    return array


# ---------------------------------------------------------------- the doc

def render_doc():
    lines = [
        "# Bad inputs: what every public entry point does with them",
        "",
        "Generated from `BAD_INPUTS` in tests/api/test_bad_input_table.py by",
        "`python tests/api/test_bad_input_table.py`; every row is a test there (a row naming a test is tested by",
        "that test). An outcome is *accepted* (a valid result), an exception with a fragment of its message, or,",
        "for the command line, the exit status with a fragment of stderr (2: a usage error, reported before any",
        "work; 1: a failure).",
        "",
        "The exceptions: `TypeError` for a wrong kind of value, `ValueError` for a wrong value,",
        "`fastbp.DivergenceError` (a `ValueError`) when training produces a NaN or infinite loss or weight,",
        "`fastbp.ModelFileError` (a `ValueError`) for a file that is not a model file, `OSError`s for a path that",
        "cannot be read, and scikit-learn's own errors from the estimator (`InvalidParameterError` is a `ValueError`). "
        "Sizes that would need more memory than",
        "the machine has available are refused with a `ValueError` (\"... would need N GB of memory\") before",
        "anything is allocated. Inputs are never modified (tests/api/test_robustness.py).",
        "",
        "| Entry point | Input | Outcome |",
        "|---|---|---|",
    ]
    for entry, case, outcome, _call in BAD_INPUTS:
        lines.append("| `%s` | %s | %s |" % (entry, case.replace("|", "\\|"), outcome.replace("|", "\\|")))
    return "\n".join(lines) + "\n"


def test_the_doc_is_the_table():
    with open(DOC, encoding="utf-8") as file:
        assert file.read() == render_doc(), "docs/bad-input.md is stale: run python tests/api/test_bad_input_table.py"


def test_every_row_is_distinct():
    keys = [(entry, case) for entry, case, _, _ in BAD_INPUTS]
    assert len(keys) == len(set(keys))


# ---------------------------------------------------------------- the rows

@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("bad-inputs"))
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    model = fastbp.train(X, y, 3, num_passes=50).model
    with open(os.path.join(tmp, "text.npz"), "w") as file:
        file.write("not an archive\n")
    with open(os.path.join(tmp, "pickle.npz"), "wb") as file:
        pickle.dump(model, file)
    saved = fastbp.save(model, os.path.join(tmp, "model.npz"))
    with open(saved, "rb") as file:
        content = file.read()
    with open(os.path.join(tmp, "truncated.npz"), "wb") as file:
        file.write(content[:len(content) // 2])
    header = model_files._read_header(np.load(saved), saved)
    header["format_version"] = model_files.FORMAT_VERSION + 1
    np.savez(os.path.join(tmp, "future.npz"), **{
        model_files.HEADER_MEMBER: np.frombuffer(__import__("json").dumps(header).encode(), dtype=np.uint8)},
        **{name: value for name, value in model.items()})
    with open(os.path.join(tmp, "syntax_error.py"), "w") as file:
        file.write("def backprop(:\n")
    with open(os.path.join(tmp, "raising.py"), "w") as file:
        file.write("def backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):\n"
                   "    raise RuntimeError('not written yet')\n")
    return Inputs(X, y, model, tmp)


def assert_valid_result(result):
    """An accepted call returns something whole: finite numbers where numbers are expected."""
    if isinstance(result, fastbp.TrainingRun):
        assert all(np.isfinite(value).all() for name, value in result.model.items() if name != "activation")
    elif isinstance(result, dict):
        assert all(np.isfinite(value).all() for name, value in result.items() if name != "activation")
    elif isinstance(result, np.ndarray):
        assert result.dtype.kind in "iuf" and np.isfinite(result).all()
    elif isinstance(result, float):
        assert result >= 0  # a loss; it may overflow to inf for absurd weights, never NaN
    else:
        assert hasattr(result, "coefs_")  # a fitted estimator


ROWS = [row for row in BAD_INPUTS if callable(row[3])]


@pytest.mark.parametrize("entry, case, outcome, call", ROWS, ids=["%s: %s" % row[:2] for row in ROWS])
def test_row(inputs, capsys, entry, case, outcome, call):
    if outcome == "accepted":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastbp.DivergenceWarning)  # the warn row
            assert_valid_result(call(inputs))
        return
    if outcome.startswith("exit "):
        status, fragment = re.fullmatch(r"exit (\d+): (.*)", outcome).groups()
        kind, returned = call(inputs)
        captured = capsys.readouterr()
        assert returned == int(status), captured.err
        if status == "0":
            written = [row["run_class"] for row in fastbp.sweeps.read_csv(os.path.join(inputs.tmp, "sweep",
                                                                                      "sweep.csv"))]
            assert written == [fastbp.sweeps.DIVERGED]
        else:
            assert fragment in captured.err + captured.out
        return
    name, fragment = outcome.split(": ", 1)
    error = exception_type(name)
    with pytest.raises(error) as info:
        call(inputs)
    assert type(info.value).__name__ == name
    assert fragment in str(info.value)


def exception_type(name):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils._param_validation import InvalidParameterError
    known = {"DivergenceError": fastbp.DivergenceError, "ModelFileError": fastbp.ModelFileError,
             "NotFittedError": NotFittedError, "InvalidParameterError": InvalidParameterError}
    return known.get(name) or getattr(__builtins__, name, None) or __builtins__[name]


def test_rows_tested_elsewhere_name_an_existing_test():
    for _entry, _case, _outcome, test in BAD_INPUTS:
        if not callable(test):
            path, name = test.split("::")
            with open(REPO / path, encoding="utf-8") as file:
                assert "def %s(" % name in file.read()


if __name__ == "__main__":
    with open(DOC, "w", encoding="utf-8") as file:
        file.write(render_doc())
    print("wrote %s (%d rows)" % (DOC, len(BAD_INPUTS)), file=sys.stderr)
