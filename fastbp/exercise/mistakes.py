"""The table of typical mistakes: what the lecture's code computes when it makes each.

A wrong gradient is compared with the reference answer with each mistake of
:data:`MISTAKES` applied; the first that reproduces the student's values names
the mistake in the verdict (:mod:`fastbp.exercise.judging`).
"""

from dataclasses import dataclass

import numpy as np

from .. import reference
from .problems import GRADIENTS

@dataclass(frozen=True)
class Mistake:
    """A typical mistake, and the values the lecture's code computes when it makes it.

    ``variants(lecture, expected)`` -> {gradient name: [arrays]}: each array is
    the reference answer with the mistake applied in one of the ways students
    write it; a gradient the mistake cannot affect has no entry.
    """

    name: str
    explanation: str
    variants: object


def _data_terms(lecture, expected):
    """dW2 and dW1 without their L2 terms."""
    reg_lambda = lecture.problem.reg_lambda
    return {"dW2": expected["dW2"] - reg_lambda * lecture.W2, "dW1": expected["dW1"] - reg_lambda * lecture.W1}


def _from_delta2(lecture, delta2):
    """delta2, dW1 and db1 as the lecture's code computes them from a given (wrong) delta2."""
    dW1, db1 = reference.dense_backward(delta2, lecture.X)
    return {"delta2": [delta2], "dW1": [dW1 + lecture.problem.reg_lambda * lecture.W1], "db1": [db1]}


def _merged(*variant_dicts):
    merged = {}
    for variants in variant_dicts:
        for name, arrays in variants.items():
            merged.setdefault(name, []).extend(arrays)
    return merged


def _not_filled_in(lecture, expected):
    # The template's lines: "dW2 = 0" followed by "dW2 += reg_lambda * W2".
    placeholder = np.asarray(0.0)
    reg_lambda = lecture.problem.reg_lambda
    return {"dW2": [reg_lambda * lecture.W2], "dW1": [reg_lambda * lecture.W1],
            "db2": [placeholder], "db1": [placeholder], "delta2": [placeholder]}


def _transposed_product(lecture, expected):
    data = _data_terms(lecture, expected)
    variants = {name: [expected[name].T] for name in ("dW2", "delta2", "dW1")}
    for name, W in (("dW2", lecture.W2), ("dW1", lecture.W1)):
        variants[name].append(data[name].T)
        # The template's "dW += reg_lambda * W" runs without error only when W is square.
        if W.shape[0] == W.shape[1]:
            variants[name].append(data[name].T + lecture.problem.reg_lambda * W)
    if lecture.problem.H == lecture.problem.C:  # delta3.dot(W2) instead of delta3.dot(W2.T) only runs then
        variants = _merged(variants, _from_delta2(lecture, lecture.delta3.dot(lecture.W2) * (1 - lecture.a1 ** 2)))
    return variants


def _missing_tanh_derivative(lecture, expected):
    return _from_delta2(lecture, lecture.delta3.dot(lecture.W2.T))


def _wrong_tanh_derivative(lecture, expected):
    a1 = lecture.a1
    backpropagated = lecture.delta3.dot(lecture.W2.T)
    wrong_derivatives = (1 - np.tanh(a1) ** 2, (1 - a1) ** 2, 1 - a1, a1 * (1 - a1))
    return _merged(*(_from_delta2(lecture, backpropagated * derivative) for derivative in wrong_derivatives))


def _regularised_biases(lecture, expected):
    reg_lambda = lecture.problem.reg_lambda
    return {"db2": [expected["db2"] + reg_lambda * lecture.b2], "db1": [expected["db1"] + reg_lambda * lecture.b1]}


def _averaged(lecture, expected):
    N = lecture.problem.N
    data = _data_terms(lecture, expected)
    variants = {name: [expected[name] / N] for name in GRADIENTS}
    # Averaging the product, then the template's L2 line.
    for name, W in (("dW2", lecture.W2), ("dW1", lecture.W1)):
        variants[name].append(data[name] / N + lecture.problem.reg_lambda * W)
    return variants


def _missing_regularisation(lecture, expected):
    return {name: [data] for name, data in _data_terms(lecture, expected).items()}


def _regularisation_twice(lecture, expected):
    reg_lambda = lecture.problem.reg_lambda
    return {"dW2": [expected["dW2"] + reg_lambda * lecture.W2], "dW1": [expected["dW1"] + reg_lambda * lecture.W1]}


def _sign_error(lecture, expected):
    data = _data_terms(lecture, expected)
    variants = {name: [-expected[name]] for name in GRADIENTS}
    # delta3 = y - probs (the sign of the lecture's formula), then the template's L2 line.
    for name, W in (("dW2", lecture.W2), ("dW1", lecture.W1)):
        variants[name].append(-data[name] + lecture.problem.reg_lambda * W)
    return variants


def _bias_summed_over_wrong_axis(lecture, expected):
    delta2 = expected["delta2"]
    variants = {}
    for name, delta in (("db2", lecture.delta3), ("db1", delta2)):
        variants[name] = [delta, np.sum(delta, axis=1), np.sum(delta, axis=1, keepdims=True), np.sum(delta)]
    return variants


MISTAKES = (
    Mistake("not filled in",
            "still the template's placeholder: 0, or for a weight 0 + reg_lambda * W",
            _not_filled_in),
    Mistake("transposed product",
            "the values are the transpose of the right ones: a matrix product has its operands swapped or "
            "transposed (dW1 has the shape of W1, dW2 of W2, delta2 of a1)",
            _transposed_product),
    Mistake("missing 1 - a1**2 factor",
            "delta2, and so dW1 and db1, lacks the derivative of tanh: delta3.dot(W2.T) must be multiplied, "
            "elementwise, by 1 - a1**2",
            _missing_tanh_derivative),
    Mistake("wrong tanh derivative",
            "delta2, and so dW1 and db1, uses the wrong derivative of tanh: written with the forward output "
            "a1 = tanh(z1), it is 1 - a1**2",
            _wrong_tanh_derivative),
    Mistake("regularisation added to biases",
            "the value includes reg_lambda * b: the biases have no regularisation term, only dW1 and dW2 "
            "get reg_lambda * W",
            _regularised_biases),
    Mistake("averaged instead of summed",
            "the value is the right gradient divided by N: the lecture's gradients are summed over the "
            "samples, not averaged",
            _averaged),
    Mistake("missing regularisation",
            "reg_lambda * W is missing: the weights' gradients include the regularisation term",
            _missing_regularisation),
    Mistake("regularisation added twice",
            "reg_lambda * W is added twice: the template already adds it after your lines",
            _regularisation_twice),
    Mistake("sign error",
            "the sign is flipped: delta3 is probs minus the one-hot labels (delta3[range(N), y] -= 1); "
            "the lecture's formula y - y_hat is its negative",
            _sign_error),
    Mistake("summed over the wrong axis",
            "a bias gradient sums its delta over the samples, axis 0, leaving one entry per unit",
            _bias_summed_over_wrong_axis),
)
