"""Declares the compiled kernels; all other metadata lives in pyproject.toml.

The directives switch off bounds and wraparound checks for speed: the Python
layer (fastbp/trainer.py) validates every input before it reaches a kernel.
Build with FASTBP_DEBUG=1 to turn the checks back on. The hot kernels index raw
pointers, which Cython cannot check, so a debug build is also compiled with
AddressSanitizer: run it with the sanitizer preloaded,
LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0,
and any read or write past a buffer stops the process with a report
(tools/mutations.py does this).

Set FASTBP_SIMD_VARIANTS=0 to build only the baseline driver (a quicker build;
tools/mutations.py uses it).

-ffp-contract=off keeps the C compiler from fusing a*b+c into one FMA (GCC
does so by default wherever the target has FMA), so each kernel rounds exactly
as its NumPy twin does, whatever the machine. Nothing like -ffast-math is used.
"""

import os
import platform
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

# ---- build_support: the compiler's checks, OpenMP probe and flag spellings (begin)
# Flags below are written in GCC's spelling; build_support.BuildExt checks that a
# C compiler runs, probes it for OpenMP (building serially without it) and
# rewrites the flags for MSVC and Apple clang. A PEP 517 build does not put this
# directory on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build_support import BuildExt  # noqa: E402
# ---- build_support (end)

POSIX = os.name != "nt"
DEBUG = os.environ.get("FASTBP_DEBUG", "") == "1"
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
# The driver (src/driver.pxi) is built once for the baseline x86-64, so that a
# wheel runs anywhere, and, on x86-64, once more for each wider vector unit;
# fastbp/trainer.py imports the widest the CPU has. -ffp-contract=off keeps
# every variant's arithmetic identical: only the vector width changes.
SIMD_VARIANTS = {
    "_kernels_avx2": ["-mavx2", "-mfma"],
    "_kernels_avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl",
                        "-mprefer-vector-width=512"],
}
BUILD_SIMD_VARIANTS = os.environ.get("FASTBP_SIMD_VARIANTS", "1") != "0"
SANITIZER_FLAGS = ["-fsanitize=address", "-fno-omit-frame-pointer"] if DEBUG and POSIX else []


def extension(name, source, openmp=False, simd_flags=()):
    # OpenMP runs the slabs of a pass on several threads (src/driver.pxi);
    # without it the same loop runs serially, with the same result.
    openmp_flags = ["-fopenmp"] if openmp else []
    return Extension(
        name,
        [source],
        include_dirs=[np.get_include(), "src"],
        # Linking libm explicitly binds exp and log to glibc's current versions,
        # not the compatibility entry points that add an error-handling wrapper.
        libraries=["m"] if POSIX else [],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=(["-O3", "-ffp-contract=off"] + openmp_flags + list(simd_flags)
                            + SANITIZER_FLAGS),
        extra_link_args=openmp_flags + SANITIZER_FLAGS,
    )


extensions = [
    extension("fastbp._kernels", "src/_kernels.pyx", openmp=True),
    extension("fastbp._layers", "src/_layers.pyx"),
    # Test and benchmark wrappers around src/vecmath.h (vectorised exp, tanh
    # and sigmoid with run-time AVX2/AVX-512 dispatch).
    extension("fastbp._vecmath", "src/_vecmath.pyx"),
]
if X86_64 and POSIX and BUILD_SIMD_VARIANTS:
    extensions += [extension("fastbp." + name, "src/%s.pyx" % name, openmp=True, simd_flags=flags)
                   for name, flags in SIMD_VARIANTS.items()]

setup(
    cmdclass={"build_ext": BuildExt},  # build_support
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "wraparound": DEBUG,
            "initializedcheck": DEBUG,
            "cdivision": True,
        },
    )
)
