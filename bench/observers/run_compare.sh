#!/usr/bin/env bash
# Observer kernels, qprep against PyTorch 1.13, in one sitting: builds observer_bench (Release),
# runs it and bench/observers/compare_torch.py back to back, and prints the markdown table of
# docs/benchmarks-observers.md (report.py). Outputs go to OUT_DIR (default build-bench/observers).
#
#   bench/observers/run_compare.sh [--quick]
#
# --quick: a few iterations only (a smoke run, for test.sh / CI: checks the harness, not speed).
#
# The machine is shared: observer_bench runs REPS repetitions of every row (default 7), in random
# order across rows (--benchmark_enable_random_interleaving), and report.py judges the goals on
# the median of each row's repetitions (the minimum is shown too). PyTorch's rows are the median
# of TORCH_REPS measurements. The load average before and after is printed (and kept in
# OUT/load.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build-bench}"
OUT="${OUT_DIR:-$BUILD/observers}"
MIN_TIME=0.2
REPS="${REPS:-7}"
TORCH_MIN_TIME=0.3
TORCH_REPS="${TORCH_REPS:-3}"
if [ "${1:-}" = "--quick" ]; then MIN_TIME=0.01; REPS=2; TORCH_MIN_TIME=0.01; TORCH_REPS=1; fi
mkdir -p "$OUT"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target observer_bench >/dev/null
echo "before: $(date -u +%FT%TZ) $(cat /proc/loadavg)" | tee "$OUT/load.txt" >&2
"$BUILD/bin/observer_bench" --benchmark_min_time="$MIN_TIME" \
  --benchmark_repetitions="$REPS" --benchmark_enable_random_interleaving=true \
  --benchmark_out="$OUT/observer_bench.json" --benchmark_out_format=json >&2
echo "after observer_bench: $(date -u +%FT%TZ) $(cat /proc/loadavg)" | tee -a "$OUT/load.txt" >&2
/usr/bin/python3 "$ROOT/bench/observers/compare_torch.py" --min-time "$TORCH_MIN_TIME" \
  --repetitions "$TORCH_REPS" --out "$OUT/torch_observers.json"
echo "after torch: $(date -u +%FT%TZ) $(cat /proc/loadavg)" | tee -a "$OUT/load.txt" >&2
/usr/bin/python3 "$ROOT/bench/observers/report.py" "$OUT/observer_bench.json" \
  "$OUT/torch_observers.json" | tee "$OUT/report.md"
