#!/usr/bin/python3
"""Fault injection, SQLite's way: a station runs under a seeded random
schedule of faults, and after each step the promises are checked.

  faults_test.py DASHLOOP_BINARY RTSP_CAMERA_TOOL TESTDATA_DIR

The station: two RTSP cameras (dashloop-rtsp-camera serving real and
generated drives) and a raw test:// camera, its data directory on a small
tmpfs of its own, syncing to a Ceph RADOS Gateway on loopback
(tests/s3/rgw.sh: a real S3 server that checks signatures). The faults,
one a step, chosen by the seed: kill -9 of the station (then restarted), a
SIGTERM (it must stop cleanly within 5 s, exit 0; then restarted), a camera
server frozen with SIGSTOP, a camera server killed and started again later,
the filesystem filled to 100 % and freed, the gateway killed and started
again, the operator approving what waits in review (so sync runs under the
faults too), the cloud job (`dashloop collect`) run, and killed at a random
moment half the time. After each step:
  - PRAGMA integrity_check is ok;
  - every closed segment is on disk and decodes to its catalog frame count;
  - no recording deleted but by retention (its log line for each one);
  - every package directory holds its manifest (none half-written);
  - every clip is planned, in review or a later state, or failed with a
    reason;
  - every clip the box holds as acked is listed in a Label Studio tasks
    file of the cloud job's folder (nothing acked without its hand-over).
The seed is printed (DASHLOOP_FAULT_SEED=N replays it); DASHLOOP_FAULT_STEPS
sets the number of steps (8 by default: CI's short form). Ends with the plain
'N passed, N failed' line. Needs root for the tmpfs; skips with the reason
otherwise. Not here: a power cut below the page cache.
"""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

binary, camera_tool, data = sys.argv[1:4]
steps = int(os.environ.get("DASHLOOP_FAULT_STEPS", "8"))
seed = int(os.environ.get("DASHLOOP_FAULT_SEED", str(int(time.time()) % 100000)))
rng = random.Random(seed)
print(f"faults: seed {seed}, {steps} steps (DASHLOOP_FAULT_SEED={seed} replays it)", flush=True)

work = tempfile.mkdtemp(prefix="dashloop-faults.")
disk = os.path.join(work, "disk")
os.makedirs(disk)
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", disk], capture_output=True, text=True)
if mounted.returncode != 0:
    print(f"SKIPPED: cannot mount a tmpfs to fill (needs root): {mounted.stderr.strip()}")
    sys.exit(0)

passes = fails = 0
counts = {"kill": 0, "term": 0, "freeze": 0, "server": 0, "fill": 0, "approve": 0, "gateway": 0, "collect": 0}
rgw = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "s3", "rgw.sh")


def check(cond, what):
    global passes, fails
    if cond:
        passes += 1
    else:
        fails += 1
        print(f"FAIL: {what}", flush=True)
    return cond


port = 30000 + os.getpid() % 20000
gateway_port = 20000 + os.getpid() % 10000
started = subprocess.run([rgw, "start", os.path.join(work, "rgw"), str(gateway_port)], capture_output=True, text=True)
if started.returncode != 0:
    print(f"FAIL: the RADOS Gateway did not start: {started.stderr.strip()}")
    subprocess.run(["umount", disk])
    sys.exit(1)
endpoint, access_key, secret_key = started.stdout.split()
subprocess.run(["curl", "-sf", "-o", "/dev/null", "--aws-sigv4", "aws:amz:us-east-1:s3", "-u", f"{access_key}:{secret_key}",
                "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-X", "PUT", f"{endpoint}/fleet"], check=True)
creds = os.path.join(work, "creds.toml")
with open(creds, "w") as f:
    f.write(f'access_key = "{access_key}"\nsecret_key = "{secret_key}"\n')
os.chmod(creds, 0o600)
inbox = os.path.join(work, "inbox")
data_dir = os.path.join(disk, "d")
logs = os.path.join(work, "station.log")
config = os.path.join(work, "station.toml")
with open(config, "w") as f:
    f.write(f"""data_dir = "{data_dir}"
[[camera]]
name = "road"
source = "rtsp://127.0.0.1:{port}/road"
faces = "none"
plates = "none"
[[camera]]
name = "side"
source = "rtsp://127.0.0.1:{port}/side"
faces = "none"
plates = "none"
[[camera]]
name = "cabin"
source = "test://ball?width=320&height=240&fps=10"
faces = "none"
plates = "none"
[recording]
segment_s = 2
stall_s = 3
analysis_chunk_s = 6
[detector]
kind = "none"
[clips]
sample_every_s = 4
budget_min_per_hour = 60
[retention]
interval_s = 2
max_percent = 80
hard_percent = 95
[sync]
interval_s = 3
target = "s3://fleet/faults"
endpoint = "{endpoint}"
credentials_file = "{creds}"
attempts = 2
backoff_s = 0.2
[ui]
enabled = false
""")

server = None
station = None


def start_server():
    global server
    server = subprocess.Popen([camera_tool, "--port", str(port), f"road={data}/vtest_h264.mp4",
                               f"side={data}/drive_s2.mp4"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)


def start_station():
    global station
    log = open(logs, "a")
    station = subprocess.Popen([binary, "-c", config, "run"], stdout=log, stderr=log)


def stop_station_cleanly():
    station.send_signal(signal.SIGTERM)
    try:
        rc = station.wait(timeout=5)
    except subprocess.TimeoutExpired:
        station.kill()
        station.wait()
        rc = None
    return rc


def catalog():
    return sqlite3.connect(f"file:{data_dir}/catalog.sqlite?mode=ro", uri=True, timeout=10)


verified = {}  # segment id -> frames already checked


def frames_of(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", path], capture_output=True, text=True)
    try:
        return int(out.stdout.split()[0])  # a TS gives its program's line and its stream's
    except (ValueError, IndexError):
        return -1


def still_closed(sid):
    """Whether a segment whose file is gone (or does not decode) still reads 'closed' 10 s on. Retention
    marks a row deleted before it unlinks the file, yet a long run (seed 95623, 40 steps) saw a row read
    'closed' for over a second after the unlink, then 'deleted': not yet explained (docs/STATION.md).
    A row that stays 'closed' fails here, and at every clean stop below without waiting."""
    for _ in range(10):
        time.sleep(1)
        db = catalog()
        row = db.execute("SELECT state FROM segments WHERE id = ?", (sid,)).fetchone()
        db.close()
        if row is None or row[0] != "closed":
            return False
    return True


def invariants(step, stopped=False):
    db = catalog()
    if stopped:  # while it runs, a file may be opened a moment before the catalog hears of it
        known = {p for (p,) in db.execute("SELECT path FROM segments")}
        recordings = os.path.join(data_dir, "recordings")
        for cam in os.listdir(recordings) if os.path.isdir(recordings) else []:
            for name in os.listdir(os.path.join(recordings, cam)):
                path = os.path.join(recordings, cam, name)
                check(path in known or os.path.getsize(path) == 0,
                      f"step {step}: {path} ({os.path.getsize(path)} bytes) is in no catalog row: video no one sees")
    ok = db.execute("PRAGMA quick_check").fetchone()[0]
    check(ok == "ok", f"step {step}: integrity check: {ok}")
    log_text = open(logs).read() if os.path.exists(logs) else ""
    for sid, path, state, frames in db.execute("SELECT id, path, state, frames FROM segments WHERE owned = 1"):
        if state == "closed":
            if verified.get(sid) == frames:
                continue
            decoded = frames_of(path) if os.path.exists(path) else -1
            if decoded != frames and not stopped and not still_closed(sid):
                continue  # retention took it meanwhile (its log line is checked once the row says deleted)
            if not check(os.path.exists(path), f"step {step}: closed segment {path} missing"):
                continue
            if check(decoded == frames, f"step {step}: {path}: decodes to {decoded} frames, the catalog says {frames}"):
                verified[sid] = frames
        elif state == "deleted":
            check(f"retention: deleted segment {path}" in log_text,
                  f"step {step}: segment {path} deleted with no retention log line")
        elif state == "unreadable":
            check(os.path.exists(path), f"step {step}: unreadable segment {path} was deleted, not kept")
    packages = os.path.join(data_dir, "packages")
    if os.path.isdir(packages):
        for p in os.listdir(packages):
            if p.startswith(".") or not os.path.isdir(os.path.join(packages, p)):
                continue
            check(os.path.exists(os.path.join(packages, p, "manifest.json")), f"step {step}: package {p} has no manifest")
    listed = set()
    if os.path.isdir(inbox):
        for name in os.listdir(inbox):
            if name.startswith("labelstudio-tasks-") and name.endswith(".json"):
                listed |= {t["data"]["video"].split("/")[-2] for t in json.load(open(os.path.join(inbox, name)))}
    for uid, state, reason in db.execute("SELECT uid, state, state_reason FROM clips"):
        check(state in ("planned", "packaged", "review", "approved", "rejected", "uploading", "uploaded", "acked", "failed"),
              f"step {step}: clip {uid} in state {state}")
        if state == "failed":
            check(bool(reason), f"step {step}: clip {uid} failed without a reason")
        if state == "acked":
            check(uid in listed, f"step {step}: clip {uid} acked, but in no tasks file of the cloud job")
    db.close()


def run_schedule():
    global station
    start_server()
    start_station()
    time.sleep(8)
    for step in range(1, steps + 1):
        fault = rng.choice(["kill", "kill", "term", "freeze", "server", "fill", "approve", "approve", "gateway", "collect"])
        counts[fault] += 1
        print(f"step {step}: {fault}", flush=True)
        clean = False
        if fault == "kill":
            time.sleep(rng.uniform(0, 3))
            station.kill()
            station.wait()
            start_station()
        elif fault == "term":
            rc = stop_station_cleanly()
            check(rc == 0, f"step {step}: SIGTERM: the station stopped within 5 s with exit 0 (exit {rc})")
            invariants(step, stopped=True)
            clean = True
            start_station()
        elif fault == "freeze":
            server.send_signal(signal.SIGSTOP)
            time.sleep(rng.uniform(3, 7))
            server.send_signal(signal.SIGCONT)
        elif fault == "server":
            server.kill()
            server.wait()
            time.sleep(rng.uniform(2, 5))
            start_server()
        elif fault == "fill":
            filler = os.path.join(disk, "filler")
            subprocess.run(["sh", "-c", f"head -c 200M /dev/zero > {filler}"], stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(3, 6))
            check(station.poll() is None, f"step {step}: the station runs on with its disk full")
            os.remove(filler)
        elif fault == "gateway":
            subprocess.run([rgw, "gateway-stop", os.path.join(work, "rgw")])
            time.sleep(rng.uniform(3, 8))
            check(subprocess.run([rgw, "gateway-start", os.path.join(work, "rgw")]).returncode == 0,
                  f"step {step}: the gateway started again")
        elif fault == "collect":
            job = subprocess.Popen([binary, "-c", config, "collect", "--from", "s3://fleet/faults", "--to", inbox, "--job",
                                    "faults-job"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if rng.random() < 0.5:
                time.sleep(rng.uniform(0, 2))
                job.kill()
            job.wait()
        elif fault == "approve":
            subprocess.run([binary, "-c", config, "clips", "move", "approved", "--state", "review", "--by", "faults"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(3, 6))
        check(station.poll() is None, f"step {step}: the station is running after '{fault}'")
        if not clean:
            invariants(step)

    rc = stop_station_cleanly()
    check(rc == 0, f"the last SIGTERM: exit 0 within 5 s (exit {rc})")
    invariants("end", stopped=True)
    db = catalog()
    segs = db.execute("SELECT count(*) FROM segments WHERE state = 'closed'").fetchone()[0]
    clips = dict(db.execute("SELECT state, count(*) FROM clips GROUP BY state").fetchall())
    db.close()
    print(f"faults: seed {seed}: {steps} steps {counts}; {len(verified)} segments decoded and matched; "
          f"{segs} closed segments at the end; clips {clips}", flush=True)


def clean_up():
    """Whatever happened: no station, server or gateway left running, no tmpfs left mounted."""
    for proc in (station, server):
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
    subprocess.run([rgw, "stop", os.path.join(work, "rgw")])
    if fails or os.environ.get("KEEP"):
        subprocess.run(["cp", "-a", data_dir, os.path.join(work, "d")])
    subprocess.run(["umount", disk])
    if fails == 0 and not os.environ.get("KEEP"):
        subprocess.run(["rm", "-rf", work])
    else:
        print(f"faults: the station's log and catalog are kept in {work}")


try:
    run_schedule()
except Exception as e:  # a broken check is a failure, never a run left behind
    check(False, f"the schedule stopped: {e!r}")
finally:
    clean_up()
print(f"{passes} passed, {fails} failed")
sys.exit(1 if fails else 0)
