#!/usr/bin/env bash
# The release build, the one way every script makes it: the server binary with the
# site inside it, the wasm split into a main bundle and one chunk per page loaded on
# demand (--split, for Leptos' lazy routes), the files under pkg/ named with a hash
# of their content so browsers may cache them for good (LEPTOS_HASH_FILES), and
# brotli and gzip copies of each (--precompress). Expects the tools from
# scripts/bootstrap.sh on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
LEPTOS_HASH_FILES=true exec cargo leptos build --release --precompress --split "$@"
