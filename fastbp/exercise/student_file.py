"""Loading a student's file: its function ``backprop``, checked by ``fastbp check FILE.py``;
writing the template a student starts from (``fastbp check --template NEW.py``)."""

import importlib.resources
import importlib.util
import inspect
import os
import sys

from .judging import check_backprop, describe_exception

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_NOT_CHECKED = 2  # the file could not be loaded, so no backprop was checked

# The lecture's backprop lines left for the student, installed with this package.
TEMPLATE = "backprop_template.py"


class StudentFileError(Exception):
    """A student file that does not exist, does not run, or has no usable ``backprop``."""



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
        raise StudentFileError("%s could not be run: %s" % (path, describe_exception(err, path))) from None
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


def write_template(path):
    """Write the student's template (this package's backprop_template.py) to
    ``path``; a file already there is never overwritten."""
    text = importlib.resources.files(__package__).joinpath(TEMPLATE).read_text()
    try:
        with open(path, "x") as file:
            file.write(text)
    except FileExistsError:
        raise StudentFileError("%s already exists: not overwritten (choose another name)" % path) from None
    except OSError as err:
        raise StudentFileError("%s could not be written: %s" % (path, err.strerror)) from None
