#!/usr/bin/env bash
# Observer kernels, qprep against PyTorch 1.13, in one sitting: builds observer_bench (Release),
# runs it and bench/observers/compare_torch.py back to back, and prints the markdown table of
# docs/benchmarks-observers.md (report.py). Outputs go to OUT_DIR (default build-bench/observers).
#
#   bench/observers/run_compare.sh [--quick]
#
# --quick: a few iterations only (a smoke run, for test.sh / CI: checks the harness, not speed).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build-bench}"
OUT="${OUT_DIR:-$BUILD/observers}"
MIN_TIME=0.5
TORCH_MIN_TIME=0.5
if [ "${1:-}" = "--quick" ]; then MIN_TIME=0.01; TORCH_MIN_TIME=0.01; fi
mkdir -p "$OUT"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target observer_bench >/dev/null
"$BUILD/bin/observer_bench" --benchmark_min_time="$MIN_TIME" \
  --benchmark_out="$OUT/observer_bench.json" --benchmark_out_format=json >&2
/usr/bin/python3 "$ROOT/bench/observers/compare_torch.py" --min-time "$TORCH_MIN_TIME" \
  --out "$OUT/torch_observers.json"
/usr/bin/python3 "$ROOT/bench/observers/report.py" "$OUT/observer_bench.json" \
  "$OUT/torch_observers.json" | tee "$OUT/report.md"
