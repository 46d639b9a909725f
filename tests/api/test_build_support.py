"""build_support.py, the compiler logic setup.py builds with: the flags each
compiler gets, the OpenMP probe and its serial fallback, the message when no C
compiler runs. The expected spellings are those of the compilers' manuals
(MSVC's /O2, /fp:precise, /openmp; Apple clang's -Xpreprocessor -fopenmp).
The builds below compile a one-file C extension, not fastbp."""

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import pytest

from repo_paths import REPO

sys.path.insert(0, str(REPO))
build_support = pytest.importorskip("build_support", reason="build_support.py is in the source tree and the sdist")

C_COMPILER = (sysconfig.get_config_var("CC") or "cc").split()[0]
needs_compiler = pytest.mark.skipif(shutil.which(C_COMPILER) is None, reason="no C compiler here")

# A module whose only content says whether it was compiled with OpenMP.
EXTENSION_SOURCE = """
#include <Python.h>
static struct PyModuleDef definition = {PyModuleDef_HEAD_INIT, "openmp_report", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_openmp_report(void)
{
    PyObject *module = PyModule_Create(&definition);
#ifdef _OPENMP
    PyModule_AddIntConstant(module, "openmp", 1);
#else
    PyModule_AddIntConstant(module, "openmp", 0);
#endif
    return module;
}
"""

SETUP_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from build_support import BuildExt
from setuptools import Extension, setup
setup(name="openmp_report", script_args=["build_ext", "--inplace"], cmdclass={{"build_ext": BuildExt}},
      ext_modules=[Extension("openmp_report", ["openmp_report.c"],
                             extra_compile_args=["-O3", "-ffp-contract=off", "-fopenmp"],
                             extra_link_args=["-fopenmp"])])
"""


def build_extension(directory, **env):
    (directory / "openmp_report.c").write_text(EXTENSION_SOURCE)
    (directory / "setup.py").write_text(SETUP_SCRIPT.format(repo=str(REPO)))
    return subprocess.run([sys.executable, "setup.py"], cwd=directory, capture_output=True, text=True,
                          env=dict(os.environ, **env))


def openmp_of_built_module(directory):
    result = subprocess.run([sys.executable, "-c", "import openmp_report; print(openmp_report.openmp)"],
                            cwd=directory, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_each_compiler_gets_its_own_spelling_of_each_flag():
    flags = ["-O3", "-ffp-contract=off", "-fopenmp"]
    assert build_support.translate_flags(flags, "gcc", ["-fopenmp"]) == flags
    assert build_support.translate_flags(flags, "clang", ["-fopenmp"]) == flags
    assert build_support.translate_flags(flags, "apple-clang", ["-Xpreprocessor", "-fopenmp"]) == \
        ["-O3", "-ffp-contract=off", "-Xpreprocessor", "-fopenmp"]
    assert build_support.translate_flags(flags, "msvc", ["/openmp"]) == ["/O2", "/fp:precise", "/openmp"]
    assert build_support.openmp_flags("msvc")[0] == ["/openmp"]
    assert build_support.openmp_flags("apple-clang")[:2] == (["-Xpreprocessor", "-fopenmp"], ["-lomp"])
    # without OpenMP the flag goes, everything else stays
    assert build_support.translate_flags(flags, "gcc", []) == ["-O3", "-ffp-contract=off"]
    assert build_support.translate_flags(flags, "msvc", []) == ["/O2", "/fp:precise"]


def test_a_gcc_flag_msvc_has_no_equivalent_for_stops_the_build():
    with pytest.raises(build_support.PlatformError, match="-mavx2"):
        build_support.translate_flags(["-O3", "-mavx2"], "msvc", [])


@needs_compiler
def test_a_compiler_with_openmp_builds_with_it(tmp_path):
    result = build_extension(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no OpenMP" not in result.stderr
    assert openmp_of_built_module(tmp_path) == 1


@needs_compiler
def test_a_compiler_without_openmp_builds_serially_with_a_one_line_notice(tmp_path):
    # a compiler that rejects -fopenmp, as Apple clang without libomp does
    wrapper = tmp_path / "no-openmp-cc"
    wrapper.write_text(textwrap.dedent("""\
        #!/bin/sh
        for arg in "$@"; do
            if [ "$arg" = -fopenmp ]; then echo "no-openmp-cc: unsupported option -fopenmp" >&2; exit 1; fi
        done
        exec %s "$@"
        """ % shutil.which(C_COMPILER)))
    wrapper.chmod(0o755)
    result = build_extension(tmp_path, CC=str(wrapper), LDSHARED="%s -shared" % wrapper)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "no OpenMP" in line]
    assert len(notices) == 1, result.stderr
    assert "unsupported option" not in result.stderr  # the probe's own failure is not shown
    assert openmp_of_built_module(tmp_path) == 0


def test_a_missing_compiler_stops_the_build_with_one_paragraph(tmp_path):
    missing = str(tmp_path / "no-such-cc")
    result = build_extension(tmp_path, CC=missing, LDSHARED=missing + " -shared")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    message = [line for line in result.stderr.splitlines() if "C compiler" in line]
    assert len(message) == 1, result.stderr
    assert missing in message[0] and "wheel" in message[0]
