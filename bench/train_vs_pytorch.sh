#!/usr/bin/env bash
# Training speed of netc's CPU code against PyTorch on this machine.
#
#   bench/train_vs_pytorch.sh [--epochs 1] [--models lenet5,lenet5_classic,mnist_cnn]
#                             [--limit N] [--threads 2] [--iterations 10000]
#                             [--omp-wait active|passive]
#
# Run from the repository root after ./setup.sh. For each model: netc compiles
# models/X.net, `netrun train` trains it (the model's own batch, passed to both
# sides) and PyTorch trains the same network (bench/pytorch_models.py); then a
# table of training images/s (validation excluded on both sides), peak
# resident memory and training accuracy, and the batch-1 inference latency of
# lenet5 on both sides. A benchmark run by hand, not part of the test suite;
# run nothing else heavy at the same time (the load average is printed).
set -euo pipefail

die() { echo "train_vs_pytorch.sh: error: $*" >&2; exit 1; }

epochs=1
models=lenet5,lenet5_classic,mnist_cnn
limit=0
threads=2
iterations=10000
omp_wait=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --epochs) epochs="${2:?--epochs needs a value}"; shift 2 ;;
    --models) models="${2:?--models needs a value}"; shift 2 ;;
    --limit) limit="${2:?--limit needs a value}"; shift 2 ;;
    --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
    --iterations) iterations="${2:?--iterations needs a value}"; shift 2 ;;
    --omp-wait) omp_wait="${2:?--omp-wait needs active or passive}"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

# Prerequisites.
netc=build/bin/netc
netrun=build/bin/netrun
python=/usr/bin/python3
[[ -x $netc && -x $netrun ]] || die "$netc or $netrun is missing: run ./setup.sh first"
[[ -f data/mnist/train-images-idx3-ubyte || -f data/mnist/train-images-idx3-ubyte.gz ]] ||
  die "data/mnist is missing: run ./setup.sh first"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install time"
$python -c 'import torch' 2>/dev/null ||
  die "torch is missing for $python: apt-get install python3-torch libopenblas0-openmp"
command -v c++ >/dev/null || die "c++ is missing: apt-get install g++"
# Without OpenBLAS, Debian's PyTorch runs on the reference BLAS, 2x-4.5x
# slower on these models: a ratio against that says nothing.
blas=$(ldconfig -p | awk '/libblas\.so\.3 / { print $NF; exit }')
[[ $(readlink -f "$blas") == *openblas* ]] ||
  die "PyTorch would use the reference BLAS (${blas:-no libblas.so.3}" \
    "-> $(readlink -f "$blas")): apt-get install libopenblas0-openmp"

tmp=$(mktemp -d /tmp/train_vs_pytorch.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# glibc would otherwise unmap PyTorch's large activation buffers after every
# batch and fault them in again on the next one.
export MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000
# Both sides use libgomp, whose idle threads spin at barriers: on a machine
# with more runnable threads than cores a spinning thread can hold the core
# its peer needs, and --threads 2 falls below --threads 1. `--omp-wait passive`
# makes them sleep instead (OMP_WAIT_POLICY, for both sides).
[[ -n $omp_wait ]] && export OMP_WAIT_POLICY=$omp_wait

# value KEY FILE: the value of a `key=value` line.
value() { sed -n "s/^$1=//p" "$2" | tail -n 1; }
# csv_column NAME FILE: that column of the last row of a CSV file.
csv_column() {
  awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == name) c = i; next }
                        { v = $c } END { print v }' "$2"
}

echo "== machine"
lscpu | sed -n 's/^Model name: *//p' | sed 's/^/cpu: /'
echo "cores: $(nproc)"
echo "load before: $(uptime | sed 's/.*load average: //')"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command: bench/train_vs_pytorch.sh --epochs $epochs --models $models --limit $limit --threads $threads${omp_wait:+ --omp-wait $omp_wait}"
$python - <<'EOF'
import torch
print(f"pytorch: {torch.__version__}, {torch.__config__.parallel_info().splitlines()[-1].strip()}")
EOF

rows=()
IFS=, read -r -a model_list <<< "$models"
for model in "${model_list[@]}"; do
  [[ -f models/$model.net ]] || die "models/$model.net does not exist"
  echo
  echo "== $model (load: $(uptime | sed 's/.*load average: //'))"
  so=$tmp/$model.so
  $netc "models/$model.net" -o "$so" --no-cuda || die "netc failed on models/$model.net"
  batch=$($netrun info "$so" | sed -n 's/.*, batch \([0-9]*\),.*/\1/p')
  [[ -n $batch ]] || die "no batch in 'netrun info $so'"
  limit_flag=()
  [[ $limit -gt 0 ]] && limit_flag=(--limit "$limit")

  # netc: images/s from history.csv (training steps only; validation on the
  # test split runs after the epoch's clock is read, see runtime/lib/Trainer.cpp).
  run=$tmp/run-$model
  /usr/bin/time -f '%M' -o "$tmp/$model.netc.rss" \
    $netrun train "$so" --data mnist --epochs "$epochs" --threads "$threads" --batch "$batch" \
      --out "$run" "${limit_flag[@]}" ||
    die "netrun train failed on $model"
  netc_ips=$(csv_column images_per_second "$run/history.csv")
  netc_acc=$(csv_column accuracy "$run/history.csv")
  netc_mib=$(awk '{ printf "%.0f", $1 / 1024 }' "$tmp/$model.netc.rss")

  # PyTorch: the same network, optimizer, batch, threads and images.
  /usr/bin/time -f '%M' -o "$tmp/$model.torch.rss" \
    $python bench/pytorch_models.py train "$model" --data data/mnist --epochs "$epochs" \
      --batch "$batch" --threads "$threads" --limit "$limit" > "$tmp/$model.torch" ||
    die "bench/pytorch_models.py failed on $model"
  cat "$tmp/$model.torch"
  torch_ips=$(value images_per_second "$tmp/$model.torch")
  torch_acc=$(value accuracy "$tmp/$model.torch")
  torch_mib=$(awk '{ printf "%.0f", $1 / 1024 }' "$tmp/$model.torch.rss")
  torch_base=$(value startup_rss_mib "$tmp/$model.torch" | awk '{ printf "%.0f", $1 }')
  ratio=$(awk -v a="$netc_ips" -v b="$torch_ips" 'BEGIN { printf "%.2f", a / b }')
  rows+=("$(printf '| %s | %d | %.0f | %.0f | %s | %s | %s (%s after import) | %.4f | %.4f |' \
    "$model" "$batch" "$netc_ips" "$torch_ips" "$ratio" "$netc_mib" "$torch_mib" "$torch_base" \
    "$netc_acc" "$torch_acc")")
done

# Batch-1 inference latency of lenet5: netc_forward through dlopen, against
# PyTorch's eval()/no_grad() forward, both with softmax, median of N calls.
latency_row=""
if [[ ,$models, == *,lenet5,* ]]; then
  echo
  echo "== lenet5 batch-1 latency ($iterations calls after warm-up, $threads threads)"
  cat > "$tmp/latency.cpp" <<'EOF'
// Median latency of netc_forward with n = 1 (random weights: the runtime
// leaves parameters at zero, and the time does not depend on their values).
#include "net/Runtime/ModelABI.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <random>
#include <vector>

int main(int argc, char **argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: latency MODEL.so THREADS ITERATIONS\n");
    return 1;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "latency: error: %s\n", dlerror());
    return 1;
  }
  auto model = reinterpret_cast<decltype(&netc_model)>(dlsym(lib, "netc_model"));
  auto create = reinterpret_cast<decltype(&netc_create)>(dlsym(lib, "netc_create"));
  auto paramData = reinterpret_cast<decltype(&netc_param_data)>(dlsym(lib, "netc_param_data"));
  auto forward = reinterpret_cast<decltype(&netc_forward)>(dlsym(lib, "netc_forward"));
  auto destroy = reinterpret_cast<decltype(&netc_destroy)>(dlsym(lib, "netc_destroy"));
  if (!model || !create || !paramData || !forward || !destroy) {
    std::fprintf(stderr, "latency: error: %s lacks a netc_* function\n", argv[1]);
    return 1;
  }
  const netc_model_info *info = model();
  char error[512] = "";
  netc_instance *instance = create(NETC_DEVICE_CPU, /*batch=*/1, std::atoi(argv[2]), error,
                                   sizeof error);
  if (!instance) {
    std::fprintf(stderr, "latency: error: %s\n", error);
    return 1;
  }
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> weight(-0.05f, 0.05f), pixel(0.f, 1.f);
  for (int32_t i = 0; i < info->num_params; ++i)
    std::generate_n(paramData(instance, i), info->params[i].size, [&] { return weight(rng); });
  int64_t inputSize = 1;
  for (int32_t d = 0; d < info->input_rank; ++d)
    inputSize *= info->input_shape[d];
  std::vector<float> input(static_cast<size_t>(inputSize));
  std::vector<float> probabilities(static_cast<size_t>(info->classes));
  std::generate(input.begin(), input.end(), [&] { return pixel(rng); });

  int iterations = std::atoi(argv[3]);
  for (int i = 0; i < 100; ++i) // warm-up
    forward(instance, input.data(), 1, probabilities.data());
  std::vector<double> micros(static_cast<size_t>(iterations));
  for (double &t : micros) {
    auto start = std::chrono::steady_clock::now();
    if (forward(instance, input.data(), 1, probabilities.data()) != NETC_OK) {
      std::fprintf(stderr, "latency: error: netc_forward failed\n");
      return 1;
    }
    t = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  }
  std::sort(micros.begin(), micros.end());
  std::printf("median_us=%.1f\nmin_us=%.1f\n", micros[micros.size() / 2], micros.front());
  destroy(instance);
  return 0;
}
EOF
  c++ -O2 -std=c++17 -Iruntime/include "$tmp/latency.cpp" -o "$tmp/latency" -ldl ||
    die "could not compile the latency program"
  "$tmp/latency" "$tmp/lenet5.so" "$threads" "$iterations" > "$tmp/latency.netc" ||
    die "the netc latency run failed"
  $python bench/pytorch_models.py latency lenet5 --threads "$threads" \
    --iterations "$iterations" > "$tmp/latency.torch" ||
    die "the PyTorch latency run failed"
  netc_us=$(value median_us "$tmp/latency.netc")
  torch_us=$(value median_us "$tmp/latency.torch")
  latency_row=$(printf '| lenet5, batch 1 | %s µs (min %s) | %s µs (min %s) | %s |' \
    "$netc_us" "$(value min_us "$tmp/latency.netc")" \
    "$torch_us" "$(value min_us "$tmp/latency.torch")" \
    "$(awk -v a="$netc_us" -v b="$torch_us" 'BEGIN { printf "%.2f", a / b }')")
fi

echo
echo "== results (load after: $(uptime | sed 's/.*load average: //'))"
echo "BLAS used by PyTorch: $(value blas "$tmp/${model_list[0]}.torch")"
echo
echo "| model | batch | netc images/s | PyTorch images/s | netc / PyTorch | netc peak MiB | PyTorch peak MiB | netc train accuracy | PyTorch train accuracy |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
if [[ -n $latency_row ]]; then
  echo
  echo "| inference | netc median | PyTorch median | netc / PyTorch |"
  echo "| --- | ---: | ---: | ---: |"
  echo "$latency_row"
fi
