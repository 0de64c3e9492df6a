#!/usr/bin/env bash
# Installs what is missing, builds Release into build/, and runs qprepc's main job on the
# bundled example.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DQPREP_BUILD_TESTS=OFF -DQPREP_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target qprepc
MAIN_JOB=(build/bin/qprepc summary examples/resnet18.qg)
echo "+ ${MAIN_JOB[*]}"
"${MAIN_JOB[@]}"
