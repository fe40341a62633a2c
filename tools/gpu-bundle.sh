#!/usr/bin/env bash
# Packs what a GPU machine needs to test and time the CUDA path, built here,
# into one folder that travels (docs/cuda.md, "Checking on a GPU machine").
#
#   tools/gpu-bundle.sh [--build DIR] [--out gpu-bundle] [--no-resnet]
#                       [--generated N] [--generated-seed S]
#
# The GPU machines the project is checked on run another system image with CUDA,
# PyTorch and compute-sanitizer but no LLVM/MLIR, GoogleTest or the other
# libraries netc builds against, and they reach no package registry: netc
# cannot be built there. So the fat model libraries (netc with nvcc), the
# gpu tests, netrun and netbench (without oneDNN) are built here, and the
# shared libraries they need beyond glibc and CUDA's are copied beside them,
# with gzipped MNIST and bench/pytorch_models.py. The folder's run.sh runs
# everything in one command there and writes its reports into $OUT. The
# bundle stays under the 64 MiB a working tree may carry (checked at the end):
# about 43 MiB with resnet50_head. --generated N adds N random valid models
# of test/generated (seed S, default 7), fat, with generated-model-check,
# for run.sh's `generated` part: each trained on the CPU and on the GPU
# (about 2 MiB a model: with --no-resnet, 8 fit).
set -euo pipefail

die() { echo "gpu-bundle.sh: error: $*" >&2; exit 1; }

build=build
out=gpu-bundle
resnet=1
generated=0
generated_seed=7
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="${2:?--build needs a folder}"; shift 2 ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --no-resnet) resnet=0; shift ;; # resnet50_head takes about 2 minutes of nvcc
    --generated) generated="${2:?--generated needs a count}"; shift 2 ;;
    --generated-seed) generated_seed="${2:?--generated-seed needs a seed}"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -f CMakeLists.txt && -d models ]] || die "run it from the repository root"
[[ -x $build/bin/netc ]] || die "$build/bin/netc is missing: build the project first (README)"
[[ -f data/mnist/train-images-idx3-ubyte ]] || die "data/mnist is missing: ./setup.sh installs it"
command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] ||
  die "no nvcc: the models' CUDA path cannot be built here"

# netbench without oneDNN, in a build folder of its own; the rest from $build.
bench_build=$build-gpu-bundle
mkdir -p "$bench_build"
# Code for x86-64-v3 (AVX2, FMA), not this processor's: the GPU machine's
# processor may lack instructions this one has.
export NETC_MARCH=x86-64-v3
cmake -G Ninja -S . -B "$bench_build" -DCMAKE_BUILD_TYPE=Release -DNETBENCH_WITH_DNNL=OFF \
  -DNETC_MARCH=x86-64-v3 \
  -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} \
  > "$bench_build/bundle.log" 2>&1 || die "cmake failed (see $bench_build/bundle.log)"
ninja -C "$bench_build" netbench >> "$bench_build/bundle.log" 2>&1 ||
  die "building netbench failed (see $bench_build/bundle.log)"
ldd "$bench_build/bin/netbench" | grep -q libdnnl && die "netbench still links oneDNN"
ninja -C "$build" netrun gpu-tests kernel-gpu-tests netc generated-model-check

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/models" "$out/data/mnist"
cp "$build/bin/netrun" "$build/bin/gpu-tests" "$build/bin/kernel-gpu-tests" \
  "$build/bin/generated-model-check" "$bench_build/bin/netbench" "$out/bin/"

models=(lenet5 mnist_cnn lenet5_classic tf_cnn)
[[ $resnet -eq 1 ]] && models+=(resnet50_head)
for model in "${models[@]}"; do
  log=$("$build/bin/netc" "models/$model.net" -o "$out/models/$model.so" 2>&1) ||
    die "netc failed on models/$model.net: $log"
  grep -q "nvcc not found" <<<"$log" && die "netc found no nvcc for models/$model.net"
  echo "built $out/models/$model.so with its CUDA path"
done

# Random valid models (test/generated/generate_models.py), each with its
# .net beside it: `generate_models.py --seed S --first I --count 1` remakes one.
if ((generated > 0)); then
  mkdir -p "$out/generated"
  python3 test/generated/generate_models.py --seed "$generated_seed" --count "$generated" \
    --out "$out/generated" >/dev/null || die "generate_models.py failed"
  for source in "$out"/generated/*.net; do
    log=$("$build/bin/netc" "$source" -o "${source%.net}.so" 2>&1) ||
      die "netc failed on $source: $log"
  done
  echo "built $generated generated models (seed $generated_seed) with their CUDA path"
fi

# Shared libraries beyond glibc, libstdc++ and CUDA's own (the GPU machine
# has those; its cuDNN and cuBLAS are found at run time, see run.sh).
for binary in "$out"/bin/* "$out"/models/*.so "$out"/generated/*.so; do
  [[ -f $binary ]] || continue
  ldd "$binary" | awk '$3 ~ /^\// { print $3 }'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libdl.so.*|librt.so.*|libpthread.so.*|ld-linux*|libstdc++.so.*|\
    libgcc_s.so.*|libcuda.so.*|libcudart.so.*|libcudnn*.so.*|libcublas*.so.*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
         t10k-labels-idx1-ubyte; do
  gzip -c "data/mnist/$f" > "$out/data/mnist/$f.gz"
done
cp bench/pytorch_models.py "$out/"
cp tools/gpu-bundle-run.sh "$out/run.sh"
chmod +x "$out/run.sh"

size=$(du -sm "$out" | cut -f1)
echo "$out: ${size} MiB ($(ls "$out/lib" | wc -l) libraries, ${#models[@]} models)"
[[ $size -lt 60 ]] || die "$out is ${size} MiB: too large to carry (64 MiB with the tree)"
echo "On a GPU machine: bash $out/run.sh   (reports into \$OUT, else $out/reports)"
