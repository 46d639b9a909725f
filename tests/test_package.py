"""The package as a newcomer meets it: submodules reachable after a bare
`import fastbp` without slowing it down, one version, every subpackage installed."""

import subprocess
import sys
from pathlib import Path

import pytest

import fastbp

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parent.parent


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
        fastbp.no_such_submodule
    except AttributeError as err:
        assert "no_such_submodule" in str(err)
    else:
        raise AssertionError("fastbp.no_such_submodule did not raise")


def test_the_version_is_written_once_and_read_by_the_build():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fastbp.__version__"}
    assert isinstance(fastbp.__version__, str) and fastbp.__version__.count(".") == 2


def test_every_subpackage_is_listed_for_installation():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    # the package these tests import: the source tree's, or an installed one (then every subpackage must be there)
    package = Path(fastbp.__file__).resolve().parent
    on_disk = {".".join(init.parent.relative_to(package.parent).parts) for init in package.rglob("__init__.py")}
    assert on_disk == set(project["tool"]["setuptools"]["packages"])
