#!/usr/bin/env bash
# End-to-end: tracking as a user runs it. `dashloop track` and `eval-mot` on
# a generated MOTChallenge scene; ingest with detectors storing tracks.
#   tracking_test.sh DASHLOOP MAKE_MOT TESTDATA_DIR
set -uo pipefail
bin=$1
make_mot=$2
data=$3
work=$(mktemp -d /tmp/dashloop-e2e-track.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"

# --- the tracker alone, in MOTChallenge formats -----------------------------
"$make_mot" --out "$work/mot" --seed 21 --frames 600
run track --detections "$work/mot/det.txt" --out "$work/mot/res.txt"
check "track writes MOTChallenge results" bash -c "[ \"\$(cat $work/rc)\" = 0 ] && \
  awk -F, 'NF != 10 || \$8 != -1 || \$2 < 1 { bad = 1 } END { exit bad || NR < 100 }' $work/mot/res.txt"
run eval-mot --gt "$work/mot/gt.txt" --pred "$work/mot/res.txt" --json
check "eval-mot scores it: MOTA >= 0.85, IDF1 >= 0.80" json_ok "d['mota'] >= 0.85 and d['idf1'] >= 0.80 and d['gt_ids'] > 10"
same_as_reference() {  # pred: eval-mot's counts equal an independent SciPy implementation's
  "$bin" eval-mot --gt "$work/mot/gt.txt" --pred "$1" --json >"$work/ours.json" &&
    /usr/bin/python3 "$(dirname "$0")/../tools/mot_reference.py" "$work/mot/gt.txt" "$1" >"$work/ref.json" &&
    python3 -c "
import json, math
a, b = json.load(open('$work/ours.json')), json.load(open('$work/ref.json'))
keys = ['matches', 'false_positives', 'false_negatives', 'id_switches']
ok = all(a[k] == b[k] for k in keys) and math.isclose(a['mota'], b['mota']) and math.isclose(a['idf1'], b['idf1'])
print('  ours', {k: a[k] for k in keys + ['mota', 'idf1']}); print('  ref ', b)
raise SystemExit(0 if ok else 1)"
}
check "eval-mot equals the SciPy reference on the tracker's results" same_as_reference "$work/mot/res.txt"
check "...and on the raw detections" same_as_reference "$work/mot/det.txt"
run eval-mot --gt "$work/mot/gt.txt" --pred "$work/mot/gt.txt"
check "ground truth against itself: MOTA 1, IDF1 1" bash -c "grep -q 'MOTA 1.0000  MOTP 1.0000  IDF1 1.0000' $work/out"
run eval-mot --gt "$work/mot/gt.txt" --pred "$work/mot/det.txt" --json
check "raw detections carry no identities: IDF1 far below the tracker's" json_ok "d['idf1'] < 0.5"

printf '1,-1,10,10,20,40,0.9\n2,-1,10,10,20\n' >"$work/bad_det.txt"
run track --detections "$work/bad_det.txt" --out "$work/bad_res.txt"
check "malformed detections: exit 3, file and line named" bash -c \
  "[ \"\$(cat $work/rc)\" = 3 ] && grep -qF '$work/bad_det.txt:2: expected frame,id,x,y,w,h' $work/err && [ ! -e $work/bad_res.txt ]"
printf '1,1,10,10,20,40,1\nx,1,0,0,1,1,1\n' >"$work/bad_gt.txt"
run eval-mot --gt "$work/bad_gt.txt" --pred "$work/mot/res.txt"
check "malformed ground truth: exit 3, file and line named" bash -c \
  "[ \"\$(cat $work/rc)\" = 3 ] && grep -qF '$work/bad_gt.txt:2: frame must be' $work/err"
run eval-mot --gt "$work/nope.txt" --pred "$work/mot/res.txt"
check "missing file: usage error (2), named" bash -c "[ \"\$(cat $work/rc)\" = 2 ] && grep -q nope.txt $work/err"

# --- ingest with a detector --------------------------------------------------
vtest=/usr/share/doc/opencv-doc/examples/data/vtest.avi
d="$work/data"
printf '[detector]\nkind = "motion"\nrate_hz = 5\n[tracker]\ncamera_motion = false\n' >"$work/motion.toml"
run -c "$work/motion.toml" -d "$d" ingest "$vtest" --json
check "ingest with the motion detector (fixed camera) stores tracks" json_ok \
  "d['drives'][0]['detector'] == 'motion:mog2' and len(d['drives'][0]['tracks']) >= 5 \
   and d['drives'][0]['detected_frames'] == 398 and d['drives'][0]['detection_skipped'] == 0 \
   and d['drives'][0]['events'] >= 2 * len(d['drives'][0]['tracks'])"
run -d "$d" tracks 1 --boxes
check "tracks --boxes: dense ids, boxes inside the 768x576 frame, frames in order" json_ok \
  "[t['track'] for t in d] == list(range(1, len(d) + 1)) \
   and all(0 <= b['x'] and 0 <= b['y'] and b['x'] + b['w'] <= 768.5 and b['y'] + b['h'] <= 576.5 for t in d for b in t['boxes']) \
   and all([b['frame'] for b in t['boxes']] == sorted(b['frame'] for b in t['boxes']) for t in d) \
   and all(t['first_frame'] == t['boxes'][0]['frame'] for t in d)"
check "events: every track started and ended once" bash -c "
  s=\$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM track_events WHERE kind='track.started'\")
  e=\$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM track_events WHERE kind='track.ended'\")
  n=\$(sqlite3 $d/catalog.sqlite 'SELECT count(*) FROM tracks')
  c=\$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM track_events WHERE kind='class.seen'\")
  [ \$s = \$n ] && [ \$e = \$n ] && [ \$c = 1 ]"
run -d "$d" tracks 1
check "tracks prints a table" bash -c "[ \"\$(cat $work/rc)\" = 0 ] && grep -q 'moving' $work/out"
run -d "$d" tracks 99
check "tracks of an unknown drive: exit 3" rc_is 3

printf '[detector]\nkind = "hog-people"\n' >"$work/hog.toml"
run -c "$work/hog.toml" -d "$d" ingest "$data/drive_short.mp4" --json
check "ingest with hog-people on a drive without people: runs, few or no tracks" json_ok \
  "d['drives'][0]['detector'] == 'hog-people' and d['drives'][0]['detected_frames'] == 60"

before=$(sqlite3 "$d/catalog.sqlite" 'SELECT count(*) FROM drives; SELECT count(*) FROM tracks')
printf '[detector]\nkind = "onnx"\nmodel = "%s"\nlabels = "%s"\ninput_size = 64\n' \
  "$data/onnx/wrong_shape.onnx" "$data/onnx/labels.txt" >"$work/onnx_bad.toml"
run -c "$work/onnx_bad.toml" -d "$d" ingest --again "$data/drive_short.mp4"
check "wrong-shaped model: exit 2, the model and the expected shape named" bash -c \
  "[ \"\$(cat $work/rc)\" = 2 ] && grep -qF '$data/onnx/wrong_shape.onnx: model output is [1,5,6]; expected [1,N,8] (YOLOv5) or [1,7,N] (YOLOv8)' $work/err"
printf '[detector]\nkind = "onnx"\nmodel = "%s/none.onnx"\nlabels = "%s"\n' "$work" "$data/onnx/labels.txt" >"$work/onnx_missing.toml"
run -c "$work/onnx_missing.toml" -d "$d" ingest --again "$data/drive_short.mp4"
check "missing model: exit 2, named" bash -c "[ \"\$(cat $work/rc)\" = 2 ] && grep -qF '$work/none.onnx: model file not found' $work/err"
run -c "$work/onnx_missing.toml" -d "$d" doctor
check "doctor with a missing model: exit 1, names it" bash -c \
  "[ \"\$(cat $work/rc)\" = 1 ] && grep -qF 'detector:    $work/none.onnx: model file not found' $work/out"
check "...and the catalog is as it was" [ "$before" = "$(sqlite3 "$d/catalog.sqlite" 'SELECT count(*) FROM drives; SELECT count(*) FROM tracks')" ]
printf '[detector]\nkind = "onnx"\nmodel = "%s"\nlabels = "%s"\ninput_size = 64\n' \
  "$data/onnx/yolov8.onnx" "$data/onnx/labels.txt" >"$work/onnx.toml"
run -c "$work/onnx.toml" -d "$d" doctor --json
check "doctor with a good model: ok, names the model, its layout and input size, and where it runs" json_ok \
  "d['ok'] and d['detector']['status'].endswith('yolov8.onnx (yolov8, 64x64) on cpu')"
# The test model puts a car and a person on one box: per-class NMS alone (cross_class_iou = 1) keeps both.
printf 'cross_class_iou = 1.0\n' >>"$work/onnx.toml"
run -c "$work/onnx.toml" -d "$d" ingest --again "$data/drive_short.mp4" --json
check "ingest with an ONNX model: its constant car, person and bicycle become three tracks" json_ok \
  "sorted(t['label'] for t in d['drives'][0]['tracks']) == ['bicycle', 'car', 'person'] \
   and all(t['detections'] == 60 for t in d['drives'][0]['tracks'])"

# --- real vehicle-camera detections: MOTChallenge MOT15 KITTI-13/17, public ACF detections ---
mot15="$(dirname "$0")/../data/mot15"
beats_sort() {  # sequence: ours (default config, offline) better on HOTA, MOTA and IDF1; HOTA as the reference computes it
  local seq=$mot15/$1
  /usr/bin/python3 "$(dirname "$0")/../tools/sort_reference.py" "$seq/det/det.txt" "$work/sort.txt" || return 1
  "$bin" track --detections "$seq/det/det.txt" --out "$work/ours.txt" 2>"$work/err" || return 1
  grep -q 'scores mapped to their quantile' "$work/err" || { echo "  ACF scores were not mapped: $(cat $work/err)"; return 1; }
  "$bin" eval-mot --gt "$seq/gt/gt.txt" --pred "$work/sort.txt" --json >"$work/m_sort.json" || return 1
  "$bin" eval-mot --gt "$seq/gt/gt.txt" --pred "$work/ours.txt" --json >"$work/m_ours.json" || return 1
  /usr/bin/python3 "$(dirname "$0")/../tools/mot_reference.py" "$seq/gt/gt.txt" "$work/ours.txt" >"$work/m_ref.json" || return 1
  /usr/bin/python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
s, o, r = (json.load(open(f"{w}/m_{n}.json")) for n in ("sort", "ours", "ref"))
print(f"  SORT HOTA {s['hota']:.3f} MOTA {s['mota']:.3f} IDF1 {s['idf1']:.3f}; ours HOTA {o['hota']:.3f} MOTA {o['mota']:.3f} IDF1 {o['idf1']:.3f}")
assert abs(o["hota"] - r["hota"]) < 1e-6, ("HOTA differs from the reference", o["hota"], r["hota"])
assert o["mota"] > s["mota"] and o["hota"] > s["hota"] and o["idf1"] > s["idf1"]
PY
}
check "KITTI-13: the tracker with its defaults beats SORT on HOTA, MOTA and IDF1" beats_sort KITTI-13
check "KITTI-17: the tracker with its defaults beats SORT on HOTA, MOTA and IDF1" beats_sort KITTI-17
run track --detections "$mot15/KITTI-17/det/det.txt" --out "$work/x.txt" --score-map none --min-score 20
check "track --score-map none --min-score 20 (the file's own units): runs, says what it kept" bash -c \
  "[ \"\$(cat $work/rc)\" = 0 ] && grep -q 'scores as they are' $work/err && grep -q 'under the minimum dropped' $work/err"

finish
