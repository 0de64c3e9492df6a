#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest.
#   ./test.sh             Release build in build-test/
#   ./test.sh --sanitize  the same with AddressSanitizer + UBSan in build-asan/
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
dir=build-test
flags=(-DCMAKE_BUILD_TYPE=Release -DQPREP_BUILD_BENCH=ON)
if [ "${1:-}" = "--sanitize" ]; then
  # The benchmark smoke runs are left to the plain build: timing code gains nothing from ASan.
  dir=build-asan
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DQPREP_SANITIZE=ON -DQPREP_BUILD_BENCH=OFF)
fi
cmake -S . -B "$dir" "${flags[@]}" -DQPREP_BUILD_TESTS=ON >/dev/null
cmake --build "$dir" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" --timeout 600
