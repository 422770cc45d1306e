#!/usr/bin/env bash
# Starts the release build of Houston on a free loopback port with a fresh SQLite
# file and an API token, runs the browser journeys in Debian's headless Chromium,
# and stops the server. Expects `scripts/build.sh` to have
# run. The binary is copied to an empty folder and run there with no site folder
# set, so every journey also shows it serves the site it carries.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
root=$PWD

if [ ! -x /usr/bin/chromium ]; then
  echo "[e2e] installing Debian's chromium" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
(cd end2end && npm ci --no-audit --no-fund --silent)

bin="$root/target/release/houston"
[ -x "$bin" ] || { echo "[e2e] $bin is missing: run scripts/build.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/houston-e2e.XXXXXX)
port=$(free_port)
export HOUSTON_DATABASE_URL="sqlite:$work/houston.db"
export HOUSTON_BIND="127.0.0.1:$port"
export HOUSTON_LOG="warn"
# The journeys' chat server listens on loopback, which webhooks may not reach
# unless an operator allows it.
export HOUSTON_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8"
# The incident journey signs PagerDuty's events; its incidents are placed in prod-eu.
export HOUSTON_PAGERDUTY_WEBHOOK_SECRET="e2e-pagerduty-secret"
export HOUSTON_INCIDENT_ENVIRONMENT="prod-eu"
# The site the binary carries, not a folder on disk.
unset HOUSTON_SITE_ROOT LEPTOS_SITE_ROOT

token=$("$bin" token create --name e2e --scope deploy,ingest,gate,read,alerts 2>/dev/null)
export HOUSTON_E2E_PASSWORD="e2e password $(date +%s)"
printf '%s\n' "$HOUSTON_E2E_PASSWORD" | "$bin" user create --name e2e-admin --role admin 2>/dev/null
mkdir "$work/elsewhere"
cp "$bin" "$work/elsewhere/houston"
(cd "$work/elsewhere" && exec ./houston serve) >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  cp "$work/server.log" /tmp/houston-e2e-server.log 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_ready "$port" "$server" "$work/server.log"

export HOUSTON_URL="http://127.0.0.1:$port"
export HOUSTON_TOKEN="$token"
export HOUSTON_BIN="$bin"
cd end2end
if ! node --test --test-concurrency=1 tests/; then
  echo "[e2e] server log:" >&2
  tail -n 50 "$work/server.log" >&2
  exit 1
fi
