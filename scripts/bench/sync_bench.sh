#!/usr/bin/env bash
# Sync throughput and resume, side by side in one run against one loopback
# RADOS Gateway (tests/s3/rgw.sh; it checks every signature):
#   - `dashloop sync` of ~500 MB of approved packages (multipart, 8 MiB parts,
#     each part's sha256 signed and checked by the server, every package
#     verified on disk first, every object's size checked in one listing after);
#   - curl --aws-sigv4 PUTs of the same files, one process per file
#     (UNSIGNED-PAYLOAD: curl hashes nothing), the baseline;
#   - a kill -9 of `dashloop sync` half way through the same packages to a
#     fresh prefix, then a restart: bytes sent by the restart against what
#     was left, and how much was already stored.
# Wall time, CPU seconds and peak RSS from /usr/bin/time. The packages: one
# real package (a 12 s 1080p drive at 40 Mbit/s: clip.mp4, labels, keyframes)
# copied COPIES times under new clip ids, so every file is a real package's.
#   scripts/bench/sync_bench.sh [BUILD_DIR] [COPIES]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
copies=${2:-17}
work=$(mktemp -d /tmp/dashloop-sync-bench.XXXXXX)
port=$((20000 + $$ % 20000))
trap 'tests/s3/rgw.sh stop "$work/rgw"; rm -rf "$work"' EXIT
# The gateway answers at once (tcp_nodelay=1, as Ceph's frontend docs advise;
# Go's MinIO and AWS do so anyway). Left to Nagle, a reply with a body (an
# upload's id, a completion, a listing: three per package here, none for
# curl's PUTs) waits some 40 ms for the client's delayed ACK. RGW_BEAST_OPTIONS=
# (empty) measures that gateway.
export RGW_BEAST_OPTIONS=${RGW_BEAST_OPTIONS-tcp_nodelay=1}
read -r endpoint ak sk < <(RGW_MEMORY_BYTES=$((3 * 1024 * 1024 * 1024)) tests/s3/rgw.sh start "$work/rgw" "$port")
sig=(--aws-sigv4 "aws:amz:us-east-1:s3" -u "$ak:$sk")
curl -sf "${sig[@]}" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "$endpoint/fleet" >/dev/null

"$build/dashloop-make-drive" --out "$work/drive.mp4" --width 1920 --height 1080 --fps 30 --seconds 12 --bitrate 40000 \
  --preset ultrafast --threads 0 >/dev/null 2>&1
printf 'access_key = "%s"\nsecret_key = "%s"\n' "$ak" "$sk" >"$work/creds.toml"
chmod 600 "$work/creds.toml"
cat >"$work/box.toml" <<EOF
[detector]
kind = "none"
[clips]
max_s = 30.0
sample_every_s = 0.0
# What is measured is the transport of the bytes as cut: a redacted clip is
# re-encoded to a few MB, far from the 40 Mbit/s file this bench is about.
[privacy]
faces = "none"
plates = "none"
[sync]
target = "s3://fleet/bench"
endpoint = "$endpoint"
credentials_file = "$work/creds.toml"
multipart_threshold_mib = ${THRESHOLD_MIB:-8}
part_mib = ${PART_MIB:-8}
concurrency = ${CONCURRENCY:-2}
EOF
d=$work/box
"$build/dashloop" -c "$work/box.toml" -d "$d" ingest -q "$work/drive.mp4" --trigger 6 >/dev/null
src=$(sqlite3 "$d/catalog.sqlite" "SELECT id FROM clips ORDER BY bytes DESC LIMIT 1")
dir=$(sqlite3 "$d/catalog.sqlite" "SELECT package_dir FROM clips WHERE id = $src")
# More clips of the same drive, each with its own copy of the package.
for i in $(seq 2 "$copies"); do
  sqlite3 "$d/catalog.sqlite" "INSERT INTO clips (drive_id, state, planned_start, planned_end, start_frame, end_frame,
    start_s, end_s, priority, priority_parts, reasons, package_dir, frames, bytes, effort_minutes)
    SELECT drive_id, 'review', planned_start, planned_end, start_frame, end_frame, start_s, end_s, priority,
    priority_parts, reasons, '$dir-copy$i', frames, bytes, effort_minutes FROM clips WHERE id = $src;
    UPDATE clips SET uid = 'bench_c' || id WHERE uid IS NULL;"
  cp -r "$dir" "$dir-copy$i"
done
sqlite3 "$d/catalog.sqlite" "UPDATE clips SET state = 'approved' WHERE state = 'review'"
bytes=$(sqlite3 "$d/catalog.sqlite" "SELECT sum(bytes) FROM clips WHERE state = 'approved'")
n=$(sqlite3 "$d/catalog.sqlite" "SELECT count(*) FROM clips WHERE state = 'approved'")
files=$(find "$dir" -type f | wc -l)
cp "$d/catalog.sqlite" "$work/approved.sqlite"
echo "packages: $n, $files files each, $((bytes / 1000000)) MB in all (clip.mp4 $(($(stat -c %s "$dir/clip.mp4") / 1000000)) MB)" >&2

server_cpu() {  # CPU seconds the gateway and the OSD have used so far
  local t=0 pid
  for pid in $(cat "$work/rgw/run/rgw.pid.fg" "$work/rgw/run/osd.pid.fg"); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "scale=2; $t / $(getconf CLK_TCK)" | bc
}
timed() {  # NAME CMD...: wall s, CPU s, peak RSS MB; the server's CPU s in NAME.server
  local before
  before=$(server_cpu)
  /usr/bin/time -f "%e %U %S %M" -o "$work/$1.time" "${@:2}" >"$work/$1.out" 2>"$work/$1.err"
  echo "$(server_cpu) - $before" | bc >"$work/$1.server"
}
# curl first, then dashloop; each into its own prefix.
curl_all() {
  local p f
  for p in $(sqlite3 "$work/approved.sqlite" "SELECT package_dir FROM clips WHERE state = 'approved'"); do
    for f in $(cd "$p" && find . -type f | sed 's|^\./||'); do
      curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" -u "$ak:$sk" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        -T "$p/$f" "$endpoint/fleet/curl/$(basename "$p")/$f" -o /dev/null || return 1
    done
  done
}
export -f curl_all
export work ak sk endpoint
timed curl bash -c curl_all
timed dashloop "$build/dashloop" -c "$work/box.toml" -d "$d" sync --json
read -r c_wall c_user c_sys c_rss <"$work/curl.time"
read -r d_wall d_user d_sys d_rss <"$work/dashloop.time"
mb=$(echo "scale=1; $bytes / 1000000" | bc)

# Resume: the same packages again to a fresh prefix, killed half way.
cp "$work/approved.sqlite" "$d/catalog.sqlite"
sed -i 's|s3://fleet/bench|s3://fleet/resume|' "$work/box.toml"
"$build/dashloop" -c "$work/box.toml" -d "$d" sync >/dev/null 2>&1 &
pid=$!
while :; do
  stored=$(sqlite3 "$d/catalog.sqlite" "SELECT coalesce(sum(bytes), 0) FROM upload_parts" 2>/dev/null || echo 0)
  done_files=$(sqlite3 "$d/catalog.sqlite" "SELECT coalesce(sum(bytes), 0) FROM upload_files WHERE done = 1 AND upload_id = ''" 2>/dev/null || echo 0)
  [ $((stored + done_files)) -ge $((bytes / 2)) ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
# Bytes the process had handed to its connections when killed: stopped
# first, its sockets left half a second to drain, then the kernel's count on
# each connection to the gateway (sent, plus any not yet sent; libcurl keeps
# one open per lane; HTTP headers, some 600 bytes a request, included).
kill -STOP $pid
sleep 0.5
written=$(ss -tinpH "( dport = :$port )" | grep -A1 "pid=$pid," |
  awk '{for (i = 1; i <= NF; i++) if ($i ~ /^(bytes_sent|notsent):/) {split($i, kv, ":"); n += kv[2]}} END {print n + 0}')
kill -9 $pid
wait $pid 2>/dev/null || true
# What the restart has left: the packages not yet uploaded, on disk.
pending=$(sqlite3 "$d/catalog.sqlite" "SELECT package_dir FROM clips WHERE state IN ('approved', 'uploading')" |
  /usr/bin/python3 -c "import os, sys; print(sum(os.path.getsize(os.path.join(r, f)) for l in sys.stdin for r, _, fs in os.walk(l.strip()) for f in fs))")
"$build/dashloop" -c "$work/box.toml" -d "$d" sync --json >"$work/resume.json" 2>/dev/null
read -r r_sent r_resumed r_up < <(/usr/bin/python3 -c "import json; d = json.load(open('$work/resume.json')); print(d['bytes_sent'], d['bytes_resumed'], d['uploaded'])")

cat <<EOF
| $mb MB of packages ($n packages) to a loopback RADOS Gateway (beast: ${RGW_BEAST_OPTIONS:-defaults}) | wall s | MB/s | ratio to curl | CPU s | CPU s per GB | peak RSS MB | server CPU s |
| --- | --- | --- | --- | --- | --- | --- | --- |
| curl --aws-sigv4, one PUT per file | $c_wall | $(echo "scale=1; $mb / $c_wall" | bc) | 1.00 | $(echo "$c_user + $c_sys" | bc) | $(echo "scale=2; ($c_user + $c_sys) * 1000 / $mb" | bc) | $((c_rss / 1024)) (largest one) | $(cat "$work/curl.server") |
| dashloop sync (multipart from ${THRESHOLD_MIB:-8} MiB, ${PART_MIB:-8} MiB parts, ${CONCURRENCY:-2} at once, sha256 per request, verify before, listing after) | $d_wall | $(echo "scale=1; $mb / $d_wall" | bc) | $(echo "scale=2; $c_wall / $d_wall" | bc) | $(echo "$d_user + $d_sys" | bc) | $(echo "scale=2; ($d_user + $d_sys) * 1000 / $mb" | bc) | $((d_rss / 1024)) | $(cat "$work/dashloop.server") |

Resume after kill -9 at half: $r_up packages ($pending bytes) were left; the restart found $r_resumed bytes of them
already stored (finished parts) and sent $r_sent bytes ($((r_sent + r_resumed - pending)) bytes of stored parts sent again).
Both runs together wrote $((written + r_sent)) bytes for $bytes bytes of packages: $(( (written + r_sent - bytes) / 1024 )) KiB
sent twice (what was on the wire at the kill, plus HTTP headers), against a part size of $((${PART_MIB:-8} * 1024)) KiB.
EOF
