#!/usr/bin/env bash
# Installs the build tools Houston needs when they are missing, and reuses them
# when they are already there at the pinned version. Safe to run repeatedly.
set -euo pipefail

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen version in Cargo.lock
BINARYEN_VERSION=132.0.0       # Debian's binaryen 108 produces a wasm that fails in the browser

TOOLS_DIR="${HOUSTON_TOOLS_DIR:-$HOME/.cache/houston-tools}"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo-leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes ~12 minutes on a quiet 2-core machine)"
  cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Without --locked: its lockfile pins a webpki-roots the registry no longer serves.
  cargo install "wasm-bindgen-cli@$WASM_BINDGEN_VERSION" --force
fi

BINARYEN_BIN="$TOOLS_DIR/binaryen-$BINARYEN_VERSION/node_modules/.bin"
if [ ! -x "$BINARYEN_BIN/wasm-opt" ]; then
  log "installing wasm-opt (binaryen $BINARYEN_VERSION from npm)"
  mkdir -p "$TOOLS_DIR/binaryen-$BINARYEN_VERSION"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/binaryen-$BINARYEN_VERSION" "binaryen@$BINARYEN_VERSION"
fi

# Print the PATH addition for callers: `eval "$(scripts/bootstrap.sh)"`.
printf 'export PATH=%q:"$HOME/.cargo/bin":"$PATH"\n' "$BINARYEN_BIN"
