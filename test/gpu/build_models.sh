#!/bin/bash
# Builds the fat .so (CPU + CUDA) of each model given, for the gpu tests.
# Usage: build_models.sh NETC OUTDIR MODEL.net...
# Exits 77 (ctest: skipped) when netc finds no nvcc.
set -u
netc=$1 out=$2
shift 2
mkdir -p "$out"
for model in "$@"; do
  name=$(basename "$model" .net)
  start=$(date +%s)
  log=$("$netc" "$model" -o "$out/$name.so" 2>&1)
  rc=$?
  if grep -q "nvcc not found" <<<"$log"; then
    echo "SKIP: nvcc not found (set NETC_NVCC or install the CUDA toolkit); no CUDA path to build"
    rm -f "$out/$name.so"
    exit 77
  fi
  if [ $rc -ne 0 ]; then
    echo "$log"
    echo "FAIL: netc $model (exit $rc)"
    exit 1
  fi
  echo "built $out/$name.so with its CUDA path in $(( $(date +%s) - start )) s"
done
