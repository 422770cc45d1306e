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

# cargo-leptos is built unoptimised except for the crates it spends its time in
# (compressing, hashing and splitting the site): its own profile (opt-level 3, fat LTO,
# one codegen unit) took 716 s to compile here, this 387 s, for a tool that mostly
# waits on cargo and wasm-opt; the site it builds is the same (docs/BENCHMARKS.md,
# the first hour).
HOT_CRATES="cargo-leptos brotli brotli-decompressor alloc-no-stdlib alloc-stdlib libflate
  libflate_lz77 adler32 rle-decode-fast core2 crc32fast dary_heap seahash md-5 digest
  block-buffer wasmparser wasm-encoder gimli wasm_split_cli_support leb128fmt"
quick_profile=(--config profile.release.opt-level=0 --config profile.release.lto=false
  --config profile.release.codegen-units=16)
for crate in $HOT_CRATES; do
  quick_profile+=(--config "profile.release.package.$crate.opt-level=3")
done

if [ "$(cargo-leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes ~6 minutes on a quiet 2-core machine)"
  cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked "${quick_profile[@]}"
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Without --locked: its lockfile pins a webpki-roots the registry no longer serves.
  cargo install "wasm-bindgen-cli@$WASM_BINDGEN_VERSION" --force
fi

BINARYEN_DIR="$TOOLS_DIR/binaryen-$BINARYEN_VERSION"
if [ ! -f "$BINARYEN_DIR/node_modules/binaryen/bin/wasm-opt" ]; then
  log "installing wasm-opt (binaryen $BINARYEN_VERSION from npm)"
  mkdir -p "$BINARYEN_DIR"
  npm install --silent --no-audit --no-fund --prefix "$BINARYEN_DIR" "binaryen@$BINARYEN_VERSION"
fi
# npm's binaryen is compiled to wasm and run by node. cargo-leptos runs it once per
# split chunk (about 260, most under 2 KB), and V8 spent most of each run optimising
# binaryen's own code: with its baseline compiler only, each output is the same to
# the byte and the release build's wasm-opt step took 92 s instead of 241 s
# (docs/BENCHMARKS.md, the first hour).
BINARYEN_BIN="$BINARYEN_DIR/bin"
mkdir -p "$BINARYEN_BIN"
printf '#!/bin/sh\nexec node --liftoff-only %q "$@"\n' "$BINARYEN_DIR/node_modules/binaryen/bin/wasm-opt" \
  > "$BINARYEN_BIN/wasm-opt.new"
chmod +x "$BINARYEN_BIN/wasm-opt.new"
mv "$BINARYEN_BIN/wasm-opt.new" "$BINARYEN_BIN/wasm-opt"

# Print the PATH addition for callers: `eval "$(scripts/bootstrap.sh)"`.
printf 'export PATH=%q:"$HOME/.cargo/bin":"$PATH"\n' "$BINARYEN_BIN"
