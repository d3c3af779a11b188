#!/usr/bin/env bash
# Renders (once) the benchmarks' dashcam-like drive and prints its path:
# 1920x1080 at 30 fps, H.264 main, no B-frames, 1 s GOP, 10 Mbit/s.
#   scripts/bench/bench_drive.sh BUILD_DIR SECONDS
set -euo pipefail
build=$1
seconds=$2
drive=$build/bench/drive_1080p_${seconds}s.mp4
mkdir -p "$build/bench"
if [ ! -s "$drive" ]; then
  echo "rendering $drive (once) ..." >&2
  "$build/dashloop-make-drive" --out "$drive.part" --width 1920 --height 1080 --fps 30 --seconds "$seconds" \
    --seed 97 --bitrate 10000 --preset veryfast --threads 0 >&2
  mv "$drive.part" "$drive"
fi
echo "$drive"
