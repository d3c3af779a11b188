#!/usr/bin/env bash
# Ingest throughput against decode-only and ffmpeg's scene select, in one run
# on one machine, on a dashcam-like drive: 1080p30 H.264 main profile, no
# B-frames, 1 s GOP, about 10 Mbit/s, 97 s.
#   scripts/bench/ingest_bench.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# Runs the four commands in turn, ROUNDS times (default 3), and reports the
# median of each (the two cores' other load moves single runs by +-4 %).
# Measures the keyframe path only: detection and clips are turned off here (on
# by default); scripts/bench/detector_bench.sh measures each detector.
# Prints a Markdown table for docs/BENCHMARKS.md. Needs a built tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
seconds=${2:-97}
rounds=${3:-3}
work=$build/bench
mkdir -p "$work"
drive=$(scripts/bench/bench_drive.sh "$build" "$seconds")
printf '[detector]\nkind = "none"\n[clips]\nenabled = false\n' >"$work/keyframes_only.toml"

. scripts/bench/lib.sh

rm -rf "$work/data"
for _ in $(seq "$rounds"); do
  measure "%e %M" decode gst-launch-1.0 -q filesrc location="$drive" ! decodebin ! fakesink sync=false
  measure "%e %M" full "$build/dashloop" -c "$work/keyframes_only.toml" -d "$work/data" ingest -q --again --mode full "$drive"
  measure "%e %M" ffmpeg ffmpeg -nostdin -hide_banner -loglevel error -i "$drive" -vf "select='gt(scene,0.3)'" -f null -
  measure "%e %M" triage "$build/dashloop" -c "$work/keyframes_only.toml" -d "$work/data" ingest -q --again --mode triage "$drive"
done >"$work/results"

python3 - "$work/results" "$drive" "$seconds" "$rounds" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    k, s, rss = line.split()
    runs.setdefault(k, []).append((float(s), int(rss)))
rows = {k: (statistics.median(s for s, _ in v), max(r for _, r in v)) for k, v in runs.items()}
secs = float(sys.argv[3])
t = {k: v[0] for k, v in rows.items()}
print(f"Drive: {sys.argv[2]} ({secs:.0f} s, 1920x1080@30, H.264 main, no B-frames, GOP 30, 10 Mbit/s)")
print(f"Median of {sys.argv[4]} rounds; every run's seconds in the last column.\n")
print("| run | wall s | x real time | peak RSS MB | runs (s) |")
print("|---|---|---|---|---|")
names = {"decode": "(a) gst-launch decode only to fakesink", "full": "(b) dashloop ingest --mode full",
         "ffmpeg": "(c) ffmpeg select='gt(scene,0.3)'", "triage": "(d) dashloop ingest --mode triage"}
for k in ["decode", "full", "ffmpeg", "triage"]:
    s, rss = rows[k]
    each = ", ".join(f"{x:.2f}" for x, _ in runs[k])
    print(f"| {names[k]} | {s:.2f} | {secs / s:.1f} | {rss / 1024:.0f} | {each} |")
print()
per_round = [d / f for (d, _), (f, _) in zip(runs["decode"], runs["full"])]
print(f"- full vs decode-only throughput: (b)/(a) = {t['decode'] / t['full']:.2f} (target >= 0.9); "
      f"per round: {', '.join(f'{r:.2f}' for r in per_round)}")
print(f"- triage vs ffmpeg scene select: (d)/(c) = {t['ffmpeg'] / t['triage']:.2f}x faster (target >= 3)")
print(f"- peak RSS: full {rows['full'][1] / 1024:.0f} MB, triage {rows['triage'][1] / 1024:.0f} MB (target <= 300)")
PY
