#!/usr/bin/env bash
# The C kernels (src/vecmath.h, src/tiled_products.h) on AArch64 compute the bits of
# the x86 FMA paths: tests/kernels/c/kernel_grid.c is built for x86-64 and, with
# Debian's gcc-aarch64-linux-gnu, for AArch64, run (the AArch64 build under
# qemu-aarch64), and the printed results must be identical, byte for byte.
# Needs: gcc, aarch64-linux-gnu-gcc, qemu-aarch64 (apt-get install
# gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user). Exit status 0 when
# they agree, 1 when not, 77 when this CPU has no AVX2 (nothing to compare).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(-O3 -ffp-contract=off -Wall -I"$root/src")

gcc "${flags[@]}" "$root/tests/kernels/c/kernel_grid.c" -o "$work/grid_x86_64" -lm
aarch64-linux-gnu-gcc "${flags[@]}" "$root/tests/kernels/c/kernel_grid.c" -o "$work/grid_aarch64" -lm
qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/grid_aarch64" > "$work/aarch64.txt"

compared=0
for path in avx2 avx512; do
    status=0
    "$work/grid_x86_64" "$path" > "$work/$path.txt" || status=$?
    if [ "$status" = 77 ]; then
        echo "x86-64 $path: not available on this CPU"
        continue
    fi
    [ "$status" = 0 ] || exit 1
    if cmp -s "$work/aarch64.txt" "$work/$path.txt"; then
        echo "aarch64 == x86-64 $path: $(wc -l < "$work/$path.txt") lines of results identical"
        compared=$((compared + 1))
    else
        echo "aarch64 and x86-64 $path differ; first differences:"
        diff "$work/aarch64.txt" "$work/$path.txt" | cut -c1-200 | head -10
        exit 1
    fi
done
[ "$compared" -gt 0 ] || exit 77
