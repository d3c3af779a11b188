#!/usr/bin/env bash
# The README's first command: set up, build, and run the main job with the
# default config (the bundled YOLOX-Nano detector) on the bundled drives:
# the rendered sample drive, a real highway dashcam drive
# (firmware/samples/solidWhiteRight.mp4: cars) and real street footage from
# Debian's opencv-doc (vtest.avi: pedestrians; transcoded to H.264 here so
# that its clips can be cut without re-encoding). Keyframes, tracks and clip
# packages go into the embedded SQLite catalog and ./dashloop-data. Then the
# station itself (`dashloop run`, 40 s): the sample drive and the street
# footage served as two RTSP cameras (gst-rtsp-server) and a raw test
# camera, recorded, analysed as segments close, clipped, with its events on
# the bus and a driver's trigger. It ends with the objects tracked, the
# review queue and `dashloop status`.
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
# The bundled drives last minutes: at the default clip budget (2.5 minutes of
# clips an hour of driving) they would earn about 10 s of clips in all.
demo_config=$(mktemp /tmp/dashloop-demo.XXXXXX.toml)
printf '[clips]\nbudget_min_per_hour = 60  # the demo: every second driven may be clipped\n' >"$demo_config"
echo "The demo lifts the clip budget to 60 min an hour (default 2.5: the bundled drives are minutes long)"
build/dashloop --config "$demo_config" --data-dir "$data" ingest --again "$sample" "$highway" "$street"  # --again: a demo run twice
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
echo "Objects tracked in drive $street_id (opencv-doc's vtest.avi: its pedestrians, the parked van and car):"
build/dashloop --data-dir "$data" tracks "$street_id"
echo
echo "The station: dashloop run for 40 s on two simulated RTSP cameras and a raw test camera"
port=$((18554 + RANDOM % 1000))
build/dashloop-rtsp-camera --port "$port" road="$sample" street="$street" >/dev/null &
cameras=$!
trap 'kill $cameras 2>/dev/null || true' EXIT
station=$(mktemp /tmp/dashloop-demo-station.XXXXXX.toml)
cat >"$station" <<TOML
data_dir = "$data"
[[camera]]
name = "road"
source = "rtsp://127.0.0.1:$port/road"
[[camera]]
name = "street"
source = "rtsp://127.0.0.1:$port/street"
[[camera]]
name = "cabin"
source = "test://ball?width=640&height=360&fps=15"
role = "cabin"
[recording]
segment_s = 5
analysis_chunk_s = 15
[clips]
budget_min_per_hour = 60
TOML
sleep 0.5
build/dashloop --config "$station" events --seconds 42 >"$data/demo-events.jsonl" &
events=$!
(sleep 12 && build/dashloop --config "$station" trigger --camera street --note "demo: driver button" >/dev/null) &
trigger=$!
build/dashloop --config "$station" run --seconds 40
wait $events $trigger || true
kill $cameras 2>/dev/null || true
python3 - "$data/demo-events.jsonl" <<'PY'
import collections, json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print("  events on the bus:", dict(collections.Counter(e["type"] for e in ev)))
PY
echo
echo "Clips waiting for review (packages under $data/packages/, pre-labels for CVAT, MOT, COCO, Label Studio):"
build/dashloop --data-dir "$data" clips list --state review
echo
echo "An operator approves the three highest-priority clips; sync sends them to the local upload target"
echo "($data/upload-target, laid out like an S3 bucket); the cloud job collects, verifies and acks them:"
for uid in $(build/dashloop --data-dir "$data" clips list --state review --json |
  python3 -c "import json,sys; print(' '.join(c['uid'] for c in json.load(sys.stdin)[:3]))"); do
  build/dashloop --data-dir "$data" clips move "$uid" approved --by demo-operator --reason "demo"
done
build/dashloop --data-dir "$data" sync
build/dashloop collect --from "file://$data/upload-target" --to "$data/annotation-inbox" --job demo-cloud
build/dashloop --data-dir "$data" sync
build/dashloop --data-dir "$data" clips list --state acked
echo
build/dashloop --data-dir "$data" status
echo
# The depot UI stays up for the clips still in review, with a one-time
# operator made for the demo (a new password each run, replaced at the first
# login; no default account). ui.out holds it: readable by its owner only.
if [ -f "$data/ui.pid" ]; then kill "$(cat "$data/ui.pid")" 2>/dev/null || true; sleep 0.5; fi
: >"$data/ui.out"
chmod 600 "$data/ui.out"
nohup build/dashloop --data-dir "$data" ui --demo-operator demo >"$data/ui.out" 2>"$data/ui.log" &
echo $! >"$data/ui.pid"
for _ in $(seq 50); do grep -q '^ui: http' "$data/ui.out" 2>/dev/null && break; sleep 0.1; done
in_review=$(build/dashloop --data-dir "$data" clips list --state review --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "The depot UI, for the $in_review clips in review (log in with the one-time password and choose your own; open a clip, approve or reject; swipe works on a touchscreen):"
sed 's/^ui: /  /' "$data/ui.out"
echo "  (left running; stop it with: kill \$(cat $data/ui.pid))"
grep -q '^ui: http' "$data/ui.out" || { echo "demo: the UI did not start:" >&2; cat "$data/ui.log" >&2; exit 1; }
