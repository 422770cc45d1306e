#!/usr/bin/env bash
# Prints `export HOUSTON_TEST_POSTGRES_URL=…` for a PostgreSQL the tests can use:
# the server on 127.0.0.1:5432 when it answers, otherwise a throwaway cluster
# started here from Debian's postgresql (stopped by scripts/postgres-stop.sh).
set -euo pipefail

log() { printf '[postgres] %s\n' "$*" >&2; }

if [ -n "${HOUSTON_TEST_POSTGRES_URL:-}" ]; then
  printf 'export HOUSTON_TEST_POSTGRES_URL=%q\n' "$HOUSTON_TEST_POSTGRES_URL"
  exit 0
fi

if psql "postgres://postgres@127.0.0.1:5432/postgres" -Atc 'select 1' >/dev/null 2>&1; then
  log "using the server at 127.0.0.1:5432"
  echo 'export HOUSTON_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres'
  exit 0
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  log "installing Debian's postgresql"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi

dir=$(mktemp -d /tmp/houston-pg.XXXXXX)
port=55432
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
log "starting a throwaway cluster in $dir on 127.0.0.1:$port"
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
echo "$dir" > /tmp/houston-pg.current
echo "export HOUSTON_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
