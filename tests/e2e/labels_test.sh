#!/usr/bin/env bash
# End-to-end on real footage: every package's label files, read back by each
# annotation tool's own reading rule (tests/tools/check_package.py: CVAT's
# TrackManager, Label Studio's editor and SDK, COCO), give exactly the boxes
# the package means; prints the differing count per format (target 0).
# Then the bundled detector on vtest.avi: each parked vehicle one track
# through the drive, pedestrians followed longer than HOG follows them on the
# same frames; and packages whose pre-labels were detected again.
#   labels_test.sh DASHLOOP_BINARY TESTDATA_DIR
set -uo pipefail
bin=$1
data=$2
work=$(mktemp -d /tmp/dashloop-e2e-labels.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"
printf "$unredacted" >"$work/unredacted.toml"
default_config="$work/unredacted.toml"
checker="$(dirname "$0")/../tools/check_package.py"
sample_drive="$(dirname "$0")/../../firmware/samples/solidWhiteRight.mp4"  # the bundled real sample drive

every_package_exact() {  # data dir
  local ok=0 n=0
  for p in "$1"/packages/*/; do
    /usr/bin/python3 "$checker" "$p" "$1/catalog.sqlite" --counts >"$work/one" || ok=1
    grep '"differing"' "$work/one" >>"$work/counts" || ok=1
    grep -v '"differing"' "$work/one"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] && [ $ok = 0 ]
}

real_drive() {  # name, file, what it is
  if [ ! -s "$2" ]; then
    echo "SKIPPED: $1: $2 is missing"
    return
  fi
  run -d "$work/$1" ingest -q "$2"
  check "$1 ($3), default config: exit 0" rc_is 0
  check "...every package read by CVAT's, Label Studio's and COCO's rules gives every box meant" every_package_exact "$work/$1"
}
real_drive vtest "$data/vtest_h264.mp4" "opencv-doc's real pedestrians, transcoded to H.264 by make_testdata.sh"
real_drive solidWhiteRight "$sample_drive" "a real highway dashcam drive with cars: the product's own sample"
track_stats() {  # data dir -> JSON {label: [tracks, seconds tracked, mean seconds], "_frames": n}
  "$bin" -d "$1" tracks 1 --json >"$work/tracks.json" 2>>"$work/err" || return 1
  /usr/bin/python3 - "$work/tracks.json" <<'PY'
import json, sys
t, out = json.load(open(sys.argv[1])), {}
for lab in sorted({x["label"] for x in t}):
    d = [x["last_s"] - x["first_s"] for x in t if x["label"] == lab]
    out[lab] = [len(d), round(sum(d), 1), round(sum(d) / len(d), 1)]
print(json.dumps(out))
PY
}
if [ -s "$data/vtest_h264.mp4" ]; then
  track_stats "$work/vtest" >"$work/yolox.json"
  echo "  vtest, bundled YOLOX-Nano: $(cat "$work/yolox.json")"
  check "vtest: the parked van and the parked car are one track each, through the whole 79 s (not one per class the model saw)" \
    /usr/bin/python3 -c "import json; s = json.load(open('$work/yolox.json')); v = [s[k] for k in ('car', 'truck', 'bus') if k in s]; \
import sys; sys.exit(0 if sum(x[0] for x in v) == 2 and all(x[2] >= 75 for x in v) else 1)"
  printf '[detector]\nkind = "hog-people"\n[clips]\nenabled = false\n'"$unredacted" >"$work/hog.toml"
  run -d "$work/hog" --config "$work/hog.toml" ingest -q "$data/vtest_h264.mp4"
  track_stats "$work/hog" >"$work/hog.json"
  echo "  vtest, HOG on the same frames: $(cat "$work/hog.json")"
  check "vtest: YOLOX follows pedestrians for at least twice HOG's person-seconds, in longer tracks (fewer fragments)" \
    /usr/bin/python3 -c "import json, sys; y, h = json.load(open('$work/yolox.json'))['person'], json.load(open('$work/hog.json'))['person']; \
sys.exit(0 if y[1] >= 2 * h[1] and y[2] > h[2] else 1)"
fi
if [ -s "$sample_drive" ]; then
  printf '[privacy]\nfaces = "none"\nplates = "none"\n[prelabel]\nredetect = true\n' >"$work/redetect.toml"
  run -d "$work/redetect" --config "$work/redetect.toml" ingest -q "$sample_drive"
  check "the pre-label pass: exit 0, the clip's frames detected again (the log says how long it took)" \
    bash -c "[ \"\$(cat $work/rc)\" = 0 ] && grep -q 'pre-labels re-detected' $work/err"
  check "...the package reads exactly by every tool's rule and says its labels were re-detected" every_package_exact "$work/redetect"
  check "...at the pre-label setting it pre-labels more of the cars than the live analysis did" /usr/bin/python3 -c "
import glob, json, sys
live, pre = (json.load(open(glob.glob(f'$work/{d}/packages/*/manifest.json')[0])) for d in ('solidWhiteRight', 'redetect'))
print('  boxes to check, live:', live['effort']['boxes_to_check'], 're-detected:', pre['effort']['boxes_to_check'])
sys.exit(0 if pre['labels_from'] == 'redetected' and live['labels_from'] == 'live' and '960x960' in pre['model']
         and pre['prelabel']['tracker']['kind'] == 'offline' and pre['prelabel']['rate_hz'] == 6
         and pre['effort']['boxes_to_check'] > live['effort']['boxes_to_check'] else 1)"
fi
echo "differing boxes by format, per package:"
cat "$work/counts" 2>/dev/null
finish
