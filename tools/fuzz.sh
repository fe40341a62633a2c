#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz) in build-fuzz/ with clang-14 and
# runs each for SECONDS (default 600) on its seed corpus, one after another.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]     e.g. tools/fuzz.sh 60 fuzz-idx
#
# Needs clang-14 and its sanitizer/libFuzzer runtimes, which Debian ships
# apart from the compiler (not installed by setup.sh):
#   apt-get install -y clang-14 libclang-rt-14-dev
#
# New inputs go to build-fuzz/fuzz-corpus/<target>/ (the committed seeds in
# test/fuzz/corpus/ are only read); crashes to build-fuzz/fuzz-crashes/<target>/.
# Reproduce one with: build-fuzz/bin/fuzz/<target> CRASH-FILE
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz-idx fuzz-checkpoint fuzz-image fuzz-net fuzz-onnx)
build=${NETC_FUZZ_BUILD:-$root/build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release -DNETC_FUZZ=ON \
    -DMLIR_DIR="${MLIR_DIR:-/usr/lib/llvm-19/lib/cmake/mlir}"
fi
ninja -C "$build" "${targets[@]}"

status=0
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t
  crashes=$build/fuzz-crashes/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  echo "== $t: ${seconds}s"
  # -rss_limit_mb and -malloc_limit_mb: a reader must refuse a header that
  # claims gigabytes, not try to allocate them.
  set +e
  (cd "$crashes" && "$build/bin/fuzz/$t" "$corpus" "$root/test/fuzz/corpus/$t" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$crashes/") >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
  found=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if [ $rc -ne 0 ] || [ -n "$found" ]; then
    status=1
    echo "$t: exit $rc; findings (log: $log):"
    [ -n "$found" ] && echo "$found"
    grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error' "$log" || true
  fi
done
exit $status
