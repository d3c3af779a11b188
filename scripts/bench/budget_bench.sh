#!/usr/bin/env bash
# What the clip budget sends to review from a drive, against what
# the vehicle recorded: one rendered drive (640x360, 30 fps, 1.5 Mbit/s, a
# scene change every few seconds, MINUTES long) ingested as one camera with
# the default budget (2.5 min an hour) and with none. The detector is off
# and packages are unredacted: a rendered drive holds no COCO objects, and
# neither changes how many seconds the budget keeps; the rules still find
# every scene cut and the random sample. Prints a Markdown table.
#   scripts/bench/budget_bench.sh [BUILD_DIR] [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
minutes=${2:-20}
work=$build/bench/budget
mkdir -p "$work"
drive=$work/drive_360p_${minutes}m.mp4
if [ ! -s "$drive" ]; then
  echo "rendering $drive (once) ..." >&2
  "$build/dashloop-make-drive" --out "$drive.part" --width 640 --height 360 --fps 30 --seconds $((minutes * 60)) \
    --seed 11 --bitrate 1500 --preset veryfast --threads 0 >&2
  mv "$drive.part" "$drive"
fi
recording=$(stat -c %s "$drive")
echo "| budget_min_per_hour | clips | clip minutes | spans not kept | package bytes (all files) | recording bytes | recording / packages |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for budget in 2.5 0; do
  d=$work/data-$budget
  rm -rf "$d"
  printf '[detector]\nkind = "none"\n[clips]\nbudget_min_per_hour = %s\n[privacy]\nfaces = "none"\nplates = "none"\n' \
    "$budget" >"$work/budget-$budget.toml"
  "$build/dashloop" -c "$work/budget-$budget.toml" -d "$d" ingest -q --json "$drive" >"$work/out-$budget.json" \
    2>"$work/err-$budget.log"
  packages=$(du -sb "$d/packages" | cut -f1)
  /usr/bin/python3 - "$work/out-$budget.json" "$d/catalog.sqlite" "$budget" "$packages" "$recording" <<'PY'
import json, sqlite3, sys
out, db, budget, packages, recording = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
clips = json.load(open(out))["drives"][0]["clips"]
n, seconds = sqlite3.connect(db).execute("SELECT COUNT(*), SUM(end_s - start_s) FROM clips").fetchone()
print(f"| {budget} | {n} | {seconds / 60:.2f} | {len(clips['dropped'])} | {packages} | {recording} | {recording / packages:.1f} |")
PY
done
