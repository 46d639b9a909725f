"""A backprop checker for the lecture's hands-on exercise.

In the lecture, students fill in the backprop lines of ``build_model``. Here
those lines are one function, written with the lecture's variable names::

    def backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):
        num_examples = len(X)
        delta3 = probs
        delta3[range(num_examples), y] -= 1
        ...                              # dW2, db2, delta2, dW1, db1
        dW2 += reg_lambda * W2
        dW1 += reg_lambda * W1
        return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "delta2": delta2}

Arguments (N samples, D inputs, H hidden units, C classes), all positional:

    X (N,D)      the data
    y (N,)       integer labels 0..C-1
    W1 (D,H), b1 (1,H), W2 (H,C), b2 (1,C)   the model
    a1 (N,H)     tanh(X.dot(W1) + b1), the hidden activations
    probs (N,C)  softmax(a1.dot(W2) + b2), the predicted probabilities
    reg_lambda   the L2 regularisation strength

Every argument is a fresh copy, so the lecture's ``delta3 = probs`` followed by
``delta3[range(num_examples), y] -= 1`` may change ``probs`` in place.

The function returns a dict holding what the lecture's loop body holds just
before its update step: gradients of the loss **summed** over the N samples
(not averaged), with the L2 term on the weights only:

    dW2 (H,C), dW1 (D,H)   including ``reg_lambda * W2`` and ``reg_lambda * W1``
    db2 (1,C), db1 (1,H)   without any L2 term; (C,) and (H,) are accepted too,
                           since the update ``b1 += -epsilon * db1`` treats them alike
    delta2 (N,H)           optional: the error at the hidden layer's input z1

:func:`check_backprop` runs such a function on the small random problems in
:data:`PROBLEMS` and judges each gradient against the reference
(:func:`fastbp.reference.gradients`) and against central differences of the
summed loss, which in turn guard the reference. A wrong gradient is compared
with the reference with each of the :data:`MISTAKES` applied; when one of them
reproduces the student's values, the verdict names it. :func:`check_file`
does the same for the function ``backprop`` in a Python file
(``fastbp check FILE.py``).
"""

import importlib.util
import inspect
import os
import sys
import traceback
from dataclasses import dataclass, field

import numpy as np

from . import reference

STUDENT_ARGUMENTS = ("X", "y", "W1", "b1", "W2", "b2", "a1", "probs", "reg_lambda")
REQUIRED_GRADIENTS = ("dW1", "db1", "dW2", "db2")
GRADIENTS = ("dW2", "db2", "delta2", "dW1", "db1")  # the order the lecture computes them in
BIAS_GRADIENTS = ("db1", "db2")

# A correct solution differs from the reference only in the order of its sums,
# a few ulp (~1e-15) of the largest entry; every mistake below moves entries by
# a sizeable part of the gradient. The same tolerance decides whether a wrong
# gradient is the reference with a mistake applied: that is the same arithmetic.
REFERENCE_RTOL = 1e-9
# Central differences with step h have truncation error O(h^2) and rounding
# error O(eps * loss / h); h = 1e-5 keeps both near 1e-10 relative for these
# losses (of order 1 to 10), far inside FD_RTOL.
FD_STEP = 1e-5
FD_RTOL = 1e-6
# Errors are relative to the largest expected entry, or absolute when that is
# below 1: a gradient whose entries nearly cancel (db2 of two classes) must not
# turn a few ulp into a large relative error.
ERROR_SCALE_FLOOR = 1.0

CORRECT = "correct"
WRONG = "wrong"
WRONG_SHAPE = "wrong shape"
MISSING = "missing"
NOT_RETURNED = "not returned"  # delta2 only: returning it is optional
NOT_CHECKED = "not checked"  # backprop raised on every problem

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_NOT_CHECKED = 2  # the file could not be loaded, so no backprop was checked


@dataclass(frozen=True)
class Problem:
    """The sizes, regularisation and seed of one random problem."""

    N: int
    D: int
    H: int
    C: int
    reg_lambda: float
    seed: int

    def __str__(self):
        return "N=%d, D=%d, H=%d, C=%d" % (self.N, self.D, self.H, self.C)


PROBLEMS = (
    # Every size different: a product of the wrong operands fails or has the wrong shape.
    Problem(N=7, D=3, H=4, C=2, reg_lambda=0.3, seed=1),
    # One sample and one hidden unit: sums over samples and units are trivial here.
    Problem(N=1, D=2, H=1, C=3, reg_lambda=0.5, seed=2),
    # D = H = C: a transposed product has the right shape, so its values are compared.
    Problem(N=7, D=3, H=3, C=3, reg_lambda=0.2, seed=3),
    Problem(N=5, D=2, H=4, C=3, reg_lambda=0.1, seed=4),
)


class ReferenceDisagreement(RuntimeError):
    """fastbp's reference gradients disagree with central differences: no verdict can be trusted."""


class StudentFileError(Exception):
    """A student file that does not exist, does not run, or has no usable ``backprop``."""


# ---------------------------------------------------------------- the problems and their answers

@dataclass
class Lecture:
    """One problem's inputs and the lecture's intermediate values."""

    problem: Problem
    X: np.ndarray
    y: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    a1: np.ndarray
    probs: np.ndarray
    delta3: np.ndarray

    @property
    def model(self):
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def student_arguments(self):
        """Fresh copies in the order of STUDENT_ARGUMENTS: the student may change them in place."""
        arrays = (self.X, self.y, self.W1, self.b1, self.W2, self.b2, self.a1, self.probs)
        return tuple(array.copy() for array in arrays) + (self.problem.reg_lambda,)


def make_lecture(problem):
    rng = np.random.RandomState(problem.seed)
    N, D, H, C = problem.N, problem.D, problem.H, problem.C
    X = rng.randn(N, D)
    y = rng.randint(C, size=N).astype(np.intp)
    # The lecture's initialisation, except that the biases are not zero: a zero
    # bias would hide a regularisation term wrongly added to its gradient.
    W1 = rng.randn(D, H) / np.sqrt(D)
    b1 = 0.5 * rng.randn(1, H)
    W2 = rng.randn(H, C) / np.sqrt(H)
    b2 = 0.5 * rng.randn(1, C)
    a1, z2 = reference.forward({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, X)
    probs = reference.softmax_forward(z2)
    delta3 = reference.softmax_cross_entropy_backward(probs, y)
    return Lecture(problem, X, y, W1, b1, W2, b2, a1, probs, delta3)


def reference_answer(lecture):
    """The lecture's solved gradients, from fastbp.reference, under the student's names."""
    grads = reference.gradients(lecture.model, lecture.X, lecture.y, lecture.problem.reg_lambda)
    answer = {"d" + name: grad for name, grad in grads.items()}
    answer["delta2"] = reference.tanh_backward(reference.dense_backward_input(lecture.delta3, lecture.W2),
                                               lecture.a1)
    return answer


def _central_differences(loss, x):
    """d loss / d x, perturbing ``x`` in place one entry at a time and restoring it."""
    grad = np.empty_like(x)
    for index in np.ndindex(*x.shape):
        saved = x[index]
        x[index] = saved + FD_STEP
        loss_up = loss()
        x[index] = saved - FD_STEP
        loss_down = loss()
        x[index] = saved
        grad[index] = (loss_up - loss_down) / (2 * FD_STEP)
    return grad


def numerical_answer(lecture):
    """Central differences of the summed loss: by parameter, and for delta2 by z1."""
    model = {name: param.copy() for name, param in lecture.model.items()}
    N, reg_lambda = lecture.problem.N, lecture.problem.reg_lambda

    def summed_loss():
        return N * reference.calculate_loss(model, lecture.X, lecture.y, reg_lambda)

    answer = {"d" + name: _central_differences(summed_loss, param) for name, param in model.items()}
    z1 = reference.dense_forward(lecture.X, lecture.W1, lecture.b1)

    def data_loss_of_z1():
        z2 = reference.dense_forward(reference.tanh_forward(z1), lecture.W2, lecture.b2)
        return reference.cross_entropy_loss(z2, lecture.y)

    answer["delta2"] = _central_differences(data_loss_of_z1, z1)
    return answer


def relative_error(got, expected):
    """Largest absolute difference over the largest expected entry (at least ERROR_SCALE_FLOOR)."""
    scale = max(float(np.max(np.abs(expected))), ERROR_SCALE_FLOOR)
    return float(np.max(np.abs(got - expected))) / scale


def _check_reference(lecture, expected, numerical):
    for name in GRADIENTS:
        error = relative_error(expected[name], numerical[name])
        if not error <= FD_RTOL:
            raise ReferenceDisagreement(
                "fastbp.reference's %s differs from central differences by %.3g (relative) on problem %s; "
                "the checker cannot judge until the reference is fixed" % (name, error, lecture.problem))


# ---------------------------------------------------------------- typical mistakes

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


# ---------------------------------------------------------------- verdicts

@dataclass
class GradientVerdict:
    """The verdict on one gradient over all problems on which backprop returned.

    ``problem``, ``index``, ``expected`` and ``got`` locate the evidence for a
    wrong gradient: the largest error (entry ``index``, absolute error
    ``largest_error``) or the first wrong shape. For a correct gradient,
    ``reference_error`` and ``central_difference_error`` are the worst relative
    errors over the problems.
    """

    name: str
    status: str
    mistake: str | None = None
    explanation: str = ""
    problem: Problem | None = None
    expected_shape: tuple | None = None
    got_shape: tuple | None = None
    index: tuple | None = None
    largest_error: float | None = None
    expected: float | None = None
    got: float | None = None
    reference_error: float | None = None
    central_difference_error: float | None = None
    problems_checked: int = 0
    note: str = ""

    def lines(self, num_problems):
        head = self.status
        if self.mistake:
            head += ": " + self.mistake
        if self.status == CORRECT:
            head += " (relative error %.1g against the reference, %.1g against central differences)" % (
                self.reference_error, self.central_difference_error)
            if self.problems_checked < num_problems:
                head += "; checked on %d of %d problems" % (self.problems_checked, num_problems)
        lines = [head]
        if self.explanation:
            lines.append(self.explanation)
        if self.status == WRONG_SHAPE:
            lines.append("expected shape %s, got %s on problem %s"
                         % (self.expected_shape, _describe_shape(self.got_shape), self.problem))
        elif self.status == WRONG and self.index is not None:
            lines.append("largest error %.3g at %s%s (expected %.6g, got %.6g) on problem %s"
                         % (self.largest_error, self.name, list(self.index), self.expected, self.got, self.problem))
        if self.note:
            lines.append(self.note)
        return lines


def _describe_shape(shape):
    return "a scalar" if shape == () else str(shape)


@dataclass
class CheckResult:
    """Verdicts by gradient name (in the lecture's order), and how backprop failed to run, if it did."""

    verdicts: dict
    errors: list = field(default_factory=list)
    problems: tuple = PROBLEMS
    notes: list = field(default_factory=list)  # worth knowing, but not failures

    @property
    def passed(self):
        return not self.errors and all(verdict.status in (CORRECT, NOT_RETURNED)
                                       for verdict in self.verdicts.values())

    def report(self, source="backprop"):
        lines = ["Checking %s on %d problems (%s)" % (source, len(self.problems),
                                                      "; ".join(str(problem) for problem in self.problems))]
        for verdict in self.verdicts.values():
            verdict_lines = verdict.lines(len(self.problems))
            lines.append("  %-7s %s" % (verdict.name, verdict_lines[0]))
            lines.extend("          " + line for line in verdict_lines[1:])
        if self.errors:
            lines.append("backprop failed:")
            lines.extend("  " + error for error in self.errors)
        lines.extend("note: " + note for note in self.notes)
        # a gradient that was never computed (backprop raised) is not called wrong
        wrong = [verdict.name for verdict in self.verdicts.values()
                 if verdict.status not in (CORRECT, NOT_RETURNED, NOT_CHECKED)]
        if self.passed:
            lines.append("PASSED: every gradient is correct")
        elif wrong:
            lines.append("FAILED: %s %s" % (", ".join(wrong), "is wrong" if len(wrong) == 1 else "are wrong"))
        else:
            lines.append("FAILED: backprop did not run on every problem")
        return "\n".join(lines)


@dataclass
class _Observation:
    """A student's value for one gradient on one problem, with the answers it is judged against."""

    lecture: Lecture
    expected: dict
    numerical: dict
    value: object
    student_delta2: object  # what the student returned as delta2 on the same problem

    def matches(self, target):
        return self.value.shape == np.shape(target) and relative_error(self.value, target) <= REFERENCE_RTOL


def _as_student_array(name, value, expected_shape):
    """-> (array, note): the student's value as float64, a (K,) bias gradient as (1,K)."""
    array = np.asarray(value, dtype=np.float64)
    if name in BIAS_GRADIENTS and array.shape == expected_shape[1:]:
        return array.reshape(expected_shape), "shape (K,) accepted for (1, K): the update b += -epsilon * db " \
                                              "broadcasts both alike"
    return array, ""


def _is_correct(name, observation):
    return (observation.matches(observation.expected[name])
            and relative_error(observation.value, observation.numerical[name]) <= FD_RTOL)


def _diagnose(name, observations, expecteds):
    """The first mistake that reproduces every wrong value (and at least one) of this gradient.

    ``expecteds[k]`` is the answer the mistakes are applied to on the k-th observation's problem.
    """
    for mistake in MISTAKES:
        explained = 0
        for observation, expected in zip(observations, expecteds):
            if observation.matches(expected[name]):
                continue
            variants = mistake.variants(observation.lecture, expected).get(name, [])
            if not any(observation.matches(variant) for variant in variants):
                break
            explained += 1
        else:
            if explained:
                return mistake
    return None


def _given_student_delta2(observation):
    """The reference answer with dW1 and db1 recomputed from the student's delta2, if that is wrong but usable."""
    expected = observation.expected
    try:
        delta2 = np.asarray(observation.student_delta2, dtype=np.float64)
    except (TypeError, ValueError):
        return expected
    if (observation.student_delta2 is None or delta2.shape != expected["delta2"].shape
            or relative_error(delta2, expected["delta2"]) <= REFERENCE_RTOL):
        return expected
    dW1, db1 = reference.dense_backward(delta2, observation.lecture.X)
    return dict(expected, dW1=dW1 + observation.lecture.problem.reg_lambda * observation.lecture.W1, db1=db1)


def _diagnose_downstream_of_delta2(name, observations):
    """-> (mistake name, explanation) for dW1 or db1 judged against the student's own wrong delta2, or None."""
    if name not in ("dW1", "db1"):
        return None
    givens = [_given_student_delta2(observation) for observation in observations]
    if all(given is observation.expected for given, observation in zip(givens, observations)):
        return None
    if all(observation.matches(given[name]) for given, observation in zip(givens, observations)):
        return ("follows from the wrong delta2",
                "%s is right for the delta2 you returned: the mistake is in delta2" % name)
    mistake = _diagnose(name, observations, givens)
    if mistake:
        return mistake.name, "judged against the delta2 you returned: " + mistake.explanation
    return None


def judge(name, observations):
    """-> GradientVerdict of gradient ``name`` from its observations on every problem where backprop returned."""
    if not observations:
        return GradientVerdict(name, NOT_CHECKED)
    if any(observation.value is None for observation in observations):
        if name not in REQUIRED_GRADIENTS:
            return GradientVerdict(name, NOT_RETURNED, explanation="optional; returning it helps locate a mistake")
        return GradientVerdict(name, MISSING, explanation="the returned dict has no %s, or it is None" % name)
    notes = set()
    for observation in observations:
        expected_shape = observation.expected[name].shape
        raw = observation.value
        try:
            observation.value, note = _as_student_array(name, raw, expected_shape)
        except (TypeError, ValueError):
            return GradientVerdict(name, WRONG, explanation="it is not an array of numbers: got %s"
                                   % type(raw).__name__, problem=observation.lecture.problem)
        if note:
            notes.add(note)
    note = "; ".join(sorted(notes))
    if all(_is_correct(name, observation) for observation in observations):
        return GradientVerdict(
            name, CORRECT, note=note, problems_checked=len(observations),
            reference_error=max(relative_error(o.value, o.expected[name]) for o in observations),
            central_difference_error=max(relative_error(o.value, o.numerical[name]) for o in observations))

    verdict = GradientVerdict(name, WRONG, note=note, problems_checked=len(observations))
    mistake = _diagnose(name, observations, [observation.expected for observation in observations])
    if mistake:
        verdict.mistake, verdict.explanation = mistake.name, mistake.explanation
    else:
        verdict.mistake, verdict.explanation = _diagnose_downstream_of_delta2(name, observations) or (None, "")
    misshaped = [o for o in observations if o.value.shape != o.expected[name].shape]
    if misshaped:
        verdict.status = WRONG_SHAPE
        verdict.problem = misshaped[0].lecture.problem
        verdict.expected_shape, verdict.got_shape = misshaped[0].expected[name].shape, misshaped[0].value.shape
        return verdict
    worst = max(observations, key=lambda o: _largest_error(o.value, o.expected[name])[1])
    index, error = _largest_error(worst.value, worst.expected[name])
    verdict.problem, verdict.index, verdict.largest_error = worst.lecture.problem, index, error
    verdict.expected, verdict.got = float(worst.expected[name][index]), float(worst.value[index])
    return verdict


def _largest_error(got, expected):
    """-> (index, absolute error) of the worst entry; a NaN or infinite entry counts as worst."""
    errors = np.abs(got - expected)
    errors = np.where(np.isfinite(errors), errors, np.inf)
    index = np.unravel_index(np.argmax(errors), errors.shape)
    return tuple(int(i) for i in index), float(errors[index])


# ---------------------------------------------------------------- running the student's function

def _signature_error(fn):
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # a builtin without a signature: calling it will tell
    try:
        signature.bind(*STUDENT_ARGUMENTS)
    except TypeError:
        return "backprop must take the arguments (%s); yours takes %s" % (", ".join(STUDENT_ARGUMENTS), signature)
    return None


def _describe_exception(err, filename):
    """'ValueError: message', with the last line of ``filename`` (the student's code) on the way to it."""
    described = "%s: %s" % (type(err).__name__, str(err).strip())
    frames = [frame for frame in traceback.extract_tb(err.__traceback__)
              if filename is not None and os.path.abspath(frame.filename) == os.path.abspath(filename)]
    if frames:
        frame = frames[-1]
        described += " (line %d of %s: %s)" % (frame.lineno, os.path.basename(frame.filename), frame.line)
    return described


def _run_on_problems(fn, problems):
    """-> (observations by gradient name, errors, notes) of ``fn`` on every problem."""
    observations = {name: [] for name in GRADIENTS}
    errors, notes = [], []
    filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
    for problem in problems:
        lecture = make_lecture(problem)
        expected, numerical = reference_answer(lecture), numerical_answer(lecture)
        _check_reference(lecture, expected, numerical)
        try:
            returned = fn(*lecture.student_arguments())
        except Exception as err:  # any failure of the student's code is reported, not raised
            errors.append("problem %s: %s" % (problem, _describe_exception(err, filename)))
            continue
        if not isinstance(returned, dict):
            errors.append("problem %s: backprop must return a dict with keys %s (delta2 optional), got %s"
                          % (problem, ", ".join(GRADIENTS), type(returned).__name__))
            continue
        unexpected = sorted(set(map(str, returned)) - set(GRADIENTS))
        note = "backprop returned keys %s, which are not checked; the checked keys are %s" % (
            unexpected, ", ".join(GRADIENTS))
        if unexpected and note not in notes:
            notes.append(note)
        for name in GRADIENTS:
            observations[name].append(_Observation(lecture, expected, numerical, returned.get(name),
                                                   returned.get("delta2")))
    return observations, errors, notes


def check_backprop(fn, problems=PROBLEMS, verbose=True, source="backprop"):
    """Run ``fn`` (the signature in this module's docstring) on ``problems`` and judge every gradient.

    Prints the verdicts when ``verbose``; returns a :class:`CheckResult`.
    Raises :class:`ReferenceDisagreement` if fastbp's own reference fails its
    central-difference check.
    """
    if not callable(fn):
        raise TypeError("check_backprop needs a function, got %s" % type(fn).__name__)
    signature_error = _signature_error(fn)
    if signature_error:
        result = CheckResult({name: GradientVerdict(name, NOT_CHECKED) for name in GRADIENTS}, [signature_error],
                             tuple(problems))
    else:
        observations, errors, notes = _run_on_problems(fn, problems)
        result = CheckResult({name: judge(name, observations[name]) for name in GRADIENTS}, errors,
                             tuple(problems), notes)
    if verbose:
        print(result.report(source))
    return result


def load_backprop(path):
    """-> the function ``backprop`` defined in the Python file at ``path``.

    The file is imported under a name other than ``__main__``: its top-level
    code runs, code under ``if __name__ == "__main__":`` does not.
    """
    if not os.path.exists(path):
        raise StudentFileError("%s: no such file" % path)
    if not os.path.isfile(path):
        raise StudentFileError("%s is not a file" % path)
    spec = importlib.util.spec_from_file_location("fastbp_student_solution", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise StudentFileError("%s, line %s: %s: %s\n    %s" % (path, err.lineno, type(err).__name__, err.msg,
                                                               (err.text or "").strip())) from None
    except Exception as err:  # any failure of the file's top-level code is reported, not raised
        raise StudentFileError("%s could not be run: %s" % (path, _describe_exception(err, path))) from None
    if not hasattr(module, "backprop"):
        functions = sorted(name for name, value in vars(module).items()
                           if inspect.isfunction(value) and value.__module__ == module.__name__)
        raise StudentFileError("%s defines no function named backprop (%s)"
                               % (path, "it defines " + ", ".join(functions) if functions else "it defines none"))
    fn = module.backprop
    if not callable(fn):
        raise StudentFileError("%s: backprop is a %s, not a function" % (path, type(fn).__name__))
    return fn


def check_file(path):
    """``fastbp check FILE.py``: check the file's ``backprop`` and print the verdicts.

    -> exit status: EXIT_PASSED (0) when every gradient is correct, EXIT_FAILED
    (1) when any is wrong or backprop raised, EXIT_NOT_CHECKED (2) when the
    file could not be loaded (the reason goes to stderr).
    """
    try:
        fn = load_backprop(path)
    except StudentFileError as err:
        print("fastbp check: error: %s" % err, file=sys.stderr)
        return EXIT_NOT_CHECKED
    result = check_backprop(fn, source="backprop in %s" % path)
    return EXIT_PASSED if result.passed else EXIT_FAILED
