"""The package as a newcomer meets it: submodules reachable after a bare
`import fastbp` without slowing it down, one version, every subpackage installed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import fastbp
from repo_paths import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+



def test_documented_submodules_work_after_import_fastbp_and_load_on_first_use():
    script = (
        "import sys, fastbp\n"
        "lazy = ['fastbp.diagnostics', 'fastbp.plot', 'fastbp.animate', 'fastbp.demo', 'matplotlib']\n"
        "assert not [name for name in lazy if name in sys.modules], [n for n in lazy if n in sys.modules]\n"
        "X, y = fastbp.datasets.make_moons(40)\n"
        "model = fastbp.build_model(X, y, 3, num_passes=10)\n"
        "print(fastbp.diagnostics.sharpness(model, X, y) > 0)\n"
        "print(fastbp.diagnostics is sys.modules['fastbp.diagnostics'])\n"
        "print('diagnostics' in dir(fastbp))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]


def test_an_unknown_attribute_is_still_an_attribute_error():
    try:
        _ = fastbp.no_such_submodule
    except AttributeError as err:
        assert "no_such_submodule" in str(err)
    else:
        raise AssertionError("fastbp.no_such_submodule did not raise")


def test_the_version_is_written_once_and_read_by_the_build():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fastbp._version.__version__"}
    assert fastbp.__version__ is fastbp._version.__version__
    assert isinstance(fastbp.__version__, str) and fastbp.__version__.count(".") == 2
    package = Path(fastbp.__file__).resolve().parent  # the source tree's, or an installed one
    written = [path.relative_to(package.parent).as_posix() for path in package.rglob("*.py")
               if "__version__ = " in path.read_text()]
    assert written == ["fastbp/_version.py"]


def test_every_subpackage_is_listed_for_installation():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    # the package these tests import: the source tree's, or an installed one (then every subpackage must be there)
    package = Path(fastbp.__file__).resolve().parent
    on_disk = {".".join(init.parent.relative_to(package.parent).parts) for init in package.rglob("__init__.py")}
    assert on_disk == set(project["tool"]["setuptools"]["packages"])


def test_fastbp_version_prints_the_packages_version():
    result = subprocess.run([sys.executable, "-m", "fastbp", "--version"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "fastbp %s\n" % fastbp.__version__


def test_the_lectures_settings_are_written_once():
    # fastbp/lecture.py is their home: no other module of the package assigns one of its names.
    from fastbp import lecture

    names = [name for name in vars(lecture) if name.isupper()]
    assert {"DATA_SIZE", "DATA_NOISE", "REG_LAMBDA", "EPSILON", "NUM_PASSES", "SEED", "TEST_SEED_OFFSET",
            "RECORD_EVERY", "MIN_PASSES"} <= set(names)
    package = Path(fastbp.__file__).resolve().parent  # the source tree's, or an installed one
    for path in package.rglob("*.py"):
        if path.name == "lecture.py":
            continue
        text = path.read_text()
        for name in names:
            assert not re.search(r"^\s*%s\s*=" % name, text, re.MULTILINE), (path.name, name)
    for module in ("demo", "animate", "sweeps", "cli"):
        assert re.search(r"\blecture\b", (package / ("%s.py" % module)).read_text()), module
