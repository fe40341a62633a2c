#!/usr/bin/env bash
# End to end on a folder of real handwriting: MNIST exported as PNGs by
# `netrun export-images` (60 training images per class, 30 test images per
# class for validation), models/lenet5.net trained from the folder with
# Keras-style augmentation for 4 epochs, must reach 85% on the 300 test
# images. `netrun eval` on the folder then names the classes.
#   usage: train_lenet5_folder.sh NETRUN MODEL.so
set -euo pipefail
netrun=$1
model=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$netrun" export-images --data mnist --out "$out/train" --per-class 60
"$netrun" export-images --data mnist --out "$out/test" --per-class 30 --split test
"$netrun" train "$model" --data "$out/train" --validation-data "$out/test" --epochs 4 \
  --batch 16 --seed 1 --threads 2 --rotation-range 10 --width-shift-range 0.1 \
  --height-shift-range 0.1 --zoom-range 0.1 --out "$out/run"
accuracy=$(tail -n 1 "$out/run/history.csv" | cut -d, -f5)
awk -v a="$accuracy" 'BEGIN {
  if (a + 0 >= 0.85) { printf "val_accuracy %s >= 0.85\n", a; exit 0 }
  printf "val_accuracy %s is below 0.85\n", a; exit 1 }'
grep -q '^rotation-range = 10$' "$out/run/config.txt"
"$netrun" eval "$model" --weights "$out/run/best.ckpt" --data "$out/test" | grep -q 'classes: 0 0, 1 1'
