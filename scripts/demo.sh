#!/usr/bin/env bash
# The README's first command: set up, build, and run the main job on the
# bundled sample drive (keyframes, tracks and clip packages into the embedded
# SQLite catalog and ./dashloop-data/packages), then on real street footage
# from Debian's opencv-doc (pedestrians, tracked by the default HOG detector;
# DivX, so no clips: the cutter never re-encodes). Ends with the review queue.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDASHLOOP_TESTS=ON >/dev/null
cmake --build build -j2
sample=$(scripts/make_sample_drive.sh build samples/sample_drive.mp4 | tail -n 1)
street=/usr/share/doc/opencv-doc/examples/data/vtest.avi
data=${DASHLOOP_DATA_DIR:-./dashloop-data}
build/dashloop --data-dir "$data" ingest "$sample" "$street"
ids=$(build/dashloop --data-dir "$data" drives --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d[-2]['drive_id'], d[-1]['drive_id'])")
read -r sample_id street_id <<<"$ids"
echo
echo "Keyframes of drive $sample_id (images under $data/keyframes/$sample_id/):"
build/dashloop --data-dir "$data" keyframes "$sample_id"
echo
echo "People tracked in drive $street_id ($(basename "$street")):"
build/dashloop --data-dir "$data" tracks "$street_id"
echo
echo "Clips waiting for review (packages under $data/packages/):"
build/dashloop --data-dir "$data" clips list --state review
echo
build/dashloop --data-dir "$data" status
