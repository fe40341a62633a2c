#!/usr/bin/env bash
# The recipe to 99% on MNIST (models/mnist_fast.net, docs/benchmarks.md) holds:
# trained with the set-up its .net file gives, on the whole training split,
# it reaches 99.0% on the 10,000 test images. Training is deterministic for a
# seed, so this checks the recipe, not luck; seeds 1-5 and 42 gave
# 99.09-99.23% when it was written (seed 42: 99.14% with the first-layer
# kernels of 049264f and 9ad0448). Prints the training seconds it took (not
# asserted: a timed test would measure the machine).
#   usage: train_mnist_fast.sh NETRUN MODEL.so
set -euo pipefail
netrun=$1
model=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$netrun" train "$model" --data mnist --seed 42 --threads 2 --out "$out/run" | grep '^Epoch'
awk -F, 'NR > 1 { s += $7 } END { printf "%.1f s of training\n", s }' "$out/run/history.csv"
best=$(cut -d, -f5 "$out/run/history.csv" | tail -n +2 | sort -g | tail -n 1)
awk -v a="$best" 'BEGIN {
  if (a + 0 >= 0.99) { printf "best val_accuracy %s >= 0.99\n", a; exit 0 }
  printf "best val_accuracy %s is below 0.99\n", a; exit 1 }'
