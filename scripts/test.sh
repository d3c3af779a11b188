#!/usr/bin/env bash
# The README's second command (and CI's): set up, build with warnings as
# errors, run every test under ASan+UBSan, cross-build for aarch64 and run
# its unit tests under qemu, then every test in the release build. The output
# ends with ctest's own summary line; any failure exits non-zero.
#   TEST_ARGS="-L unit" scripts/test.sh    pass extra arguments to the last ctest
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --cross
jobs=${JOBS:-2}

# 1. Sanitizers (ASan+UBSan, leaks too): every test but those labelled
#    `detector` (minutes of detector arithmetic that the unit tests cover
#    under ASan; they run in step 3), `faults` (a station under minutes of
#    injected faults and a filled tmpfs; step 3) and `cli` (the command
#    line's flows, whose code the station, UI and integration tests run
#    under ASan; step 3), the GStreamer ones and the binary's included. tests/lsan.supp names the only leaks allowed: one-time
#    allocations inside GLib, GStreamer and x265.
#    intercept_tls_get_addr=0: Debian 12's libsanitizer can take a thread's
#    dynamic TLS for a wrong range and its leak tracer then dies at exit
#    ("Tracer caught signal 11", google/sanitizers#1322); CI saw it once after
#    a test that had passed. Leaks are still checked; only DTLS is not scanned.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDASHLOOP_SANITIZE=ON -DDASHLOOP_WERROR=ON \
  -DDASHLOOP_BENCHMARKS=OFF >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:intercept_tls_get_addr=0 LSAN_OPTIONS=suppressions=$PWD/../tests/lsan.supp \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -j"$jobs" --output-on-failure -LE "detector|faults|cli")
echo "not run under ASan (labels detector, faults and cli; they run in the release pass below): $(cd build-asan && ctest -N -L 'detector|faults|cli' | grep -oE '(e2e|faults)\.[a-z_]*' | tr '\n' ' ')"
# ctest names skipped tests but not why: print each test's own reason.
grep -h -A1 ': Skipped$' build-asan/Testing/Temporary/LastTest.log | grep -v -e ': Skipped$' -e '^--$' |
  sed 's/^/  skipped under ASan, because: /' || true

# 2. The Jetson's architecture: cross-build for aarch64 against a Debian
#    arm64 sysroot and run the unit tests under qemu-user.
if [ -n "${DASHLOOP_SKIP_CROSS:-}" ]; then
  echo "cross build SKIPPED: DASHLOOP_SKIP_CROSS is set"
else
  cross/build.sh
fi

# 3. The release build, warnings as errors: every unit and integration test
#    (GStreamer on real files, RTSP) and the end-to-end tests that step 1 did
#    not run. An end-to-end test that passed under ASan runs once: the same
#    flow again at -O2 took 10 minutes of the 2-core budget and finds nothing
#    the unit tests at -O2 do not. DASHLOOP_RELEASE_ALL=1 runs them here too.
asan_e2e=$(cd build-asan && ctest -N -L e2e -LE "detector|faults|cli" | grep -oE '(e2e|faults)\.[a-z_]+' | paste -sd'|' -)
skip=()
if [ -z "${DASHLOOP_RELEASE_ALL:-}" ] && [ -n "$asan_e2e" ]; then
  skip=(-E "^($asan_e2e)\$")
  echo "release pass: not run again (passed under ASan above): ${asan_e2e//|/ }"
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDASHLOOP_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
cd build
# shellcheck disable=SC2086
ctest -j"$jobs" --output-on-failure "${skip[@]}" ${TEST_ARGS:-}
