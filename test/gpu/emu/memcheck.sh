#!/bin/bash
# The emulated memcheck of the CUDA netc generates (README.md): the models'
# fat .so built by the emulator's nvcc with AddressSanitizer, then the gpu
# tests FILTER names on them (for lenet5, the train step and the run of steps
# over a training set held on the device, graph replay included, that
# gpu.memcheck runs under compute-sanitizer). A kernel reading or writing
# outside its allocations, or the host touching device memory, stops it with
# AddressSanitizer's report.
# Usage: memcheck.sh NETC EMU-NVCC CXX GPU-TESTS OUT-DIR FILTER MODEL.net...
set -euo pipefail
if [ $# -lt 7 ]; then
  echo "usage: memcheck.sh NETC EMU-NVCC CXX GPU-TESTS OUT-DIR FILTER MODEL.net..." >&2
  exit 2
fi
netc=$1 nvcc=$2 cxx=$3 tests=$4 out=$5 filter=$6
shift 6
mkdir -p "$out"
for model in "$@"; do
  NETC_CUDAEMU_SANITIZE=address NETC_NVCC="$nvcc" "$netc" "$model" \
    -o "$out/$(basename "$model" .net).so"
done
printf 'The fat models here were built with the CUDA emulator'"'"'s nvcc stand-in.\n' \
  >"$out/EMULATED"
# The tests' own code is not instrumented: libasan comes first by LD_PRELOAD.
asan=$("$cxx" -print-file-name=libasan.so)
if [ ! -e "$asan" ]; then
  echo "memcheck.sh: $cxx has no libasan.so (Debian: libasan8)" >&2
  exit 1
fi
# Shown as it runs (a run killed by ctest's timeout still shows how far it
# got) and kept for the checks below.
log=$out/tests.log
LD_PRELOAD=$asan ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 \
  NETC_GPU_MODELS_DIR="$out" "$tests" --gtest_filter="$filter" 2>&1 | tee "$log"
# A skip (a model not built, say) would make this pass without checking it.
expected=$(tr ':' '\n' <<<"$filter" | grep -c .)
if grep -q '\[  SKIPPED \]' "$log" || ! grep -q "\[  PASSED  \] $expected tests" "$log"; then
  echo "memcheck.sh: expected all $expected tests of $filter to run and pass, none to skip" >&2
  exit 1
fi
