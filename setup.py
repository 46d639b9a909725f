"""Declares the compiled kernels; all other metadata lives in pyproject.toml.

The directives switch off bounds and wraparound checks for speed: the Python
layer (fastbp/trainer.py) validates every input before it reaches a kernel.
Build with FASTBP_DEBUG=1 to turn the checks back on. The hot kernels index raw
pointers, which Cython cannot check, so a debug build is also compiled with
AddressSanitizer: run it with the sanitizer preloaded,
LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0,
and any read or write past a buffer stops the process with a report
(tools/mutations.py does this).

-ffp-contract=off keeps the C compiler from fusing a*b+c into one FMA (GCC
does so by default wherever the target has FMA), so each kernel rounds exactly
as its NumPy twin does, whatever the machine. Nothing like -ffast-math is used.
"""

import os
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
SANITIZER_FLAGS = ["-fsanitize=address", "-fno-omit-frame-pointer"] if DEBUG and POSIX else []


def extension(name, source, openmp=False):
    # OpenMP runs the slabs of a pass on several threads (src/passes.pxi);
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
        extra_compile_args=["-O3", "-ffp-contract=off"] + openmp_flags + SANITIZER_FLAGS,
        extra_link_args=openmp_flags + SANITIZER_FLAGS,
    )


# Each module is compiled once, for the baseline target of the platform (so
# that a wheel runs anywhere); the hot loops inside are compiled once per
# target of src/dispatch.h (baseline, AVX2+FMA, AVX-512) through function
# attributes, and chosen at run time: no per-target compiler flags here.
extensions = [
    # The driver: the training loop, its workspace and the hot loops.
    extension("fastbp._driver", "src/_driver.pyx", openmp=True),
    # Test wrappers around each layer kernel of src/layers.pxd and src/gemm.pxd
    # (OpenMP: the packed GEMM shares a product between threads, src/gemm.h).
    extension("fastbp._layers", "src/_layers.pyx", openmp=True),
    # Test and benchmark wrappers around src/vecmath.h (vectorised exp, tanh
    # and sigmoid, every dispatch path).
    extension("fastbp._vecmath", "src/_vecmath.pyx"),
    # The MLP estimators' compiled objective, gradient and optimiser steps
    # (src/_mlp.pyx, the twin of fastbp/reference_mlp.py; OpenMP shares its wide products).
    extension("fastbp._mlp", "src/_mlp.pyx", openmp=True),
]

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
