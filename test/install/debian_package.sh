#!/usr/bin/env bash
# The Debian package (cmake/Install.cmake, CPack's DEB generator): built from
# the build tree, its file list and its dependencies checked, its contents
# run where they were unpacked (the tools find their headers relative to
# themselves), and, where root allows, installed with apt-get, used from
# another folder and removed again. Exits 77 (ctest: skipped) off Debian.
#   usage: debian_package.sh BUILD-DIR SOURCE-DIR
set -euo pipefail
build=$1 source=$2
fail() { echo "FAIL: $*"; exit 1; }
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  if ! command -v $tool >/dev/null; then
    echo "SKIP: $tool not found (a Debian package is built on Debian, with dpkg-dev)"
    exit 77
  fi
done
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
cpack -G DEB -B "$top/out" --config "$build/CPackConfig.cmake" >"$top/cpack.log" 2>&1 ||
  fail "cpack failed: $(tail -n 30 "$top/cpack.log")"
debs=("$top"/out/netc_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one netc_*.deb, got: $(ls "$top/out")"
deb=${debs[0]}
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

# Its control fields: the libraries the tools link (from dpkg-shlibdeps;
# libmlir-19 brings libllvm19, which dpkg-shlibdeps may leave out) and the
# C++ compiler netc runs on every model.
[ "$(dpkg-deb -f "$deb" Package)" = netc ] || fail "Package is not netc"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
names=$(tr ',' '\n' <<<"$depends" | awk '{ print $1 }')
for dep in "g++" libmlir-19 libprotobuf32 libplplot17 libonnx1 libc6 libopenmpi3; do
  grep -qxF "$dep" <<<"$names" || fail "Depends lacks $dep: $depends"
done
grep -q nvidia-cuda-toolkit <<<"$(dpkg-deb -f "$deb" Suggests)" || fail "Suggests lacks nvcc's package"

# Its files: the tools, the headers, the models, the docs, the completion;
# everything under /usr.
dpkg-deb -c "$deb" | awk '{ print $NF }' >"$top/files"
for f in ./usr/bin/netc ./usr/bin/netrun ./usr/bin/net-opt ./usr/bin/netbench \
  ./usr/include/netc/net/Runtime/ModelABI.h ./usr/include/netc/net/Kernels/Kernels.h \
  ./usr/share/netc/models/lenet5.net ./usr/share/doc/netc/README.md \
  ./usr/share/doc/netc/netrun.md ./usr/share/bash-completion/completions/netrun \
  ./usr/lib/netc/libnetrun-mpi.so; do
  grep -qxF "$f" "$top/files" || fail "the package lacks $f"
done
if grep -v '^\./usr/\|^\./$\|^\./usr$' "$top/files"; then fail "files outside /usr (above)"; fi

# Unpacked anywhere, the tools run and find their own headers.
dpkg-deb -x "$deb" "$top/root"
mkdir -p "$top/work" && cd "$top/work"
env -u NETC_RUNTIME_INCLUDE "$top/root/usr/bin/netc" "$top/root/usr/share/netc/models/lenet5.net" \
  -o lenet5.so --no-cuda --keep-temps 2>keep.log || fail "the unpacked netc failed: $(cat keep.log)"
grep -q -- " -I$top/root/usr/include/netc " keep.log ||
  fail "the unpacked netc did not use its own headers: $(cat keep.log)"
info=$("$top/root/usr/bin/netrun" info lenet5.so) || fail "the unpacked netrun info failed"
grep -q "Total params" <<<"$info" || fail "netrun info printed no parameter count: $info"

# Installed for real where root allows and no netc package is there already.
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "PASS (not installed with apt-get: that needs root)"
  exit 0
fi
if dpkg -s netc >/dev/null 2>&1; then
  echo "PASS (not installed with apt-get: a netc package is installed already)"
  exit 0
fi
cp "$deb" "$top/work/"
apt() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q -y --no-install-recommends "$@"
}
trap 'apt purge netc >/dev/null 2>&1 || true; rm -rf "$top"' EXIT
apt install "./$(basename "$deb")" >"$top/apt.log" 2>&1 ||
  fail "apt-get install failed: $(tail -n 20 "$top/apt.log")"
[ -x /usr/bin/netc ] || fail "/usr/bin/netc is not there after apt-get install"
for tool in netc netrun net-opt netbench; do
  libraries=$(ldd /usr/bin/$tool)
  if grep -q "not found" <<<"$libraries"; then
    fail "the installed $tool misses a library: $(grep 'not found' <<<"$libraries")"
  fi
done
env -u NETC_RUNTIME_INCLUDE /usr/bin/netc /usr/share/netc/models/lenet5.net -o installed.so \
  --no-cuda --keep-temps 2>keep2.log || fail "the installed netc failed: $(cat keep2.log)"
grep -q -- " -I/usr/include/netc " keep2.log ||
  fail "the installed netc did not use /usr/include/netc: $(cat keep2.log)"
info=$(/usr/bin/netrun info installed.so) || fail "the installed netrun info failed"
grep -q "Total params" <<<"$info" || fail "the installed netrun info printed no parameter count"
apt purge netc >"$top/apt.log" 2>&1 || fail "apt-get purge failed: $(tail "$top/apt.log")"
[ ! -e /usr/bin/netc ] || fail "/usr/bin/netc is left after apt-get purge"
echo "PASS: $(basename "$deb") built, checked, installed with apt-get, used and removed"
