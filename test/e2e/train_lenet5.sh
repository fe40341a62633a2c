#!/usr/bin/env bash
# End to end on real MNIST: models/lenet5.net compiled by netc and trained by
# netrun for one epoch on the first 10,000 training images must reach 95% on
# the 10,000 test images. Batch 16 gives the 625 steps that one small epoch
# needs (at the model's batch of 128 it gets only 79 and stops near 93%).
#   usage: train_lenet5.sh NETRUN MODEL.so
set -euo pipefail
netrun=$1
model=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$netrun" train "$model" --data mnist --limit 10000 --epochs 1 --batch 16 --seed 1 \
  --threads 2 --out "$out/run"
accuracy=$(tail -n 1 "$out/run/history.csv" | cut -d, -f5)
awk -v a="$accuracy" 'BEGIN {
  if (a + 0 >= 0.95) { printf "val_accuracy %s >= 0.95\n", a; exit 0 }
  printf "val_accuracy %s is below 0.95\n", a; exit 1 }'
# The checkpoint it wrote is whole and loads for evaluation.
"$netrun" eval "$model" --weights "$out/run/best.ckpt" --data mnist | tail -n 3
