#!/usr/bin/env bash
# End-to-end: from a drive to packages in the review queue, as a user runs it.
# Every package is checked by tests/tools/check_package.py (independent of
# the C++): checksums, structure of each label format, and every decoded
# clip frame against the source frame its labels claim.
#   clips_test.sh DASHLOOP_BINARY TESTDATA_DIR
set -uo pipefail
bin=$1
data=$2
work=$(mktemp -d /tmp/dashloop-e2e-clips.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"
printf "$unredacted" >"$work/unredacted.toml"
default_config="$work/unredacted.toml"
checker="$(dirname "$0")/../tools/check_package.py"
d="$work/data"
# No clip budget here: what is checked is every clip the rules find (the budget's own checks are below).
printf '[detector]\nkind = "motion"\n[clips]\nbudget_min_per_hour = 0\n'"$unredacted" >"$work/motion.toml"

# --- the default config: any drive yields clips ------------------------------
run -d "$work/default" ingest -q "$data/drive_s3.mp4"
check "ingest with the default config: exit 0" rc_is 0
check "...and says clips are ready" out_has "clips ready for review"
run -d "$work/default" clips list --json
check "...which are in review, with a package" json_ok "len(d) >= 1 and all(c['state'] == 'review' and c['package_dir'] for c in d)"

# --- a stamped drive with tracks: every package checked -----------------------
run -c "$work/motion.toml" -d "$d" ingest -q "$data/drive_stamped.mp4" --trigger 40 --json
check "ingest (motion detector, a trigger at 40 s): exit 0" rc_is 0
check "...reports its clips" json_ok "len(d['drives'][0]['clips']['ready']) >= 2 and not d['drives'][0]['clips']['failed']"
all_ok() {
  local ok=0
  for p in "$d"/packages/*/; do /usr/bin/python3 "$checker" "$p" "$d/catalog.sqlite" --stamped || ok=1; done
  return $ok
}
check "every package: checksums, formats, frames match their source frames and the catalog" all_ok
# B-frames (decode order differs from display order), a clip mid-drive.
printf '[detector]\nkind = "motion"\n[clips]\ntrack_min_s = 1000.0\nscene_cuts = false\nsample_every_s = 0.0\n'"$unredacted" \
  >"$work/trigger_only.toml"
run -c "$work/trigger_only.toml" -d "$work/bframes" ingest -q "$data/drive_stamped_bframes.mp4" --trigger 14
check "a B-frame drive with only a trigger: one clip, mid-drive, frames and labels exact" bash -c "
  [ \"\$(cat $work/rc)\" = 0 ] && [ \$(ls -d $work/bframes/packages/*/ | wc -l) = 1 ] &&
  /usr/bin/python3 $checker $work/bframes/packages/*/ $work/bframes/catalog.sqlite --stamped &&
  python3 -c \"import json,glob; m=json.load(open(glob.glob('$work/bframes/packages/*/manifest.json')[0])); assert m['source_frames']['first'] > 0\""
check "no partial package left" bash -c "! ls -d $d/packages/.partial-* 2>/dev/null"
run -d "$d" clips list --json
check "the trigger's clip exists" json_ok "any(r['rule'] == 'trigger' for c in d for r in c['reasons'])"
first=$(python3 -c "import json; print(json.load(open('$work/out'))[0]['uid'])")
run -d "$d" clips show "$first" --json
check "clips show: audit planned -> packaged -> review by ingest, manifest with effort" json_ok \
  "[a['to'] for a in d['audit']] == ['planned', 'packaged', 'review'] and d['audit'][0]['actor'] == 'ingest' and d['manifest']['effort']['annotator_minutes'] > 0"
run -d "$d" clips show "$first"
check "clips show as text names the effort" out_has "annotator minutes"

# --- a recorded camera: segments -> drive -> a clip across segment boundaries -----
run -d "$work/rec" record "test://ball?width=320&height=240&fps=30" --camera cam --segment-s 2 --seconds 7
check "record 7 s of a test camera in 2 s segments: exit 0" rc_is 0
run -c "$work/trigger_only.toml" -d "$work/rec" ingest -q recording://cam --trigger 3
check "ingest recording://cam: exit 0, a clip ready" bash -c "[ \"\$(cat $work/rc)\" = 0 ] && grep -q 'ready for review' $work/out"
check "...the clip crosses segment boundaries, passes every package check, and has its UTC start" bash -c "
  /usr/bin/python3 $checker $work/rec/packages/*/ $work/rec/catalog.sqlite &&
  python3 -c \"
import glob, json, sqlite3
m = json.load(open(glob.glob('$work/rec/packages/*/manifest.json')[0]))
db = sqlite3.connect('$work/rec/catalog.sqlite')
segs = [r for r in db.execute('SELECT first_frame, frames FROM segments WHERE drive_id = 1 ORDER BY first_frame')]
first, last = m['source_frames']['first'], m['source_frames']['last']
crossed = sum(1 for f, n in segs if first < f <= last)
assert crossed >= 1, (first, last, segs)
assert m['utc_start'] and m['utc_start'].endswith('Z')
\""
run -d "$work/rec" ingest -q recording://cam
check "ingesting the same camera again: exit 3, nothing left to ingest" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'no recorded segments' $work/err"

# --- export -------------------------------------------------------------------
for fmt in cvat mot coco labelstudio; do
  run -d "$d" clips export "$first" --format $fmt --out "$work/export-$fmt"
  check "export --format $fmt: exit 0" rc_is 0
done
check "cvat export: annotations.xml + clip.mp4" test -s "$work/export-cvat/annotations.xml" -a -s "$work/export-cvat/clip.mp4"
check "mot export: gt/gt.txt + gt/labels.txt" test -s "$work/export-mot/gt/gt.txt" -a -s "$work/export-mot/gt/labels.txt"
check "coco export: instances json + images" bash -c "python3 -c \"import json; d=json.load(open('$work/export-coco/annotations/instances_default.json')); assert len(d['images']) == len(__import__('os').listdir('$work/export-coco/images'))\""
check "labelstudio export: tasks.json + labeling-config.xml + clip.mp4" test -s "$work/export-labelstudio/tasks.json" -a \
  -s "$work/export-labelstudio/labeling-config.xml" -a -s "$work/export-labelstudio/clip.mp4"
check "...its task's video is Label Studio's local-files URL of the export directory" bash -c "python3 -c \"
import json; t = json.load(open('$work/export-labelstudio/tasks.json'))
assert t[0]['data']['video'] == '/data/local-files/?d=export-labelstudio/clip.mp4', t[0]['data']\""
run -d "$d" clips export "$first" --format labelstudio --out "$work/export-ls-url/" --video-url-prefix https://media.example/t/7
check "export --video-url-prefix: data.video is the prefix + /clip.mp4" bash -c "[ \"\$(cat $work/rc)\" = 0 ] && python3 -c \"
import json; t = json.load(open('$work/export-ls-url/tasks.json'))
assert t[0]['data']['video'] == 'https://media.example/t/7/clip.mp4', t[0]['data']\""
run -d "$d" clips export nosuch_clip --format cvat --out "$work/x"
check "export of an unknown clip: exit 3, names it, writes nothing" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q nosuch_clip $work/err && [ ! -e $work/x ]"
run -d "$d" clips show 99999999999999999999999
check "a clip id too large for any id: exit 3, not a crash" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'is not in the catalog' $work/err"
echo keep >"$work/export-cvat/mine.txt"
run -d "$d" clips export "$first" --format cvat --out "$work/export-cvat"
check "export into a non-empty directory: exit 3, nothing overwritten" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && [ \"\$(cat $work/export-cvat/mine.txt)\" = keep ]"
pkg=$(ls -d "$d"/packages/"$first")
cp "$pkg/labels/coco.json" "$work/coco.bak"
echo " " >>"$pkg/labels/coco.json"
run -d "$d" clips export "$first" --format coco --out "$work/tampered"
check "a changed package file fails its sha256: exit 4, names the file" bash -c "[ \"\$(cat $work/rc)\" = 4 ] && grep -q 'labels/coco.json: ' $work/err"
cp "$work/coco.bak" "$pkg/labels/coco.json"

# --- the queue ----------------------------------------------------------------
run -d "$d" clips move "$first" approved --by ana --reason "clear pedestrian"
check "operator approves: exit 0" rc_is 0
run -d "$d" clips move "$first" acked --by ana
check "an illegal move: exit 3, both states named" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q \"cannot move from 'approved' to 'acked'\" $work/err"
run -d "$d" clips show "$first" --json
check "...the state is unchanged and the audit names the operator" json_ok \
  "d['state'] == 'approved' and d['audit'][-1]['actor'] == 'operator:ana' and d['audit'][-1]['reason'] == 'clear pedestrian'"

# --- operator marks -------------------------------------------------------------
run -d "$d" mark 1 --at 12.5 --note "near miss"
check "mark at 12.5 s: a new clip ready for review" bash -c "[ \"\$(cat $work/rc)\" = 0 ] && grep -q 'ready for review' $work/out"
run -d "$d" clips list --json
check "...with the mark as its reason, at the top of the queue" json_ok "d[0]['reasons'][0]['rule'] == 'mark' and d[0]['reasons'][0]['detail'] == 'near miss'"
run -d "$d" mark 1 --at 999
check "a mark outside the drive: exit 3" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'outside drive 1' $work/err"

run -d "$d" status --json
check "status: drives, clips by state, disk use" json_ok \
  "d['drives'] == 1 and d['clips']['approved'] == 1 and d['clips']['review'] >= 2 and d['disk']['packages_bytes'] > 0"
run -d "$d" status
check "status as text" out_has "annotator minutes waiting in review"

# --- the clip budget: filled by priority, near-duplicates dropped, per camera ----
# 40 min an hour: 30 s for the first drive of 45 s (its spans: 25 and 17 s; the floor, max_s, is 30 s too). The same drive ingested again
# (the same camera, the same hour of driving) earns 30 s more; the span the
# first drive kept is a near-duplicate now, and the trigger's clip is its own.
printf '[detector]\nkind = "motion"\n[clips]\nbudget_min_per_hour = 40\nsample_every_s = 0.0\n'"$unredacted" >"$work/budget.toml"
run -c "$work/budget.toml" -d "$work/budget" ingest "$data/drive_stamped.mp4" --json
budget_kept() {  # $1: first | again
  rc_is 0 || return 1
  python3 - "$work/out" "$work/budget/catalog.sqlite" "$1" <<'PY'
import json, re, sqlite3, sys
clips = json.load(open(sys.argv[1]))["drives"][0]["clips"]
db = sqlite3.connect(sys.argv[2])
kept = db.execute("SELECT end_s - start_s, priority, reasons FROM clips WHERE drive_id = (SELECT max(id) FROM drives)").fetchall()
print("  kept (s, priority, reasons):", kept, "dropped:", clips["dropped"])
over = [float(re.search(r"priority ([0-9.]+)", x).group(1)) for x in clips["dropped"] if "over the clip budget" in x]
if sys.argv[3] == "first":
    ok = kept and sum(k[0] for k in kept) <= 30 and over and min(k[1] for k in kept) >= max(over)
else:
    # the trigger's clip is its own (2 s before, 3 s after, plus a leftover
    # under min_s), kept whatever the budget; the span before it is a
    # near-duplicate of the first drive's clip; the rest fits the 30 s earned
    asked = [k for k in kept if '"trigger"' in k[2]]
    ok = (len(asked) == 1 and asked[0][0] <= 10
          and any("near-duplicate" in x for x in clips["dropped"])
          and sum(k[0] for k in kept if k not in asked) <= 30)
sys.exit(0 if ok else 1)
PY
}
check "a budget of 30 s an hour: the clips kept fit it, each span dropped for it ranks below them" budget_kept first
run -c "$work/budget.toml" -d "$work/budget" ingest --again "$data/drive_stamped.mp4" --trigger 20 --json
check "...the same drive again: the trigger's clip kept on its own, the span kept before a near-duplicate" budget_kept again
run -c "$work/budget.toml" -d "$work/budget" ingest --again "$data/drive_stamped.mp4"
check "...the summary line counts what was not kept" out_has "spans not kept by the clip budget"
check "...and the log says why, each" err_has "not kept: "
# With a budget to spare (60 min an hour: every second driven), the same
# drive again shows only what was already kept: every span a near-duplicate
# (same view, same classes).
printf '[detector]\nkind = "motion"\n[clips]\nbudget_min_per_hour = 60\nsample_every_s = 0.0\n'"$unredacted" >"$work/dup.toml"
run -c "$work/dup.toml" -d "$work/dup" ingest -q "$data/drive_stamped.mp4" --json
check "a budget to spare: every span of a drive kept" json_ok "d['drives'][0]['clips']['ready'] and not d['drives'][0]['clips']['dropped']"
run -c "$work/dup.toml" -d "$work/dup" ingest -q --again "$data/drive_stamped.mp4" --json
check "...the same drive again: every span a near-duplicate of a clip kept, none kept, and said so" json_ok \
  "not d['drives'][0]['clips']['ready'] and d['drives'][0]['clips']['dropped'] and all('near-duplicate' in x for x in d['drives'][0]['clips']['dropped']) and 'budget' in d['drives'][0]['clips']['skipped']"

# --- bad input: a missing or corrupt recording --------------------------------
cp "$data/drive_s3.mp4" "$work/copy.mp4"
run -c "$work/motion.toml" -d "$work/bad" ingest -q "$work/copy.mp4"
check "ingest a copy: exit 0" rc_is 0
before=$(cd "$work/bad/packages" && find . -type f | sort | xargs sha256sum)
mv "$work/copy.mp4" "$work/moved.mp4"
run -d "$work/bad" mark 1 --at 19
check "mark on a drive whose file is gone: exit 3, names the file" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'copy.mp4: the recording segment is missing' $work/err"
head -c 300000 /dev/urandom >"$work/copy.mp4"
run -d "$work/bad" mark 1 --at 18.5
check "mark on a drive whose file is garbage now: exit 3, names the file" bash -c "[ \"\$(cat $work/rc)\" = 3 ] && grep -q 'copy.mp4' $work/err"
run -d "$work/bad" clips list --state failed --json
check "...both clips failed, with the reason stored" json_ok "len(d) == 2 and all('copy.mp4' in c['state_reason'] for c in d)"
after=$(cd "$work/bad/packages" && find . -type f | sort | xargs sha256sum)
check "...and every package made before is untouched" test "$before" = "$after"

run -d "$work/mjpeg" ingest "$data/drive_s3mjpeg.avi"
check "an MJPEG drive (MP4 cannot carry it as it is): its clips re-encoded to H.264, frame for frame, and every package passes" bash -c "
  [ \"\$(cat $work/rc)\" = 0 ] && grep -q 're-encoded to H.264' $work/err && grep -q 'ready for review' $work/out &&
  for p in $work/mjpeg/packages/*/; do
    [ \"\$(ffprobe -v error -select_streams v -show_entries stream=codec_name -of csv=p=0 \$p/clip.mp4)\" = h264 ] &&
    /usr/bin/python3 $checker \$p $work/mjpeg/catalog.sqlite || exit 1; done"

finish
