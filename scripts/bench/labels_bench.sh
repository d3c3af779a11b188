#!/usr/bin/env bash
# Pre-labels read back by each annotation tool's own reading rule, on every
# package of real-footage drives ingested with the default config: how many
# boxes differ from what the package means (target 0), per format. Readers:
# tests/tools/check_package.py (CVAT's TrackManager interpolation, Label
# Studio's editor and SDK, COCO on the keyframe images).
#   scripts/bench/labels_bench.sh [BUILD_DIR]     prints a Markdown table
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
work=$(mktemp -d /tmp/dashloop-labels-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
drives=()
[ -s "$build/testdata/vtest_h264.mp4" ] && drives+=("$build/testdata/vtest_h264.mp4")
drives+=(firmware/samples/solidWhiteRight.mp4)
echo "| drive | packages | boxes meant | CVAT | Label Studio editor | Label Studio SDK | COCO (keyframes) | MOT |"
echo "|---|---|---|---|---|---|---|---|"
for drive in "${drives[@]}"; do
  name=$(basename "$drive")
  "$build/dashloop" -d "$work/$name" ingest -q "$drive" >/dev/null 2>&1
  for p in "$work/$name"/packages/*/; do
    /usr/bin/python3 tests/tools/check_package.py "$p" "$work/$name/catalog.sqlite" --counts | grep '"differing"' || true
  done >"$work/$name.counts"
  /usr/bin/python3 - "$name" "$work/$name.counts" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[2])]
tot = lambda k: sum(r["differing"][k] for r in rows)
print(f"| {sys.argv[1]} | {len(rows)} | {sum(r['boxes'] for r in rows)} | {tot('cvat')} | {tot('labelstudio')} | "
      f"{tot('labelstudio-sdk')} | {tot('coco')} | {tot('mot')} |")
PY
done
