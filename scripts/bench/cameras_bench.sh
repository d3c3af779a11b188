#!/usr/bin/env bash
# Cameras per box (issue 9's cases): N simulated 1080p30 H.264 IP cameras
# (dashloop-rtsp-camera on loopback, no re-encoding) run by one
# `dashloop run` for SECONDS, for each N given. MODE says what runs besides
# the recording:
#   record     (a) nothing: analysis never starts (analysis_chunk_s is longer
#              than the run), the detector is off, so the recording path alone;
#   keyframes  (b) every frame decoded for keyframes, no detector;
#   detect     (c) as (b), with the bundled detector at 2 Hz and tracking;
#   triage     (d) only the I-frames decoded, detected and tracked.
# The analysis modes take each camera's closed 10-s segments in chunks of
# CHUNK_S (10) seconds; each analysed chunk is planned and its clips cut and
# packaged, on the station's one analysis thread.
# A camera keeps up when each segment holds a frame for every 1/30 s of its
# timestamps (RTP timestamps run on over a lost packet, so a dropped frame is
# a hole: frames lost = 30 x duration - frames, a frame of slack per
# segment), it recorded about SECONDS of video, and the station logged no
# gap. The analysis keeps up when the video still waiting for it at the end
# (closed segments in no drive yet, the worst camera's) stays within two
# chunks: one being analysed, one closing. The camera server shares the
# box's 2 cores and is not counted in the CPU. Prints a Markdown table.
#   [MODE=record] [CHUNK_S=10] scripts/bench/cameras_bench.sh [BUILD_DIR] [SECONDS] [N ...]   (default: build 30 4 8 16)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
seconds=${2:-30}
shift $(($# < 2 ? $# : 2))
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(4 8 16)
work=$build/bench/cameras
mkdir -p "$work"
# Longer than any run: a camera whose file ends is a rebuild, not a measurement.
clip=$work/drive_1080p30_$((seconds + 20))s.mp4
if [ ! -s "$clip" ]; then
  echo "rendering $clip (once) ..." >&2
  "$build/dashloop-make-drive" --out "$clip.part" --width 1920 --height 1080 --fps 30 --seconds $((seconds + 20)) \
    --seed 5 --bitrate 6000 --preset ultrafast --threads 0 >&2
  mv "$clip.part" "$clip"
fi
port=$((30000 + $$ % 20000))
server=
trap 'kill $server 2>/dev/null || true' EXIT
mode=${MODE:-record}
chunk=${CHUNK_S:-10}
case $mode in
  record) analysis='analysis_chunk_s = 3600\n[detector]\nkind = "none"' ;;
  keyframes) analysis="analysis_chunk_s = $chunk\\n[detector]\\nkind = \"none\"" ;;
  detect) analysis="analysis_chunk_s = $chunk\\n[detector]\\nrate_hz = 2.0" ;;
  triage) analysis="analysis_chunk_s = $chunk\\n[detector]\\nrate_hz = 2.0\\n[ingest]\\nmode = \"triage\"" ;;
  *) echo "cameras_bench.sh: MODE is record, keyframes, detect or triage, not '$mode'" >&2; exit 2 ;;
esac
echo "| cameras ($mode) | frames recorded | frames lost (all cameras) | least video of a camera, s | gaps | video analysed, s | analysis backlog at the end, s (worst camera) | station CPU (% of one core) | CPU per camera | peak RSS MiB | RSS per camera MiB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for n in "${counts[@]}"; do
  d=$work/data-$n
  rm -rf "$d"
  streams=()
  {
    printf 'data_dir = "%s"\n' "$(realpath "$d")"
    for i in $(seq 1 "$n"); do
      streams+=("cam$i=$(realpath "$clip")")
      printf '[[camera]]\nname = "cam%d"\nsource = "rtsp://127.0.0.1:%d/cam%d"\nfaces = "none"\nplates = "none"\n' "$i" "$port" "$i"
    done
    printf "[recording]\nsegment_s = 10\n$analysis\n[ui]\nenabled = false\n"
  } >"$work/station-$n.toml"
  "$build/dashloop-rtsp-camera" --port "$port" "${streams[@]}" >"$work/server-$n.log" 2>&1 &
  server=$!
  sleep 1
  /usr/bin/time -f "%U %S %M" -o "$work/time-$n" "$build/dashloop" --config "$work/station-$n.toml" run \
    --seconds "$seconds" >"$work/run-$n.out" 2>"$work/run-$n.err" || { cat "$work/run-$n.err" >&2; exit 1; }
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
  python3 - "$d/catalog.sqlite" "$n" "$seconds" "$work/time-$n" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n, seconds = int(sys.argv[2]), float(sys.argv[3])
user, system, rss_kib = open(sys.argv[4]).read().split()
frames = lost = 0
video_s = []
for camera, in db.execute("SELECT DISTINCT camera FROM segments"):
    rows = db.execute("SELECT frames, duration_s FROM segments WHERE camera = ? AND state = 'closed'",
                      (camera,)).fetchall()
    frames += sum(r[0] for r in rows)
    lost += sum(max(0, round(30 * r[1]) - r[0] - 1) for r in rows)
    video_s.append(sum(r[1] for r in rows))
cameras = db.execute("SELECT count(DISTINCT camera) FROM segments").fetchone()[0]
gaps = db.execute("SELECT count(*) FROM camera_gaps").fetchone()[0]
analysed = db.execute("SELECT coalesce(sum(duration_s), 0) FROM segments WHERE drive_id IS NOT NULL").fetchone()[0]
backlog = db.execute("SELECT coalesce(max(s), 0) FROM (SELECT sum(duration_s) AS s FROM segments "
                     "WHERE drive_id IS NULL AND state = 'closed' GROUP BY camera)").fetchone()[0]
cpu = 100 * (float(user) + float(system)) / seconds
rss = int(rss_kib) / 1024
note = "" if cameras == n else f" (only {cameras} of {n} cameras recorded)"
print(f"| {n}{note} | {frames} | {lost} | {min(video_s or [0]):.1f} | {gaps} | {analysed:.0f} | {backlog:.0f} | {cpu:.0f} | {cpu / n:.1f} | {rss:.0f} | {rss / n:.1f} |")
PY
done
