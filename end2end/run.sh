#!/usr/bin/env bash
# Starts the release build of Houston on a free loopback port with a fresh SQLite
# file and an API token, runs the browser journeys in Debian's headless Chromium,
# and stops the server. Expects `cargo leptos build --release` to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ ! -x /usr/bin/chromium ]; then
  echo "[e2e] installing Debian's chromium" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
(cd end2end && npm ci --no-audit --no-fund --silent)

bin="$root/target/release/houston"
[ -x "$bin" ] || { echo "[e2e] $bin is missing: run cargo leptos build --release" >&2; exit 1; }

work=$(mktemp -d /tmp/houston-e2e.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export HOUSTON_DATABASE_URL="sqlite:$work/houston.db"
export HOUSTON_BIND="127.0.0.1:$port"
export HOUSTON_SITE_ROOT="$root/target/site"
export HOUSTON_LOG="warn"

token=$("$bin" token create --name e2e 2>/dev/null)
export HOUSTON_E2E_PASSWORD="e2e password $(date +%s)"
printf '%s\n' "$HOUSTON_E2E_PASSWORD" | "$bin" user create --name e2e-admin --role admin 2>/dev/null
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  cp "$work/server.log" /tmp/houston-e2e-server.log 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

export HOUSTON_URL="http://127.0.0.1:$port"
export HOUSTON_TOKEN="$token"
export HOUSTON_BIN="$bin"
cd end2end
if ! node --test --test-concurrency=1 tests/; then
  echo "[e2e] server log:" >&2
  tail -n 50 "$work/server.log" >&2
  exit 1
fi
