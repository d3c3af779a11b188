#!/usr/bin/env bash
# End-to-end: `dashloop detect` with the bundled YOLOX-Nano on real street
# frames with ground truth (MOTChallenge MOT17, ../shared/data/mot17-dev):
# person recall and precision at IoU 0.5 (tests/tools/det_eval.py) above
# floors set from measurement, so a broken decoder or preprocessing fails;
# bad inputs are named with a non-zero exit.
#   detect_test.sh DASHLOOP_BINARY TESTDATA_DIR
set -uo pipefail
bin=$1
data=$2
work=$(mktemp -d /tmp/dashloop-e2e-detect.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"
eval_py="$(dirname "$0")/../tools/det_eval.py"
mot17="$(dirname "$0")/../../../shared/data/mot17-dev"

detect_config=  # a config for `detect` (-c), else the defaults
# setting, floors: recall precision (measured 0.88 / 0.73 pre-label, 0.50 / 0.80 live)
person_scores() {  # extra flags...; prints "recall precision"
  local seq
  for seq in MOT17-02-FRCNN MOT17-04-FRCNN MOT17-09-FRCNN; do
    "$bin" ${detect_config:+-c "$detect_config"} detect "$mot17/$seq/img1" --classes person --out "$work/$seq.det" "$@" \
      2>>"$work/err" || return 1
  done
  /usr/bin/python3 - "$mot17" "$work" "$eval_py" <<'PY'
import json, subprocess, sys
mot17, work, ev = sys.argv[1:4]
f = p = t = 0
for seq in ["MOT17-02-FRCNN", "MOT17-04-FRCNN", "MOT17-09-FRCNN"]:
    r = json.loads(subprocess.run(["/usr/bin/python3", ev, f"{mot17}/{seq}/gt/gt.txt", f"{work}/{seq}.det"],
                                  check=True, capture_output=True, text=True).stdout)
    f, p, t = f + r["found"], p + r["false_positives"], t + r["to_find"]
print(f"{f / t:.3f} {f / (f + p):.3f}")
PY
}
at_least() {  # flags... -- min_recall min_precision
  local args=() r
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  r=$(person_scores "${args[@]}") || return 1
  echo "  person recall, precision: $r"
  /usr/bin/python3 -c "import sys; r, p = map(float, '$r'.split()); sys.exit(0 if r >= $2 and p >= $3 else 1)"
}
if [ -d "$mot17" ]; then
  check "pre-label setting (input 960, full width): person recall >= 0.85, precision >= 0.70 on MOT17 frames" at_least -- 0.85 0.70
  check "live setting (input 416 at 640 px): person recall >= 0.45, precision >= 0.75" at_least --live -- 0.45 0.75
  run detect "$mot17/MOT17-09-FRCNN/img1/000001.jpg" --json
  check "one image as JSON: class names, the detector named with its input size" json_ok \
    "'(yolox, 960x960)' in d['detector'] and d['detections'] and all(x['class'] in ('person','bicycle','car','motorcycle','bus','truck','traffic light','stop sign') and x['frame'] == 1 for x in d['detections'])"
  # NanoDet-Plus (../shared/models, not bundled): its own output layout and preprocessing decoded right
  nanodet="$(dirname "$0")/../../../shared/models/nanodet_plus_m_960.onnx"
  if [ -s "$nanodet" ]; then
    printf '[detector]\nmodel = "%s"\nmin_score = 0.35\n[prelabel]\ninput_size = 960\n' "$(realpath "$nanodet")" >"$work/nanodet.toml"
    detect_config="$work/nanodet.toml"
    check "NanoDet-Plus-m at 960 (format auto: six outputs): person recall >= 0.75, precision >= 0.65 (measured 0.80 / 0.74)" \
      at_least -- 0.75 0.65
    detect_config=
  else
    echo "SKIPPED: NanoDet-Plus recall: $nanodet is absent (../shared/models)"
  fi
else
  echo "SKIPPED: MOT17 recall and precision: $mot17 is absent (../shared/data/mot17-dev)"
fi
run detect "$data/drive_short.mp4" --live --out "$work/video.det"
check "a video: exit 0, MOTChallenge rows with 1-based frames" bash -c \
  "[ \"\$(cat $work/rc)\" = 0 ] && awk -F, 'NF != 10 || \$1 < 1 || \$2 != -1 { bad = 1 } END { exit bad }' $work/video.det"
run detect "$work/nothing.jpg"
check "a missing input: exit 3, named" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'nothing.jpg: no such file' $work/err"
mkdir -p "$work/empty"
run detect "$work/empty"
check "a directory without images: exit 3, named" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'empty: a directory without images' $work/err"
head -c 5000 /dev/urandom >"$work/broken.jpg"
run detect "$work/broken.jpg"
check "an unreadable image: exit 3, named, no crash" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'broken.jpg: not a readable image' $work/err"
run detect "$data/garbage.mp4"
check "a garbage video: exit 3, named" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'garbage.mp4' $work/err"
finish
