#!/usr/bin/env bash
# run.sh of a GPU bundle (tools/gpu-bundle.sh): everything a GPU run
# checks and times, on the GPU machine, in one command.
#
#   bash gpu-bundle/run.sh [PART...]
#
# PARTs, all by default, in this order: device, tests, memcheck, train,
# pytorch, steps, layers (and generated, when the bundle has generated models). Each writes PART.txt into $OUT (else
# gpu-bundle/reports) and has its own time limit, so one that hangs costs
# only its share; the summary at the end says which passed.
# NETC_BUNDLE_SECONDS (default 570) bounds the whole run: a part gets at most
# what is left of it, and a part that would start with under 20 s left is
# not run, so one device call (at most 10 minutes) returns every report.
set -uo pipefail
budget=${NETC_BUNDLE_SECONDS:-570}

here=$(cd "$(dirname "$0")" && pwd)
reports=${OUT:-$here/reports}
mkdir -p "$reports"
parts=("$@")
if [[ ${#parts[@]} -eq 0 ]]; then
  parts=(device tests memcheck train pytorch steps layers)
  compgen -G "$here/generated/*.so" >/dev/null && parts+=(generated)
fi

# The bundle's libraries, CUDA's, and cuDNN and cuBLAS wherever the machine
# keeps them (the CUDA toolkit's folder or the PyTorch environment's wheels).
python=$(command -v python3 || true)
extra=""
if [[ -n $python ]]; then
  extra=$("$python" - <<'EOF' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = set()
for root in roots:
    for pattern in ("nvidia/*/lib", "nvidia/*/*/lib", "nvidia/cu13/lib"):
        for d in glob.glob(os.path.join(root, pattern)):
            if glob.glob(os.path.join(d, "libcudnn.so*")) or glob.glob(os.path.join(d, "libcublas*.so*")):
                dirs.add(d)
print(":".join(sorted(dirs)))
EOF
)
fi
export LD_LIBRARY_PATH="$here/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib${extra:+:$extra}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NETC_GPU_MODELS_DIR=$here/models NETC_SOURCE_DIR=$here
cd "$here"

declare -A result
# part NAME SECONDS COMMAND...: runs it into NAME.txt, notes its exit status.
part() {
  local name=$1 limit=$2
  shift 2
  local left=$((budget - SECONDS))
  if ((left < 20)); then
    echo "== $name: not run, ${left} s of NETC_BUNDLE_SECONDS=$budget left" | tee "$reports/$name.txt"
    result[$name]="not run (time)"
    return
  fi
  ((limit > left)) && limit=$left
  echo "== $name: $*" | tee "$reports/$name.txt"
  timeout "$limit" "$@" 2>&1 | tee -a "$reports/$name.txt"
  local rc=${PIPESTATUS[0]}
  result[$name]=$rc
  echo "== $name: exit $rc" | tee -a "$reports/$name.txt"
}

first_99() { # the cumulative training seconds when val_accuracy first reached 0.99
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
           { t += $col["seconds"] }
           !done && $col["val_accuracy"] >= 0.99 {
             printf "val_accuracy %s at epoch %s after %.2f s of training (epochs: seconds column summed)\n",
                    $col["val_accuracy"], $col["epoch"], t; done = 1 }
           END { if (!done) print "never reached 0.99" }' "$1"
}

for p in "${parts[@]}"; do
  case $p in
    device)
      part device 60 bash -c 'nvidia-smi; nvcc --version 2>/dev/null | tail -2; uname -a;
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; ldd bin/netbench | grep -E "not found|cudnn|cublas"' ;;
    tests) # every kernel against the CPU's first, then the models
      part tests 480 bash -c 'bin/kernel-gpu-tests --gtest_color=no --gtest_brief=1;
        k=$?; bin/gpu-tests --gtest_color=no; g=$?; exit $(( k | g ))' ;;
    memcheck)
      part memcheck 420 compute-sanitizer --tool memcheck --error-exitcode 1 --leak-check full \
        bin/gpu-tests --gtest_filter='Gpu.Lenet5:Gpu.Lenet5TrainStepsOnTheDevice' ;;
    train)
      # The recipe checked on the CPU (docs/benchmarks.md): lenet5, batch 128,
      # one-cycle to lr 0.004 over 3 epochs: val_accuracy 0.9901 after 2
      # epochs, 0.9922 after 3. Then the model's own set-up for 12 epochs.
      part train 300 bash -c '
        rm -rf /tmp/netc-gpu-fast /tmp/netc-gpu-run &&
        bin/netrun train models/lenet5.so --data mnist --device cuda --epochs 3 --lr 0.004 \
          --lr-schedule one-cycle --out /tmp/netc-gpu-fast && cat /tmp/netc-gpu-fast/history.csv &&
        bin/netrun train models/lenet5.so --data mnist --device cuda --epochs 12 \
          --out /tmp/netc-gpu-run && cat /tmp/netc-gpu-run/history.csv'
      for run in /tmp/netc-gpu-fast /tmp/netc-gpu-run; do
        [[ -f $run/history.csv ]] && echo "$run: $(first_99 "$run/history.csv")" | tee -a "$reports/train.txt"
      done ;;
    pytorch)
      part pytorch 300 "${python:-python3}" pytorch_models.py train lenet5 --device cuda \
        --data data/mnist --epochs 3 --batch 128 --threads 16 ;;
    steps)
      part steps 420 bin/netbench --device cuda --model models/lenet5.so --model models/mnist_cnn.so ;;
    layers)
      part layers 540 bin/netbench --device cuda ;;
    generated) # each generated model trained 3 steps on the CPU and on the GPU, compared
      part generated 480 bash -c 'failed=0; total=0
        for so in generated/*.so; do
          total=$((total + 1))
          if out=$(bin/generated-model-check devices "$so" 2>&1); then
            echo "ok   $so"
          else
            failed=$((failed + 1)); echo "FAIL $so (its source: ${so%.so}.net)"; echo "$out"
          fi
        done
        echo "generated: $((total - failed)) of $total models agree on the CPU and the GPU"
        ((total > 0 && failed == 0))' ;;
    *) echo "run.sh: unknown part '$p' (device tests memcheck train pytorch steps layers generated)" ;;
  esac
done

echo "== summary (exit status per part; reports in $reports)"
for p in "${parts[@]}"; do
  echo "$p: ${result[$p]:-not run}"
done | tee "$reports/summary.txt"
