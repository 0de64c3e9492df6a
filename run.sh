#!/usr/bin/env bash
# Installs what is missing, builds Release into build/, and runs qprepc's main job on the
# bundled example: prepare resnet18 for the fbgemm backend, as PyTorch's prepare_fx would.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DQPREP_BUILD_TESTS=OFF -DQPREP_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target qprepc
mkdir -p build/out
MAIN_JOB=(build/bin/qprepc prepare examples/resnet18.qg --backend fbgemm
          --plan build/out/resnet18.plan.json -o build/out/resnet18.prepared.qg
          --dot build/out/resnet18.dot)
echo "+ ${MAIN_JOB[*]}"
"${MAIN_JOB[@]}"
echo "wrote build/out/resnet18.plan.json, build/out/resnet18.prepared.qg, build/out/resnet18.dot"
