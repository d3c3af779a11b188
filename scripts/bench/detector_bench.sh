#!/usr/bin/env bash
# Ingest with each detector at k=5 (every 5th frame) beside the keyframe-only
# ingest, in one run on one machine, on the dashcam-like 1080p30 drive that
# ingest_bench.sh renders (H.264 main, no B-frames, 1 s GOP, 10 Mbit/s).
#   scripts/bench/detector_bench.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# The onnx row runs a random-weight network of YOLOv8n's size (see
# tests/tools/make_onnx_models.py --bench): no real model can be downloaded
# here, so it measures inference cost, not detections.
# Prints a Markdown table for docs/BENCHMARKS.md. Needs a built tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
seconds=${2:-97}
rounds=${3:-1}
work=$build/bench
mkdir -p "$work"
drive=$(scripts/bench/bench_drive.sh "$build" "$seconds")
[ -s "$work/onnx/yolo_sized.onnx" ] || /usr/bin/python3 tests/tools/make_onnx_models.py --bench "$work/onnx"

config() {  # kind -> a config file
  local f=$work/detector_$1.toml
  case $1 in
    none) printf '[detector]\nkind = "none"\n' ;;
    motion) printf '[detector]\nkind = "motion"\nrate_hz = 6\n[tracker]\ncamera_motion = false\n' ;;
    onnx) printf '[detector]\nkind = "onnx"\nrate_hz = 6\nmodel = "%s"\nlabels = "%s"\n' \
            "$PWD/$work/onnx/yolo_sized.onnx" "$PWD/$work/onnx/labels80.txt" ;;
    *) printf '[detector]\nkind = "%s"\nrate_hz = 6\n' "$1" ;;
  esac >"$f"
  printf '[clips]\nenabled = false\n' >>"$f"  # the detectors alone; cut_bench.sh measures clips
  echo "$f"
}

kinds=(none motion cascade hog-people onnx)
for _ in $(seq "$rounds"); do
  for kind in "${kinds[@]}"; do
    rm -rf "$work/data"
    /usr/bin/time -f "%e %M" -o "$work/time" "$build/dashloop" -c "$(config "$kind")" -d "$work/data" \
      ingest -q --json "$drive" >"$work/out.json" 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
    python3 - "$kind" "$(cat "$work/time")" "$work/out.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[3]))["drives"][0]
wall, rss = sys.argv[2].split()
print(sys.argv[1], wall, rss, d["frames"], d["duration_s"], d.get("detected_frames", 0), d.get("detect_s", 0.0),
      len(d.get("tracks", [])))
PY
  done
done >"$work/detector_results"

python3 - "$work/detector_results" "$drive" "$rounds" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    k, wall, rss, frames, dur, det, det_s, tracks = line.split()
    runs.setdefault(k, []).append((float(wall), int(rss), int(frames), float(dur), int(det), float(det_s), int(tracks)))
print(f"Drive: {sys.argv[2]} (1920x1080@30 H.264); detectors at k=5, frames reach them at 640 px wide.")
print(f"Median wall time of {sys.argv[3]} round(s).\n")
print("| detector | wall s | frames/s | x real time | vs keyframe-only | detector frames | ms per detection | peak RSS MB | tracks |")
print("|---|---|---|---|---|---|---|---|---|")
base = statistics.median(r[0] for r in runs["none"])
for k in ["none", "motion", "cascade", "hog-people", "onnx"]:
    v = runs[k]
    wall = statistics.median(r[0] for r in v)
    _, rss, frames, dur, det, det_s, tracks = v[-1]
    name = {"none": "none (keyframes only)", "onnx": "onnx (YOLOv8n-sized, random weights)"}.get(k, k)
    ms = f"{1000 * det_s / det:.1f}" if det else "-"
    print(f"| {name} | {wall:.1f} | {frames / wall:.0f} | {dur / wall:.2f} | {base / wall:.2f} | {det} | {ms} | "
          f"{max(r[1] for r in v) / 1024:.0f} | {tracks} |")
PY
