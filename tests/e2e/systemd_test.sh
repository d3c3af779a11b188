#!/usr/bin/env bash
# The systemd side: the units pass `systemd-analyze verify` (with ExecStart
# pointed at this build), and `dashloop run` speaks sd_notify on a real
# notify socket: READY=1 once started, STATUS= with its one-line summary,
# WATCHDOG=1 from its loop at half of WATCHDOG_USEC, STOPPING=1 at the end.
#   systemd_test.sh DASHLOOP_BINARY
set -uo pipefail
bin=$1
work=$(mktemp -d /tmp/dashloop-e2e-systemd.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"
units="$(dirname "$0")/../../firmware/systemd"

if command -v systemd-analyze >/dev/null; then
  for u in "$units"/*.service; do
    sed "s|/usr/bin/dashloop|$bin|" "$u" >"$work/$(basename "$u")"
    check "$(basename "$u"): systemd-analyze verify" bash -c "systemd-analyze verify '$work/$(basename "$u")' 2>&1 | tee $work/verify.log; ! grep -q . $work/verify.log"
  done
else
  echo "SKIPPED: systemd-analyze verify: systemd-analyze is not installed"
fi

printf 'data_dir = "%s"\n[[camera]]\nname = "cabin"\nsource = "test://smpte?width=320&height=240&fps=15"\n[recording]\nsegment_s = 2\n' \
  "$work/d" >"$work/station.toml"
/usr/bin/python3 - "$bin" "$work" <<'PY' >"$work/notify.log"
import os, socket, subprocess, sys
bin, work = sys.argv[1:3]
path = os.path.join(work, "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.5)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
p = subprocess.Popen([bin, "--config", os.path.join(work, "station.toml"), "run", "--seconds", "4"], env=env,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    try:
        print(s.recv(4096).decode().replace("\n", " | "))
    except socket.timeout:
        if p.poll() is not None:
            break
print("exit", p.returncode)
PY
echo "  notify messages: $(sort "$work/notify.log" | sed 's/STATUS=.*/STATUS=.../' | uniq -c | tr -s ' ' | tr '\n' ';')"
check "READY=1 first, then STATUS= with the summary" bash -c "head -1 $work/notify.log | grep -qx 'READY=1' && grep -q '^STATUS=1/1 cameras up\|^STATUS=0/1 cameras up' $work/notify.log"
check "WATCHDOG=1 from the loop at half the watchdog interval (about 16 in 4 s at 0.2 s)" bash -c \
  "n=\$(grep -c '^WATCHDOG=1' $work/notify.log); echo \"  \$n pings\"; [ \$n -ge 10 ]"
check "STOPPING=1 at the end, exit 0" bash -c "grep -q '^STOPPING=1' $work/notify.log && grep -qx 'exit 0' $work/notify.log"
finish
