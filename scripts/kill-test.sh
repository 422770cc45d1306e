#!/usr/bin/env bash
# Acknowledged means committed, under kill -9: ROUNDS times (default 20), start the
# release build on one SQLite file, send metric batches (`bench_ingest ack` logs a
# batch only after its 200), kill -9 the server at a random moment between 0.5 and
# 3 s, and go on. Then every acknowledged point must be in the database, and
# SQLite's integrity_check must say ok.
# Usage: scripts/kill-test.sh [rounds, default 20] [sqlite|postgres, default sqlite]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
rounds=${1:-20}
backend=${2:-sqlite}
bin=target/release/houston
[ -x "$bin" ] || { echo "run scripts/build.sh first" >&2; exit 1; }
cargo build --release --locked -q -p server --example bench_ingest
bench=target/release/examples/bench_ingest

work=$(mktemp -d /tmp/houston-kill.XXXXXX)
trap 'rm -rf "$work"' EXIT
case "$backend" in
  sqlite) export HOUSTON_DATABASE_URL="sqlite:$work/houston.db" ;;
  postgres)
    admin=${HOUSTON_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    psql -q "$admin" -c 'DROP DATABASE IF EXISTS houston_kill WITH (FORCE)' -c 'CREATE DATABASE houston_kill'
    export HOUSTON_DATABASE_URL="${admin%/*}/houston_kill" ;;
  *) echo "sqlite or postgres" >&2; exit 2 ;;
esac
export HOUSTON_LOG=warn HOUSTON_RUN_JOBS=false
token=$("$bin" token create --name kill --scope ingest 2>/dev/null)
for round in $(seq 1 "$rounds"); do
  port=$(free_port)
  HOUSTON_BIND="127.0.0.1:$port" "$bin" serve >"$work/server.log" 2>&1 &
  server=$!
  wait_ready "$port" "$server" "$work/server.log"
  "$bench" ack --base "http://127.0.0.1:$port" --token "$token" --log "$work/acked.txt" \
    --run "$round" --points 2000 --series 4 &
  client=$!
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.5, 3), 2))')"
  kill -9 "$server"
  wait "$server" 2>/dev/null || true
  wait "$client" 2>/dev/null || true
  printf 'round %d: %d series batches acknowledged so far\n' "$round" "$(wc -l <"$work/acked.txt")"
done
"$bench" verify --database "$HOUSTON_DATABASE_URL" --log "$work/acked.txt"
