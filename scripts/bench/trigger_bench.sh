#!/usr/bin/env bash
# Trigger to review (issue 32): two simulated 1080p30 H.264 IP cameras
# (dashloop-rtsp-camera on loopback) serving real street footage (the bundled
# highway drive, scaled to 1080p and looped), one `dashloop run` with the
# default config (privacy, the pre-label pass, segment and chunk lengths),
# a driver's `dashloop trigger` on cam1 once both cameras have recorded for
# WARM_S; the time until the trigger's clip is in `review` (polled in the
# catalog every 0.2 s). Then again with a CPU hog taking one core (a busy
# Python loop, as `stress-ng --cpu 1` would). The camera server shares the
# 2 cores. Prints a Markdown table.
#   [WARM_S=20] [LIMIT_S=240] scripts/bench/trigger_bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
warm=${WARM_S:-20}
limit=${LIMIT_S:-240}
work=$build/bench/trigger
mkdir -p "$work"
clip=$work/highway_1080p30.mp4
if [ ! -s "$clip" ]; then
  echo "rendering $clip (once) ..." >&2
  ffmpeg -v error -y -stream_loop 40 -i firmware/samples/solidWhiteRight.mp4 -vf scale=1920:1080 -r 30 \
    -c:v libx264 -preset ultrafast -g 30 -bf 0 -pix_fmt yuv420p -an -t $((limit + warm + 60)) "$clip.part.mp4"
  mv "$clip.part.mp4" "$clip"
fi
port=$((30000 + $$ % 20000))
server= station= hog=
trap 'kill $server $station $hog 2>/dev/null || true' EXIT
echo "| load | trigger -> review, s | clip state at the end | clip seconds | tracks | labels from |"
echo "| --- | --- | --- | --- | --- | --- |"
for load in idle hog; do
  d=$work/data-$load
  rm -rf "$d"
  printf 'data_dir = "%s"\n[[camera]]\nname = "cam1"\nsource = "rtsp://127.0.0.1:%d/cam1"\n[[camera]]\nname = "cam2"\nsource = "rtsp://127.0.0.1:%d/cam2"\n[ui]\nenabled = false\n[sync]\nenabled = false\n' \
    "$(realpath -m "$d")" "$port" "$port" >"$work/station.toml"
  "$build/dashloop-rtsp-camera" --port "$port" "cam1=$(realpath "$clip")" "cam2=$(realpath "$clip")" >"$work/server.log" 2>&1 &
  server=$!
  sleep 1
  if [ "$load" = hog ]; then
    python3 -c 'while True: pass' &
    hog=$!
  fi
  "$build/dashloop" --config "$work/station.toml" run --seconds $((warm + limit)) >"$work/run-$load.out" 2>"$work/run-$load.err" &
  station=$!
  sleep "$warm"
  "$build/dashloop" --config "$work/station.toml" trigger --camera cam1 --note bench >/dev/null
  began=$(date +%s.%N)
  took=
  for _ in $(seq $((limit * 5))); do
    state=$(sqlite3 "$d/catalog.sqlite" "SELECT c.state FROM clips c JOIN drives d ON c.drive_id = d.id
      WHERE d.camera = 'cam1' AND c.reasons LIKE '%trigger%' LIMIT 1" 2>/dev/null || true)
    if [ "$state" = review ]; then took=$(echo "$(date +%s.%N) - $began" | bc); break; fi
    sleep 0.2
  done
  kill -TERM "$station" 2>/dev/null || true
  wait "$station" 2>/dev/null || true
  station=
  [ -n "$hog" ] && { kill "$hog"; wait "$hog" 2>/dev/null || true; hog=; }
  kill "$server"; wait "$server" 2>/dev/null || true; server=
  facts=$(sqlite3 -separator ' | ' "$d/catalog.sqlite" "SELECT c.state, printf('%.1f', c.end_s - c.start_s) FROM clips c
    JOIN drives d ON c.drive_id = d.id WHERE d.camera = 'cam1' AND c.reasons LIKE '%trigger%' LIMIT 1" 2>/dev/null || true)
  pkg=$(sqlite3 "$d/catalog.sqlite" "SELECT c.package_dir FROM clips c JOIN drives d ON c.drive_id = d.id
    WHERE d.camera = 'cam1' AND c.reasons LIKE '%trigger%' LIMIT 1" 2>/dev/null || true)
  labels=$( [ -n "$pkg" ] && [ -f "$pkg/manifest.json" ] && python3 -c "import json,sys; m=json.load(open('$pkg/manifest.json')); print(len(m['tracks']), '|', m['labels_from'])" || echo "- | -")
  echo "| $load | ${took:-not within ${limit} s} | ${facts:-no clip | -} | $labels |"
done
