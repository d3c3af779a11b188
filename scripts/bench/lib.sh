# Shared by the bench scripts: source it after setting $work.
# measure FORMAT LABEL COMMAND...: runs COMMAND once under /usr/bin/time
# (FORMAT as time -f: %e wall s, %U user s, %S sys s, %M peak RSS KiB) and
# prints "LABEL <those fields>"; its stdout and stderr go to $work/stdout and
# $work/stderr; a failing command prints its stderr and ends the script.
measure() {
  local format=$1 label=$2
  shift 2
  /usr/bin/time -f "$format" -o "$work/time" "$@" >"$work/stdout" 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
  echo "$label $(cat "$work/time")"
}
