"""fastbp.save / fastbp.load for FastBPClassifier and FastBPRegressor: a loaded
estimator is the estimator saved (parameters, fitted attributes, dtype,
predictions bit for bit) and goes on training to the same bits as the one never
saved; damaged or forged files are refused with a ModelFileError naming the
file. The expected values are the saved estimator's own: the file must change
nothing."""

import json
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression

import fastbp
from fastbp import FastBPClassifier, FastBPRegressor, ModelFileError, model_files

FITTED_SCALARS = ("n_features_in_", "n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_", "loss_",
                  "best_loss_", "best_validation_score_", "loss_curve_", "validation_scores_")


def digits(dtype=np.float64):
    X, y = load_digits(return_X_y=True)
    return (X[:240] / 16).astype(dtype), y[:240]


def binary():
    X, y = digits()
    return X, np.where(y % 2 == 0, "even", "odd")


def multilabel():
    X, Y = make_multilabel_classification(n_samples=150, n_features=8, n_classes=3, random_state=0)
    return X / X.max(), Y


def regression(outputs=1):
    X, y = make_regression(n_samples=150, n_features=6, n_targets=outputs, noise=0.5, random_state=0)
    return X, y / 100


# A stall after every epoch (tol above any gain, n_iter_no_change=1): "adaptive"
# divides its learning rate by 5 within the first few epochs, so the rate a
# file must restore is not learning_rate_init.
STALLING = dict(tol=10.0, n_iter_no_change=1)

CASES = {
    "adam, multi-class": (FastBPClassifier, digits, dict(hidden_layer_sizes=(12,))),
    "adam, binary text labels": (FastBPClassifier, binary, dict(hidden_layer_sizes=[7, 5], activation="tanh")),
    "sgd adaptive, nesterov": (FastBPClassifier, digits, dict(solver="sgd", learning_rate="adaptive",
                                                              hidden_layer_sizes=9, **STALLING)),
    "sgd invscaling, plain momentum": (FastBPClassifier, digits, dict(solver="sgd", learning_rate="invscaling",
                                                                      nesterovs_momentum=False, momentum=0.5)),
    "early stopping": (FastBPClassifier, digits, dict(early_stopping=True, hidden_layer_sizes=(10,))),
    "float32": (FastBPClassifier, lambda: digits(np.float32), dict(hidden_layer_sizes=(8,))),
    "multi-label": (FastBPClassifier, multilabel, dict(hidden_layer_sizes=(6,), activation="logistic")),
    "RandomState object": (FastBPClassifier, digits, dict(random_state=np.random.RandomState(7))),
    "regression, adam": (FastBPRegressor, regression, dict(hidden_layer_sizes=(10,))),
    "regression, sgd adaptive, two outputs": (FastBPRegressor, lambda: regression(2),
                                              dict(solver="sgd", learning_rate="adaptive", learning_rate_init=1e-3,
                                                   **STALLING)),
    "regression, lbfgs": (FastBPRegressor, regression, dict(solver="lbfgs", hidden_layer_sizes=(5,))),
}


def fitted(case, **extra):
    cls, data, settings = CASES[case]
    X, y = data()
    settings = dict(dict(random_state=0, max_iter=4, warm_start=True), **settings, **extra)
    if isinstance(settings["random_state"], np.random.RandomState):  # each call gets its own generator
        settings["random_state"] = np.random.RandomState(7)
    estimator = cls(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X, y)
        if estimator.solver != "lbfgs" and not estimator.early_stopping:
            for _ in range(3):
                estimator.partial_fit(X, y)
    return estimator, X, y


def assert_same_params(loaded, saved):
    mine, theirs = loaded.get_params(), saved.get_params()
    if isinstance(theirs["random_state"], np.random.RandomState):
        first, second = mine.pop("random_state").get_state(), theirs.pop("random_state").get_state()
        assert first[0] == second[0] and first[2:] == second[2:]
        np.testing.assert_array_equal(first[1], second[1])
    assert mine == theirs
    assert all(type(mine[name]) is type(theirs[name]) for name in theirs)


def assert_same_weights(mine, theirs):
    for first, second in zip(mine.coefs_ + mine.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True):
        assert first.dtype == second.dtype
        np.testing.assert_array_equal(first, second)


def assert_same_estimator(loaded, saved, X):
    assert type(loaded) is type(saved)
    assert_same_params(loaded, saved)
    assert_same_weights(loaded, saved)
    for name in FITTED_SCALARS:
        assert hasattr(loaded, name) == hasattr(saved, name), name
        if hasattr(saved, name):
            assert getattr(loaded, name) == getattr(saved, name), name
    if hasattr(saved, "classes_"):
        np.testing.assert_array_equal(loaded.classes_, saved.classes_)
        np.testing.assert_array_equal(loaded.predict_proba(X), saved.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), saved.predict(X))


def continue_both(saved, loaded, X, y):
    """Train both on: partial_fit (the optimiser's state carries over), then a warm-started fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for estimator in (saved, loaded):
            if estimator.solver != "lbfgs" and not estimator.early_stopping:
                estimator.partial_fit(X, y)
                estimator.partial_fit(X, y)
            estimator.fit(X, y)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_loaded_estimator_is_the_one_saved_and_trains_on_to_the_same_bits(case, tmp_path):
    saved, X, y = fitted(case)
    path = fastbp.save(saved, tmp_path / "estimator")
    with np.load(path, allow_pickle=False) as archive:  # the file needs no pickle
        assert model_files.HEADER_MEMBER in archive.files
    loaded = fastbp.load(path)
    assert_same_estimator(loaded, saved, X)
    continue_both(saved, loaded, X, y)
    assert_same_estimator(loaded, saved, X)


def test_the_optimizers_state_is_what_makes_partial_fit_continue_exactly(tmp_path):
    """Preconditions of the round trip above: without its moments and step count
    Adam would step differently, and "adaptive" has lowered its rate."""
    adam, X, y = fitted("adam, multi-class")
    fresh = FastBPClassifier(**adam.get_params())
    fresh.partial_fit(X, y, classes=np.unique(y))  # zero moments, t = 0
    fresh.coefs_, fresh.intercepts_ = [W.copy() for W in adam.coefs_], [b.copy() for b in adam.intercepts_]
    loaded = fastbp.load(fastbp.save(adam, tmp_path / "adam"))
    fresh.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert not np.array_equal(fresh.coefs_[0], loaded.coefs_[0])
    sgd, _, _ = fitted("sgd adaptive, nesterov")
    assert sgd._optimizer.learning_rate < sgd.learning_rate_init
    assert fastbp.load(fastbp.save(sgd, tmp_path / "sgd"))._optimizer.learning_rate == sgd._optimizer.learning_rate


@pytest.mark.parametrize("case", ["adam, multi-class", "float32", "regression, sgd adaptive, two outputs"])
def test_pickle_round_trips_keep_working(case):
    saved, X, y = fitted(case)
    loaded = pickle.loads(pickle.dumps(saved))
    assert_same_estimator(loaded, saved, X)
    continue_both(saved, loaded, X, y)
    assert_same_estimator(loaded, saved, X)


def test_feature_names_are_kept(tmp_path):
    pandas = pytest.importorskip("pandas")
    X, y = digits()
    frame = pandas.DataFrame(X, columns=["pixel %d" % j for j in range(X.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = FastBPClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0).fit(frame, y)
    loaded = fastbp.load(fastbp.save(saved, tmp_path / "named"))
    np.testing.assert_array_equal(loaded.feature_names_in_, saved.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict(frame), saved.predict(frame))


def test_an_unfitted_estimator_or_an_unsavable_parameter_is_refused(tmp_path):
    with pytest.raises(Exception, match="not fitted"):
        fastbp.save(FastBPRegressor(), tmp_path / "unfitted")
    saved, _, _ = fitted("adam, multi-class")
    saved.set_params(verbose=object())
    with pytest.raises(ValueError, match="verbose"):
        fastbp.save(saved, tmp_path / "object")


# ---------------------------------------------------------------- bad files

def members_and_header(path):
    with np.load(path, allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    return members, json.loads(members.pop(model_files.HEADER_MEMBER).tobytes())


def forge(path, members, header):
    """Write the archive again with the header's digests, dtypes and shapes made to match: a
    forger who knows the format, so only the checks of meaning can catch the change."""
    header["arrays"] = {name: {"dtype": value.dtype.str, "shape": list(value.shape),
                               "sha256": model_files._digest(value)} for name, value in members.items()}
    encoded = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **{model_files.HEADER_MEMBER: encoded}, **members)


def transpose_coef(members, header):
    members["coef_1"] = members["coef_1"].T.copy()


def drop_a_class(members, header):
    members["classes"] = members["classes"][:-1]
    header["state"]["label_binarizer"]["y_type"] = "multiclass"


def short_adam_moment(members, header):
    members["optimizer_m"] = members["optimizer_m"][:-1]


def float32_biases(members, header):
    members["intercept_0"] = members["intercept_0"].astype(np.float32)


def more_hidden_units(members, header):
    header["parameters"]["hidden_layer_sizes"] = {"tuple": [13]}


def regressor_kind(members, header):
    header["kind"] = "mlp_regressor"


def lecture_kind(members, header):
    header["kind"] = "classifier"


def negative_learning_rate(members, header):
    header["parameters"]["learning_rate_init"] = -1.0


def output_activation(members, header):
    header["state"]["attributes"]["out_activation_"] = "logistic"


def learning_rate_not_a_number(members, header):
    header["state"]["optimizer"]["learning_rate"] = "fast"


def feature_count(members, header):
    header["state"]["attributes"]["n_features_in_"] = 63


def missing_state(members, header):
    del header["state"]


@pytest.mark.parametrize("forgery", [transpose_coef, drop_a_class, short_adam_moment, float32_biases,
                                     more_hidden_units, regressor_kind, lecture_kind, negative_learning_rate,
                                     output_activation, learning_rate_not_a_number, feature_count, missing_state])
def test_a_forged_file_is_refused_naming_the_file(tmp_path, forgery):
    saved, _, _ = fitted("adam, multi-class")
    path = fastbp.save(saved, tmp_path / "forged")
    members, header = members_and_header(path)
    forgery(members, header)
    forge(path, members, header)
    with pytest.raises(ModelFileError, match="forged.npz"):
        fastbp.load(path)


@pytest.mark.parametrize("keep_fraction", [0.1, 0.5, 0.95])
def test_a_truncated_estimator_file_is_refused(tmp_path, keep_fraction):
    saved, _, _ = fitted("regression, adam")
    path = fastbp.save(saved, tmp_path / "regressor")
    content = open(path, "rb").read()
    with open(path, "wb") as file:
        file.write(content[:int(len(content) * keep_fraction)])
    with pytest.raises(ModelFileError, match="regressor.npz"):
        fastbp.load(path)


def test_an_unforged_rewrite_is_accepted(tmp_path):
    """The forger's tool changes nothing by itself: the refusals above are the forgeries'."""
    saved, X, _ = fitted("adam, multi-class")
    path = fastbp.save(saved, tmp_path / "rewritten")
    forge(path, *members_and_header(path))
    assert_same_estimator(fastbp.load(path), saved, X)
