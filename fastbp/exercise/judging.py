"""Running the student's function on every problem and judging each gradient it returns.

A gradient is correct when it matches the reference (within REFERENCE_RTOL)
and central differences (within FD_RTOL) on every problem; a wrong one is
named by the first mistake of :data:`fastbp.exercise.mistakes.MISTAKES` that
reproduces it, or, for dW1 and db1, judged against the student's own delta2.
"""

import inspect
import os
import traceback
from dataclasses import dataclass

import numpy as np

from .. import reference
from .mistakes import MISTAKES
from .problems import (BIAS_GRADIENTS, FD_RTOL, GRADIENTS, PROBLEMS, REFERENCE_RTOL, REQUIRED_GRADIENTS,
                       STUDENT_ARGUMENTS, Lecture, check_reference, make_lecture, numerical_answer,
                       reference_answer, relative_error)
from .report import CORRECT, MISSING, NOT_CHECKED, NOT_RETURNED, WRONG, WRONG_SHAPE, CheckResult, GradientVerdict

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


def describe_exception(err, filename):
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
        check_reference(lecture, expected, numerical)
        try:
            returned = fn(*lecture.student_arguments())
        except Exception as err:  # any failure of the student's code is reported, not raised
            errors.append("problem %s: %s" % (problem, describe_exception(err, filename)))
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
