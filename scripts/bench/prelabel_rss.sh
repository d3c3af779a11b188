#!/bin/bash
# RSS of one process that makes clip after clip with the pre-label pass:
# the bundled sample ingested N times (one clip each), sampled every second,
# with glibc's default malloc arenas (8 a core) and with dashloop's own
# setting (2; firmware/app/main.cpp), in one run. Prints, per run, the RSS
# before each pass (the troughs between clips) and the peak.
#   scripts/bench/prelabel_rss.sh [N=6]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-6}
bin=${DASHLOOP:-build/dashloop}
sample=firmware/samples/solidWhiteRight.mp4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/c.toml" <<TOML
[clips]
budget_min_per_hour = 60
[privacy]
faces = "none"
plates = "none"
[prelabel]
redetect = true
TOML
sources=()
for _ in $(seq "$n"); do sources+=("$sample"); done
measure() {  # $1: name; MALLOC_ARENA_MAX from the environment
  local name=$1
  "$bin" -c "$work/c.toml" -d "$work/$name" ingest -q --again "${sources[@]}" >/dev/null 2>"$work/$name.log" &
  local pid=$! t=0
  : > "$work/$name.rss"
  while kill -0 "$pid" 2>/dev/null; do
    # the RSS (MB) and how many passes have ended by now
    rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || true)
    done_passes=$(grep -c "pre-labelled, " "$work/$name.log" || true)
    [ -n "$rss" ] && echo "$t $rss $done_passes" >> "$work/$name.rss"
    sleep 1; t=$((t + 1))
  done
  wait "$pid"
  # the lowest RSS while k passes had ended (k >= 1): what stays between clips
  awk -v name="$name" '$3 >= 1 { if (!($3 in low) || $2 < low[$3]) low[$3] = $2 }
       { if ($2 > peak) peak = $2 }
       END { printf "%-22s after pass:", name; for (k = 1; k in low; ++k) printf " %d", low[k];
             printf " MB; peak %d MB\n", peak }' "$work/$name.rss"
}
echo "$n clips of $sample, one process each run, pre-label pass on"
MALLOC_ARENA_MAX=16 measure "glibc-default-16"
measure "dashloop-2-arenas"
