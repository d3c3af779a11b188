#!/usr/bin/env bash
# End-to-end: the station's storage and cameras under the faults a box meets
# (issue "Nothing recorded is ever lost"), on a small tmpfs of its own:
#   - a data disk filled to 100 % while the station was off: `run` still
#     starts (it releases its reserve to open the catalog), retention frees
#     space by its rules, then the camera records; `status` says "full", never
#     "not a Dashloop catalog"; the catalog is sound afterwards;
#   - a read-only data disk and a data dir owned by another user: each named
#     as what it is, exit 4, the catalog untouched;
#   - one camera missing (v4l2 device absent): the others record, it retries;
#   - a clip with no room for its package waits, planned, and is built by
#     the station once there is room;
#   - addresses no retry can mend (rtsp://, rtsp://:::::x, rtsp://256.1.1.1/x,
#     test://nosuchpattern): config errors, exit 2.
# Needs root for the tmpfs mount; skips with the reason otherwise.
#   storage_test.sh DASHLOOP_BINARY
set -uo pipefail
bin=$1
work=$(mktemp -d /tmp/dashloop-e2e-storage.XXXXXX)
mnt="$work/disk"
mkdir -p "$mnt"
cleanup() {
  kill $(jobs -p) 2>/dev/null
  umount "$mnt" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
if ! mount -t tmpfs -o size=48m tmpfs "$mnt" 2>"$work/mount.err"; then
  echo "SKIPPED: cannot mount a tmpfs to fill (needs root): $(cat "$work/mount.err")"
  exit 0
fi
chmod 755 "$work"

segments() { sqlite3 "$mnt/d/catalog.sqlite" "SELECT count(*) FROM segments WHERE camera = '$1' AND state = '$2'"; }
cat >"$work/station.toml" <<TOML
data_dir = "$mnt/d"
[[camera]]
name = "road"
source = "test://ball?width=320&height=240&fps=15"
faces = "none"
plates = "none"
[recording]
segment_s = 2
analysis_chunk_s = 600
[retention]
interval_s = 2
# Half the disk: once the filler takes it, retention has recordings to free.
max_percent = 50.0
hard_percent = 99.0
[ui]
enabled = false
[prelabel]
redetect = false
TOML
c=(--config "$work/station.toml")

# 1. A first run: recordings, and the reserve set aside.
run "${c[@]}" run --seconds 8
check "a first run records" rc_is 0
check "the reserve is set aside" test -s "$mnt/d/.reserve"
before=$(segments road closed)
check "segments recorded ($before)" test "$before" -gt 2

# 2. The disk filled to the last byte while the station was off.
head -c 64M /dev/zero >"$mnt/filler" 2>/dev/null
check "the disk is full" test "$(df --output=avail -B1 "$mnt" | tail -1)" -lt 65536
run "${c[@]}" status
check "status on a full disk: exit 4" rc_is 4
check "status says the disk is full" err_has "the disk holding it is full"
check "status never calls the catalog foreign or corrupt" bash -c "! grep -q 'not a Dashloop catalog' '$work/err'"
run "${c[@]}" run --seconds 8
check "run on a full disk starts and stops cleanly" rc_is 0
check "run released the reserve to open the catalog" err_has "released the 16 MiB reserve"
check "retention freed space by its rules" err_has "retention: deleted segment"
deleted=$(segments road deleted)
check "the oldest recordings went ($deleted)" test "$deleted" -gt 0
recorded=$(sqlite3 "$mnt/d/catalog.sqlite" "SELECT count(*) FROM segments WHERE camera = 'road' AND state = 'closed' AND id > (SELECT max(id) FROM segments WHERE state = 'deleted')")
check "then the camera recorded ($recorded new segments)" test "$recorded" -gt 0
rm -f "$mnt/filler"
check "the catalog is sound" test "$(sqlite3 "$mnt/d/catalog.sqlite" 'PRAGMA integrity_check')" = ok
run "${c[@]}" retention
check "the reserve is kept again once there is room" test -s "$mnt/d/.reserve"

# 3. A read-only data disk.
mount -o remount,ro "$mnt"
run "${c[@]}" status
check "status on a read-only disk: exit 4" rc_is 4
check "it says read-only" err_has "read-only"
check "not that the catalog is foreign or corrupt" bash -c "! grep -q 'not a Dashloop catalog' '$work/err'"
mount -o remount,rw "$mnt"

# 4. A data dir owned by another user (the units run as User=dashloop).
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
  setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" "${c[@]}" status >"$work/out" 2>"$work/err"
  echo $? >"$work/rc"
  check "status as another user: exit 4" rc_is 4
  check "it names the owner and the fix" err_has "not writable by this process"
else
  echo "SKIPPED: the other-owner case needs root and setpriv"
fi
check "the catalog is still sound" test "$(sqlite3 "$mnt/d/catalog.sqlite" 'PRAGMA integrity_check')" = ok

# 5. One camera missing: the other records; it is retried.
# (an array-of-tables entry may follow the other tables: the same station, one camera more)
{ cat "$work/station.toml"; printf '[[camera]]\nname = "cabin"\nsource = "v4l2:///dev/video-dashloop-absent"\nrole = "cabin"\n'; } >"$work/two.toml"
before=$(segments road closed)
run --config "$work/two.toml" run --seconds 8
check "a missing camera does not stop the station" rc_is 0
check "it is named, with its reason" err_has "camera 'cabin': v4l2:///dev/video-dashloop-absent"
check "and retried" err_has "rebuilding in"
check "the other camera records" test "$(segments road closed)" -gt "$before"

# 6. A clip that cannot be packaged for want of space waits, planned (it was
#    failed for good, and retention then deleted its recording), and the
#    station builds it once there is room.
ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=15 -t 12 -c:v libx264 -g 15 -pix_fmt yuv420p "$work/drive.mp4"
printf 'data_dir = "%s"\n[detector]\nkind = "none"\n[clips]\nsample_every_s = 3.0\nbudget_min_per_hour = 60\n[privacy]\nfaces = "none"\nplates = "none"\n[retention]\nmax_bytes = 1000\n' \
  "$mnt/d" >"$work/tight.toml"
run --config "$work/tight.toml" ingest --json "$work/drive.mp4"
check "no room for its package: the ingest stores the drive (exit 0)" rc_is 0
check "...its clip waits, planned, not failed" bash -c "
  [ \$(sqlite3 $mnt/d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state = 'planned'\") -ge 1 ] &&
  [ \$(sqlite3 $mnt/d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state = 'failed'\") = 0 ]"
planned=$(sqlite3 "$mnt/d/catalog.sqlite" "SELECT count(*) FROM clips WHERE state = 'planned'")
run "${c[@]}" run --seconds 8
check "...and the station builds it once there is room: in review" bash -c "
  [ \$(sqlite3 $mnt/d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state = 'review'\") -ge $planned ] &&
  [ \$(sqlite3 $mnt/d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state = 'planned'\") = 0 ]"

# 7. Addresses no retry can mend are config errors.
for bad in "rtsp://" "rtsp://:::::x" "rtsp://256.1.1.1/x" "test://nosuchpattern"; do
  sed "s|v4l2:///dev/video-dashloop-absent|$bad|" "$work/two.toml" >"$work/bad.toml"
  run --config "$work/bad.toml" run --seconds 3
  check "'$bad' is a config error (exit 2)" rc_is 2
  check "'$bad' is named" err_has "$bad"
done
finish
