#!/usr/bin/env bash
# The depot UI under load, in one run: a catalog of 10,000 clips (one real
# package, its row copied with new ids and random priorities and states),
# `dashloop ui` on loopback, and wrk (Debian) asking for queue pages with an
# operator's session: the first page of the review queue by priority, a deep
# page (OFFSET 5000) and a class filter. Reports wrk's latency percentiles,
# the server's peak RSS, and the review page's first contentful paint in
# Debian's Chromium (playwright-core), loaded afresh.
#   scripts/bench/ui_bench.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
seconds=${2:-15}
work=$(mktemp -d /tmp/dashloop-ui-bench.XXXXXX)
trap '[ -n "${ui_pid:-}" ] && kill "$ui_pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
data="$work/data"
"$build/dashloop" -d "$data" ingest -q firmware/samples/solidWhiteRight.mp4 >/dev/null 2>&1
sqlite3 "$data/catalog.sqlite" <<'SQL'
WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO clips (uid, drive_id, state, state_reason, planned_start, planned_end, start_frame, end_frame, start_s,
                   end_s, priority, priority_parts, reasons, package_dir, frames, bytes, effort_minutes, classes)
SELECT 'vehicle-0_d1_c' || i, drive_id,
       CASE abs(random()) % 4 WHEN 0 THEN 'approved' WHEN 1 THEN 'rejected' ELSE 'review' END, state_reason,
       planned_start, planned_end, start_frame, end_frame, start_s, end_s, abs(random() % 1000) / 1000.0,
       priority_parts, reasons, package_dir, frames, bytes, effort_minutes,
       CASE i % 3 WHEN 0 THEN '["car","person"]' ELSE classes END
FROM n, (SELECT * FROM clips WHERE id = 1);
SQL
echo "bench-password-1" | "$build/dashloop" -d "$data" user add bench >/dev/null
"$build/dashloop" -d "$data" ui --port 0 >"$work/ui.out" 2>"$work/ui.log" &
ui_pid=$!
for _ in $(seq 50); do grep -q '^ui: http' "$work/ui.out" && break; sleep 0.1; done
url=$(sed -n 's/^ui: \(http[^ ]*\)\/$/\1/p' "$work/ui.out")
cookie=$(curl -s -D - -o /dev/null -d '{"name":"bench","password":"bench-password-1"}' "$url/api/v1/login" |
  sed -n 's/^Set-Cookie: \([^;]*\).*/\1/p')
total=$(curl -s -H "Cookie: $cookie" "$url/api/v1/clips?per_page=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "catalog: $total clips; dashloop ui at $url; wrk -t2 -c16 -d${seconds}s, $(nproc) cores"
# The three queue pages, then one clip's detail (the review screen's first
# request: audit, cut points, the clip's frame times, kept after the first).
for q in "?state=review&order=priority&per_page=24" "?state=review&order=priority&per_page=24&page=200" \
         "?class=person&order=newest&per_page=24" "/vehicle-0_d1_c1"; do
  wrk -t2 -c16 -d"${seconds}s" --latency -H "Cookie: $cookie" "$url/api/v1/clips$q" >"$work/wrk.txt"
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
  errors=$(grep -c "Non-2xx\|Socket errors" "$work/wrk.txt" || true)
  echo "GET /api/v1/clips$q: $rps req/s, p50 $p50, p99 $p99, error lines $errors"
done
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$ui_pid/status)"
uid=$(curl -s -H "Cookie: $cookie" "$url/api/v1/clips?per_page=1&state=review" | python3 -c 'import json,sys; print(json.load(sys.stdin)["clips"][0]["uid"])')
cat >"$work/paint.mjs" <<'JS'
import { chromium } from 'playwright-core';
const [url, cookie, uid] = process.argv.slice(2);
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const ctx = await b.newContext({ viewport: { width: 1280, height: 800 } });
const [name, value] = cookie.split('=');
await ctx.addCookies([{ name, value, url }]);
for (const [what, hash] of [['queue', '#/queue'], ['review', `#/clip/${uid}`]]) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const p = await ctx.newPage();
    await p.goto(`${url}/${hash}`);
    await p.waitForFunction((w) => w === 'queue' ? document.querySelector('.card') : window.dashloop, what);
    times.push(await p.evaluate(() => [performance.getEntriesByName('first-contentful-paint')[0].startTime, performance.now()]));
    await p.close();
  }
  const fcp = times.map((t) => t[0]).sort((a, b) => a - b), done = times.map((t) => t[1]).sort((a, b) => a - b);
  console.log(`${what} page, 5 fresh loads: first contentful paint median ${fcp[2].toFixed(0)} ms (max ${fcp[4].toFixed(0)}), ` +
    `${what === 'queue' ? 'cards shown' : 'boxes drawn'} median ${done[2].toFixed(0)} ms (max ${done[4].toFixed(0)})`);
}
await b.close();
JS
cp "$work/paint.mjs" tests/ui/.paint-bench.mjs
trap '[ -n "${ui_pid:-}" ] && kill "$ui_pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"; rm -f tests/ui/.paint-bench.mjs' EXIT
node tests/ui/.paint-bench.mjs "$url" "$cookie" "$uid"
