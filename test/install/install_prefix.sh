#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the installed tools used as
# a user would, from an unrelated folder: netc compiles lenet5 with the
# headers installed beside it (not the source tree's), netrun finds MNIST in
# the user's cache and trains a few steps, and each tool's help fits a
# screen. Exits 77 (ctest: skipped) without data/mnist (./setup.sh fetches it).
#   usage: install_prefix.sh BUILD-DIR SOURCE-DIR
set -euo pipefail
build=$1 source=$2
fail() { echo "FAIL: $*"; exit 1; }
if [ ! -d "$source/data/mnist" ]; then
  echo "SKIP: $source/data/mnist is not installed (./setup.sh fetches it)"
  exit 77
fi
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
prefix=$top/prefix
cmake --install "$build" --prefix "$prefix" >"$top/install.log" ||
  fail "cmake --install failed: $(tail -n 20 "$top/install.log")"

for f in bin/netc bin/netrun bin/net-opt bin/netbench \
  include/netc/net/Runtime/ModelABI.h include/netc/net/Runtime/ModelImpl.h \
  include/netc/net/Kernels/Kernels.h include/netc/net/Kernels/cuda/Kernels.cuh \
  share/netc/models/lenet5.net share/netc/models/resnet50_head.net \
  share/doc/netc/README.md share/doc/netc/netrun.md \
  share/bash-completion/completions/netrun share/bash-completion/completions/netc; do
  [ -f "$prefix/$f" ] || fail "$f was not installed"
done
for tool in netc netrun net-opt netbench; do
  libraries=$(ldd "$prefix/bin/$tool")
  if grep -q "not found" <<<"$libraries"; then
    fail "installed $tool misses a library: $(grep 'not found' <<<"$libraries")"
  fi
done

[ -f "$prefix/share/netc/data/mnist/train-images-idx3-ubyte" ] ||
  fail "data/mnist was not installed into share/netc/data"

# From an unrelated folder, with nothing pointing into the checkout; a
# dataset of the user's own in their cache.
work=$top/work
mkdir -p "$work/cache/netc/datasets"
ln -s "$source/data/mnist" "$work/cache/netc/datasets/my-digits"
cd "$work"
run() {
  env -u NETC_RUNTIME_INCLUDE -u NETC_DATA HOME="$work" XDG_CACHE_HOME="$work/cache" \
    PATH="$prefix/bin:$PATH" "$@"
}
run netc "$prefix/share/netc/models/lenet5.net" -o lenet5.so --no-cuda --keep-temps \
  2>keep.log || fail "the installed netc failed: $(cat keep.log)"
grep -q -- " -I$prefix/include/netc " keep.log ||
  fail "the installed netc did not use the installed headers: $(cat keep.log)"
run netrun train lenet5.so --data mnist --limit 512 --epochs 1 --threads 2 --out run \
  >train.log 2>&1 || fail "the installed netrun failed to train: $(cat train.log)"
grep -q "on $prefix/share/netc/data/mnist" train.log ||
  fail "netrun did not take MNIST from the installed data: $(cat train.log)"
[ -s run/last.ckpt ] && [ "$(wc -l <run/history.csv)" -eq 2 ] ||
  fail "training wrote no checkpoint or history: $(ls run)"
# Under mpirun the installed netrun opens its Open MPI library from
# PREFIX/lib/netc, where the build has one.
if [ -f "$build/lib/libnetrun-mpi.so" ] && command -v mpirun >/dev/null; then
  [ -f "$prefix/lib/netc/libnetrun-mpi.so" ] || fail "lib/netc/libnetrun-mpi.so was not installed"
  run env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun -np 2 --oversubscribe --bind-to none netrun train lenet5.so --data mnist --limit 512 \
    --epochs 1 --threads 1 --out mpi-run >mpi.log 2>&1 ||
    fail "the installed netrun failed to train under mpirun: $(cat mpi.log)"
  grep -q "Data-parallel on Open MPI" mpi.log ||
    fail "the installed netrun did not train data-parallel: $(cat mpi.log)"
fi
run netrun eval lenet5.so --weights run/last.ckpt --data my-digits >eval.log 2>&1 ||
  fail "the installed netrun failed to evaluate: $(cat eval.log)"
grep -q "my-digits" eval.log || fail "eval did not take my-digits from the user's cache: $(cat eval.log)"

# A name found nowhere lists every place looked in.
if run netrun train lenet5.so --data no-such-set >missing.log 2>&1; then
  fail "an unknown dataset trained"
fi
for place in "./data/no-such-set" "$prefix/share/netc/data/no-such-set" \
  "$work/cache/netc/datasets/no-such-set" "/usr/share/datasets/no-such-set"; do
  grep -qF "$place" missing.log || fail "the error does not name $place: $(cat missing.log)"
done

# Help that fits a screen (netrun's longest, train's, is a list of its options).
for help in "netc --help" "net-opt --help" "netrun --help" "netrun eval --help"; do
  lines=$(run $help | wc -l)
  [ "$lines" -le 42 ] || fail "'$help' prints $lines lines"
done
echo "PASS: installed into $prefix, compiled lenet5 and trained it from $work"
