#!/usr/bin/env bash
# Runs Schemathesis (from PyPI, pinned) against the OpenAPI document of a release
# build of Houston on a free loopback port with a fresh SQLite file: every
# operation of /api/v1/openapi.json, every check, the allowances in
# scripts/schemathesis.toml. Fails on any failure. Expects `scripts/build.sh`
# to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
root=$PWD

SCHEMATHESIS_VERSION=4.32.5
venv="${HOUSTON_TOOLS_DIR:-$HOME/.cache/houston-tools}/schemathesis-$SCHEMATHESIS_VERSION"
if [ ! -x "$venv/bin/st" ]; then
  echo "[schemathesis] installing schemathesis $SCHEMATHESIS_VERSION" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

bin="$root/target/release/houston"
[ -x "$bin" ] || { echo "[schemathesis] $bin is missing: run scripts/build.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/houston-st.XXXXXX)
port=$(free_port)
export HOUSTON_DATABASE_URL="sqlite:$work/houston.db"
export HOUSTON_BIND="127.0.0.1:$port"
export HOUSTON_LOG="warn"
# With secrets the webhooks check signatures (unsigned deliveries answer 401);
# without one it would answer 503 to everything.
export HOUSTON_GITHUB_WEBHOOK_SECRET="schemathesis-$(date +%s%N)"
export HOUSTON_PAGERDUTY_WEBHOOK_SECRET="schemathesis-pd-$(date +%s%N)"
export HOUSTON_INCIDENT_WEBHOOK_SECRET="schemathesis-inc-$(date +%s%N)"
export HOUSTON_INCIDENT_IO_WEBHOOK_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
export HOUSTON_OPSGENIE_WEBHOOK_SECRET="schemathesis-og-$(date +%s%N)"
# An admin token reaches every operation, the audit log included.
HOUSTON_TOKEN=$("$bin" token create --name schemathesis --scope admin,alerts 2>/dev/null)
export HOUSTON_TOKEN

"$bin" serve >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_ready "$port" "$server" "$work/server.log"

# From the scratch folder: Schemathesis writes its caches where it runs.
cd "$work"
if ! "$venv/bin/st" --config-file "$root/scripts/schemathesis.toml" run --checks all \
  "http://127.0.0.1:$port/api/v1/openapi.json"; then
  echo "[schemathesis] server log:" >&2
  tail -n 50 "$work/server.log" >&2
  exit 1
fi
