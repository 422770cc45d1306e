#!/usr/bin/env bash
# Build and test-loop times of a checkout, for docs/BENCHMARKS.md: a clean debug
# build of the server (`cargo build --timings`), then rebuilds after touching one
# page, one judge file and one SQL file, and the edit-test loops of the judge and of
# the storage contract. Run it on two checkouts in turn to compare them (it uses its
# own target folder, so nothing of another build is reused):
#
#   scripts/bench-build.sh /path/to/checkout /tmp/target-dir > result.tsv
#
# The files it touches are found by what they hold, so it works before and after
# the crates were split (issue 27).
set -euo pipefail
repo=${1:?checkout}
export CARGO_TARGET_DIR=${2:?target dir}
cd "$repo"
rm -rf "$CARGO_TARGET_DIR"

seconds() { local t0; t0=$(date +%s%N); "$@" > /dev/null 2>&1; awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
first() { for f in "$@"; do [ -f "$f" ] && { echo "$f"; return; }; done; echo "none of: $*" >&2; exit 1; }

page=$(first app/src/pages/history.rs)
judge=$(first crates/core/src/judge/check.rs app/src/domain/judge.rs)
sql=$(first crates/sql/src/shared/deploys.rs server/src/storage/sqlite/deploys.rs)

printf 'step\tseconds\n'
printf 'clean build -p server (--timings)\t%s\n' "$(seconds cargo build --locked -p server --timings)"
for f in "$page" "$judge" "$sql"; do
  touch "$f"
  printf 'rebuild after touching %s\t%s\n' "$f" "$(seconds cargo build --locked -p server)"
done

# The edit-test loops: everything built once, then one file touched and its tests run.
if [ -d crates/core ]; then
  judge_tests=(cargo test --locked -p houston-core)
  contract_tests=(cargo test --locked -p houston-sql --test contract)
else
  judge_tests=(cargo test --locked -p app --lib)
  contract_tests=(cargo test --locked -p server --test store_contract --test signals_contract)
fi
"${judge_tests[@]}" --no-run > /dev/null 2>&1
"${contract_tests[@]}" --no-run > /dev/null 2>&1
touch "$judge"
printf 'judge tests after touching the judge (%s)\t%s\n' "${judge_tests[*]}" "$(seconds "${judge_tests[@]}")"
touch "$sql"
printf 'storage contract after touching SQL (%s)\t%s\n' "${contract_tests[*]}" "$(seconds "${contract_tests[@]}")"
