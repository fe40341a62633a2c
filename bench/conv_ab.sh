#!/usr/bin/env bash
# A/B of the CPU conv kernels on ResNet50's 1x1 and 3x3 layers and the MNIST
# models' layers: bench/conv_ab.cpp built as two shared libraries, against
# BASE's runtime/include and against the working tree's, both loaded into one
# process by bench/conv_ab_driver.cpp, which runs each (shape, op, batch) on
# the base build and right after on the new one, ROUNDS times; per case the
# median over the rounds of each build, and new / base. The checksums of the
# two builds must agree. Each ARG is a batch (default 1 16 64), an op
# (forward, grad_weight, grad_input; default all) or a family (1x1, 3x3:
# ResNet50's, default both; mnist: the MNIST models' 5x5 and 3x3 layers).
#   bench/conv_ab.sh BASE [ROUNDS] [ARG...]   e.g. bench/conv_ab.sh 01b639c 3 16 64 3x3 forward
# Needs g++ with OpenMP; threads from OMP_NUM_THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bench/conv_ab.sh BASE [ROUNDS] [ARG...]}
rounds=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/base"
git archive "$base" runtime/include | tar -x -C "$work/base"
flags=(-std=c++17 -O3 -march="${NETC_MARCH:-native}" -fopenmp -fno-math-errno -fPIC -shared
       -fvisibility=hidden -fvisibility-inlines-hidden)
build() { # include dir, library
  g++ "${flags[@]}" -I"$1" bench/conv_ab.cpp -o "$2" 2> "$2.log" || { cat "$2.log" >&2; exit 1; }
}
build "$work/base/runtime/include" "$work/base.so" &
build runtime/include "$work/new.so"
wait $!
g++ -std=c++17 -O2 bench/conv_ab_driver.cpp -o "$work/driver" -ldl
echo "base $(git rev-parse --short "$base"), new: working tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- runtime/include || echo ' + changes'); $OMP_NUM_THREADS threads, $rounds rounds, in turns in one process; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$work/driver" "$work/base.so" "$work/new.so" "$rounds" "$@" > "$work/out"
python3 - "$work/out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    build, name, op, n, us, gflops, check = line.strip().split("|")
    entry = rows.setdefault((name, op, int(n)), {"base": [], "new": []})
    entry[build].append((float(us), float(gflops) * float(us) * 1e3, float(check)))
print("| layer | op | batch | base us | new us | base GFLOP/s | new GFLOP/s | new / base |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
bad = []
for (name, op, n), by in rows.items():
    b = statistics.median(u for u, _, _ in by["base"])
    a = statistics.median(u for u, _, _ in by["new"])
    flops = by["new"][0][1]
    cb, ca = by["base"][0][2], by["new"][0][2]
    if abs(cb - ca) > 1e-4 * max(1.0, abs(cb)):
        bad.append(f"{name} {op} batch {n}: checksums {cb} and {ca}")
    print(f"| {name} | {op} | {n} | {b:.0f} | {a:.0f} | {flops / b * 1e-3:.1f} | "
          f"{flops / a * 1e-3:.1f} | {b / a:.2f}x |")
for line in bad:
    print("MISMATCH:", line)
sys.exit(1 if bad else 0)
PY
