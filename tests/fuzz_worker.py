"""The child process of the fuzz tests (tests/kernels/test_fuzz.py, tests/api/test_model_file_fuzz.py),
and the report of their outcomes.

The generated inputs are sent here one call at a time, so that a crash of the
compiled kernels (a segfault, an AddressSanitizer report, an abort) kills this
process, which the test sees and reports with the input that did it, instead
of killing pytest. Each call's outcome goes back: the result, or the type and
message of the exception it raised.
"""

import json
import multiprocessing
import os
import tempfile
import traceback
import warnings

# One thread per kernel and per BLAS: the fuzzed jobs are tiny, and the machine is shared.
CALL_TIMEOUT_SECONDS = 120


def _call(name, args, kwargs):
    import fastbp
    if name == "estimator":
        from fastbp import LectureClassifier
        X, y = args
        classifier = LectureClassifier(**kwargs).fit(X, y)
        return {"classes": classifier.classes_, "predicted": classifier.predict(X),
                "probabilities": classifier.predict_proba(X)}
    if name == "abort_for_test":  # what a crash in the kernels does to the process
        os.abort()
    if name == "load_bytes":
        content, = args
        with tempfile.TemporaryDirectory(prefix="fastbp-fuzz-") as directory:
            path = os.path.join(directory, "fuzzed.npz")
            with open(path, "wb") as file:
                file.write(content)
            return fastbp.load(path)
    return getattr(fastbp, name)(*args, **kwargs)


def serve(connection):
    """Answer ("call", name, args, kwargs) messages until ("stop",)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    while True:
        message = connection.recv()
        if message[0] == "stop":
            return
        _, name, args, kwargs = message
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = _call(name, args, kwargs)
                answer = ("result", result)
            except Exception as err:  # every exception is reported; the test judges whether it is documented
                answer = ("raised", type(err).__name__, [cls.__name__ for cls in type(err).__mro__], str(err),
                          traceback.format_exc(limit=4))
        connection.send(answer + (sorted({warning.category.__name__ for warning in caught}),))


class Worker:
    """A child process that runs calls; a crash or a hang is reported, not suffered."""

    def __init__(self):
        context = multiprocessing.get_context("spawn")  # no fork of a process with OpenMP threads
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=serve, args=(child_end,), daemon=True)
        self.process.start()
        child_end.close()

    def call(self, name, *args, **kwargs):
        """-> ("result", value, warnings) or ("raised", type name, MRO names, message, traceback, warnings).

        Raises ChildCrashed when the child died or did not answer in time."""
        try:
            self.connection.send(("call", name, args, kwargs))
            if not self.connection.poll(CALL_TIMEOUT_SECONDS):
                self.process.kill()
                raise ChildCrashed("no answer within %d s (a hang)" % CALL_TIMEOUT_SECONDS)
            return self.connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self.process.join(10)
            raise ChildCrashed("the child process died with exit code %s" % self.process.exitcode) from None

    def close(self):
        if self.process.is_alive():
            try:
                self.connection.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
            self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class ChildCrashed(Exception):
    pass


def report_outcomes(name, outcomes, capsys):
    """Print the counts of a fuzz test's outcomes, and add them to the JSON file named by
    FASTBP_FUZZ_REPORT when it is set."""
    table = {": ".join(key) if isinstance(key, tuple) else key: count for key, count in sorted(outcomes.items())}
    lines = ["%s: %d calls" % (name, sum(outcomes.values()))] + ["  %-40s %d" % item for item in table.items()]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    path = os.environ.get("FASTBP_FUZZ_REPORT")
    if path:
        existing = {}
        if os.path.exists(path):
            with open(path) as file:
                existing = json.load(file)
        existing[name] = table
        with open(path, "w") as file:
            json.dump(existing, file, indent=1, sort_keys=True)
