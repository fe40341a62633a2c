#!/bin/bash
# netrun's --device with a fat model (CPU + CUDA path, from the cuda-build
# test): `auto` trains on the GPU where one is usable and otherwise falls
# back to the CPU saying so in one line (why, with --verbose); `cuda`
# without a usable GPU fails with one line; `cpu` never mentions the GPU. Runs with or without a GPU; exits 77
# (ctest: skipped) when the fat model was not built (no nvcc). EXPECT, when
# given (gpu or cpu), is the device `auto` must choose: the CUDA emulator's
# models test both branches here (test/gpu/emu/README.md).
# Usage: device_choice.sh NETRUN MODELS-DIR SOURCE-DIR [EXPECT]
set -u
netrun=$1 model=$2/lenet5.so source=$3 expect=${4:-}
case "$expect" in
  "" | gpu | cpu) ;;
  *) echo "FAIL: EXPECT is gpu or cpu, got '$expect'"; exit 1 ;;
esac
if [ ! -f "$model" ]; then
  echo "SKIP: $model was not built (no nvcc: the cuda-build test skipped)"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$source" || fail "no $source"
train() {
  local device=$1
  shift
  "$netrun" train "$model" --data mnist --limit 256 --validation-split 0.25 --epochs 1 \
    --out "$out/$device" --device "$device" "$@"
}

auto=$(train auto 2>&1) || fail "--device auto failed: $auto"
if grep -q ', device cuda' <<<"$auto"; then
  gpu=1
  grep -q "GPU path is not usable" <<<"$auto" && fail "--device auto used the GPU but also said it could not: $auto"
else
  gpu=0
  grep -q ', device cpu' <<<"$auto" || fail "--device auto named no device: $auto"
  grep -q "^netrun: note: no usable NVIDIA GPU found; training on the CPU$" <<<"$auto" ||
    fail "--device auto fell back to the CPU without saying so in one short line: $auto"
  grep -qi "cudaGetDeviceCount\|cudaError" <<<"$auto" &&
    fail "--device auto gave the CUDA runtime's words without --verbose: $auto"
  verbose=$(train auto --verbose 2>&1) || fail "--device auto --verbose failed: $verbose"
  grep -q "^netrun: note: the model's GPU path is not usable here (cuda: no usable CUDA device: cudaGetDeviceCount .*); training on the CPU$" <<<"$verbose" ||
    fail "--verbose did not say why the GPU is not used: $verbose"
fi

case "$expect:$gpu" in
  gpu:0) fail "--device auto trained on the CPU where a GPU was expected: $auto" ;;
  cpu:1) fail "--device auto trained on the GPU where none was expected: $auto" ;;
esac

cuda=$(train cuda 2>&1)
rc=$?
if [ $gpu -eq 0 ]; then
  [ $rc -ne 0 ] || fail "--device cuda succeeded without a usable GPU: $cuda"
  [ "$(wc -l <<<"$cuda")" -eq 1 ] || fail "--device cuda without a GPU printed more than one line: $cuda"
  grep -q '^netrun: error: .*cannot create an instance for batch 128: cuda: ' <<<"$cuda" ||
    fail "--device cuda's error does not say why: $cuda"
else
  [ $rc -eq 0 ] || fail "--device cuda failed on a machine where auto used the GPU: $cuda"
fi

cpu=$(train cpu 2>&1) || fail "--device cpu failed: $cpu"
grep -q ', device cpu' <<<"$cpu" || fail "--device cpu did not train on the CPU: $cpu"
grep -qi 'gpu\|cuda' <<<"$(grep -v '^Training' <<<"$cpu")" && fail "--device cpu mentioned the GPU: $cpu"
echo "PASS: --device auto, cuda and cpu (GPU usable: $gpu)"
