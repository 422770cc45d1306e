#!/usr/bin/env bash
# Page latency as people load it: the release build on a loopback port with a
# month of demo data, a signed-in session, and wrk on kept-alive connections.
# Each page is measured beside /healthz (trivial) in the same run; compare ratios.
# Usage: scripts/bench-pages.sh [seconds per route, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
bin=target/release/houston
[ -x "$bin" ] || { echo "run cargo leptos build --release first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d /tmp/houston-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export HOUSTON_DATABASE_URL="sqlite:$work/houston.db" HOUSTON_BIND="127.0.0.1:$port"
export HOUSTON_SITE_ROOT="$PWD/target/site" HOUSTON_LOG=warn
"$bin" demo >/dev/null
printf 'bench password %s\n' "$$" | "$bin" user create --name bench --role viewer 2>/dev/null
"$bin" serve >"$work/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

cookie=$(curl -fsS -o /dev/null -D - -H 'Accept: text/html' \
  --data-urlencode username=bench --data-urlencode "password=bench password $$" \
  "http://127.0.0.1:$port/api/login" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -n1)
[ -n "$cookie" ] || { echo "could not sign in" >&2; exit 1; }

for route in /healthz / /deploys /healthz; do
  printf '\n== %s\n' "$route"
  wrk -t2 -c8 -d"${secs}s" --latency -H "Cookie: $cookie" "http://127.0.0.1:$port$route" \
    | grep -E '^\s+(50|99)%|Requests/sec|Non-2xx'
done
