#!/usr/bin/env python3
"""Runs tests/ui/browser_test.mjs (playwright-core, Debian's Chromium)
against `dashloop ui` on a catalog of two real clips.
Usage: ui_browser_test.py DASHLOOP WORKDIR [SCREENSHOT_DIR]"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
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
sys.exit(r.returncode if rc == 0 else 1)
