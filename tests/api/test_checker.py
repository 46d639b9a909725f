"""The backprop checker: a correct solution passes, each typical mistake is named.

Every student below is written the way the lecture's loop body is, and differs
from the correct one in the lines its name says.
"""

import itertools
import linecache
import os

import numpy as np
import pytest

from fastbp import exercise, reference
from repo_paths import EXAMPLES

TEMPLATE = os.path.join(os.path.dirname(exercise.__file__), "backprop_template.py")  # installed with the package
SOLUTION_SOURCE = open(os.path.join(EXAMPLES, "backprop_solution.py")).read()
STUDENT_NUMBERS = itertools.count()


def student(*edits):
    """The example solution (examples/backprop_solution.py, the lecture's loop
    body) with each (line as written there, line as the student wrote it) edit."""
    source = SOLUTION_SOURCE
    for written, instead in edits:
        assert written in source, written
        source = source.replace(written, instead)
    filename = "student_%d.py" % next(STUDENT_NUMBERS)
    # registered like a file read from disk, so the checker can quote the line that raised
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["backprop"]


correct_backprop = student()
DELTA3 = "    delta3[range(num_examples), y] -= 1\n"
DW2 = "dW2 = (a1.T).dot(delta3)"
DB2 = "db2 = np.sum(delta3, axis=0, keepdims=True)"
DELTA2 = "delta2 = delta3.dot(W2.T) * (1 - np.power(a1, 2))"
DW1 = "dW1 = np.dot(X.T, delta2)"
REGULARISATION = "    dW1 += reg_lambda * W1\n"


def check(fn):
    return exercise.check_backprop(fn, verbose=False)


def assert_named(result, mistake, wrong, status=exercise.WRONG):
    """``wrong`` gradients carry ``mistake``; every other gradient is correct."""
    for name, verdict in result.verdicts.items():
        if name in wrong:
            assert (verdict.status, verdict.mistake) == (status, mistake), name
        else:
            assert verdict.status == exercise.CORRECT, name
    assert not result.passed


# ---------------------------------------------------------------- correct solutions

def test_correct_solution_passes_and_is_checked_against_both_answers(capsys):
    result = exercise.check_backprop(correct_backprop)
    assert result.passed
    assert not result.errors
    for verdict in result.verdicts.values():
        assert verdict.status == exercise.CORRECT
        assert verdict.reference_error <= exercise.REFERENCE_RTOL
        assert verdict.central_difference_error <= exercise.FD_RTOL
        assert verdict.problems_checked == len(exercise.PROBLEMS)
    printed = capsys.readouterr().out
    assert printed.count(" correct (") == len(exercise.GRADIENTS)
    assert "PASSED" in printed


def test_problems_cover_a_single_sample_and_the_odd_sizes():
    sizes = {attribute: {getattr(problem, attribute) for problem in exercise.PROBLEMS} for attribute in "NDHC"}
    assert {1, 7} <= sizes["N"] and {2, 3} <= sizes["D"] and {1, 4} <= sizes["H"] and {2, 3} <= sizes["C"]
    assert all(problem.reg_lambda > 0 for problem in exercise.PROBLEMS)


def without(name):
    """The correct solution, with one gradient left out of its answer."""
    def backprop(*args):
        grads = correct_backprop(*args)
        del grads[name]
        return grads
    return backprop


def test_delta2_is_optional():
    result = check(without("delta2"))
    assert result.passed
    assert result.verdicts["delta2"].status == exercise.NOT_RETURNED


def test_bias_gradients_of_shape_K_are_accepted_with_a_note():
    def unkept_dims(*args):
        grads = correct_backprop(*args)
        grads["db1"], grads["db2"] = grads["db1"].ravel(), grads["db2"].ravel()
        return grads

    result = check(unkept_dims)
    assert result.passed
    assert "accepted" in result.verdicts["db1"].note


def test_extra_keys_are_noted_but_do_not_fail(capsys):
    def with_delta3(*args):
        return dict(correct_backprop(*args), delta3=args[7])

    result = exercise.check_backprop(with_delta3)
    assert result.passed
    assert result.notes and "['delta3']" in result.notes[0]
    assert "note: backprop returned keys ['delta3']" in capsys.readouterr().out


def test_a_student_changing_its_arguments_is_still_judged_on_the_original_problem():
    # The mistakes are applied to the problem after the call: had the student
    # been given the problem's own arrays, zeroing b1 and b2 would hide this one.
    def regularised_biases_then_zeroed(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):
        grads = correct_backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda)
        grads["db1"] += reg_lambda * b1
        grads["db2"] += reg_lambda * b2
        for argument in (X, W1, b1, W2, b2, a1, probs):
            argument[...] = 0
        return grads

    assert_named(check(regularised_biases_then_zeroed), "regularisation added to biases", {"db1", "db2"})


# ---------------------------------------------------------------- typical mistakes, one per test

transposed_dW1 = student((DW1, "dW1 = np.dot(delta2.T, X)"))
transposed_dW2 = student((DW2, "dW2 = delta3.T.dot(a1)"))


@pytest.mark.parametrize("transposed, wrong", [(transposed_dW1, "dW1"), (transposed_dW2, "dW2")])
def test_transposed_product_is_named(transposed, wrong):
    # The template's "dW += reg_lambda * W" raises on the problems where W is not
    # square; on the square one the transposed values are compared and named.
    result = check(transposed)
    assert_named(result, "transposed product", {wrong})
    square = [problem for problem in exercise.PROBLEMS if problem.D == problem.H == problem.C]
    assert result.verdicts[wrong].problem in square
    assert len(result.errors) == len(exercise.PROBLEMS) - len(square)
    assert all("ValueError" in error and "reg_lambda * W" in error for error in result.errors)


def test_transposed_result_of_the_wrong_shape_is_named():
    def returns_dW2_transposed(*args):
        grads = correct_backprop(*args)
        grads["dW2"] = grads["dW2"].T
        return grads

    result = check(returns_dW2_transposed)
    assert_named(result, "transposed product", {"dW2"}, status=exercise.WRONG_SHAPE)
    verdict = result.verdicts["dW2"]
    assert verdict.got_shape == verdict.expected_shape[::-1]


def template_student():
    """The lecture's unfilled template (fastbp/exercise/backprop_template.py)."""
    namespace = {}
    exec(compile(open(TEMPLATE).read(), TEMPLATE, "exec"), namespace)
    return namespace["backprop"]


def unregularised_dW1(*args):
    grads = correct_backprop(*args)
    reg_lambda, W1 = args[-1], args[2]
    grads["dW1"] -= reg_lambda * W1
    return grads


def db2_summed_over_classes(*args):
    probs, y = args[7], args[1]
    db2 = np.sum(reference.softmax_cross_entropy_backward(probs, y), axis=1, keepdims=True)
    return dict(correct_backprop(*args), db2=db2)


LAYER_ONE = {"delta2", "dW1", "db1"}
# Each of the checker's named mistakes, made the way students make it: (student, the gradients it gets wrong).
# The expected verdicts come from the mistake's definition, not from the checker's output.
MISTAKE_STUDENTS = {
    "not filled in": [(template_student(), set(exercise.GRADIENTS))],
    "transposed product": [(transposed_dW1, {"dW1"}), (transposed_dW2, {"dW2"})],
    "missing 1 - a1**2 factor": [(student((DELTA2, "delta2 = delta3.dot(W2.T)")), LAYER_ONE)],
    "wrong tanh derivative": [
        (student((DELTA2, "delta2 = delta3.dot(W2.T) * (1 - np.power(np.tanh(a1), 2))")), LAYER_ONE),
        (student((DELTA2, "delta2 = delta3.dot(W2.T) * (1 - a1) ** 2")), LAYER_ONE),
        (student((DELTA2, "delta2 = delta3.dot(W2.T) * (1 - a1)")), LAYER_ONE),
        (student((DELTA2, "delta2 = delta3.dot(W2.T) * a1 * (1 - a1)")), LAYER_ONE),
    ],
    "regularisation added to biases": [
        (student((REGULARISATION, REGULARISATION + "    db2 += reg_lambda * b2\n    db1 += reg_lambda * b1\n")),
         {"db1", "db2"})],
    "averaged instead of summed": [
        (student((DW2, DW2 + " / num_examples"), (DB2, "db2 = np.mean(delta3, axis=0, keepdims=True)")),
         {"dW2", "db2"}),
        (student((DELTA3, DELTA3 + "    delta3 /= num_examples\n")), set(exercise.GRADIENTS)),
    ],
    "missing regularisation": [(unregularised_dW1, {"dW1"})],
    "regularisation added twice": [
        (student((DW2, DW2 + " + reg_lambda * W2"), (DW1, DW1 + " + reg_lambda * W1")), {"dW1", "dW2"})],
    "sign error": [(student(("delta3 = probs\n", "delta3 = -probs\n"), (DELTA3, DELTA3.replace("-= 1", "+= 1"))),
                    set(exercise.GRADIENTS))],
    "summed over the wrong axis": [(db2_summed_over_classes, {"db2"})],
}


@pytest.mark.parametrize("mistake", [mistake.name for mistake in exercise.MISTAKES])
def test_every_named_mistake_is_recognised(mistake):
    # a KeyError here: a mistake was added to the checker without a student who makes it
    for backprop, wrong in MISTAKE_STUDENTS[mistake]:
        result = check(backprop)
        for name, verdict in result.verdicts.items():
            if name in wrong:
                assert verdict.status in (exercise.WRONG, exercise.WRONG_SHAPE), name
                assert verdict.mistake == mistake, name
            else:
                assert verdict.status == exercise.CORRECT, name
        assert not result.passed


scaled_delta2 = student((DELTA2, "delta2 = 1.5 * delta3.dot(W2.T) * (1 - np.power(a1, 2))"))


def test_layer_one_gradients_right_for_a_wrong_delta2_point_at_delta2():
    verdicts = check(scaled_delta2).verdicts
    assert (verdicts["delta2"].status, verdicts["delta2"].mistake) == (exercise.WRONG, None)
    for name in ("dW1", "db1"):
        assert (verdicts[name].status, verdicts[name].mistake) == (exercise.WRONG, "follows from the wrong delta2")
    assert verdicts["dW2"].status == verdicts["db2"].status == exercise.CORRECT


def test_a_mistake_on_top_of_a_wrong_delta2_is_named():
    def regularised_db1_from_scaled_delta2(*args):
        grads = scaled_delta2(*args)
        grads["db1"] += args[-1] * args[3]
        return grads

    verdict = check(regularised_db1_from_scaled_delta2).verdicts["db1"]
    assert verdict.mistake == "regularisation added to biases"
    assert verdict.explanation.startswith("judged against the delta2 you returned")


def test_unrecognised_mistake_is_wrong_with_its_largest_error_located():
    def off_by_one_entry(*args):
        grads = correct_backprop(*args)
        grads["dW2"][-1, 0] += 0.25
        return grads

    verdict = check(off_by_one_entry).verdicts["dW2"]
    assert (verdict.status, verdict.mistake) == (exercise.WRONG, None)
    assert verdict.largest_error == pytest.approx(0.25)
    assert verdict.index == (verdict.problem.H - 1, 0)
    assert verdict.got - verdict.expected == pytest.approx(0.25)


# ---------------------------------------------------------------- wrong shape, missing, raising

def test_wrong_shape_reports_expected_and_got(capsys):
    def first_column_only(*args):
        grads = correct_backprop(*args)
        grads["dW2"] = grads["dW2"][:, 0]
        return grads

    result = exercise.check_backprop(first_column_only)
    verdict = result.verdicts["dW2"]
    assert verdict.status == exercise.WRONG_SHAPE
    assert verdict.expected_shape == (verdict.problem.H, verdict.problem.C)
    assert verdict.got_shape == (verdict.problem.H,)
    assert "expected shape %s, got %s" % (verdict.expected_shape, verdict.got_shape) in capsys.readouterr().out
    assert_named(result, None, {"dW2"}, status=exercise.WRONG_SHAPE)


def test_missing_gradient_is_reported():
    result = check(without("db1"))
    assert_named(result, None, {"db1"}, status=exercise.MISSING)


def test_raising_function_reports_type_message_and_shapes(capsys):
    def unfinished(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):
        raise NotImplementedError("dW2 is still to do")

    result = exercise.check_backprop(unfinished)
    assert not result.passed
    assert len(result.errors) == len(exercise.PROBLEMS)
    for error, problem in zip(result.errors, exercise.PROBLEMS):
        assert "NotImplementedError: dW2 is still to do" in error
        assert str(problem) in error
    assert all(verdict.status == exercise.NOT_CHECKED for verdict in result.verdicts.values())
    printed = capsys.readouterr().out
    assert "Traceback" not in printed and "raise NotImplementedError" in printed


def test_wrong_signature_and_return_type_are_named():
    def takes_a_model(X, y, model):
        return {}

    result = check(takes_a_model)
    assert result.errors == ["backprop must take the arguments (%s); yours takes (X, y, model)"
                             % ", ".join(exercise.STUDENT_ARGUMENTS)]

    def returns_a_tuple(*args):
        grads = correct_backprop(*args)
        return grads["dW1"], grads["db1"], grads["dW2"], grads["db2"]

    result = check(returns_a_tuple)
    assert not result.passed
    assert "must return a dict" in result.errors[0] and "got tuple" in result.errors[0]


def test_a_reference_that_disagrees_with_central_differences_stops_the_check(monkeypatch):
    solved_gradients = reference.gradients

    def averaged_reference(model, X, y, reg_lambda):
        return {name: grad / len(X) for name, grad in solved_gradients(model, X, y, reg_lambda).items()}

    monkeypatch.setattr(reference, "gradients", averaged_reference)
    with pytest.raises(exercise.ReferenceDisagreement, match="central differences"):
        check(correct_backprop)


@pytest.mark.parametrize("error, passes", [(1e-10, True), (1e-8, False)])
def test_a_gradient_just_outside_the_reference_tolerance_is_wrong(error, passes):
    # The documented tolerance against the reference, 1e-9 relative to the largest entry (written
    # here, so that a looser constant fails): dW2 off by a tenth of it passes, by ten times it not.
    factor = 1 + error
    result = check(student((DW2, "%s * %r" % (DW2, factor))))
    assert result.passed is passes
    assert (result.verdicts["dW2"].status == exercise.CORRECT) is passes


def test_a_gradient_one_percent_off_is_wrong():
    result = check(student((DW1, "%s * 1.01" % DW1)))
    assert not result.passed and result.verdicts["dW1"].status == exercise.WRONG


@pytest.mark.parametrize("error, stops", [(1e-7, False), (1e-5, True)])
def test_a_reference_just_outside_the_central_difference_tolerance_stops_the_check(monkeypatch, error, stops):
    # The documented tolerance against central differences, 1e-6 (written here): the reference's
    # own gradients off by a tenth of it are still judged with, off by ten times it stop the check.
    solved_gradients = reference.gradients
    factor = 1 + error

    def scaled_reference(model, X, y, reg_lambda):
        return {name: grad * factor for name, grad in solved_gradients(model, X, y, reg_lambda).items()}

    monkeypatch.setattr(reference, "gradients", scaled_reference)
    if stops:
        with pytest.raises(exercise.ReferenceDisagreement, match="central differences"):
            check(correct_backprop)
    else:
        assert check(correct_backprop).verdicts  # judged, not stopped


# ---------------------------------------------------------------- check_file

def test_check_file_passes_the_example_solution(capsys):
    assert exercise.check_file(os.path.join(EXAMPLES, "backprop_solution.py")) == exercise.EXIT_PASSED
    assert "PASSED" in capsys.readouterr().out


def test_check_file_fails_the_unfilled_template(capsys):
    assert exercise.check_file(TEMPLATE) == exercise.EXIT_FAILED
    assert "not filled in" in capsys.readouterr().out


def test_check_file_reports_a_wrong_solution(tmp_path, capsys):
    path = tmp_path / "student.py"
    path.write_text("import numpy as np\n\n"
                    "def backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):\n"
                    "    delta3 = probs\n"
                    "    delta3[range(len(X)), y] -= 1\n"
                    "    delta2 = delta3.dot(W2.T) * (1 - np.power(a1, 2))\n"
                    "    return {'dW1': X.T.dot(delta2) + reg_lambda * W1, 'db1': np.sum(delta2, axis=0),\n"
                    "            'dW2': a1.T.dot(delta3) + reg_lambda * W2, 'db2': np.sum(delta3, axis=0) / len(X)}\n")
    assert exercise.check_file(str(path)) == exercise.EXIT_FAILED
    assert "db2     wrong: averaged instead of summed" in capsys.readouterr().out


def test_check_file_without_backprop(tmp_path, capsys):
    path = tmp_path / "student.py"
    path.write_text("def back_prop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):\n    return {}\n")
    assert exercise.check_file(str(path)) == exercise.EXIT_NOT_CHECKED
    assert "defines no function named backprop (it defines back_prop)" in capsys.readouterr().err


def test_check_file_with_a_syntax_error(tmp_path, capsys):
    path = tmp_path / "student.py"
    path.write_text("def backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):\n    dW2 = a1.T.dot(delta3\n")
    assert exercise.check_file(str(path)) == exercise.EXIT_NOT_CHECKED
    err = capsys.readouterr().err
    assert str(path) in err and "SyntaxError" in err and "line 2" in err


def test_check_file_that_does_not_exist(tmp_path, capsys):
    path = tmp_path / "missing.py"
    assert exercise.check_file(str(path)) == exercise.EXIT_NOT_CHECKED
    assert "%s: no such file" % path in capsys.readouterr().err


def test_check_file_whose_top_level_code_raises(tmp_path, capsys):
    path = tmp_path / "student.py"
    path.write_text("import numpy as np\nmodel = build_model(3)\n")
    assert exercise.check_file(str(path)) == exercise.EXIT_NOT_CHECKED
    assert "could not be run: NameError: name 'build_model' is not defined (line 2 of student.py" \
        in capsys.readouterr().err
