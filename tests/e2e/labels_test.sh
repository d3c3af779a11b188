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
    bash -c "[ \"\$(cat $work/rc)\" = 0 ] && grep -q 'pre-labelled, .* tracks' $work/err"
  run -d "$work/redetect" --config "$work/redetect.toml" clips show 1 --json
  check "...the clip waited in packaged for the pass: planned -> packaged -> review, the reason says pre-labelled" json_ok \
    "[a['to'] for a in d['audit']] == ['planned', 'packaged', 'review'] and d['audit'][2]['reason'].startswith('pre-labelled')"
  check "...the package reads exactly by every tool's rule and says its labels were re-detected" every_package_exact "$work/redetect"
  check "...at the pre-label setting it pre-labels more of the cars than the live analysis did" /usr/bin/python3 -c "
import glob, json, sys
live, pre = (json.load(open(glob.glob(f'$work/{d}/packages/*/manifest.json')[0])) for d in ('solidWhiteRight', 'redetect'))
print('  boxes to check, live:', live['effort']['boxes_to_check'], 're-detected:', pre['effort']['boxes_to_check'])
sys.exit(0 if pre['labels_from'] == 'redetected' and live['labels_from'] == 'live' and '960x960' in pre['model']
         and pre['prelabel']['tracker']['kind'] == 'offline' and pre['prelabel']['rate_hz'] == 6
         and pre['effort']['boxes_to_check'] > live['effort']['boxes_to_check'] else 1)"
  # dashloop prelabel: the same pass on a package anywhere (a depot PC, the cloud job), in place. Stopped
  # midway it keeps its detector steps beside the package; the next pass resumes after them. (The trailing
  # slash: "pkg/" names the same package; it once put those files inside it and failed the swap.)
  pkg=$(ls -d "$work"/redetect/packages/*/ | head -1)
  cp -a "$pkg" "$work/copy"
  "$bin" --config "$work/redetect.toml" prelabel "$work/copy/" >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 1200); do
    [ "$(cat "$work/copy.pass-steps.jsonl" 2>/dev/null | wc -l)" -ge 12 ] && break
    sleep 0.1
  done
  kill -TERM "$pid"
  wait "$pid"
  echo $? >"$work/rc"
  kept=$(($(cat "$work/copy.pass-steps.jsonl" 2>/dev/null | wc -l) - 1))
  check "dashloop prelabel PACKAGE stopped by SIGTERM: exit 130, the package as it was, its $kept detector steps kept beside it, not in it" \
    bash -c "[ \$(cat $work/rc) = 130 ] && cmp -s $pkg/manifest.json $work/copy/manifest.json && [ $kept -ge 11 ] && \
      [ -z \"\$(ls -A $work/copy | grep -v -e '^clip.mp4$' -e '^keyframes$' -e '^labels$' -e '^manifest.json$')\" ]"
  cp -a "$pkg" "$work/broken" && echo '{"schema": "dashloop.package", "id": 7' >"$work/broken/manifest.json"
  sum=$(cd "$work/broken" && find . -type f | sort | xargs sha256sum | sha256sum)
  run --config "$work/redetect.toml" prelabel "$work/nowhere" "$work/broken" "$work/copy/"
  check "...again with a directory that is no package and a broken manifest: exit 3, each named, nothing of theirs changed" \
    bash -c "[ \$(cat $work/rc) = 3 ] && grep -q '$work/nowhere: no manifest.json' $work/err && \
      grep -q '$work/broken/manifest.json: not a Dashloop package' $work/err && \
      [ \"\$(cd $work/broken && find . -type f | sort | xargs sha256sum | sha256sum)\" = '$sum' ]"
  check "...and the good one done: resumed after those $kept steps (the log says so), the whole pass's labels (the pass is deterministic), the manifest says who ran it, the steps gone" \
    bash -c "grep -q '$work/copy/: .* tracks' $work/out && grep -q 'the pass resumed after $kept of its' $work/err && \
      cmp -s $pkg/labels/mot/gt/gt.txt $work/copy/labels/mot/gt/gt.txt && [ ! -e $work/copy.pass-steps.jsonl ] && \
      /usr/bin/python3 -c \"import json, sys; m = json.load(open('$work/copy/manifest.json')); \
sys.exit(0 if m['prelabel']['by'] == 'dashloop prelabel' and m['labels_from'] == 'redetected' else 1)\""
  check "...the package verifies and reads exactly by every tool's rule" \
    /usr/bin/python3 "$checker" "$work/copy" "$work/redetect/catalog.sqlite"

  # collect --prelabel: the cloud job runs the pass again on what it collects.
  printf '[privacy]\nfaces = "none"\nplates = "none"\n[sync]\ntarget = "file://%s/store"\n' "$work" >"$work/sync.toml"
  run -d "$work/redetect" --config "$work/sync.toml" clips move 1 approved --by test --reason test
  run -d "$work/redetect" --config "$work/sync.toml" sync
  run --config "$work/sync.toml" collect --from "file://$work/store" --to "$work/inbox" --prelabel
  check "collect --prelabel: exit 0, the package pre-labelled again on collection, its files as its manifest lists them" \
    bash -c "[ \$(cat $work/rc) = 0 ] && grep -q 'pre-labelled, ' $work/err && /usr/bin/python3 -c \"
import hashlib, json, sys
d = '$(ls -d "$work"/redetect/packages/*/ | head -1 | xargs basename)'
m = json.load(open('$work/inbox/' + d + '/manifest.json'))
ok = m['prelabel']['by'] == 'collect --prelabel' and all(
    hashlib.sha256(open('$work/inbox/' + d + '/' + f['path'], 'rb').read()).hexdigest() == f['sha256'] for f in m['files'])
sys.exit(0 if ok else 1)\""
  printf '[detector]\nkind = "none"\n' >"$work/nodetector.toml"
  run --config "$work/nodetector.toml" collect --from "file://$work/store" --to "$work/inbox2" --prelabel
  check "...with no detector configured: exit 2, said why" bash -c "[ \$(cat $work/rc) = 2 ] && grep -q 'no detector to pre-label with' $work/err"

  printf '[prelabel]\nmodel = "%s/absent.onnx"\n' "$work" >"$work/absent.toml"
  run -d "$work/absent" --config "$work/absent.toml" ingest -q "$sample_drive"
  check "a [prelabel] model that is not there: ingest refuses before decoding (exit 2), the file named, no drive" \
    bash -c "[ \$(cat $work/rc) = 2 ] && grep -q 'prelabel: $work/absent.onnx: model file not found' $work/err && \
      [ \"\$(sqlite3 $work/absent/catalog.sqlite 'SELECT count(*) FROM drives' 2>/dev/null || echo 0)\" = 0 ]"

  # The station's background pass: a clip whose pass a stop cut short waits in
  # packaged; the station's next start pre-labels it and moves it on to review.
  "$bin" -d "$work/stopped" --config "$work/redetect.toml" ingest -q "$sample_drive" >"$work/out" 2>"$work/err" &
  ingest=$!
  for _ in $(seq 600); do grep -q "pre-labelled\|clip .*: cut" "$work/err" && break
    [ "$(sqlite3 "$work/stopped/catalog.sqlite" "SELECT count(*) FROM clips WHERE state = 'packaged'" 2>/dev/null)" = 1 ] && break
    sleep 0.1; done
  sleep 2
  kill -INT $ingest; wait $ingest
  echo $? >"$work/rc"
  check "SIGINT in the pass: ingest exits 130, the clip stays packaged with its live labels" bash -c "
    [ \$(cat $work/rc) = 130 ] && [ \"\$(sqlite3 $work/stopped/catalog.sqlite 'SELECT state FROM clips')\" = packaged ] &&
    grep -q '\"labels_from\": \"live\"' $work/stopped/packages/*/manifest.json && ! ls -a $work/stopped/packages | grep -q partial"
  steps_kept=$(($(cat "$work"/stopped/packages/*.pass-steps.jsonl 2>/dev/null | wc -l) - 1))
  printf 'data_dir = "%s"\n[[camera]]\nname = "front"\nsource = "test://smpte"\n[ui]\nenabled = false\n[sync]\nenabled = false\n[privacy]\nfaces = "none"\nplates = "none"\n' \
    "$work/stopped" >"$work/station.toml"
  "$bin" --config "$work/station.toml" run --only analysis --seconds 90 >"$work/out" 2>"$work/err" &
  station=$!
  for _ in $(seq 900); do
    [ "$(sqlite3 "$work/stopped/catalog.sqlite" "SELECT state FROM clips" 2>/dev/null)" = review ] && break
    sleep 0.1; done
  kill -TERM $station; wait $station
  echo $? >"$work/rc"
  check "...the station's next start pre-labels it in the background and moves it on to review, exit 0" bash -c "
    [ \$(cat $work/rc) = 0 ] && [ \"\$(sqlite3 $work/stopped/catalog.sqlite 'SELECT state FROM clips')\" = review ] &&
    grep -q '\"by\": \"station\"' $work/stopped/packages/*/manifest.json || { tail -5 $work/err; false; }"
  echo "  the stopped ingest's pass had kept $steps_kept detector steps"
  if [ "$steps_kept" -gt 0 ]; then
    check "...resuming after the $steps_kept steps the stopped pass kept (its log says so)" grep -q "the pass resumed after $steps_kept of its" "$work/err"
  fi
  check "...and the package reads exactly by every tool's rule" every_package_exact "$work/stopped"
fi
echo "differing boxes by format, per package:"
cat "$work/counts" 2>/dev/null
finish
