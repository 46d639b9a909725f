"""The problems the checker poses, and their right answers.

Four small random problems (:data:`PROBLEMS`), each with the lecture's
intermediate values (:class:`Lecture`), the reference's gradients under the
student's names (:func:`reference_answer`) and central differences of the
summed loss (:func:`numerical_answer`), which in turn guard the reference
(:func:`check_reference`). The tolerances that judge a gradient live here too.
"""

from dataclasses import dataclass

import numpy as np

from .. import reference

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


def check_reference(lecture, expected, numerical):
    """Raise ReferenceDisagreement unless the reference agrees with central differences on this problem."""
    for name in GRADIENTS:
        error = relative_error(expected[name], numerical[name])
        if not error <= FD_RTOL:
            raise ReferenceDisagreement(
                "fastbp.reference's %s differs from central differences by %.3g (relative) on problem %s; "
                "the checker cannot judge until the reference is fixed" % (name, error, lecture.problem))
