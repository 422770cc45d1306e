#!/usr/bin/env bash
# Ingest throughput, as clients load it: the release build on a loopback port,
# `bench_ingest http` (server/examples) with concurrent clients posting batches of
# new samples for the given time; then, in the same run and into the same
# database with the server stopped, the same batches written straight through the
# store (`bench_ingest store`: no HTTP, no JSON) as the baseline; then bytes per
# stored sample.
# Usage: scripts/bench-ingest.sh sqlite|postgres [seconds, default 60] [clients, default 4]
#        [points per request, default 5000]
# PostgreSQL: HOUSTON_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
# a database houston_ingest is made afresh there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
backend=${1:?sqlite or postgres}
secs=${2:-60}
clients=${3:-4}
points=${4:-5000}
bin=target/release/houston
[ -x "$bin" ] || { echo "run scripts/build.sh first" >&2; exit 1; }
cargo build --release --locked -q -p server --example bench_ingest
bench=target/release/examples/bench_ingest

work=$(mktemp -d /tmp/houston-ingest.XXXXXX)
port=$(free_port)
case "$backend" in
  sqlite) export HOUSTON_DATABASE_URL="sqlite:$work/houston.db" ;;
  postgres)
    admin=${HOUSTON_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    psql -q "$admin" -c 'DROP DATABASE IF EXISTS houston_ingest WITH (FORCE)' -c 'CREATE DATABASE houston_ingest'
    export HOUSTON_DATABASE_URL="${admin%/*}/houston_ingest" ;;
  *) echo "sqlite or postgres" >&2; exit 2 ;;
esac
export HOUSTON_BIND="127.0.0.1:$port" HOUSTON_LOG=warn HOUSTON_RUN_JOBS=false
token=$("$bin" token create --name bench --scope ingest 2>/dev/null)
"$bin" serve >"$work/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "$port" "$server" "$work/log"

echo "== $backend: $clients clients, $points points per request, $secs s"
"$bench" http --base "http://127.0.0.1:$port" --token "$token" \
  --clients "$clients" --seconds "$secs" --points "$points"
kill "$server"; wait "$server" 2>/dev/null || true
"$bench" store --database "$HOUSTON_DATABASE_URL" \
  --clients "$clients" --seconds "$secs" --points "$points"
"$bench" size --database "$HOUSTON_DATABASE_URL"
