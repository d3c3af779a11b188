#!/usr/bin/env bash
# End-to-end: the dashloop binary as a user and a script run it.
#   cli_test.sh DASHLOOP_BINARY TESTDATA_DIR
# Each check prints PASS or FAIL; the script exits non-zero on any FAIL.
set -uo pipefail
bin=$1
data=$2
work=$(mktemp -d /tmp/dashloop-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"
printf "$unredacted" >"$work/unredacted.toml"
default_config="$work/unredacted.toml"
snapshot() {  # the catalog's drives and the files under keyframes/
  "$bin" -d "$1" drives --json 2>/dev/null
  (cd "$1" && find keyframes -type f | sort)
}

d="$work/data"

run --help
check "--help exits 0" rc_is 0
run ingest --help
check "ingest --help exits 0 and documents --mode" bash -c "[ \"\$(cat $work/rc)\" = 0 ] && grep -q -- --mode $work/out"
run
check "no subcommand is a usage error (2)" rc_is 2

run -d "$d" ingest "$data/drive_s3.mp4" --json
check "ingest --json exits 0" rc_is 0
check "JSON has the drive, frames and keyframes with reason and scores" json_ok \
  "d['drives'][0]['frames'] == 600 and d['drives'][0]['drive_id'] >= 1 and len(d['drives'][0]['keyframes']) >= 2 \
   and all({'frame','t_s','reason','scores','image'} <= set(k) for k in d['drives'][0]['keyframes']) \
   and {'cut'} <= {k['reason'] for k in d['drives'][0]['keyframes']}"
check "keyframe images exist at full resolution" python3 -c "
import json,struct
d=json.load(open('$work/out'))
for k in d['drives'][0]['keyframes']:
    b=open(k['image'],'rb').read()
    assert b[:2]==b'\xff\xd8', k['image']
    i=2
    while True:
        m,l=struct.unpack('>HH',b[i:i+4])
        if m in (0xffc0,0xffc1,0xffc2):
            h,w=struct.unpack('>HH',b[i+5:i+9]); assert (w,h)==(640,360),(w,h); break
        i+=2+l
"

run -d "$d" ingest "$data/drive_short.mp4"
check "plain ingest prints a summary line" bash -c "grep -q 'real time' $work/out && grep -q 'keyframes' $work/out"
check "...and no progress bar into a pipe" bash -c "! grep -q ETA $work/err"
check "...and no GStreamer/GLib criticals or warnings" bash -c "! grep -qE 'CRITICAL|WARNING' $work/err"
script -qfec "$bin -c $default_config -d $d ingest $data/drive_s1.mp4" /dev/null >"$work/tty" 2>&1
check "on a terminal: a progress bar with position, fps and ETA" bash -c "grep -q 'fps  ETA' $work/tty && grep -qE '[0-9.]+/60.0 s' $work/tty"

before=$(snapshot "$d")
for bad in truncated.mp4 garbage.mp4; do
  run -d "$d" ingest "$data/$bad"
  check "$bad: exit 3" rc_is 3
  check "$bad: the error names the file" err_has "$data/$bad"
  check "$bad: catalog and keyframes unchanged" [ "$before" = "$(snapshot "$d")" ]
done
check "no staging directory is left behind" bash -c "! ls -a $d/keyframes | grep -q staging"
ffmpeg -v error -y -f lavfi -i sine=frequency=440:duration=2 -c:a aac "$work/audio-only.mp4"
run -d "$d" ingest "$work/audio-only.mp4"
check "an audio-only MP4: exit 3, 'no video stream', named" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'audio-only.mp4: no video stream' $work/err"

run -d "$d" ingest "$data/no-such-drive.mp4"
check "missing file: exit 3, named" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -qF no-such-drive.mp4 $work/err"

# The same file twice: refused, naming the drive it made; --again takes it anyway.
run -d "$d" ingest "$data/drive_short.mp4"
check "the same file again: exit 3, the earlier drive named, --again offered" bash -c "
  [ \"\$(cat $work/rc)\" = 3 ] && grep -q 'already ingested as drive [0-9]* (from .*drive_short.mp4' $work/err && grep -q -- '--again' $work/err"
cp "$data/drive_short.mp4" "$work/renamed.mp4"
run -d "$d" ingest "$work/renamed.mp4"
check "...a copy under another name too (known by its content)" bash -c "
  [ \"\$(cat $work/rc)\" = 3 ] && grep -q 'already ingested as drive [0-9]* (from .*drive_short.mp4' $work/err"
cp "$data/drive_s3mkv.mkv" "$work/twice.mkv"
"$bin" -c "$default_config" -d "$d" ingest -q "$work/twice.mkv" >/dev/null 2>"$work/twice-a.err" &
"$bin" -c "$default_config" -d "$d" ingest -q "$work/twice.mkv" >/dev/null 2>"$work/twice-b.err"
wait
check "...one file twice at once: one drive, the other refused" bash -c "
  [ \$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM drives WHERE source LIKE '%twice.mkv'\") = 1 ] && cat $work/twice-a.err $work/twice-b.err | grep -q 'already ingested\|at the same time'"
run -d "$d" ingest --again "$data/drive_short.mp4" "$data/garbage.mp4" --json
check "a good and a bad file: exit 3" rc_is 3
check "...the good one is stored, the bad one reported" json_ok "len(d['drives']) == 1 and d['errors'][0]['source'].endswith('garbage.mp4')"

printf '[ingest]\nmode = "full"\nspeed = 2\n' >"$work/bad.toml"
run -c "$work/bad.toml" -d "$d" ingest "$data/drive_short.mp4"
check "unknown config key: exit 2" rc_is 2
check "...names file, line and key" err_has "$work/bad.toml:3: unknown key 'ingest.speed'"
printf '[keyframes]\nmax_gap_s = "often"\n' >"$work/bad2.toml"
run -c "$work/bad2.toml" -d "$d" ingest "$data/drive_short.mp4"
check "wrong config type: exit 2, named" bash -c "[ \"\$(cat $work/rc)\" = 2 ] && grep -qF \"bad2.toml:2: key 'keyframes.max_gap_s' must be a number\" $work/err"
run -c "$(dirname "$0")/../../firmware/config/dashloop.toml" -d "$d" drives
check "the shipped default config is accepted" rc_is 0

mkdir -p "$work/corrupt"
head -c 100000 /dev/urandom >"$work/corrupt/catalog.sqlite"
sum=$(sha256sum <"$work/corrupt/catalog.sqlite")
run -d "$work/corrupt" ingest "$data/drive_short.mp4"
check "corrupt catalog: exit 4, named" bash -c "[ \"\$(cat $work/rc)\" = 4 ] && grep -qF $work/corrupt/catalog.sqlite $work/err"
check "...and left exactly as it was" [ "$sum" = "$(sha256sum <"$work/corrupt/catalog.sqlite")" ]

run -d "$d" ingest --again --mode triage "$data/drive_s1.mp4" --json
check "triage: analyses one I-frame a second" json_ok "d['drives'][0]['frames'] == 60 and d['drives'][0]['mode'] == 'triage'"

# Ctrl-C at two moments: as soon as the stop handler is up (the models may
# still be loading), and once the file's analysis has begun (its staging
# directory exists). Both are interrupts: exit 130, said, nothing stored.
interrupt_ingest() {  # $1: "startup" or "analysis"
  "$bin" -d "$d" ingest "$data/drive_s2.mp4" >"$work/out" 2>"$work/err" &
  local pid=$! i
  wait_for_stop_handler "$pid"
  if [ "$1" = analysis ]; then
    for i in $(seq 1 300); do
      compgen -G "$d/keyframes/.staging-$pid-*" >/dev/null && break
      sleep 0.1
    done
  fi
  kill -INT "$pid"
  wait "$pid"
  echo $? >"$work/rc"
}
interrupted() { rc_is 130 && err_has interrupted; }
before=$(snapshot "$d")
interrupt_ingest startup
check "Ctrl-C while an ingest starts: exit 130, said so" interrupted
check "...and nothing stored" [ "$before" = "$(snapshot "$d")" ]
interrupt_ingest analysis
check "Ctrl-C during a file ingest: exit 130, said so" interrupted
check "...and nothing stored" [ "$before" = "$(snapshot "$d")" ]

before=$(snapshot "$d")
"$bin" -d "$d" ingest "$data/drive_s2.mp4" >/dev/null 2>&1 &
pid=$!
sleep 1.5
kill -KILL "$pid"
wait "$pid" 2>/dev/null
check "kill -9 mid-ingest: the catalog holds exactly what it held" [ "$before" = "$(snapshot "$d" | grep -v staging)" ]
run -d "$d" doctor
check "...and passes its integrity check" bash -c "[ \"\$(cat $work/rc)\" = 0 ] && grep -q 'catalog: *ok' $work/out"

mkdir -p "$d/keyframes/.staging-999999-1" && touch "$d/keyframes/.staging-999999-1/frame_00000001.jpg"
run -d "$d" ingest --again "$data/drive_short.mp4"
check "crashed ingests' staging directories are removed by the next ingest" \
  bash -c "[ ! -e $d/keyframes/.staging-999999-1 ] && ! ls -a $d/keyframes | grep -q staging-$pid- && grep -q 'did not finish' $work/err"

run -d "$d" keyframes 1
check "keyframes lists a drive's keyframes" bash -c "[ \"\$(cat $work/rc)\" = 0 ] && grep -q cut $work/out"
run -d "$d" keyframes 999
check "keyframes of an unknown drive: exit 3" rc_is 3
run -d "$d" drives
check "drives lists every stored drive" bash -c "[ \$(wc -l <$work/out) = 7 ]"

run -d "$d" doctor --json
check "doctor: all required elements here, exit 0" json_ok "d['ok'] and any(e['element'] == 'avdec_h264' and e['present'] for e in d['elements']) and d['data_dir']['catalog'] == 'ok'"
GST_REGISTRY="$work/empty-registry.bin" GST_PLUGIN_SYSTEM_PATH_1_0="$work/no-plugins" GST_PLUGIN_PATH="" \
  "$bin" -d "$d" doctor >"$work/out" 2>"$work/err"
echo $? >"$work/rc"
check "doctor without GStreamer's plugins: exit 1, names what is missing" bash -c "[ \"\$(cat $work/rc)\" = 1 ] && grep -q 'MISSING *avdec_h264' $work/out"
run -d "$work/corrupt" doctor
check "doctor on a corrupt catalog: exit 1, says so" bash -c "[ \"\$(cat $work/rc)\" = 1 ] && grep -q 'refusing' $work/out"

finish
