#!/usr/bin/env bash
# Installs every Debian package the build, the tests, the benchmarks and the
# main job need. Non-interactive and idempotent: safe to run twice.
#   scripts/setup.sh          build + test + run dependencies
#   scripts/setup.sh --cross  also the aarch64 cross toolchain and qemu-user
set -euo pipefail

want_cross=0
for arg in "$@"; do
  case "$arg" in
    --cross) want_cross=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  # media
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp
  # vision and its real test footage (vtest.avi, Megamind.avi)
  libopencv-dev opencv-data opencv-doc
  # firmware: catalog, bus, sync, config, logs, HTTP, systemd
  libsqlite3-dev sqlite3 libzmq3-dev cppzmq-dev libcurl4-openssl-dev
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libcpp-httplib-dev libssl-dev libsystemd-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev ffmpeg time python3 python3-numpy python3-onnx python3-scipy
)
if [ "$want_cross" -eq 1 ]; then
  packages+=(g++-aarch64-linux-gnu mmdebstrap qemu-user-static binfmt-support file)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${#missing[@]} package(s): ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all ${#packages[@]} packages already installed"
fi
