#!/usr/bin/env python3
"""Runs tests/ui/browser_test.mjs (playwright-core, Debian's Chromium)
against `dashloop ui` on a catalog of two real clips.
Usage: ui_browser_test.py DASHLOOP WORKDIR [SCREENSHOT_DIR]"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ui_lib  # noqa: E402
from ui_lib import Station  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
tests_ui = os.path.join(here, "..", "ui")
chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Both come from scripts/setup.sh: without them the test fails, naming what is missing.
if not os.path.isdir(os.path.join(tests_ui, "node_modules", "playwright-core")):
    sys.exit("FAIL: tests/ui/node_modules/playwright-core is missing: run scripts/setup.sh (npm ci in tests/ui)")
if not shutil.which(chromium):
    sys.exit(f"FAIL: {chromium} is missing: run scripts/setup.sh (Debian package chromium)")

dashloop, work = sys.argv[1], sys.argv[2]
shots = sys.argv[3] if len(sys.argv) > 3 else ""
st = Station(dashloop, work, drives=2)
url = st.start_ui()
# The operator logs in as a new one does: with a one-time password that the page makes them replace.
once = st.dashloop("user", "add", "oona", "--one-time").split("one-time password ")[1].split()[0]
try:
    r = subprocess.run(["node", os.path.join(tests_ui, "browser_test.mjs"), url, "oona", once, st.data, shots],
                       timeout=240)
finally:
    rc = st.stop_ui()
print("dashloop ui stopped with", rc)
if r.returncode != 0 or rc != 0:
    sys.exit(1)

# Boxes on the right frame where frame times are not multiples of 1/fps, as
# a live camera's are (its clock stamps each frame as it comes): 12 s at 25
# fps, every odd frame stamped 2 ms early (0.038 s, which 25 fps rounds down
# to frame 0). The page must map time to frame by the clip's own times.
live = Station(dashloop, os.path.join(work, "live"), drives=0)
stamped = os.path.join(live.work, "stamped.mp4")
subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "12",
                "-vf", "settb=1/90000,setpts=(N/25-0.002*(N-2*floor(N/2)))/TB", "-fps_mode", "passthrough",
                "-enc_time_base", "1/90000", "-video_track_timescale", "90000", "-c:v", "libx264", "-g", "25",
                "-bf", "0", "-pix_fmt", "yuv420p", stamped], check=True)
live.dashloop("--config", live.config, "ingest", "-q", "--trigger", "6", stamped)  # a trigger: a clip around it
uid = live.dashloop("clips", "list", "--state", "review", "--json")
uid = __import__("json").loads(uid)[0]["uid"]
W, H = 160, 90
reference = os.path.join(live.work, "reference.gray")
subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", os.path.join(live.data, "packages", uid, "clip.mp4"),
                "-fps_mode", "passthrough", "-vf", f"scale={W}:{H},format=gray", "-f", "rawvideo", reference], check=True)
# A 4:3 camera's clip besides the 16:9 one, for the layout at 800x480 and 1280x800.
four_three = os.path.join(live.work, "four_three.mp4")
subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25", "-t", "8",
                "-c:v", "libx264", "-g", "25", "-bf", "0", "-pix_fmt", "yuv420p", four_three], check=True)
live.dashloop("--config", live.config, "ingest", "-q", "--trigger", "4", four_three)
uids = [c["uid"] for c in __import__("json").loads(live.dashloop("clips", "list", "--state", "review", "--json"))]
url = live.start_ui()
try:
    r = subprocess.run(["node", os.path.join(tests_ui, "frames_test.mjs"), url, "alice", ui_lib.PASSWORD, uid, reference,
                        str(W), str(H)], timeout=180)
    layout = subprocess.run(["node", os.path.join(tests_ui, "layout_test.mjs"), url, "alice", ui_lib.PASSWORD, *uids],
                            timeout=180)
    batch = subprocess.run(["node", os.path.join(tests_ui, "batch_test.mjs"), url, "alice", ui_lib.PASSWORD, *uids[:2]],
                           timeout=180)
finally:
    rc = live.stop_ui()
sys.exit(1 if r.returncode or layout.returncode or batch.returncode or rc else 0)
