#!/usr/bin/env bash
# Cutting 20 s out of 1080p recorded segments, side by side in one run:
#   - dashloop's cutter (keyframe-aligned remux into faststart MP4),
#   - ffmpeg -ss FROM -t 20 -c copy (+faststart), on the same segments,
#   - ffmpeg re-encoding the same 20 s (libx264 veryfast, +faststart),
#   - for context, ffmpeg -c copy from the source MP4 (one file, with an index),
# each as one process, wall time by /usr/bin/time, median of ROUNDS. Then the
# time to build a package for that clip with 30 tracks.
#   scripts/bench/cut_bench.sh [BUILD_DIR] [ROUNDS]
# Segments: the benchmark drive (1080p30 H.264, 10 Mbit/s, 1 s GOP) split into
# 60 s MPEG-TS segments as the recorder writes them; the cut, 50 s to 70 s,
# crosses a segment boundary. Prints a Markdown table for docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rounds=${2:-5}
work=$build/bench/cut
mkdir -p "$work"
drive=$(scripts/bench/bench_drive.sh "$build" 97)
if [ ! -s "$work/seg01.ts" ]; then
  gst-launch-1.0 -q filesrc location="$drive" ! qtdemux ! h264parse config-interval=-1 ! \
    splitmuxsink muxer=mpegtsmux max-size-time=60000000000 location="$work/seg%02d.ts"
fi
segments=("$work"/seg*.ts)
"$build/dashloop-cut-bench" index "${segments[@]}" >"$work/index.json"
printf "file '%s'\n" "${segments[@]/#/$PWD/}" >"$work/concat.txt"

. scripts/bench/lib.sh
for _ in $(seq "$rounds"); do
  measure "%e" dashloop "$build/dashloop-cut-bench" cut "$work/index.json" 50 70 "$work/ours.mp4"
  measure "%e" ffmpeg_copy ffmpeg -v error -y -f concat -safe 0 -ss 50 -i "$work/concat.txt" -t 20 -c copy \
    -movflags +faststart "$work/copy.mp4"
  measure "%e" ffmpeg_copy_mp4 ffmpeg -v error -y -ss 50 -i "$drive" -t 20 -c copy -movflags +faststart "$work/copy_mp4.mp4"
  measure "%e" ffmpeg_reencode ffmpeg -v error -y -f concat -safe 0 -ss 50 -i "$work/concat.txt" -t 20 -c:v libx264 \
    -preset veryfast -movflags +faststart "$work/reencode.mp4"
done >"$work/runs.txt"
"$build/dashloop-cut-bench" cut "$work/index.json" 50 70 "$work/ours.mp4" --package "$work/package" >"$work/package.txt"

frames() { ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }
python3 - "$work/runs.txt" "$work/package.txt" "$(frames "$work/ours.mp4")" "$(frames "$work/copy.mp4")" \
  "$(frames "$work/reencode.mp4")" "$rounds" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, s = line.split()
    runs.setdefault(label, []).append(float(s))
med = {k: statistics.median(v) for k, v in runs.items()}
pkg = next(l for l in open(sys.argv[2]) if l.startswith("package_s")).split()
ours, copy, reenc, rounds = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
print(f"| cut of 20 s (1080p30, 2 segments) | wall s, median of {rounds} | frames out | vs dashloop |")
print("|---|---|---|---|")
print(f"| dashloop cutter (remux, keyframe-aligned) | {med['dashloop']:.3f} | {ours} | 1.00 |")
print(f"| ffmpeg -c copy | {med['ffmpeg_copy']:.3f} | {copy} | {med['ffmpeg_copy'] / med['dashloop']:.2f} |")
print(f"| (context) ffmpeg -c copy from the one indexed MP4 | {med['ffmpeg_copy_mp4']:.3f} | | {med['ffmpeg_copy_mp4'] / med['dashloop']:.2f} |")
print(f"| ffmpeg re-encode (libx264 veryfast) | {med['ffmpeg_reencode']:.3f} | {reenc} | {med['ffmpeg_reencode'] / med['dashloop']:.1f} |")
print()
print(f"dashloop / ffmpeg copy = {med['dashloop'] / med['ffmpeg_copy']:.2f} (target <= 1.2); "
      f"re-encode / dashloop = {med['ffmpeg_reencode'] / med['dashloop']:.1f} (target >= 20)")
print(f"package for that clip: {float(pkg[1]):.3f} s ({pkg[3]} tracks, {pkg[5]} detector boxes; "
      f"labels in 4 formats, keyframes, sha256 of every file)")
PY
