#!/usr/bin/env bash
# The whole suite: formatting, clippy (server and wasm32 hydrate builds), unit tests,
# the storage contract suite on SQLite and PostgreSQL, HTTP tests, then against a
# release build Schemathesis on the API document, real Prometheus and Alertmanager
# processes, and the browser journeys.
# Installs what is missing first. Fails on the first failing part.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each part says how long the one before it took, so a run's wall time splits by part.
started=$SECONDS
last=""
step() {
  [ -n "$last" ] && printf '=== %s: %d s\n' "$last" "$((SECONDS - started))"
  last=$*
  started=$SECONDS
  printf '\n=== %s\n' "$*"
}

step "tools (scripts/bootstrap.sh)"
eval "$(scripts/bootstrap.sh)"

# CI builds once: incremental caches would only take disk.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy: server build"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "clippy: hydrate build for wasm32"
cargo clippy --locked -p app --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

step "PostgreSQL for the contract suite"
eval "$(scripts/postgres.sh)"
trap 'scripts/postgres-stop.sh' EXIT

step "unit, storage contract (SQLite + PostgreSQL) and HTTP tests"
cargo test --locked --workspace

step "release build (cargo leptos)"
scripts/build.sh

step "Schemathesis against the OpenAPI document"
scripts/schemathesis.sh

step "Prometheus and Alertmanager (real processes on loopback)"
scripts/signals-integration.py

step "browser journeys (headless Chromium)"
end2end/run.sh

step "done"
printf '\nAll parts of the suite passed.\n'
