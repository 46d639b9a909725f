"""scikit-learn's estimator checks on FastBPClassifier and FastBPRegressor: every
check scikit-learn generates for them (multi-label and sample-weight checks
included, as the estimators declare both), none expected to fail. The checks
that skip here skip for want of optional packages (pandas, the array API)."""

import pytest
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastbp import FastBPClassifier, FastBPRegressor

# Fewer epochs than the default keep the checks fast; their accuracy thresholds
# are met on their small problems. (The other solvers are compared with
# scikit-learn's in tests/api/test_estimator_mlp.py.)
ESTIMATORS = [FastBPClassifier(max_iter=100), FastBPRegressor(max_iter=100)]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def check_names(estimator):
    return sorted(check.func.__name__ for _, check in parametrize_with_checks([estimator]).args[1])


@pytest.mark.parametrize("ours, theirs", [(FastBPClassifier(), MLPClassifier()), (FastBPRegressor(), MLPRegressor())])
def test_the_checks_are_those_of_scikit_learns_mlps(ours, theirs):
    # expected: the checks scikit-learn generates for its own MLPs, multi-label and sample weights included
    assert check_names(ours) == check_names(theirs)
    sample_weight_checks = {"check_sample_weight_equivalence_on_dense_data", "check_sample_weights_not_overwritten"}
    assert sample_weight_checks <= set(check_names(ours))


def test_the_classifier_checks_include_multilabel():
    assert "check_classifiers_multilabel_representation_invariance" in check_names(FastBPClassifier())
