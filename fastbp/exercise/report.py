"""The verdicts and the printed report: one :class:`GradientVerdict` per
gradient, gathered in a :class:`CheckResult` whose ``report()`` is what
``fastbp check`` prints.
"""

from dataclasses import dataclass, field

from .problems import PROBLEMS, Problem

CORRECT = "correct"
WRONG = "wrong"
WRONG_SHAPE = "wrong shape"
MISSING = "missing"
NOT_RETURNED = "not returned"  # delta2 only: returning it is optional
NOT_CHECKED = "not checked"  # backprop raised on every problem


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
