#!/usr/bin/env bash
# Fault: kill -9 while recording, at random points (a power cut, as far as a
# process can tell). After each kill every closed segment decodes in full,
# the open one decodes all but its last ~2 s, and the catalog opens and
# passes PRAGMA integrity_check. The next start indexes what the open
# segment holds. A clock behind the newest stamp (a box with no RTC that
# booted in 1970) is named by doctor and never stamped on a segment.
#   record_crash_test.sh DASHLOOP_BINARY   (DASHLOOP_FAULT_REPEATS, default 3)
set -uo pipefail
bin=$1
repeats=${DASHLOOP_FAULT_REPEATS:-3}
work=$(mktemp -d /tmp/dashloop-e2e-crash.XXXXXX)
trap 'kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
pid=
. "$(dirname "$0")/lib.sh"
d="$work/data"
src="test://smpte?width=640&height=360&fps=30"

verify() {  # killed_at (epoch s): checks every segment and the catalog
  /usr/bin/python3 - "$d/catalog.sqlite" "$1" <<'PY'
import datetime, json, sqlite3, subprocess, sys
db = sqlite3.connect(sys.argv[1])
killed = float(sys.argv[2])
ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
if not ok:
    print("  integrity_check failed")
def frames(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-count_frames", "-show_entries",
                        "stream=nb_read_frames", "-of", "json", path], capture_output=True, text=True)
    s = json.loads(r.stdout or "{}").get("streams") or [{}]
    return int(s[0].get("nb_read_frames", 0) or 0)
def clean(path):
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "null", "-"], capture_output=True, text=True)
    return r.returncode == 0 and not r.stderr.strip()
for path, state, n, start in db.execute("SELECT path, state, frames, start_utc FROM segments WHERE owned = 1"):
    if state == "closed":
        got = frames(path)
        if got != n or not clean(path):
            print(f"  closed {path}: {got} frames decode, catalog says {n}; clean={clean(path)}")
            ok = False
    elif state == "open":
        t0 = datetime.datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
        expected = (killed - t0) * 30
        got = frames(path)
        print(f"  open segment: {got} frames decode of about {expected:.0f} written before the kill")
        if got < expected - 2 * 30:
            ok = False
sys.exit(0 if ok else 1)
PY
}

for i in $(seq 1 "$repeats"); do
  wait_s=$(python3 -c "import random; print(round(random.uniform(6.0, 14.0), 2))")
  "$bin" -d "$d" record "$src" --camera cam --segment-s 5 >"$work/rec.log" 2>&1 &
  pid=$!
  sleep "$wait_s"
  killed_at=$(date +%s.%N)
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  pid=
  check "kill -9 after ${wait_s} s (run $i): segments decode, at most ~2 s lost, catalog intact" verify "$killed_at"
done

run -d "$d" record "$src" --camera cam --segment-s 5 --seconds 2
check "the next start records again (exit 0)" rc_is 0
check "...and says which segments it recovered" err_has "left open"
open_left() {
  python3 -c "
import sqlite3, sys
db = sqlite3.connect('$d/catalog.sqlite')
sys.exit(db.execute(\"SELECT count(*) FROM segments WHERE state = 'open'\").fetchone()[0])"
}
check "...no segment is left open: each was indexed from its file" open_left
check "...every segment decodes as the catalog says" verify "$(date +%s.%N)"
run -d "$d" status --json
check "status counts the recorded segments" json_ok "d['segments']['recorded'] >= $repeats and d['segments']['open'] == 0"

# A box with no RTC boots in 1970: its system clock is then behind the newest
# stamp it has written. Here the catalog's newest stamp is moved a few years
# ahead instead, which the binary cannot tell apart.
future=2031-01-01T00:00:00.000Z
python3 -c "
import sqlite3
db = sqlite3.connect('$d/catalog.sqlite')
db.execute(\"UPDATE segments SET end_utc = '$future' WHERE id = (SELECT max(id) FROM segments)\")
db.commit()"
run -d "$d" doctor --json
check "doctor with the clock behind the newest stamp: exit 1, the clock NOT SET" \
  json_ok "not d['ok'] and not d['clock']['set'] and d['clock']['not_before_utc'] == '$future' and 'NOT SET' in d['clock']['status']"
run -d "$d" record "$src" --camera cam --segment-s 5 --seconds 2
check "record with the clock behind: exit 0, says it counts on from the newest stamp" \
  bash -c "[ \"\$(cat $work/rc)\" = 0 ] && grep -q 'has not been set' $work/err"
stamped_after() {
  python3 -c "
import sqlite3, sys, os
db = sqlite3.connect('$d/catalog.sqlite')
rows = db.execute(\"SELECT path, start_utc, end_utc FROM segments WHERE id > (SELECT id FROM segments WHERE end_utc = '$future')\").fetchall()
bad = [r for r in rows if not (r[1] >= '$future' and r[2] >= r[1] and os.path.basename(r[0]).startswith('cam-2031'))]
print(f'  {len(rows)} new segments, {len(bad)} stamped before $future: {bad}')
sys.exit(0 if rows and not bad else 1)"
}
check "...its segments are stamped (name, start, end) after that stamp, never before" stamped_after

finish
