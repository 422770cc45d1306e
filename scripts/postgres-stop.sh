#!/usr/bin/env bash
# Stops the throwaway cluster scripts/postgres.sh started, if it started one.
set -uo pipefail
[ -f /tmp/houston-pg.current ] || exit 0
dir=$(cat /tmp/houston-pg.current)
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1
rm -rf "$dir" /tmp/houston-pg.current
