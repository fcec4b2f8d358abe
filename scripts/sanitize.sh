#!/usr/bin/env bash
# The sanitizer pass: builds geotrain and its tests with AddressSanitizer + UndefinedBehaviorSanitizer
# (scripts/check_build.sh) and runs the test suite there with CTest.  SimGrid runs actors on
# threads in this build (ASan cannot follow SimGrid's own stack switching; sim/run.cc), and the
# few tests that cannot run so skip themselves saying why.  A sanitizer report aborts the process
# that met it, which fails its test; the script exits non-zero when any test fails.
#   scripts/sanitize.sh [CTEST ARGUMENTS...]   e.g. -R 'Faults\.' to run a subset
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/check_build.sh
cmake --build "$check_build" -j"$(nproc)"
ctest --test-dir "$check_build" --output-on-failure -j"$(nproc)" --timeout 1200 "$@"
