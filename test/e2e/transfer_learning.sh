#!/usr/bin/env bash
# Transfer learning at small scale, on real handwriting through image folders:
#  1. transfer_base.net (a small residual network, batch norms trained) is
#     trained on 2,000 MNIST digits 0-4 exported as an image folder;
#  2. transfer_head.net freezes the same layers under a new head and trains
#     the head on 300 digits 5-9 (60 per class), starting from step 1's
#     checkpoint by name (--weights); netrun computes the frozen base's
#     features once. It must reach 88% on 500 test digits 5-9;
#  3. the same head on a randomly initialised frozen base must not (about
#     82-84% when written, against 91% with the trained base).
#   usage: transfer_learning.sh NETRUN BASE.so HEAD.so
set -euo pipefail
netrun=$1
base=$2
head=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
threshold=0.88

"$netrun" export-images --data mnist --out "$out/digits-0-4" --per-class 400 --classes 0,1,2,3,4
"$netrun" export-images --data mnist --out "$out/digits-5-9" --per-class 60 --classes 5,6,7,8,9
"$netrun" export-images --data mnist --out "$out/test-5-9" --per-class 100 --classes 5,6,7,8,9 \
  --split test

"$netrun" train "$base" --data "$out/digits-0-4" --validation-split 0.2 --seed 42 --threads 2 \
  --out "$out/base" | grep -v '^  epoch'

# The best val_accuracy of a run's history.csv (column 5).
best() { tail -n +2 "$1/history.csv" | cut -d, -f5 | sort -g | tail -n 1; }

"$netrun" train "$head" --data "$out/digits-5-9" --validation-data "$out/test-5-9" \
  --weights "$out/base/last.ckpt" --seed 42 --threads 2 --out "$out/transfer" \
  | grep -v '^  epoch' | tee "$out/transfer.log"
grep -q "^loaded 20 of 22 parameters from $out/base/last.ckpt; initialised from the seed: head_5_9" \
  "$out/transfer.log" || { echo "the base's parameters were not all loaded"; exit 1; }
grep -q "^frozen base: the features of 'flatten_1'" "$out/transfer.log" ||
  { echo "the frozen base's features were not cached"; exit 1; }

"$netrun" train "$head" --data "$out/digits-5-9" --validation-data "$out/test-5-9" \
  --seed 42 --threads 2 --out "$out/random" | grep -v '^  epoch'

transfer=$(best "$out/transfer")
random=$(best "$out/random")
awk -v t="$transfer" -v r="$random" -v k="$threshold" 'BEGIN {
  printf "digits 5-9: val_accuracy %s on the base trained on 0-4, %s on a random base\n", t, r
  if (t + 0 < k) { printf "the transferred base is below %s\n", k; exit 1 }
  if (r + 0 >= k) { printf "a random base reaches %s too: the test shows nothing\n", k; exit 1 }
}'
