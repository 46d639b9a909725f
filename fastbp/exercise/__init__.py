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

The parts, one job each:

    problems.py       the problems, their right answers, the tolerances
    mistakes.py       the table of typical mistakes
    judging.py        running the student's function and judging each gradient
    report.py         the verdicts and the printed report
    student_file.py   loading a student's file, ``fastbp check``'s exit status,
                      writing the template (backprop_template.py, installed here)
"""

from .judging import check_backprop, judge
from .mistakes import MISTAKES, Mistake
from .problems import (FD_RTOL, GRADIENTS, PROBLEMS, REFERENCE_RTOL, REQUIRED_GRADIENTS, STUDENT_ARGUMENTS,
                       Problem, ReferenceDisagreement)
from .report import CORRECT, MISSING, NOT_CHECKED, NOT_RETURNED, WRONG, WRONG_SHAPE, CheckResult, GradientVerdict
from .student_file import (EXIT_FAILED, EXIT_NOT_CHECKED, EXIT_PASSED, StudentFileError, check_file, load_backprop,
                           write_template)

__all__ = ["CORRECT", "EXIT_FAILED", "EXIT_NOT_CHECKED", "EXIT_PASSED", "FD_RTOL", "GRADIENTS", "MISSING",
           "MISTAKES", "NOT_CHECKED", "NOT_RETURNED", "PROBLEMS", "REFERENCE_RTOL", "REQUIRED_GRADIENTS",
           "STUDENT_ARGUMENTS", "WRONG", "WRONG_SHAPE", "CheckResult", "GradientVerdict", "Mistake", "Problem",
           "ReferenceDisagreement", "StudentFileError", "check_backprop", "check_file", "judge", "load_backprop",
           "write_template"]
