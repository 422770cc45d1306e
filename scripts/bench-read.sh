#!/usr/bin/env bash
# Reading one series' 2-hour window (10 s resolution: 720 points) out of a database
# holding SAMPLES samples (default 100,000,000) over 10,000 series, as a client
# loads it: `bench_ingest seed` fills the database straight through the store,
# then `bench_load pages` asks GET /api/v1/metrics for 20 different series in turn
# at a fixed rate on kept-alive connections, beside /healthz in the same run.
# Usage: scripts/bench-read.sh sqlite|postgres [samples] [rate, default 200] [seconds, default 20]
# The database is kept in /tmp/houston-read-<backend> (SQLite) or houston_read
# (PostgreSQL) and reused by the next run when it holds as many samples.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
backend=${1:?sqlite or postgres}
samples=${2:-100000000}
rate=${3:-200}
secs=${4:-20}
bin=target/release/houston
[ -x "$bin" ] || { echo "run scripts/build.sh first" >&2; exit 1; }
cargo build --release --locked -q -p server --example bench_ingest --example bench_load
bench=target/release/examples/bench_ingest
load=target/release/examples/bench_load

case "$backend" in
  sqlite)
    mkdir -p /tmp/houston-read-sqlite
    export HOUSTON_DATABASE_URL="sqlite:/tmp/houston-read-sqlite/houston-$samples.db" ;;
  postgres)
    admin=${HOUSTON_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    db="houston_read_$samples"
    psql -q "$admin" -tc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
      || psql -q "$admin" -c "CREATE DATABASE $db"
    export HOUSTON_DATABASE_URL="${admin%/*}/$db" ;;
  *) echo "sqlite or postgres" >&2; exit 2 ;;
esac
work=$(mktemp -d /tmp/houston-read.XXXXXX)
port=$(free_port)
export HOUSTON_BIND="127.0.0.1:$port" HOUSTON_LOG=warn HOUSTON_RUN_JOBS=false
marker="/tmp/${HOUSTON_DATABASE_URL##*/}.seeded"
if [ ! -f "$marker" ]; then
  echo "== seeding $samples samples ($backend)"
  "$bench" seed --database "$HOUSTON_DATABASE_URL" --samples "$samples" --series 10000
  "$bench" size --database "$HOUSTON_DATABASE_URL"
  touch "$marker"
fi
token=$("$bin" token create --name "read-$(date +%s)" --scope ingest,read 2>/dev/null)
"$bin" serve >"$work/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
wait_ready "$port" "$server" "$work/log"
now=$(date +%s)
paths=(/healthz)
for i in $(seq 0 499 9999 | head -n 20); do
  paths+=("/api/v1/metrics?service=bench&environment=production&metric=read_s$i&from=$((now - 3 * 3600))&to=$((now - 3600))")
done
echo "== $backend, $samples samples: one series' 2-hour window, $rate requests/s for $secs s"
"$load" pages --base "http://127.0.0.1:$port" --token "$token" --rate "$rate" --seconds "$secs" "${paths[@]}"
