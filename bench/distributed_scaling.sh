#!/usr/bin/env bash
# Data-parallel training under mpirun against one process, on this machine.
#
#   bench/distributed_scaling.sh [--models lenet5,mnist_cnn] [--limit 25600]
#                                [--epochs 2] [--bandwidth-gbs 1.25,12.5]
#
# Run from the repository root after ./setup.sh (Open MPI included). For each
# model: netc compiles models/X.net; `netrun train` trains it on MNIST in one
# process with 1 thread and with every core, then `mpirun -np 2` trains it
# with 1 thread a rank (the model's global batch, split in two). It prints
# the training images/s of each (the last epoch's, validation excluded),
# their ratios, the gradients exchanged a step and the time the steps waited
# for their sums (netrun's `exchange:` line), then a napkin model of 8 and 64
# ranks from those measured bytes: a ring allreduce moves 2 (N - 1) / N of
# them through each rank's link a step, at the stated bandwidths (GB/s), on
# top of the step time of one rank at its share of the batch. A benchmark run
# by hand, not part of the test suite; run nothing else heavy at the same
# time (the load average is printed).
set -euo pipefail

die() { echo "distributed_scaling.sh: error: $*" >&2; exit 1; }

models=lenet5,mnist_cnn
limit=25600
epochs=2
bandwidths=1.25,12.5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) models="${2:?--models needs a value}"; shift 2 ;;
    --limit) limit="${2:?--limit needs a value}"; shift 2 ;;
    --epochs) epochs="${2:?--epochs needs a value}"; shift 2 ;;
    --bandwidth-gbs) bandwidths="${2:?--bandwidth-gbs needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

netc=build/bin/netc
netrun=build/bin/netrun
[[ -x $netc && -x $netrun ]] || die "build/bin/netc or netrun is missing: run ./setup.sh first"
[[ -f build/lib/libnetrun-mpi.so ]] ||
  die "build/lib/libnetrun-mpi.so is missing: install libopenmpi-dev and rebuild (./setup.sh)"
command -v mpirun >/dev/null || die "mpirun is missing: apt-get install openmpi-bin"
[[ -d data/mnist ]] || die "data/mnist is missing: run ./setup.sh first"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cores=$(nproc)
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%F), $cores cores," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg); $(mpirun --version | head -1)"

# The last epoch line's images/s of a netrun run's output.
images_per_second() { tr '\r' '\n' < "$1" | grep -a '^.*Epoch [0-9]' | tail -1 |
  sed -E 's/.* - ([0-9,]+) images\/s.*/\1/' | tr -d ,; }
# The last `exchange:` line's MB a step and ms waited a step.
exchange_figures() { tr '\r' '\n' < "$1" | grep -a 'exchange:' | tail -1 |
  sed -E 's/.*exchange: ([0-9.]+) MB.* waited ([0-9.]+) ms.*/\1 \2/'; }

printf '\n%-10s %12s %12s %12s %10s %10s %10s %9s\n' model "1x1 img/s" "1x$cores img/s" \
  "2x1 img/s" "2x1/1x1" "2x1/1x$cores" "MB/step" "wait ms"
rows=()
IFS=, read -ra model_list <<< "$models"
for model in "${model_list[@]}"; do
  [[ -f models/$model.net ]] || die "models/$model.net does not exist"
  "$netc" "models/$model.net" --no-cuda -o "$work/$model.so"
  common=(train "$work/$model.so" --data mnist --limit "$limit" --epochs "$epochs" --seed 1)
  "$netrun" "${common[@]}" --threads 1 --out "$work/one" > "$work/one.txt" 2>&1
  "$netrun" "${common[@]}" --threads 0 --out "$work/all" > "$work/all.txt" 2>&1
  mpirun -np 2 --bind-to none "$netrun" "${common[@]}" --threads 1 --out "$work/two" \
    > "$work/two.txt" 2>&1 || { cat "$work/two.txt"; die "mpirun failed for $model"; }
  one=$(images_per_second "$work/one.txt")
  all=$(images_per_second "$work/all.txt")
  two=$(images_per_second "$work/two.txt")
  read -r megabytes waited <<< "$(exchange_figures "$work/two.txt")"
  batch=$(grep -a -o 'batch [0-9]*' "$work/two.txt" | head -1 | cut -d' ' -f2)
  printf '%-10s %12s %12s %12s %10.2f %10.2f %10s %9s\n' "$model" "$one" "$all" "$two" \
    "$(awk -v a="$two" -v b="$one" 'BEGIN { print a / b }')" \
    "$(awk -v a="$two" -v b="$all" 'BEGIN { print a / b }')" "$megabytes" "$waited"
  rows+=("$model $one $megabytes $batch")
done

echo
echo "Napkin model: N ranks, each one core's images/s at its share of the global batch (taken"
echo "as the 1x1 figure), plus a ring allreduce of the measured MB a step, not overlapped:"
echo "step = batch / (N * img/s) + 2 (N - 1) / N * MB / bandwidth."
printf '%-10s %8s %8s %14s %14s %10s\n' model ranks "GB/s" "step ms" "images/s" efficiency
IFS=, read -ra bandwidth_list <<< "$bandwidths"
for row in "${rows[@]}"; do
  read -r model one megabytes batch <<< "$row"
  for bandwidth in "${bandwidth_list[@]}"; do
    for ranks in 8 64; do
      awk -v model="$model" -v ranks="$ranks" -v bw="$bandwidth" -v batch="$batch" \
          -v rate="$one" -v mb="$megabytes" 'BEGIN {
        compute = batch / (ranks * rate)
        comm = 2 * (ranks - 1) / ranks * mb / (bw * 1000)
        step = compute + comm
        printf "%-10s %8d %8s %14.2f %14.0f %10.2f\n", model, ranks, bw, step * 1000,
               batch / step, compute / step
      }'
    done
  done
done
