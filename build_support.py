"""What setup.py needs to know about the C compiler: which one it is, whether
it has OpenMP, and how it spells each flag.

setup.py writes every flag in GCC's spelling and builds with BuildExt, which,
once the compiler is known, checks that it runs (a missing compiler is a
one-paragraph error, not a setuptools traceback), probes it for OpenMP, and
rewrites the flags for it:

    -fopenmp            GCC, Clang: -fopenmp; Apple clang: -Xpreprocessor
                        -fopenmp and libomp (Homebrew's, or LIBOMP_PREFIX);
                        MSVC: /openmp. Without a working OpenMP the flag is
                        dropped and the kernels run serially (the prange loops
                        then run on one thread): the same results, with a
                        one-line notice.
    -O3                 MSVC: /O2
    -ffp-contract=off   MSVC: /fp:precise (which, without /fp:contract, fuses
                        no multiply and add; GCC and Clang need the flag)

Any other GCC flag reaching MSVC stops the build rather than being dropped
silently: a flag that changes results must never vanish unseen.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager

from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError, ExecError, LinkError, PlatformError

NO_COMPILER_MESSAGE = (
    "fastbp could not run a C compiler ({compiler}). Building fastbp from source compiles its kernels and "
    "needs a C compiler: GCC or Clang on Linux (e.g. apt-get install gcc python3-dev), the Xcode command line "
    "tools on macOS (xcode-select --install), Microsoft C++ Build Tools on Windows. Or install a binary wheel, "
    "which needs no compiler: python -m pip install fastbp-VERSION-PLATFORM.whl (tools/build_wheel.sh builds "
    "the Linux one; README.md, Installing)."
)

MSVC_FLAGS = {"-O3": "/O2", "-ffp-contract=off": "/fp:precise"}

OPENMP_PROBE = """
#include <omp.h>
int main(void)
{
    int threads = 0;
#pragma omp parallel reduction(+ : threads)
    threads += 1;
    return threads == omp_get_max_threads() ? 0 : 1;
}
"""

TRIVIAL_PROGRAM = "int main(void) { return 0; }\n"


def compiler_family(compiler):
    """'msvc', 'apple-clang', 'clang' or 'gcc' (any other Unix compiler is treated as GCC)."""
    if compiler.compiler_type == "msvc":
        return "msvc"
    command = _compiler_command(compiler)
    try:
        version = subprocess.run(command + ["--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return "gcc"
    if "Apple clang" in version:
        return "apple-clang"
    if "clang" in version:
        return "clang"
    return "gcc"


def openmp_flags(family):
    """(compile flags, link flags, include dirs, library dirs) that turn OpenMP on for this compiler."""
    if family == "msvc":
        return ["/openmp"], [], [], []
    if family == "apple-clang":
        prefix = _libomp_prefix()
        include_dirs = [os.path.join(prefix, "include")] if prefix else []
        library_dirs = [os.path.join(prefix, "lib")] if prefix else []
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"], include_dirs, library_dirs
    return ["-fopenmp"], ["-fopenmp"], [], []


def _libomp_prefix():
    """Where libomp is installed for Apple clang: LIBOMP_PREFIX, else Homebrew's."""
    if os.environ.get("LIBOMP_PREFIX"):
        return os.environ["LIBOMP_PREFIX"]
    if shutil.which("brew"):
        result = subprocess.run(["brew", "--prefix", "libomp"], capture_output=True, text=True)
        if result.returncode == 0 and os.path.isdir(result.stdout.strip()):
            return result.stdout.strip()
    for prefix in ("/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"):
        if os.path.isdir(prefix):
            return prefix
    return None


def _compiler_command(compiler):
    """The compiler's command without its flags (CC may be "ccache gcc")."""
    command = []
    for word in compiler.compiler_so:
        if word.startswith("-"):
            break
        command.append(word)
    return command


@contextmanager
def _quiet():
    """Hide the compiler's own output while probing: a failed probe is expected, not an error to show."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def try_to_build(compiler, source, compile_flags=(), link_flags=(), include_dirs=(), library_dirs=()):
    """True if `source` compiles and links into a program with these flags."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "probe.c")
        with open(path, "w") as file:
            file.write(source)
        try:
            with _quiet():
                objects = compiler.compile([path], output_dir=directory, include_dirs=list(include_dirs),
                                           extra_postargs=list(compile_flags))
                compiler.link_executable(objects, "probe", output_dir=directory,
                                         library_dirs=list(library_dirs), extra_postargs=list(link_flags))
        except (CompileError, LinkError, ExecError, OSError):
            return False
    return True


def check_compiler_runs(compiler):
    """Stop the build with NO_COMPILER_MESSAGE unless the compiler builds a trivial program."""
    if compiler.compiler_type != "msvc":
        command = _compiler_command(compiler)
        if not command or shutil.which(command[0]) is None:
            raise PlatformError(NO_COMPILER_MESSAGE.format(compiler="%s: not found" % " ".join(command)))
    if not try_to_build(compiler, TRIVIAL_PROGRAM):
        raise PlatformError(NO_COMPILER_MESSAGE.format(
            compiler="%s fails on a one-line program" % " ".join(_compiler_command(compiler) or ["MSVC"])))


def translate_flags(flags, family, openmp):
    """flags (GCC's spelling) as this compiler family spells them; openmp is the
    replacement list for -fopenmp ([] when OpenMP is unavailable)."""
    translated = []
    for flag in flags:
        if flag == "-fopenmp":
            translated += openmp
        elif family == "msvc" and flag.startswith("-"):
            if flag not in MSVC_FLAGS:
                raise PlatformError("fastbp's build has no MSVC equivalent for the GCC flag %s "
                                    "(add one to build_support.MSVC_FLAGS)" % flag)
            translated.append(MSVC_FLAGS[flag])
        else:
            translated.append(flag)
    return translated


class BuildExt(build_ext):
    """build_ext that checks the compiler, probes it for OpenMP and rewrites the flags for it,
    and compiles the extensions side by side, one per core (pip passes no -j)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def build_extensions(self):
        check_compiler_runs(self.compiler)
        family = compiler_family(self.compiler)
        compile_flags, link_flags, include_dirs, library_dirs = openmp_flags(family)
        if not try_to_build(self.compiler, OPENMP_PROBE, compile_flags, link_flags, include_dirs, library_dirs):
            print("fastbp: no OpenMP with this %s compiler: building the serial kernels (the same results, on one "
                  "thread)" % family, file=sys.stderr)
            compile_flags, link_flags, include_dirs, library_dirs = [], [], [], []
        for extension in self.extensions:
            uses_openmp = "-fopenmp" in extension.extra_compile_args
            extension.extra_compile_args = translate_flags(extension.extra_compile_args, family, compile_flags)
            extension.extra_link_args = translate_flags(extension.extra_link_args, family, link_flags)
            if uses_openmp:
                extension.include_dirs += include_dirs
                extension.library_dirs += library_dirs
        super().build_extensions()
