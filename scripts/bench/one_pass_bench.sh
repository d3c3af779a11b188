#!/usr/bin/env bash
# One detection pass per clip (issue 32), before and after, in one run, on
# real pedestrians (opencv-doc's vtest.avi, 20 s from 10 s in, scaled to
# 1920x1080, 10 fps) ingested as a drive with the default config:
#   before: the pre-label pass alone (privacy off), then `dashloop redact` on
#           each package's clip: the redactor's own people and vehicles
#           detector (YOLOX at 640, 5 Hz), as every clip was redacted until now;
#   after:  the default, where the redactor reuses the pass's detections.
# CPU seconds (user + sys, /usr/bin/time) of each process; the head regions,
# plates and plate bands each drew (what people and vehicles place). Then the
# stages apart, each the difference of two ingests of the same drive: live
# analysis alone (no clips), + cutting and packaging (no pass, no
# redaction), + the pass (`before`'s ingest), + redaction (`after`'s).
# Prints Markdown rows.
#   scripts/bench/one_pass_bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
work=$build/bench/one-pass
mkdir -p "$work"
clip=$work/vtest1080.mp4
[ -s "$clip" ] || ffmpeg -v error -y -ss 10 -i /usr/share/doc/opencv-doc/examples/data/vtest.avi -t 20 \
  -vf scale=1920:1080 -c:v libx264 -preset veryfast -g 10 -bf 0 -pix_fmt yuv420p "$clip"
cpu() {  # CPU seconds of the command, its output to $work/last.out
  /usr/bin/time -f "%U %S" -o "$work/time" "$@" >"$work/last.out" 2>"$work/last.err" ||
    { tail -5 "$work/last.err" >&2; exit 1; }
  awk '{printf "%.1f", $1 + $2}' "$work/time"
}
rm -rf "$work/before" "$work/after"
printf '[privacy]\nfaces = "none"\nplates = "none"\n' >"$work/off.toml"
ingest_before=$(cpu "$build/dashloop" -d "$work/before" -c "$work/off.toml" ingest -q "$clip")
redact_before=0 placed_before=0 clip_s=0
for pkg in "$work"/before/packages/*/; do
  t=$(cpu "$build/dashloop" redact "$pkg/clip.mp4" "$work/redacted.mp4" --json)
  redact_before=$(echo "$redact_before + $t" | bc)
  placed_before=$((placed_before + $(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["boxes"]; print(b.get("head",0)+b.get("band",0)+b.get("plate",0))' "$work/last.out")))
  clip_s=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(sys.argv[2] + " + " + str(m["frame_count"] / m["fps"]))' "$pkg/manifest.json" "$clip_s" | bc)
done
ingest_after=$(cpu "$build/dashloop" -d "$work/after" ingest -q "$clip")
placed_after=$(python3 - "$work/after/packages" <<'PY'
import glob, json, os, sys
n = 0
for m in glob.glob(os.path.join(sys.argv[1], "*", "manifest.json")):
    p = json.load(open(m))["privacy"]
    assert p["detectors"]["objects"].get("from") == "the pre-label pass", p["detectors"]
    n += p["boxes"].get("head", 0) + p["boxes"].get("band", 0) + p["boxes"].get("plate", 0)
print(n)
PY
)
before=$(echo "$ingest_before + $redact_before" | bc)
echo "clips: $clip_s s of 1080p10 in $(ls -d "$work"/after/packages/*/ | wc -l) packages"
echo "| | CPU s (ingest: live analysis, cut, pass) | CPU s (redaction's own detector run) | CPU s in all | per clip minute | head regions, plates and plate bands drawn |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '| before: the redactor detects again | %s | %s | %s | %.0f | %s |\n' "$ingest_before" "$redact_before" "$before" \
  "$(echo "$before * 60 / $clip_s" | bc -l)" "$placed_before"
printf '| after: the pass'"'"'s detections reused | %s | (in the ingest) | %s | %.0f | %s |\n' "$ingest_after" "$ingest_after" \
  "$(echo "$ingest_after * 60 / $clip_s" | bc -l)" "$placed_after"

rm -rf "$work/live" "$work/cut"
printf '[clips]\nenabled = false\n' >"$work/live.toml"
printf '[privacy]\nfaces = "none"\nplates = "none"\n[prelabel]\nredetect = false\n' >"$work/cut.toml"
live=$(cpu "$build/dashloop" -d "$work/live" -c "$work/live.toml" ingest -q "$clip")
cut=$(cpu "$build/dashloop" -d "$work/cut" -c "$work/cut.toml" ingest -q "$clip")
drive_s=$(sqlite3 "$work/live/catalog.sqlite" "SELECT duration_s FROM drives")
echo
echo "| stage | CPU s | per minute of |"
echo "| --- | --- | --- |"
printf '| live analysis (decode, detect at 416 every 5th frame, track, keyframes) | %s | %.1f per drive minute |\n' "$live" \
  "$(echo "$live * 60 / $drive_s" | bc -l)"
stage() { printf '| %s | %.1f | %.1f per clip minute |\n' "$1" "$2" "$(echo "$2 * 60 / $clip_s" | bc -l)"; }
stage "cutting and packaging (remux, label files, manifest)" "$(echo "$cut - $live" | bc)"
stage "the pre-label pass (detect at 960 with tiles, 6 Hz; offline tracking)" "$(echo "$ingest_before - $cut" | bc)"
stage "redaction with the pass's detections (faces, plates, encode)" "$(echo "$ingest_after - $ingest_before" | bc)"
