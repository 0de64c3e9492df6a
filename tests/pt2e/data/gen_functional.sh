#!/bin/sh
# Regenerates the functional test graphs of tests/pt2e/data/ from functional_models.py with
# tools/export_fx.py --functional (PyTorch 1.13.1, Debian's python3-torch). Run from anywhere:
#   sh tests/pt2e/data/gen_functional.sh
set -eu
cd "$(dirname "$0")/../../.."
PY=/usr/bin/python3
M=tests/pt2e/data/functional_models.py
D=tests/pt2e/data
$PY tools/export_fx.py --functional --model $M:conv_bn_linear --input-shape 1,3,6,6 \
  --name conv_bn_linear -o $D/conv_bn_linear.qg
$PY tools/export_fx.py --functional --train --model $M:conv_bn_linear --input-shape 2,3,6,6 \
  --name conv_bn_linear.train -o $D/conv_bn_linear.train.qg
$PY tools/export_fx.py --functional --model $M:cat_pool --input-shape 1,3,6,6 \
  --name cat_pool -o $D/cat_pool.qg
$PY tools/export_fx.py --functional --model $M:add_relu --input-shape 1,4 --input-shape 1,4 \
  --name add_relu -o $D/add_relu.qg
$PY tools/export_fx.py --functional --model $M:biased_conv_pool --input-shape 1,3,6,6 \
  --name biased_conv_pool -o $D/biased_conv_pool.qg
$PY tools/export_fx.py --functional --model $M:tied_weights --input-shape 1,3,4,4 \
  --name tied_weights -o $D/tied_weights.qg
