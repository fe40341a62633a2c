#!/usr/bin/env bash
# Builds the unit tests and the front end with AddressSanitizer and
# UndefinedBehaviorSanitizer in build-asan/ and runs them, stopping at the
# first finding:
#
#   tools/sanitize.sh            # configure if needed, build, run everything
#   tools/sanitize.sh --no-lit   # only the GoogleTest units
#
# Runs runtime-tests (test/runtime, netrun and the fixtures instrumented too),
# model-impl-tests (the ABI code every compiled model includes),
# kernel-tests (test/kernels), and the lit suite with an instrumented netc and
# net-opt, which covers dsl/ (lexer, parser, MLIRGen) and the passes.
# -fno-sanitize=vptr: LLVM and MLIR are built without RTTI, and their objects
# cross into ours. Compiler: the system c++ (CXX= to choose another).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${NETC_ASAN_BUILD:-$root/build-asan}
lit=1
[ "${1:-}" = --no-lit ] && lit=0

flags="-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer"
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DMLIR_DIR="${MLIR_DIR:-/usr/lib/llvm-19/lib/cmake/mlir}"
fi
targets=(runtime-tests model-impl-tests kernel-tests)
[ $lit -eq 1 ] && targets+=(netc net-opt)
ninja -C "$build" "${targets[@]}"

# Any report is fatal (abort_on_error: `not netc` in a lit test must not pass
# because netc died of a finding). Leaks are findings too.
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$root/tools/lsan.supp:print_suppressions=0
# From the folders ctest runs them in.
(cd "$build/test/runtime" && "$build/bin/runtime-tests" --gtest_brief=1)
"$build/bin/model-impl-tests" --gtest_brief=1
(cd "$build/test/kernels" && "$build/bin/kernel-tests" --gtest_brief=1)
if [ $lit -eq 1 ]; then
  python3 "$(grep -m1 '^NETC_LIT:' "$build/CMakeCache.txt" | cut -d= -f2)" -sv "$build/test"
fi
echo "sanitize: no findings"
