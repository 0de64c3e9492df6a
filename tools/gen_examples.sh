#!/bin/sh
# Regenerates the committed example graphs under examples/ (each .qg with its .summary.json) from
# PyTorch 1.13.1 / torchvision 0.14.1 (Debian's python3-torch, python3-torchvision), via
# tools/export_fx.py. Run from anywhere: sh tools/gen_examples.sh
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
$PY tools/export_fx.py --model tests/models/tiny.py:tiny --input-shape 1,3,8,8 \
  -o examples/tiny.qg --summary examples/tiny.summary.json
for m in resnet18 mobilenet_v2; do
  $PY tools/export_fx.py --torchvision "$m" --input-shape 1,3,224,224 \
    -o "examples/$m.qg" --summary "examples/$m.summary.json"
done
# Functional traces (no torch.nn leaf modules: F.conv2d / F.batch_norm / ... with get_attr
# weights), the PT2E-like graphs of docs/pt2e.md.
for m in resnet18 mobilenet_v2; do
  $PY tools/export_fx.py --torchvision "$m" --input-shape 1,3,224,224 --functional \
    -o "examples/$m.functional.qg" --summary "examples/$m.functional.summary.json"
done
