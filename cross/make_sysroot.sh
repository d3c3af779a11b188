#!/usr/bin/env bash
# Builds an arm64 (Jetson-architecture) sysroot from Debian bookworm's own
# arm64 -dev packages: unpacked only (mmdebstrap --variant=extract), no
# maintainer scripts, so it needs neither root inside it nor binfmt.
#   cross/make_sysroot.sh [DIR]      default cross/sysroot-arm64
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/sysroot-arm64}
packages=(
  libc6-dev libstdc++-12-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  libopencv-dev
  libsqlite3-dev libzmq3-dev cppzmq-dev libcurl4-openssl-dev libssl-dev libsystemd-dev libzip-dev
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# .complete holds the package list: a sysroot made from another list is made again.
if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "${packages[*]}" ]; then
  echo "sysroot ready: $dir"
  exit 0
fi
rm -rf "$dir"
# The machine's own Debian mirror, as apt has it (one-line or deb822
# sources; comments skipped): no host is named here.
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
  grep -vE '^[[:space:]]*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ' || true)
if [ -z "$mirror" ]; then
  echo "make_sysroot.sh: no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/ to fetch arm64 packages from" >&2
  exit 1
fi
include=$(IFS=,; echo "${packages[*]}")
mmdebstrap --quiet --arch=arm64 --variant=extract --include="$include" bookworm "$dir" "$mirror"

# Absolute symlinks point outside the sysroot; Debian's alternatives (BLAS,
# LAPACK behind OpenCV) even chain through /etc/alternatives. Follow each
# chain inside the sysroot and re-point the link, relatively, at the real file.
resolve() {  # a path inside the sysroot -> the file it finally names, inside the sysroot
  local p=$1 t n=0
  while [ -L "$p" ] && [ $n -lt 20 ]; do
    t=$(readlink "$p")
    case "$t" in /*) p=$dir$t ;; *) p=$(dirname "$p")/$t ;; esac
    n=$((n + 1))
  done
  echo "$p"
}
find "$dir" -type l -lname '/*' | while read -r link; do
  real=$(resolve "$link")
  [ -e "$real" ] && ln -sfn "$(realpath --relative-to="$(dirname "$link")" "$real")" "$link"
done
# Unpacking runs no maintainer scripts, so update-alternatives never made the
# libblas.so.3 / liblapack.so.3 links OpenCV needs: make them, at the real
# (reference) libraries.
libdir=$dir/usr/lib/aarch64-linux-gnu
for lib in blas lapack; do
  for so in "$libdir/$lib"/lib$lib.so*; do
    [ -e "$so" ] && [ ! -e "$libdir/$(basename "$so")" ] && ln -sfn "$lib/$(basename "$so")" "$libdir/$(basename "$so")"
  done
done
echo "${packages[*]}" >"$dir/.complete"
echo "sysroot ready: $dir"
