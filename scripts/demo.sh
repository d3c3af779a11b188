#!/usr/bin/env bash
# The README's first command: set up, build, and run the main job with the
# default config (the bundled YOLOX-Nano detector) on the bundled drives:
# the rendered sample drive, a real highway dashcam drive
# (firmware/samples/solidWhiteRight.mp4: cars) and real street footage from
# Debian's opencv-doc (vtest.avi: pedestrians; transcoded to H.264 here so
# that its clips can be cut without re-encoding). Keyframes, tracks and clip
# packages go into the embedded SQLite catalog and ./dashloop-data; it ends
# with the objects tracked, the review queue and `dashloop status`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDASHLOOP_TESTS=ON >/dev/null
cmake --build build -j2
sample=$(scripts/make_sample_drive.sh build samples/sample_drive.mp4 | tail -n 1)
highway=firmware/samples/solidWhiteRight.mp4
street=samples/vtest_h264.mp4
if [ ! -s "$street" ]; then
  ffmpeg -v error -y -i /usr/share/doc/opencv-doc/examples/data/vtest.avi -an -c:v libx264 -preset veryfast -g 10 \
    -bf 0 -pix_fmt yuv420p samples/vtest_h264.part.mp4
  mv samples/vtest_h264.part.mp4 "$street"
fi
data=${DASHLOOP_DATA_DIR:-./dashloop-data}
build/dashloop --data-dir "$data" ingest "$sample" "$highway" "$street"
ids=$(build/dashloop --data-dir "$data" drives --json |
  python3 -c "import json,sys; d=json.load(sys.stdin); print(d[-3]['drive_id'], d[-2]['drive_id'], d[-1]['drive_id'])")
read -r sample_id highway_id street_id <<<"$ids"
echo
echo "Keyframes of drive $sample_id (images under $data/keyframes/$sample_id/):"
build/dashloop --data-dir "$data" keyframes "$sample_id"
echo
echo "Cars tracked in drive $highway_id ($(basename "$highway"), a real highway drive):"
build/dashloop --data-dir "$data" tracks "$highway_id"
echo
echo "Objects tracked in drive $street_id (opencv-doc's vtest.avi: its pedestrians and the parked car):"
build/dashloop --data-dir "$data" tracks "$street_id"
echo
echo "Clips waiting for review (packages under $data/packages/, pre-labels for CVAT, MOT, COCO, Label Studio):"
build/dashloop --data-dir "$data" clips list --state review
echo
build/dashloop --data-dir "$data" status
