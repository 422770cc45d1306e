#!/usr/bin/env bash
# Builds Houston (release) and starts it on SQLite at http://127.0.0.1:3000.
# Installs what is missing first (wasm32 target, cargo-leptos, wasm-bindgen, wasm-opt).
# Settings come from the environment (see .env.sample); extra arguments go to `houston serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/bootstrap.sh)"
scripts/build.sh

exec target/release/houston serve "$@"
