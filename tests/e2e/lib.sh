# Shared by the e2e scripts: source it after setting $bin and $work.
# Each check prints PASS or FAIL; finish() exits non-zero on any FAIL.
fails=0
passes=0
check() {  # description, then a command that must succeed
  local what=$1
  shift
  if "$@"; then
    echo "PASS: $what"
    passes=$((passes + 1))
  else
    echo "FAIL: $what"
    fails=$((fails + 1))
  fi
}
# A test that sets default_config (say, to one written with $unredacted)
# gets it on every `run` that names no config of its own.
default_config=""
# Packages unredacted and pre-labelled by the live tracks: redaction and the
# pre-label pass cost seconds a clip, and e2e.privacy and e2e.labels are their
# tests; tests on generated drives add this to the configs they write.
unredacted='[privacy]\nfaces = "none"\nplates = "none"\n[prelabel]\nredetect = false\n'
run() {  # runs dashloop, keeping stdout, stderr and the exit code
  local args=("$@")
  if [ -n "$default_config" ] && [[ " $* " != *" -c "* && " $* " != *" --config "* ]]; then
    args=(-c "$default_config" "$@")
  fi
  "$bin" "${args[@]}" >"$work/out" 2>"$work/err"
  echo $? >"$work/rc"
}
rc_is() { [ "$(cat "$work/rc")" = "$1" ] || { echo "  exit $(cat "$work/rc"), wanted $1; stderr: $(cat "$work/err")"; false; }; }
err_has() { grep -qF -- "$1" "$work/err" || { echo "  stderr lacks '$1': $(cat "$work/err")"; false; }; }
out_has() { grep -qF -- "$1" "$work/out" || { echo "  stdout lacks '$1': $(cat "$work/out")"; false; }; }
json_ok() { python3 -c "import json,sys; d=json.load(open('$work/out')); sys.exit(0 if ($1) else 1)" || { echo "  JSON check failed: $1; got $(head -c 600 "$work/out")"; false; }; }
# Waits (up to 30 s) until process $1 blocks SIGINT: its SignalStop is up, so
# a Ctrl-C from now on is a stop it handles, not the default kill (a loaded
# machine, an ASan build, can take longer than a fixed sleep to get there).
wait_for_stop_handler() {
  local i mask
  for i in $(seq 1 300); do
    mask=$(awk '/^SigBlk:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$mask" ] && (( (16#$mask & 2) != 0 )) && return 0
    sleep 0.1
  done
  return 1
}
finish() {
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ]
}
