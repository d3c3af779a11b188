#!/usr/bin/env bash
# Renders the bundled sample drive (deterministic, no download) if missing:
#   scripts/make_sample_drive.sh [BUILD_DIR] [OUT_FILE]
# 60 s of 1280x720 at 30 fps, H.264 main, no B-frames, 1 s GOP, like a dashcam.
set -euo pipefail
build=${1:-build}
out=${2:-samples/sample_drive.mp4}
mkdir -p "$(dirname "$out")"
if [ ! -s "$out" ]; then
  "$build/dashloop-make-drive" --out "$out.part" --truth "${out%.*}.truth.json" \
    --width 1280 --height 720 --fps 30 --seconds 60 --seed 42
  mv "$out.part" "$out"
fi
echo "$out"
