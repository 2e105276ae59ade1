#!/bin/sh
# The test command of the README: installs what it needs, builds vabill twice
# (release-ish and ASan+UBSan), runs every test in both builds, and checks
# formatting and cppcheck.  Exits non-zero on the first failure.
set -eu
cd "$(dirname "$0")/.."
if [ "${VABILL_SKIP_DEPS:-0}" != 1 ]; then
    sh scripts/deps.sh
fi
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVABILL_SANITIZE=ON
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"

sh scripts/fuzz.sh
sh scripts/lint.sh
echo "all tests passed"
