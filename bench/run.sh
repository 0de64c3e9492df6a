#!/usr/bin/env bash
# The benchmark harness (issue 6), in one sitting and bounded time (~10-15 minutes on a 2-core
# machine): builds Release, then runs
#   1. bench/prepare/prepare_bench  (prepare end to end + per stage; the 1M-node cases each in a
#      process of their own so peak_rss_MB is theirs),
#   2. bench/compare_torch.py       (qprepc against PyTorch 1.13's prepare_fx, same models, same
#      sitting: residual chains of 50..400 blocks, torchvision models),
#   3. bench/observers/ (helper C2) observer_bench + PyTorch's observers, single thread,
#   4. bench/report.py              (markdown report + plots).
# Everything is written to OUT_DIR (default BUILD_DIR/bench-results): Google Benchmark JSON,
# machine.json, report.md, PNG plots. `--docs` also copies report.md's plots into docs/ (the
# committed docs/benchmarks.md is written by hand from a report.md).
#
#   bench/run.sh [--quick] [--docs]
#
# --quick: smoke run (small cases, few iterations; checks the harness, not speed).
# Environment: BUILD_DIR (default ROOT/build-bench), OUT_DIR, MIN_TIME (prepare_bench, seconds).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build-bench}"
OUT="${OUT_DIR:-$BUILD/bench-results}"
QUICK=0
DOCS=0
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    --docs) DOCS=1 ;;
    *) echo "usage: bench/run.sh [--quick] [--docs]" >&2; exit 2 ;;
  esac
done
MIN_TIME="${MIN_TIME:-0.5}"
[ "$QUICK" = 1 ] && MIN_TIME=0.01
mkdir -p "$OUT"
start=$(date +%s)
log() { echo "[bench/run.sh $(( $(date +%s) - start ))s, load $(cut -d' ' -f1 /proc/loadavg)] $*" >&2; }

log "configure + build (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target qprepc prepare_bench observer_bench >/dev/null

# The machine, for the report.
/usr/bin/python3 - "$OUT/machine.json" <<'PY'
import json, os, platform, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""
info = {
    "cpu": sh("lscpu | sed -n 's/^Model name: *//p'"),
    "cpus": os.cpu_count(),
    "mem_total": sh("free -h | awk '/^Mem:/{print $2}'"),
    "kernel": platform.release(),
    "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
    "compiler": sh("c++ --version | head -1"),
    "load_avg": os.getloadavg(),
    "torch_threads_note": "PyTorch observers run with torch.set_num_threads(1); prepare_fx is single-threaded Python",
}
json.dump(info, open(sys.argv[1], "w"), indent=2)
PY
git -C "$ROOT" rev-parse --short HEAD > "$OUT/git_rev.txt" || true

PB="$BUILD/bin/prepare_bench"
if [ "$QUICK" = 1 ]; then
  log "prepare_bench (quick)"
  "$PB" --benchmark_min_time="$MIN_TIME" \
    --benchmark_filter='CompileRules|PrepareFile/(tiny|resnet18)/|Chain/1000/|Wide/1000/' \
    --benchmark_out="$OUT/prepare_bench.json" --benchmark_out_format=json >/dev/null
else
  log "prepare_bench (all but 1M)"
  "$PB" --benchmark_min_time="$MIN_TIME" --benchmark_filter='-/1000000/' \
    --benchmark_out="$OUT/prepare_bench.json" --benchmark_out_format=json >/dev/null
  for shape in Chain Wide; do
    log "prepare_bench $shape/1000000 (own process, for its peak RSS)"
    "$PB" --benchmark_min_time="$MIN_TIME" --benchmark_filter="Prepare$shape/1000000/" \
      --benchmark_out="$OUT/prepare_bench_1m_$shape.json" --benchmark_out_format=json >/dev/null
  done
fi

log "compare_torch.py (qprepc vs prepare_fx)"
if [ "$QUICK" = 1 ]; then
  /usr/bin/python3 "$ROOT/bench/compare_torch.py" --qprepc "$BUILD/bin/qprepc" \
    --out "$OUT/compare_torch.json" --quick || log "compare_torch.py: a model failed (see its JSON)"
else
  /usr/bin/python3 "$ROOT/bench/compare_torch.py" --qprepc "$BUILD/bin/qprepc" \
    --out "$OUT/compare_torch.json" || log "compare_torch.py: a model failed (see its JSON)"
fi

log "observer kernels (qprep, then PyTorch, single thread)"
# As bench/observers/run_compare.sh: repetitions in random order across rows, goals judged on
# each row's median (report.py), so one disturbed repetition on a shared machine does not decide.
OBS_MIN=0.2; OBS_REPS=7; TORCH_MIN=0.3; TORCH_REPS=3
[ "$QUICK" = 1 ] && { OBS_MIN=0.01; OBS_REPS=2; TORCH_MIN=0.01; TORCH_REPS=1; }
"$BUILD/bin/observer_bench" --benchmark_min_time="$OBS_MIN" \
  --benchmark_repetitions="$OBS_REPS" --benchmark_enable_random_interleaving=true \
  --benchmark_out="$OUT/observer_bench.json" --benchmark_out_format=json >/dev/null
/usr/bin/python3 "$ROOT/bench/observers/compare_torch.py" --min-time "$TORCH_MIN" \
  --repetitions "$TORCH_REPS" --out "$OUT/torch_observers.json"

log "report"
REPORT_ARGS=("$OUT")
[ "$DOCS" = 1 ] && REPORT_ARGS+=(--plots-to "$ROOT/docs")
/usr/bin/python3 "$ROOT/bench/report.py" "${REPORT_ARGS[@]}" > "$OUT/report.md"
log "done: $OUT/report.md"
