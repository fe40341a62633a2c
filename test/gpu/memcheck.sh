#!/bin/bash
# compute-sanitizer memcheck on the CUDA path: one lenet5 train_step and one
# run of steps over a training set held on the GPU (graph replay included)
# must report no error. Exits 77 (ctest: skipped) without compute-sanitizer,
# without the models (no nvcc) or without a usable GPU.
# Usage: memcheck.sh GPU-TESTS
set -u
tests=$1
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ ! -x "$sanitizer" ]; then
  echo "SKIP: compute-sanitizer not found (it comes with the CUDA toolkit)"
  exit 77
fi
filter='Gpu.Lenet5:Gpu.Lenet5TrainStepsOnTheDevice'
probe=$("$tests" --gtest_filter="$filter" 2>&1)
if grep -q '\[  SKIPPED \]' <<<"$probe"; then
  grep -m1 'Skipped\|SKIP\|no usable' <<<"$probe"
  echo "SKIP: the gpu tests skip here, so there is nothing to check"
  exit 77
fi
exec "$sanitizer" --tool memcheck --error-exitcode 1 --leak-check full \
  "$tests" --gtest_filter="$filter"
