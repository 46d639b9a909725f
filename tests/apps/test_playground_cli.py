"""`fastbp playground` from the command line, and the core package's independence from its extra."""

import os
import subprocess
import sys

import pytest
from repo_paths import REPO



def run_python(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_the_core_package_does_not_import_the_web_libraries():
    result = run_python("import sys, fastbp, fastbp.cli\n"
                        "X, y = fastbp.datasets.make_moons()\n"
                        "fastbp.train(X, y, 3, num_passes=10)\n"
                        "fastbp.cli.build_parser().parse_args(['playground', '--no-browser'])\n"
                        "print(sorted(name for name in ('panel', 'bokeh') if name in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_the_extra_the_command_says_how_to_install_it():
    # the web libraries made unimportable, as on a machine without the extra
    result = run_python("import sys\n"
                        "class NoWebLibraries:\n"
                        "    def find_spec(self, name, path=None, target=None):\n"
                        "        if name.split('.')[0] in ('panel', 'bokeh'):\n"
                        "            raise ModuleNotFoundError('No module named %r' % name, name=name)\n"
                        "sys.meta_path.insert(0, NoWebLibraries())\n"
                        "from fastbp import cli\n"
                        "sys.exit(cli.main(['playground', '--no-browser']))")
    assert result.returncode == 2
    assert 'pip install "fastbp[playground]"' in result.stderr and "Traceback" not in result.stderr


def test_a_backprop_file_that_cannot_be_loaded_is_a_usage_error(tmp_path):
    pytest.importorskip("panel", reason='the playground\'s extra is not installed (pip install "fastbp[playground]")')
    result = run_python("from fastbp import cli\n"
                        "cli.main(['playground', '--no-browser', '--backprop', %r])" % str(tmp_path / "missing.py"))
    assert result.returncode == 2
    assert "missing.py: no such file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_a_port_out_of_range_is_a_usage_error(port):
    from fastbp import cli
    with pytest.raises(SystemExit) as exit_status:
        cli.build_parser().parse_args(["playground", "--port", port])
    assert exit_status.value.code == 2
