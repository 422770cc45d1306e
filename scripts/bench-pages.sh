#!/usr/bin/env bash
# Page latency as people load it: the release build on a loopback port with a
# month of demo data, a signed-in session, and wrk on kept-alive connections.
# Each page is measured beside /healthz (trivial) in the same run; compare ratios.
# Usage: scripts/bench-pages.sh [seconds per route, default 10]
#        HOUSTON_BIN=path/to/houston scripts/bench-pages.sh ... (another build, to compare)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
secs=${1:-10}
bin=${HOUSTON_BIN:-target/release/houston}
[ -x "$bin" ] || { echo "run scripts/build.sh first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/houston-bench.XXXXXX)
port=$(free_port)
export HOUSTON_DATABASE_URL="sqlite:$work/houston.db" HOUSTON_BIND="127.0.0.1:$port"
export HOUSTON_LOG=warn
"$bin" demo >/dev/null
printf 'bench password %s\n' "$$" | "$bin" user create --name bench --role viewer 2>/dev/null
"$bin" serve >"$work/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "$port" "$server" "$work/log"

cookie=$(curl -fsS -o /dev/null -D - -H 'Accept: text/html' \
  --data-urlencode username=bench --data-urlencode "password=bench password $$" \
  "http://127.0.0.1:$port/api/login" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -n1)
[ -n "$cookie" ] || { echo "could not sign in" >&2; exit 1; }

for route in /healthz / /deploys /healthz; do
  printf '\n== %s\n' "$route"
  wrk -t2 -c8 -d"${secs}s" --latency -H "Cookie: $cookie" "http://127.0.0.1:$port$route" \
    | grep -E '^\s+(50|99)%|Requests/sec|Non-2xx'
done
