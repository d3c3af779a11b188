#!/usr/bin/env bash
# Cross-builds Dashloop for aarch64 against a Debian arm64 sysroot and runs
# the aarch64 unit tests under qemu-user.
#   cross/build.sh                 sysroot from cross/make_sysroot.sh
#   DASHLOOP_SYSROOT=/l4t cross/build.sh   any other sysroot (a Jetson's)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --cross
sysroot=${DASHLOOP_SYSROOT:-$PWD/cross/sysroot-arm64}
[ -f "$sysroot/.complete" ] || [ -n "${DASHLOOP_SYSROOT:-}" ] || cross/make_sysroot.sh "$sysroot"
cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cross/aarch64-linux-gnu.cmake \
  -DDASHLOOP_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=Release -DDASHLOOP_WERROR=ON -DDASHLOOP_BENCHMARKS=OFF >/dev/null
cmake --build build-arm64 -j"${JOBS:-2}"
file build-arm64/dashloop
cd build-arm64
ctest -L unit -j"${JOBS:-2}" --output-on-failure
