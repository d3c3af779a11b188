#!/usr/bin/env bash
# Redacting a 20 s 1080p clip of real pedestrians (opencv-doc's vtest.avi,
# 20 s from 10 s in, scaled to 1920x1080, 10 fps), side by side in one run:
#   - `dashloop redact` (default policy: detection at 5 Hz, faces, heads,
#     plates, blur, x264 re-encode with the original's timestamps and GOP),
#   - ffmpeg blurring the very same boxes (a mask video made from dashloop's
#     --json boxes; boxblur, maskedmerge) and encoding with libx264 veryfast
#     at the same quality: the drawing and encoding alone, no detection.
# Wall time by /usr/bin/time, median of ROUNDS; prints Markdown rows.
#   scripts/bench/privacy_bench.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rounds=${2:-3}
work=$build/bench/privacy
mkdir -p "$work"
clip=$work/vtest1080.mp4
[ -s "$clip" ] || ffmpeg -v error -y -ss 10 -i /usr/share/doc/opencv-doc/examples/data/vtest.avi -t 20 \
  -vf scale=1920:1080 -c:v libx264 -preset veryfast -g 10 -bf 0 -pix_fmt yuv420p "$clip"
"$build/dashloop" redact "$clip" "$work/ours.mp4" --json >"$work/boxes.json"
/usr/bin/python3 - "$work/boxes.json" "$work/mask.gray" <<'PY'
import json, sys
import numpy as np
d = json.load(open(sys.argv[1]))
with open(sys.argv[2], "wb") as out:
    for boxes in d["by_frame"]:
        m = np.zeros((1080, 1920), np.uint8)
        for b in boxes:
            x0, y0 = max(0, int(b["x"])), max(0, int(b["y"]))
            m[y0:max(y0, int(b["y"] + b["h"]) + 1), x0:max(x0, int(b["x"] + b["w"]) + 1)] = 255
        out.write(m.tobytes())
print(f"{len(d['by_frame'])} frames, {sum(len(b) for b in d['by_frame'])} boxes: {d['boxes']}", file=sys.stderr)
PY
. scripts/bench/lib.sh
for _ in $(seq "$rounds"); do
  measure "%e %U %S" dashloop "$build/dashloop" redact "$clip" "$work/ours.mp4"
  measure "%e %U %S" ffmpeg ffmpeg -v error -y -i "$clip" -f rawvideo -pix_fmt gray -s 1920x1080 -r 10 -i "$work/mask.gray" \
    -filter_complex "[0:v]format=gbrp,split[a][b];[b]boxblur=20:2[bl];[1:v]format=gbrp[m];[a][bl][m]maskedmerge,format=yuv420p" \
    -c:v libx264 -preset veryfast -crf 21 -g 10 -bf 0 "$work/ffmpeg.mp4"
done | /usr/bin/python3 -c "
import sys, statistics
t = {}
for line in sys.stdin:
    label, wall, user, sys_ = line.split()
    t.setdefault(label, []).append((float(wall), float(user) + float(sys_)))
med = {k: statistics.median(w for w, _ in v) for k, v in t.items()}
cpu = {k: statistics.median(c for _, c in v) for k, v in t.items()}
print('| tool | wall s (median) | CPU s | per clip minute, wall s | vs ffmpeg |')
print('| --- | --- | --- | --- | --- |')
for k in ('dashloop', 'ffmpeg'):
    print(f'| {k} | {med[k]:.2f} | {cpu[k]:.2f} | {med[k] * 3:.1f} | {med[k] / med[\"ffmpeg\"]:.2f}x |')
"
