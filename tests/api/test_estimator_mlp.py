"""FastBPClassifier and FastBPRegressor against scikit-learn's MLPClassifier and
MLPRegressor: the same parameters give the same fit, setting by setting.

Expected values: scikit-learn's own estimators, fitted in the same test with the
same parameters and data.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import FastBPClassifier, FastBPRegressor

# How close a fit must be to scikit-learn's, relative to the largest entry of
# each weight array. Both follow the same formulas (fastbp/reference_mlp.py is
# scikit-learn's order of operations, and gives its bits); the compiled path
# (src/_mlp.pyx) sums each product in another order than NumPy's BLAS and
# takes exp, tanh and the logistic from vecmath.h (within 2 ulp), which moves
# each gradient entry by a few ulp (~1e-15 relative) per step. On the stable settings below
# (at most a few hundred steps, each contracting the difference of two nearby
# runs or growing it by at most a small factor) that stays below 1e-12; 1e-10
# leaves two orders of magnitude for the runs' conditioning. float32 runs
# round each step at 6e-8, so the same argument gives 1e-4.
AGREEMENT_RTOL = {np.float64: 1e-10, np.float32: 1e-4}
# Predictions, relative to the largest of them: the weights' 1e-10, through a
# few layers of sums whose terms partly cancel (each layer may lose a digit).
PREDICTION_RTOL = 1e-8


def assert_same_predictions(mine, theirs):
    np.testing.assert_allclose(mine, theirs, rtol=PREDICTION_RTOL, atol=PREDICTION_RTOL * np.abs(theirs).max())


def digits(n=300):
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[:n]), y[:n]


def moons():
    return fastbp.datasets.make_moons(200, noise=0.20, seed=0)


def regression():
    X, y = make_regression(200, 8, n_targets=1, noise=1.0, random_state=0)
    return X, y / 100


def multilabel():
    return make_multilabel_classification(150, 10, n_classes=4, random_state=0)


def fit_both(ours, theirs, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ours.fit(X, y, **fit_params), theirs.fit(X, y, **fit_params)


def assert_same_fit(ours, theirs, dtype=np.float64):
    rtol = AGREEMENT_RTOL[dtype]
    assert len(ours.coefs_) == len(theirs.coefs_)
    for mine, sklearns in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert mine.dtype == sklearns.dtype == dtype and mine.shape == sklearns.shape
        np.testing.assert_allclose(mine, sklearns, rtol=rtol, atol=rtol * np.abs(sklearns).max())
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.n_layers_ == theirs.n_layers_ and ours.n_outputs_ == theirs.n_outputs_
    assert ours.out_activation_ == theirs.out_activation_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
        assert ours.t_ == theirs.t_
        for name in ("best_loss_", "best_validation_score_"):
            assert (getattr(ours, name) is None) == (getattr(theirs, name) is None)
            if getattr(theirs, name) is not None:
                np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=rtol)
        if theirs.validation_scores_ is not None:
            np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=rtol)


CLASSIFIER_SETTINGS = {
    "adam defaults": dict(max_iter=15),
    "sgd nesterov invscaling": dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1, max_iter=15),
    "sgd momentum adaptive": dict(solver="sgd", nesterovs_momentum=False, learning_rate="adaptive",
                                  learning_rate_init=0.05, max_iter=40, tol=0.5, n_iter_no_change=2),
    "sgd plain constant": dict(solver="sgd", momentum=0, learning_rate_init=0.2, max_iter=15),
    "lbfgs": dict(solver="lbfgs", max_iter=25),
    "lbfgs max_fun": dict(solver="lbfgs", max_iter=200, max_fun=15),
    "tanh two layers": dict(activation="tanh", hidden_layer_sizes=(12, 7), max_iter=15),
    "logistic": dict(activation="logistic", max_iter=15),
    "identity": dict(activation="identity", max_iter=15),
    "early stopping": dict(early_stopping=True, validation_fraction=0.2, max_iter=60, n_iter_no_change=3),
    "no shuffle, batch 64": dict(shuffle=False, batch_size=64, max_iter=15),
    "tol stops it": dict(tol=0.05, n_iter_no_change=2, max_iter=100),
    "alpha": dict(alpha=0.5, max_iter=15),
}


@pytest.mark.parametrize("setting", CLASSIFIER_SETTINGS)
@pytest.mark.parametrize("data", ["multiclass", "binary"])
def test_classifier_fit_is_mlp_classifiers(setting, data):
    X, y = digits() if data == "multiclass" else moons()
    params = dict(dict(hidden_layer_sizes=(20,), random_state=1), **CLASSIFIER_SETTINGS[setting])
    ours, theirs = fit_both(FastBPClassifier(**params), MLPClassifier(**params), X, y)
    assert_same_fit(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert_same_predictions(ours.predict_proba(X), theirs.predict_proba(X))
    assert ours.coefs_[-1].shape[1] == (1 if data == "binary" else 10)  # one logistic unit for two classes


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_multilabel_is_independent_logistic_units_as_mlp_classifier(solver):
    X, Y = multilabel()
    params = dict(hidden_layer_sizes=(15,), solver=solver, max_iter=20, random_state=2)
    ours, theirs = fit_both(FastBPClassifier(**params), MLPClassifier(**params), X, Y)
    assert_same_fit(ours, theirs)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 4
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


REGRESSOR_SETTINGS = {
    "adam": dict(max_iter=20),
    "sgd": dict(solver="sgd", learning_rate_init=0.01, max_iter=20),
    "lbfgs": dict(solver="lbfgs", max_iter=30),
    "early stopping": dict(early_stopping=True, max_iter=40, n_iter_no_change=3),
    "tanh": dict(activation="tanh", max_iter=20),
    "poisson": dict(loss="poisson", max_iter=20),
}


@pytest.mark.parametrize("setting", REGRESSOR_SETTINGS)
def test_regressor_fit_is_mlp_regressors(setting):
    X, y = regression()
    if setting == "poisson":
        y = np.abs(y)
    params = dict(hidden_layer_sizes=(16,), random_state=3, **REGRESSOR_SETTINGS[setting])
    ours, theirs = fit_both(FastBPRegressor(**params), MLPRegressor(**params), X, y)
    assert_same_fit(ours, theirs)
    assert_same_predictions(ours.predict(X), theirs.predict(X))


def test_multioutput_regression_is_mlp_regressors():
    X, Y = make_regression(150, 6, n_targets=3, random_state=4)
    params = dict(hidden_layer_sizes=(10,), max_iter=20, random_state=4)
    ours, theirs = fit_both(FastBPRegressor(**params), MLPRegressor(**params), X, Y / 100)
    assert_same_fit(ours, theirs)
    assert ours.predict(X).shape == (150, 3)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_sample_weights_are_mlp_classifiers(solver, early_stopping):
    X, y = digits()
    weights = np.random.RandomState(5).uniform(0.1, 3.0, len(y))
    params = dict(hidden_layer_sizes=(20,), solver=solver, max_iter=15, random_state=5,
                  early_stopping=early_stopping and solver != "lbfgs")
    ours, theirs = fit_both(FastBPClassifier(**params), MLPClassifier(**params), X, y, sample_weight=weights)
    assert_same_fit(ours, theirs)
    unweighted = FastBPClassifier(**params)
    fit_both(unweighted, MLPClassifier(**params), X, y)
    assert not np.allclose(unweighted.coefs_[0], ours.coefs_[0])  # the weights did change the fit


def test_integer_sample_weights_are_repeated_samples():
    # expected: the same fit on the data with each row repeated weight times (a full batch sees the same sums)
    X, y = regression()
    weights = np.random.RandomState(6).randint(1, 4, len(y))
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, random_state=6)
    weighted = FastBPRegressor(**params).fit(X, y, sample_weight=weights)
    repeated = FastBPRegressor(**params).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    for mine, theirs in zip(weighted.coefs_, repeated.coefs_):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-8)


def test_float32_trains_float32_weights_as_mlp_classifier():
    X, y = digits()
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(20,), max_iter=10, random_state=7)
    ours, theirs = fit_both(FastBPClassifier(**params), MLPClassifier(**params), X, y)
    assert_same_fit(ours, theirs, dtype=np.float32)
    assert ours.predict_proba(X).dtype == np.float32


@pytest.mark.parametrize("container", [scipy.sparse.csr_matrix, scipy.sparse.csc_matrix])
def test_sparse_X_fits_as_dense_X(container):
    # expected: the dense fit (MLPClassifier gives it for dense X); the sparse
    # products sum in another order than BLAS, hence the tolerance
    X, y = digits()
    X[np.abs(X) < 0.5] = 0
    params = dict(hidden_layer_sizes=(20,), max_iter=10, random_state=8)
    sparse, dense = fit_both(FastBPClassifier(**params), MLPClassifier(**params), container(X), y)
    dense = MLPClassifier(**params)
    fit_both(FastBPClassifier(**params), dense, X, y)
    assert_same_fit(sparse, dense)
    np.testing.assert_array_equal(sparse.predict(container(X)), dense.predict(X))


def test_warm_start_continues_as_mlp_classifier():
    X, y = digits()
    params = dict(hidden_layer_sizes=(20,), max_iter=5, warm_start=True, random_state=9)
    ours, theirs = FastBPClassifier(**params), MLPClassifier(**params)
    for _ in range(3):
        fit_both(ours, theirs, X, y)
        assert_same_fit(ours, theirs)
    assert ours.n_iter_ == 5  # counted per call, as scikit-learn counts it
    assert len(ours.loss_curve_) == 15 and ours.t_ == 15 * len(X)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_is_mlp_classifiers(solver):
    X, y = digits()
    params = dict(hidden_layer_sizes=(20,), solver=solver, random_state=10)
    ours, theirs = FastBPClassifier(**params), MLPClassifier(**params)
    for start in range(0, 300, 100):
        ours.partial_fit(X[start:start + 100], y[start:start + 100], classes=np.arange(10))
        theirs.partial_fit(X[start:start + 100], y[start:start + 100], classes=np.arange(10))
        assert_same_fit(ours, theirs)
    assert ours.n_iter_ == 1 and ours.t_ == 300


def test_partial_fit_regression_is_mlp_regressors():
    X, y = regression()
    params = dict(hidden_layer_sizes=(10,), solver="sgd", learning_rate_init=0.01, random_state=11)
    ours, theirs = FastBPRegressor(**params), MLPRegressor(**params)
    for _ in range(5):
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
    assert_same_fit(ours, theirs)


def test_verbose_lines_are_mlp_classifiers(capsys):
    X, y = moons()
    params = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate="adaptive", max_iter=30, tol=0.5,
                  n_iter_no_change=2, verbose=True, random_state=12)
    fit_both(MLPClassifier(**params), FastBPClassifier(**params), X, y)  # theirs first, then ours
    printed = capsys.readouterr().out.splitlines()
    theirs, ours = printed[:len(printed) // 2], printed[len(printed) // 2:]
    assert ours == theirs
    assert any("Setting learning rate to" in line for line in ours)
    assert ours[0].startswith("Iteration 1, loss = ")


def test_convergence_warning_as_mlp_classifier():
    X, y = moons()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\) reached"):
        FastBPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        FastBPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=3, random_state=0).fit(X, y)


def test_a_failed_fit_leaves_the_estimator_unfitted():
    from sklearn.exceptions import NotFittedError
    X, y = regression()
    regressor = FastBPRegressor(solver="sgd", learning_rate_init=1e6, max_iter=20, random_state=0)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        regressor.fit(X, y * 1e6)
    assert not hasattr(regressor, "coefs_")
    with pytest.raises(NotFittedError):
        regressor.predict(X)
    # a failed warm fit leaves the previous fit as it was, weights included
    regressor.set_params(learning_rate_init=0.001, max_iter=5, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        regressor.fit(X, y)
    before = [W.copy() for W in regressor.coefs_]
    regressor.set_params(learning_rate_init=1e6, max_iter=20)
    with pytest.raises(ValueError, match="non-finite"):
        regressor.fit(X, y * 1e6)
    for W, saved in zip(regressor.coefs_, before):
        np.testing.assert_array_equal(W, saved)
