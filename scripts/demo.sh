#!/usr/bin/env bash
# The README's first command: set up, build, and run the main job on the
# bundled sample drive (keyframes into the embedded SQLite catalog).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDASHLOOP_TESTS=ON >/dev/null
cmake --build build -j2
sample=$(scripts/make_sample_drive.sh build samples/sample_drive.mp4 | tail -n 1)
data=${DASHLOOP_DATA_DIR:-./dashloop-data}
build/dashloop --data-dir "$data" ingest "$sample"
id=$(build/dashloop --data-dir "$data" drives --json | python3 -c "import json,sys; print(json.load(sys.stdin)[-1]['drive_id'])")
echo
echo "Keyframes of drive $id (images under $data/keyframes/$id/):"
build/dashloop --data-dir "$data" keyframes "$id"
