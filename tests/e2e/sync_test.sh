#!/usr/bin/env bash
# End-to-end sync against a real S3 server that checks signatures (Ceph's
# RADOS Gateway on loopback, tests/s3/rgw.sh) and against the file:// default:
# approved packages uploaded (multipart above the threshold, manifest last),
# a kill -9 mid-upload resumed without re-sending finished parts, collect
# verifying, claiming and acking, the acks read back on the box; and the bad
# inputs: a world-readable credentials file, a malformed endpoint, a wrong
# secret, a package changed on disk, a dead server, a damaged object.
#   sync_test.sh DASHLOOP_BINARY MAKE_DRIVE_BINARY
set -uo pipefail
bin=$1
make_drive=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/dashloop-e2e-sync.XXXXXX)
port=$((20000 + $$ % 20000))
trap '"$here/../s3/rgw.sh" stop "$work/rgw"; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
. "$here/lib.sh"
py=/usr/bin/python3

read -r endpoint ak sk < <("$here/../s3/rgw.sh" start "$work/rgw" "$port") || { echo "FAIL: the RADOS Gateway did not start"; exit 1; }
echo "RADOS Gateway at $endpoint"
s3() {  # METHOD PATH [curl args...]: a signed request with curl's own SigV4
  local method=$1 path=$2
  shift 2
  curl -s --aws-sigv4 "aws:amz:us-east-1:s3" -u "$ak:$sk" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -X "$method" "$endpoint$path" "$@"
}
check "a bucket made with curl --aws-sigv4" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u $ak:$sk -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X PUT $endpoint/fleet)\" = 200 ]"

# --- packages: a 1080p drive at a high bitrate (one clip.mp4 of ~25 MB, multipart) and a short one
"$make_drive" --out "$work/big.mp4" --width 1920 --height 1080 --fps 30 --seconds 10 --bitrate 20000 --preset ultrafast >/dev/null 2>&1
"$make_drive" --out "$work/small.mp4" --width 640 --height 360 --fps 25 --seconds 8 --seed 7 >/dev/null 2>&1
d=$work/box
printf 'access_key = "%s"\nsecret_key = "%s"\n' "$ak" "$sk" >"$work/creds.toml"
chmod 600 "$work/creds.toml"
cat >"$work/box.toml" <<EOF
vehicle = "van-7"
[detector]
kind = "none"
[clips]
max_s = 30.0
sample_every_s = 5.0
# generated drives show no one, and what is measured here is the transport
# of the bytes as cut (e2e.privacy syncs redacted packages)
[privacy]
faces = "none"
plates = "none"
[sync]
target = "s3://fleet/depot-a"
endpoint = "$endpoint"
credentials_file = "$work/creds.toml"
multipart_threshold_mib = 5
part_mib = 5
attempts = 2
backoff_s = 0.2
EOF
run -c "$work/box.toml" -d "$d" ingest -q "$work/big.mp4" "$work/small.mp4"
check "two drives ingested into packages" rc_is 0
approve_all() {
  for uid in $("$bin" -d "$d" clips list --state review --json | $py -c 'import json,sys; print(" ".join(c["uid"] for c in json.load(sys.stdin)))'); do
    "$bin" -d "$d" clips move "$uid" approved --by tester >/dev/null || return 1
  done
}
check "every package approved by an operator" approve_all
n_approved=$("$bin" -d "$d" clips list --state approved --json | $py -c 'import json,sys; print(len(json.load(sys.stdin)))')
big_uid=$(sqlite3 "$d/catalog.sqlite" "SELECT uid FROM clips WHERE state = 'approved' ORDER BY bytes DESC LIMIT 1")
big_bytes=$(sqlite3 "$d/catalog.sqlite" "SELECT bytes FROM clips WHERE uid = '$big_uid'")
echo "$n_approved approved packages; the largest, $big_uid, has $big_bytes bytes"
check "the largest package is big enough for several 5 MiB parts" test "$big_bytes" -gt $((15 * 1048576))

# --- bad input: nothing uploaded, nothing lost --------------------------------
chmod 644 "$work/creds.toml"
run -c "$work/box.toml" -d "$d" sync
check "a world-readable credentials file: refused (exit 3), named, with the fix" bash -c "rc_is() { [ \$(cat $work/rc) = 3 ]; }; rc_is && grep -q 'creds.toml: credentials file has mode 0644' $work/err && grep -q 'chmod 600' $work/err"
check "...and the secret is not in the message" bash -c "! grep -q '$sk' $work/err"
run -c "$work/box.toml" -d "$d" doctor
check "doctor says so too (exit 1), without the secret" bash -c "[ \$(cat $work/rc) = 1 ] && grep -q 'sync: .*mode 0644' $work/out && ! grep -q '$sk' $work/out $work/err"
chmod 600 "$work/creds.toml"
run -c "$work/box.toml" -d "$d" doctor --json
check "doctor with the 0600 file: sync ok, the target named, no secret" json_ok "d['sync'] == 'ok: s3://fleet/depot-a/' and '$sk' not in json.dumps(d)"
sed "s|^endpoint = .*|endpoint = \"htp//bad host\"|" "$work/box.toml" >"$work/bad-endpoint.toml"
run -c "$work/bad-endpoint.toml" -d "$d" sync
check "a malformed endpoint URL: exit 3 naming it" bash -c "[ \$(cat $work/rc) = 3 ] && grep -q \"endpoint 'htp//bad host'\" $work/err"
check "...the packages are still approved" bash -c "[ \$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state = 'approved'\") = $n_approved ]"

# A dead server: transient, retried, then the command ends (no hang); nothing fails.
# Port 9 (discard), where nothing listens: a port derived from the pid, as
# before, could be one that a test running beside this one listens on.
sed "s|^endpoint = .*|endpoint = \"http://127.0.0.1:9\"|" "$work/box.toml" >"$work/dead.toml"
start=$(date +%s)
run -c "$work/dead.toml" -d "$d" sync --json
took=$(($(date +%s) - start))
echo "  a dead server: exit $(cat "$work/rc") after $took s: $(tail -1 "$work/err")"
check "a dead server: exit 4 within seconds, the reason printed" bash -c "[ \$(cat $work/rc) = 4 ] && [ $took -lt 20 ] && grep -q 'Could not connect\|Couldn.t connect' $work/err"
check "...no package failed: they wait to be resumed" bash -c "[ \$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state = 'failed'\") = 0 ]"

# One sync per data directory: a second says who holds it and leaves the packages alone.
"$bin" -c "$work/dead.toml" -d "$d" sync --follow >"$work/first.out" 2>&1 &
first=$!
for _ in $(seq 1 100); do [ "$(cat "$d/sync.lock" 2>/dev/null)" = "$first" ] && break; sleep 0.1; done
run -c "$work/box.toml" -d "$d" sync
check "a second sync on one data dir: exit 4, naming the first's pid" bash -c "[ \$(cat $work/rc) = 4 ] && grep -q 'another sync (pid $first)' $work/err"
kill -TERM $first
wait $first
check "...the first stops on SIGTERM" test $? -ne 137
check "...no package moved meanwhile" bash -c "[ \$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state IN ('approved', 'uploading')\") = $n_approved ]"

# --- a kill -9 in the middle of the big package's multipart upload ------------
sed 's|^\[sync\]|[sync]\nmax_bytes_per_s = 8000000|' "$work/box.toml" >"$work/slow.toml"
"$bin" -c "$work/slow.toml" -d "$d" sync >"$work/slow.out" 2>&1 &
pid=$!
parts=0
for _ in $(seq 1 200); do
  parts=$(sqlite3 "$d/catalog.sqlite" "SELECT count(*) FROM upload_parts p JOIN clips c ON c.id = p.clip_id WHERE c.uid = '$big_uid'" 2>/dev/null || echo 0)
  [ "${parts:-0}" -ge 2 ] && break
  sleep 0.1
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
parts=$(sqlite3 "$d/catalog.sqlite" "SELECT count(*) FROM upload_parts p JOIN clips c ON c.id = p.clip_id WHERE c.uid = '$big_uid'")
echo "killed with $parts finished parts of $big_uid"
check "kill -9 left finished parts recorded in the catalog" test "$parts" -ge 2
check "...and no manifest in the bucket for the half-sent package" bash -c "! curl -s --aws-sigv4 aws:amz:us-east-1:s3 -u $ak:$sk -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '$endpoint/fleet?list-type=2&prefix=depot-a%2F' | grep -q '$big_uid/manifest.json'"
run -c "$work/box.toml" -d "$d" sync --json
cp "$work/out" "$work/resume.json"
check "the restarted sync uploads everything: exit 0" rc_is 0
check "...resuming: every finished part skipped (the catalog's, and any the server holds)" json_ok \
  "d['uploaded'] == $n_approved and d['bytes_resumed'] >= $parts * 5 * 1048576 and d['failed'] == 0"
echo "resume: $(cat "$work/resume.json")"
check "every package is 'uploaded', each with audit rows" bash -c "[ \$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state = 'uploaded'\") = $n_approved ] && [ \$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM clip_audit WHERE actor = 'sync' AND to_state = 'uploaded'\") = $n_approved ]"

s3 GET "/fleet?list-type=2&prefix=depot-a%2F" >"$work/list.xml"
date_dir=$(date -u +%Y-%m-%d)
check "keys are <prefix>/<vehicle>/<UTC date>/<clip>/..., a manifest per package" bash -c "[ \$(grep -o \"depot-a/van-7/$date_dir/[^<]*/manifest.json\" $work/list.xml | wc -l) = $n_approved ]"
# --- the default privacy policy on the S3 side: every clip and keyframe object is the redacted file, never the original
pd=$work/private
# (its own prefix: what collect takes from depot-a is counted below)
sed -e 's|^vehicle = .*|vehicle = "van-8"|' -e 's|^target = .*|target = "s3://fleet/private-a"|' -e '/^\[privacy\]/,/^plates/d' \
  "$work/box.toml" >"$work/private.toml"
# Real footage with cars in it (plate bands to blur): in a generated drive the
# redactor finds nothing to hide and keeps the clip as cut, the original's bytes.
run -c "$work/private.toml" -d "$pd" ingest -q "$here/../../firmware/samples/solidWhiteRight.mp4"
check "a drive ingested under the default policy (faces and plates blurred)" rc_is 0
for uid in $("$bin" -d "$pd" clips list --state review --json | $py -c 'import json,sys; print(" ".join(c["uid"] for c in json.load(sys.stdin)))'); do
  "$bin" -d "$pd" clips move "$uid" approved --by tester >/dev/null
done
run -c "$work/private.toml" -d "$pd" sync --json
check "...its packages synced to the gateway" json_ok "d['uploaded'] >= 1 and d['failed'] == 0"
redacted_on_s3() {
  local n=0 pkg uid f key
  for pkg in "$pd"/packages/*/; do
    uid=$(basename "$pkg")
    [ -f "$pd/packages/$uid.original.mp4" ] || { echo "  $uid: no original kept"; return 1; }
    for f in clip.mp4 $(cd "$pkg" && ls keyframes/*.jpg 2>/dev/null); do
      key="/fleet/private-a/van-8/$date_dir/$uid/$f"
      got=$(s3 GET "$key" | sha256sum | cut -d' ' -f1)
      [ "$got" = "$(sha256sum <"$pkg/$f" | cut -d' ' -f1)" ] || { echo "  $key: not the package's redacted file"; return 1; }
      n=$((n + 1))
    done
    [ "$(s3 GET "/fleet/private-a/van-8/$date_dir/$uid/clip.mp4" | sha256sum | cut -d' ' -f1)" != \
      "$(sha256sum <"$pd/packages/$uid.original.mp4" | cut -d' ' -f1)" ] || { echo "  $uid: the original was uploaded"; return 1; }
    s3 GET "/fleet?list-type=2&prefix=private-a%2F" | grep -q 'original' && { echo "  an original in the bucket"; return 1; }
  done
  echo "  $n clip and keyframe objects read back from the gateway, each the redacted file"
  [ "$n" -gt 0 ]
}
check "...every clip and keyframe object's sha256 is the redacted file's, none the original's, no original in the bucket" redacted_on_s3
s3 HEAD "/fleet/depot-a/van-7/$date_dir/$big_uid/clip.mp4" -I >"$work/head.txt"
check "the big clip.mp4 went multipart (S3's ETag \"...-N\")" grep -qi 'etag: "[0-9a-f]*-[0-9]*"' "$work/head.txt"
s3 GET "/fleet/depot-a/van-7/$date_dir/$big_uid/clip.mp4" -o "$work/got.mp4"
check "...and reads back byte for byte" cmp "$work/got.mp4" "$d/packages/$big_uid/clip.mp4"
every_object_matches() {  # an independent client (curl) reads back every object of every package
  local m uid f want got
  for m in $(grep -o "depot-a/van-7/$date_dir/[^<]*/manifest.json" "$work/list.xml"); do
    uid=$(basename "$(dirname "$m")")
    s3 GET "/fleet/$m" -o "$work/m.json"
    cmp -s "$work/m.json" "$d/packages/$uid/manifest.json" || { echo "  $m differs"; return 1; }
    while read -r f want; do
      got=$(s3 GET "/fleet/depot-a/van-7/$date_dir/$uid/$f" | sha256sum | cut -c1-64)
      [ "$got" = "$want" ] || { echo "  $uid/$f: sha256 $got, manifest $want"; return 1; }
    done < <($py -c "import json; [print(f['path'], f['sha256']) for f in json.load(open('$work/m.json'))['files']]")
  done
}
check "...every object of every package, read back by curl, has the manifest's sha256" every_object_matches

# --- the cloud: collect, killed, then two jobs at once into one folder -------
# A job killed mid-way acks nothing its tasks file does not list (it has none
# yet); run again under its name it takes its own claims back at once.
"$bin" -c "$work/box.toml" collect --from s3://fleet/depot-a --to "$work/cloud-a" --job job-a --json >/dev/null 2>"$work/ck.err" &
killed=$!
sleep 0.${DASHLOOP_KILL_AT:-4}
kill -9 $killed 2>/dev/null
wait $killed 2>/dev/null
"$bin" -c "$work/box.toml" collect --from s3://fleet/depot-a --to "$work/cloud-a" --job job-a --json >"$work/ca.json" 2>"$work/ca.err" &
"$bin" -c "$work/box.toml" collect --from s3://fleet/depot-a --to "$work/cloud-a" --job job-b --json >"$work/cb.json" 2>"$work/cb.err"
wait
check "two collect jobs at once (after a kill) take every package once between them" $py -c "
import json; a = json.load(open('$work/ca.json')); b = json.load(open('$work/cb.json'))
assert a['taken'] + b['taken'] + a['already_acked'] >= $n_approved, (a, b)
assert not set(a['uids']) & set(b['uids']), (a, b)
assert a['damaged'] == b['damaged'] == 0, (a, b)"
check "...every package acked is listed in a Label Studio tasks file of that folder, none overwritten" $py -c "
import glob, json, os
files = glob.glob('$work/cloud-a/labelstudio-tasks-*.json')
listed = {t['data']['video'].split('/')[-2] for f in files for t in json.load(open(f))}
taken = {d for d in os.listdir('$work/cloud-a') if os.path.isfile('$work/cloud-a/' + d + '/manifest.json')}
assert len(taken) == $n_approved and taken <= listed, (sorted(taken), sorted(listed), files)"
check "...each taken package verifies against its manifest" bash -c "for p in $work/cloud-*/*/; do [ -f \$p/manifest.json ] && [ -f \$p/clip.mp4 ] || exit 1; done"
check "...and per clip a CVAT archive: annotations.xml, the package's CVAT XML byte for byte" $py -c "
import glob, zipfile
zips = glob.glob('$work/cloud-*/*/cvat-annotations.zip')
assert len(zips) == $n_approved, zips
for z in zips:
    with zipfile.ZipFile(z) as a:
        assert a.namelist() == ['annotations.xml'], a.namelist()
        assert a.read('annotations.xml') == open(z.replace('cvat-annotations.zip', 'labels/cvat-video.xml'), 'rb').read()"
check "...and a Label Studio tasks file per batch, a task per clip" $py -c "
import glob, json
tasks = [t for f in glob.glob('$work/cloud-*/labelstudio-tasks-*.json') for t in json.load(open(f))]
assert len({t['data']['video'] for t in tasks}) == $n_approved and all(t['data']['video'].endswith('/clip.mp4') for t in tasks), tasks"
run -c "$work/box.toml" -d "$d" sync --json
check "sync reads the acks: every package 'acked'" json_ok "d['acked'] == $n_approved"

# --- a package damaged in the bucket: the cloud says so, the box sends it again
# A fresh package, uploaded, then one of its objects overwritten in the bucket.
run -c "$work/box.toml" -d "$d" ingest -q --again "$work/small.mp4"
approve_all
run -c "$work/box.toml" -d "$d" sync --json
new_uid=$(sqlite3 "$d/catalog.sqlite" "SELECT uid FROM clips WHERE state = 'uploaded' ORDER BY id DESC LIMIT 1")
echo "garbage" >"$work/garbage"
curl -s --aws-sigv4 "aws:amz:us-east-1:s3" -u "$ak:$sk" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$work/garbage" \
  "$endpoint/fleet/depot-a/van-7/$date_dir/$new_uid/labels/cvat-video.xml" >/dev/null
run -c "$work/box.toml" collect --from s3://fleet/depot-a --to "$work/cloud-c" --job job-c --json
check "collect finds the damaged file: acked as failed, naming it, nothing written" json_ok \
  "d['damaged'] >= 1 and any('labels/cvat-video.xml' in e for e in d['errors'])"
check "...the damaged package is not in the cloud directory" test ! -e "$work/cloud-c/$new_uid"
run -c "$work/box.toml" -d "$d" sync --json
check "the box reads the failed ack and uploads the package again" json_ok "d['reupload'] >= 1 and d['uploaded'] >= 1"
run -c "$work/box.toml" collect --from s3://fleet/depot-a --to "$work/cloud-c" --job job-c --json
check "...after which collect takes it whole" json_ok "'$new_uid' in d['uids']"

# --- faults between the box and the server: a fault-injecting proxy --------
proxy_port=$((port + 7))
echo '{}' >"$work/faults.json"
$py "$here/../s3/fault_proxy.py" "$proxy_port" "$port" "$work/faults.json" 2>"$work/proxy.log" &
proxy=$!
sleep 0.5
sed -e "s|^endpoint = .*|endpoint = \"http://127.0.0.1:$proxy_port\"|" -e 's|^target = .*|target = "s3://fleet/faults"|' \
  -e 's|^attempts = .*|attempts = 6|' "$work/box.toml" >"$work/faults.toml"
run -c "$work/box.toml" -d "$d" ingest -q --again "$work/big.mp4"
approve_all
echo '{"fail": [503, 429, 500]}' >"$work/faults.json"
run -c "$work/faults.toml" -d "$d" sync --json
check "503, 429 and 500 on parts: retried with backoff, the package uploaded, exit 0" bash -c "
  [ \$(cat $work/rc) = 0 ] && grep -q 'HTTP 503' $work/err && grep -q 'HTTP 429' $work/err && grep -q 'HTTP 500' $work/err &&
  [ \$(grep -c 'injected' $work/proxy.log) = 3 ] && grep -q '\"uploaded\":1' $work/out"
run -c "$work/box.toml" -d "$d" ingest -q --again "$work/big.mp4"
approve_all
echo '{}' >"$work/faults.json"
sed 's|^\[sync\]|[sync]\nmax_bytes_per_s = 3000000|' "$work/faults.toml" >"$work/faults-slow.toml"
start=$(date +%s.%N)
"$bin" -c "$work/faults-slow.toml" -d "$d" sync --json >"$work/away.json" 2>"$work/away.err" &
pid=$!
sleep 2
echo '{"down_s": 3}' >"$work/faults.json"  # the server goes away for 3 s mid-upload
listings_ok=0
while kill -0 $pid 2>/dev/null; do  # meanwhile: a listing never shows a manifest before its files
  s3 GET "/fleet?list-type=2&prefix=faults%2F" >"$work/snap.xml"
  $py - "$work/snap.xml" "$d/packages" <<'PY' || listings_ok=1
import os, re, sys
keys = re.findall(r"<Key>([^<]*)</Key>", open(sys.argv[1]).read())
for k in keys:
    if k.endswith("/manifest.json"):
        prefix = k[: -len("manifest.json")]
        uid = prefix.rstrip("/").split("/")[-1]
        files = sum(len(fs) for _, _, fs in os.walk(os.path.join(sys.argv[2], uid)))
        if sum(1 for x in keys if x.startswith(prefix)) != files:
            sys.exit(f"  manifest listed before all of {uid}'s {files} files")
PY
  sleep 0.3
done
wait $pid
rc=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "  upload through a server away for 3 s, capped at 3 MB/s: $took s"
check "the server away for 3 s mid-upload: reconnected, the package uploaded, exit 0" bash -c "
  [ $rc = 0 ] && grep -q 'connection dropped' $work/proxy.log && grep -q 'try 1 of 6' $work/away.err && grep -q '\"uploaded\":1' $work/away.json"
check "...no listing taken during the uploads showed a manifest before its package's files" test $listings_ok = 0
check "...the bandwidth cap held for both connections together (26 MB at 3 MB/s: at least 8 s)" bash -c "[ \$(echo '$took >= 8' | bc) = 1 ]"
kill $proxy 2>/dev/null
sed 's|^target = .*|target = "s3://no-such-bucket/x"|' "$work/box.toml" >"$work/nobucket.toml"
run -c "$work/box.toml" -d "$d" ingest -q --again "$work/small.mp4"
approve_all
# A target the store refuses (a missing bucket, a wrong secret) is no fault of
# a package: the pass stops with the store's reason, every package stays
# approved (one wrong setting once failed them all in one pass).
run -c "$work/nobucket.toml" -d "$d" sync --json
check "a missing bucket: exit 4, NoSuchBucket named, the pass stopped" bash -c "
  [ \$(cat $work/rc) = 4 ] && grep -q NoSuchBucket $work/err"
check "...no package failed: it waits, approved" bash -c "[ \$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state = 'failed'\") = 0 ] && [ \$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state IN ('approved', 'uploading')\") = 1 ]"
run -c "$work/box.toml" -d "$d" sync --json
check "...uploaded once the target is fixed" json_ok "d['uploaded'] == 1 and d['failed'] == 0"

# --- a wrong secret: 403 from the server, the pass stopped with the reason, no loop
run -c "$work/box.toml" -d "$d" ingest -q --again "$work/small.mp4"
approve_all
printf 'access_key = "%s"\nsecret_key = "wrong"\n' "$ak" >"$work/wrong.toml"
chmod 600 "$work/wrong.toml"
sed "s|^credentials_file = .*|credentials_file = \"$work/wrong.toml\"|" "$work/box.toml" >"$work/wrong-secret.toml"
start=$(date +%s)
run -c "$work/wrong-secret.toml" -d "$d" sync --json
check "a wrong secret: exit 4 at once (403 is not retried), the server's reason named" bash -c "[ \$(cat $work/rc) = 4 ] && [ \$((\$(date +%s) - $start)) -lt 10 ] && grep -q 'HTTP 403 SignatureDoesNotMatch' $work/err"
check "...the package still approved, not failed" bash -c "[ \$(sqlite3 $d/catalog.sqlite \"SELECT count(*) FROM clips WHERE state = 'failed'\") = 0 ]"
failed_uid=$(sqlite3 "$d/catalog.sqlite" "SELECT uid FROM clips WHERE state IN ('approved', 'uploading') LIMIT 1")
# A package file changed on disk after packaging (same size, one byte): never uploaded.
printf 'X' | dd of="$d/packages/$failed_uid/labels/coco.json" bs=1 seek=20 conv=notrunc status=none
run -c "$work/box.toml" -d "$d" sync --json
check "a package changed on disk: 'failed', sha256 named, not uploaded" bash -c "
  sqlite3 $d/catalog.sqlite \"SELECT state || ' ' || state_reason FROM clips WHERE uid = '$failed_uid'\" | grep -q '^failed .*labels/coco.json.*sha256'"
check "...no object of it in the bucket" bash -c "! curl -s --aws-sigv4 aws:amz:us-east-1:s3 -u $ak:$sk -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '$endpoint/fleet?list-type=2&prefix=depot-a%2F' | grep -q '$failed_uid'"

# --- virtual-host style (BUCKET.localhost: the gateway's rgw_dns_name)
run -c "$work/box.toml" -d "$d" ingest -q --again "$work/small.mp4"
approve_all
sed -e "s|^endpoint = .*|endpoint = \"http://localhost:$port\"|" -e 's|^target = .*|target = "s3://fleet/vhost"|' \
  -e 's|^\[sync\]|[sync]\npath_style = false|' "$work/box.toml" >"$work/vhost.toml"
run -c "$work/vhost.toml" -d "$d" sync --json
check "virtual-host style addressing (fleet.localhost): uploaded" json_ok "d['uploaded'] == 1 and d['failed'] == 0"
check "...into the bucket, under its prefix" bash -c "curl -s --aws-sigv4 aws:amz:us-east-1:s3 -u $ak:$sk -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '$endpoint/fleet?list-type=2&prefix=vhost%2F' | grep -q 'vhost/van-7/.*/manifest.json'"

# --- the embedded default: file:// under the data dir -------------------------
run -d "$work/local" ingest -q "$work/small.mp4"
d=$work/local approve_all
run -d "$work/local" sync --json
check "the default target (file://DATA_DIR/upload-target): uploaded" json_ok "d['uploaded'] >= 1 and d['failed'] == 0"
run collect --from "file://$work/local/upload-target" --to "$work/local-cloud" --json
check "...collect takes it from the directory" json_ok "d['taken'] >= 1 and d['damaged'] == 0"
run -d "$work/local" sync --json
check "...and the ack comes back" json_ok "d['acked'] >= 1"
# A claim held by a job that died: kept while fresh, taken over once stale.
# Another drive: the same one again is a near-duplicate the budget drops.
"$make_drive" --out "$work/other.mp4" --width 640 --height 360 --fps 25 --seconds 8 --seed 11 >/dev/null 2>&1
run -d "$work/local" ingest -q "$work/other.mp4"
d=$work/local approve_all
run -d "$work/local" sync
held=$(sqlite3 "$work/local/catalog.sqlite" "SELECT uid FROM clips WHERE state = 'uploaded' ORDER BY id DESC LIMIT 1")
mkdir -p "$work/local/upload-target/claims"
printf '{"version": 1, "clip": "%s", "by": "dead-job", "at": "%s"}' "$held" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  >"$work/local/upload-target/claims/$held.json"
run collect --from "file://$work/local/upload-target" --to "$work/local-cloud" --json
check "a fresh claim of another job: the package is left to it" json_ok "d['claimed_elsewhere'] == 1 and '$held' not in d['uids']"
printf '{"version": 1, "clip": "%s", "by": "dead-job", "at": "2000-01-01T00:00:00Z"}' "$held" \
  >"$work/local/upload-target/claims/$held.json"
run collect --from "file://$work/local/upload-target" --to "$work/local-cloud" --json
check "...a claim older than --claim-timeout with no ack: taken over (claims/CLIP~1.json), collected" bash -c "
  grep -q '\"uids\":\[\"$held\"\]' $work/out && [ -f '$work/local/upload-target/claims/$held~1.json' ] && grep -q 'taking it over' $work/err"

# A manifest under a name the box never makes: skipped, named, nothing written.
mkdir -p "$work/odd-target/v/d/bad name;rm"
printf '{}' >"$work/odd-target/v/d/bad name;rm/manifest.json"
run collect --from "file://$work/odd-target" --to "$work/odd-inbox" --json
check "collect skips a package whose name the box never makes, and says so" json_ok "d['taken'] == 0 and any('not a package name' in e for e in d['errors'])"
finish
