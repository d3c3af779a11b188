#!/usr/bin/env bash
# The tracker against plain SORT on real vehicle-camera detections, in one
# run: MOTChallenge MOT15 KITTI-13 and KITTI-17 with their public ACF
# detections (tests/data/mot15). Each tracker gets the same det.txt; every
# result is scored by `dashloop eval-mot` (HOTA as TrackEval defines it,
# CLEAR-MOT, IDF1), and HOTA/MOTA/IDF1 again by tests/tools/mot_reference.py.
# Default settings only: nothing here is tuned on these sequences.
#   scripts/bench/mot_bench.sh [BUILD_DIR]     prints a Markdown table
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
work=$build/bench/mot15
mkdir -p "$work"
py=/usr/bin/python3
echo "| sequence | tracker | HOTA | DetA | AssA | MOTA | IDF1 | ID sw | FP | FN | reference HOTA / MOTA / IDF1 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for seq in KITTI-13 KITTI-17; do
  d=tests/data/mot15/$seq
  $py tests/tools/sort_reference.py "$d/det/det.txt" "$work/$seq-sort.txt"
  "$build/dashloop" track --online --detections "$d/det/det.txt" --out "$work/$seq-online.txt" 2>/dev/null
  "$build/dashloop" track --detections "$d/det/det.txt" --out "$work/$seq-offline.txt" 2>/dev/null
  for run in sort online offline; do
    case $run in
      sort) name="SORT (Bewley 2016)" ;;
      online) name="dashloop track --online (live tracker), defaults" ;;
      offline) name="dashloop track (offline, pre-labels), defaults" ;;
    esac
    m=$("$build/dashloop" eval-mot --gt "$d/gt/gt.txt" --pred "$work/$seq-$run.txt" --json)
    r=$($py tests/tools/mot_reference.py "$d/gt/gt.txt" "$work/$seq-$run.txt")
    $py - "$m" "$r" "$seq" "$name" <<'PY'
import json, sys
m, r = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"| {sys.argv[3]} | {sys.argv[4]} | {m['hota']:.3f} | {m['deta']:.3f} | {m['assa']:.3f} | {m['mota']:.3f} | "
      f"{m['idf1']:.3f} | {m['id_switches']} | {m['false_positives']} | {m['false_negatives']} | "
      f"{r['hota']:.3f} / {r['mota']:.3f} / {r['idf1']:.3f} |")
PY
  done
done
