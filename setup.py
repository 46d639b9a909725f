"""Declares the compiled kernels; all other metadata lives in pyproject.toml.

The directives switch off bounds and wraparound checks for speed: the Python
layer (fastbp/trainer.py) validates every input before it reaches a kernel.
Build with FASTBP_DEBUG=1 to turn the checks back on.

-ffp-contract=off keeps the C compiler from fusing a*b+c into one FMA (GCC
does so by default wherever the target has FMA), so each kernel rounds exactly
as its NumPy twin does, whatever the machine. Nothing like -ffast-math is used.
"""

import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("FASTBP_DEBUG", "") == "1"

extensions = [
    Extension(
        "fastbp._kernels",
        ["src/_kernels.pyx"],
        include_dirs=[np.get_include()],
        # Linking libm explicitly binds exp and log to glibc's current versions,
        # not the compatibility entry points that add an error-handling wrapper.
        libraries=["m"] if os.name != "nt" else [],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3", "-ffp-contract=off"] if os.name != "nt" else [],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "wraparound": DEBUG,
            "initializedcheck": DEBUG,
            "cdivision": True,
        },
    )
)
