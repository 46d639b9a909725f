"""fastbp.LectureClassifier: the lecture's network with scikit-learn's conventions,
and MLPClassifier's meaning of its parameters."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastbp
from fastbp import LectureClassifier, reference

# scikit-learn computes lr * (g / N), fastbp (lr / N) * g: the same update up to
# one rounding per step, which a few passes of a well-conditioned run grow by
# no more than a few orders of magnitude above 1e-16.
MLP_AGREEMENT_RTOL = 1e-10
MLP_PASSES = 20



# Fewer passes than the default keep the ~50 checks to a second; the checks'
# accuracy thresholds are met after 1000 passes on their small problems.
@parametrize_with_checks([LectureClassifier(max_iter=1000), LectureClassifier(max_iter=1000, dtype="float32")])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("make", [LectureClassifier, fastbp.FastBPClassifier.lecture], ids=["class", "classmethod"])
def test_defaults_are_the_lectures_build_model_bit_for_bit(moons, make):
    X, y = moons
    model = fastbp.build_model(X, y, 3)
    classifier = make(random_state=0).fit(X, y)
    assert type(classifier) is LectureClassifier
    assert 2.0 / 200 == 0.01  # learning_rate_init / N is the lecture's epsilon exactly
    for l in (1, 2):
        np.testing.assert_array_equal(classifier.coefs_[l - 1], model["W%d" % l])
        np.testing.assert_array_equal(classifier.intercepts_[l - 1], model["b%d" % l].ravel())
    np.testing.assert_array_equal(classifier.predict_proba(X), fastbp.predict_proba(model, X))
    assert classifier.n_iter_ == 20000 and len(classifier.loss_curve_) == 20000
    assert classifier.loss_ == fastbp.calculate_loss(model, X, y, 0.01)


def test_float32_classifier_is_fastbp_train_in_float32(moons):
    # expected: fastbp.train with dtype="float32" and the mapped settings
    X, y = moons
    classifier = LectureClassifier(random_state=0, max_iter=500, dtype="float32").fit(X, y)
    model = fastbp.train(X, y, 3, num_passes=500, dtype="float32").model
    for l in (1, 2):
        assert classifier.coefs_[l - 1].dtype == np.float32
        np.testing.assert_array_equal(classifier.coefs_[l - 1], model["W%d" % l])
    probabilities = classifier.predict_proba(X)
    assert probabilities.dtype == np.float32
    np.testing.assert_array_equal(probabilities, fastbp.predict_proba(model, X))


def mlp_after(X, y, start, passes, **settings):
    """MLPClassifier as plain full-batch gradient descent from the given weights."""
    mlp = MLPClassifier(solver="sgd", momentum=0, nesterovs_momentum=False, batch_size=len(X), shuffle=False,
                        learning_rate="constant", warm_start=True, max_iter=1, n_iter_no_change=10**6,
                        tol=0, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)  # sets up its shapes; its weights are replaced next
        num_layers = reference.num_layers(start)
        mlp.coefs_ = [start["W%d" % l].copy() for l in range(1, num_layers + 1)]
        mlp.intercepts_ = [start["b%d" % l].ravel().copy() for l in range(1, num_layers + 1)]
        mlp.set_params(max_iter=passes)
        mlp.fit(X, y)
    return mlp


@pytest.mark.parametrize("activation", ["tanh", "logistic", "relu"])
@pytest.mark.parametrize("alpha, learning_rate_init", [(0.01, 2.0), (0.5, 0.3)])
def test_parameters_mean_what_they_mean_in_mlp_classifier(activation, alpha, learning_rate_init):
    # Three classes: for two, MLPClassifier has one logistic output, fastbp two softmax outputs.
    X, y = fastbp.datasets.make_spiral(30, 3, seed=1)
    settings = dict(hidden_layer_sizes=(5, 4), activation=activation, alpha=alpha,
                    learning_rate_init=learning_rate_init)
    ours = LectureClassifier(max_iter=MLP_PASSES, random_state=3, **settings).fit(X, y)
    start = reference.init_params((2, 5, 4, 3), 3)
    theirs = mlp_after(X, y, start, MLP_PASSES, **settings)
    for mine, sklearns in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, sklearns, rtol=MLP_AGREEMENT_RTOL, atol=0)
    # theirs records the loss before each pass, ours after it; theirs begins with its set-up fit's pass
    np.testing.assert_allclose(ours.loss_curve_[:-1], theirs.loss_curve_[2:], rtol=MLP_AGREEMENT_RTOL)
    assert not np.allclose(ours.coefs_[0], start["W1"])  # the passes really moved the weights


def test_minibatches_mean_what_they_mean_in_mlp_classifier():
    """With B dividing N and the same sample order, one epoch is MLPClassifier's epoch."""
    X, y = fastbp.datasets.make_spiral(30, 3, seed=2)  # N = 90, batches of 30
    settings = dict(hidden_layer_sizes=(5,), activation="tanh", alpha=0.2, learning_rate_init=0.5)
    ours = LectureClassifier(batch_size=30, max_iter=1, random_state=4, **settings).fit(X, y)
    order = np.arange(len(X))
    np.random.default_rng(4).shuffle(order)  # fastbp's order of the first epoch (trainer._Shuffler)
    start = reference.init_params((2, 5, 3), 4)
    theirs = mlp_after(X[order], y[order], start, 1, **settings)
    theirs.set_params(batch_size=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.coefs_ = [start["W1"].copy(), start["W2"].copy()]
        theirs.intercepts_ = [start["b1"].ravel().copy(), start["b2"].ravel().copy()]
        theirs.fit(X[order], y[order])  # one epoch in three batches, in fastbp's order (shuffle=False)
    for mine, sklearns in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, sklearns, rtol=MLP_AGREEMENT_RTOL, atol=0)
    assert not np.allclose(ours.coefs_[0], start["W1"])


def test_string_labels_and_probability_columns_in_classes_order(moons):
    X, y = moons
    names = np.array(["zebra", "aardvark"])[y]  # class 0 is "zebra", which sorts last
    classifier = LectureClassifier(max_iter=500, random_state=0).fit(X, names)
    assert classifier.classes_.tolist() == ["aardvark", "zebra"]
    model = fastbp.train(X, 1 - y, 3, num_passes=500).model  # "aardvark" is class 0 now
    np.testing.assert_array_equal(classifier.predict_proba(X), fastbp.predict_proba(model, X))
    np.testing.assert_array_equal(classifier.predict(X), classifier.classes_[fastbp.predict(model, X)])
    assert classifier.score(X, names) == np.mean(classifier.predict(X) == names)


def test_warm_start_and_partial_fit_continue_the_run(moons):
    X, y = moons
    whole = LectureClassifier(max_iter=300, random_state=0).fit(X, y)
    warm = LectureClassifier(max_iter=100, random_state=0, warm_start=True).fit(X, y)
    warm.set_params(max_iter=200).fit(X, y)
    cold = LectureClassifier(max_iter=100, random_state=0).fit(X, y).set_params(max_iter=200).fit(X, y)
    partial = LectureClassifier(random_state=0)
    for _ in range(300):
        partial.partial_fit(X, y, classes=[0, 1])
    for other in (warm, partial):
        assert other.n_iter_ == 300
        np.testing.assert_array_equal(other.loss_curve_, whole.loss_curve_)
        for mine, theirs in zip(other.coefs_ + other.intercepts_, whole.coefs_ + whole.intercepts_):
            np.testing.assert_array_equal(mine, theirs)
    assert cold.n_iter_ == 200 and not np.array_equal(cold.coefs_[0], whole.coefs_[0])


def test_partial_fit_takes_batches_missing_a_class(moons):
    X, y = moons
    classifier = LectureClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        classifier.partial_fit(X, y)
    classifier.partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    assert classifier.predict_proba(X).shape == (200, 3)
    with pytest.raises(ValueError, match="not in classes"):
        classifier.partial_fit(X, y + 2)
    with pytest.raises(ValueError, match="differ from those of the first call"):
        classifier.partial_fit(X, y, classes=[0, 1])


def test_verbose_prints_the_lectures_loss_lines(moons, capsys):
    X, y = moons
    LectureClassifier(max_iter=2001, random_state=0, verbose=True).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Loss after iteration %d: %f" % (i, loss) for i, loss in
                     zip((0, 1000, 2000), fastbp.train(X, y, 3, num_passes=2001, loss_every=1000).losses)]
    LectureClassifier(max_iter=2001, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("parameter, value", [
    ("hidden_layer_sizes", 0), ("hidden_layer_sizes", (3, -1)), ("hidden_layer_sizes", ()),
    ("activation", "identity"), ("alpha", -0.1), ("learning_rate_init", 0.0), ("max_iter", 0),
    ("batch_size", 0), ("batch_size", "all"), ("random_state", "zero"), ("warm_start", "yes"),
    ("schedule", "cosine"), ("num_threads", 0), ("dtype", "float16"),
])
def test_invalid_parameters_are_named(moons, parameter, value):
    X, y = moons
    with pytest.raises((InvalidParameterError, ValueError), match=parameter):
        LectureClassifier(**{parameter: value}).fit(X, y)


def test_predict_before_fit_is_not_fitted_error(moons):
    X, _ = moons
    for method in ("predict", "predict_proba"):
        with pytest.raises(NotFittedError):
            getattr(LectureClassifier(), method)(X)


def test_pipeline_grid_search_on_two_processes_and_pickle(moons):
    X, y = moons
    search = GridSearchCV(make_pipeline(StandardScaler(), LectureClassifier(max_iter=300, random_state=0)),
                          {"lectureclassifier__hidden_layer_sizes": [(2,), (5,)]}, cv=2, n_jobs=2).fit(X, y)
    assert search.best_params_["lectureclassifier__hidden_layer_sizes"] in [(2,), (5,)]
    again = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_array_equal(again.predict_proba(X), search.best_estimator_.predict_proba(X))
    # the cross-validated score is the one a fit in this process gives
    fold_train, fold_test = next(StratifiedKFold(2).split(X, y))
    local = make_pipeline(StandardScaler(), LectureClassifier((5,), max_iter=300, random_state=0))
    local.fit(X[fold_train], y[fold_train])
    assert search.cv_results_["split0_test_score"][1] == local.score(X[fold_test], y[fold_test])
