"""Shared by the UI's e2e tests: a data dir with real clips, an operator, a
reader token, and `dashloop ui` started on a free port."""
import os
import re
import shutil
import subprocess
import sys
import time

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "firmware", "samples", "solidWhiteRight.mp4")
PASSWORD = "operator-password-1"


class Station:
    def __init__(self, dashloop, work, drives=2, prelabel=False):
        self.bin = dashloop
        self.work = work
        self.data = os.path.join(work, "data")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        # Real footage: the bundled highway drive, ingested `drives` times (a clip each),
        # unredacted and labelled by live analysis: the UI is what is tested here, and
        # redaction's and the pre-label pass's seconds a clip would go to every UI test
        # (e2e.privacy and e2e.labels test those).
        # The UI runs with it too: an edit rebuilds the package under its policy.
        # No clip budget: the same drive again is a near-duplicate it would drop.
        # An address's wait after wrong passwords starts at 1 s, not 30: the API test waits it out.
        self.config = os.path.join(work, "unredacted.toml")
        with open(self.config, "w") as f:
            f.write('[privacy]\nfaces = "none"\nplates = "none"\n[clips]\nbudget_min_per_hour = 0\n'
                    f'[prelabel]\nredetect = {"true" if prelabel else "false"}\n[ui]\naddress_wait_s = 1\n')
        for _ in range(drives):
            self.dashloop("--config", self.config, "ingest", "-q", "--again", SAMPLE)
        self.dashloop("user", "add", "alice", stdin=PASSWORD + "\n")
        self.token = self.dashloop("token", "add", "cloud-job", "--scope", "ack").strip()
        self.proc = None
        self.url = None

    def dashloop(self, *args, stdin=None, check=True):
        r = subprocess.run([self.bin, "-d", self.data, *args], input=stdin, capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            sys.exit(f"dashloop {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r.stdout

    def start_ui(self, *extra):
        self.proc = subprocess.Popen([self.bin, "-d", self.data, "--config", self.config, *extra, "ui", "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=open(os.path.join(self.work, "ui.log"), "w"),
                                     text=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            m = re.match(r"ui: (https?://\S+)", line)
            if m:
                self.url = m.group(1).rstrip("/")
                return self.url
            if self.proc.poll() is not None:
                break
        sys.exit("dashloop ui did not start: " + open(os.path.join(self.work, "ui.log")).read())

    def stop_ui(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return "hung"
        return self.proc.returncode if self.proc else None
