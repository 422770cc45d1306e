#!/usr/bin/env bash
# Takes the README's pictures again (docs/img/mission-control.png and
# docs/img/deploy-receipt.png) from the demo journey: `houston demo` on a fresh
# database, served, in headless Chromium. Expects `scripts/build.sh` to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin="$root/target/release/houston"
[ -x "$bin" ] || { echo "[pictures] $bin is missing: run scripts/build.sh" >&2; exit 1; }
if [ ! -x /usr/bin/chromium ]; then
  echo "[pictures] installing Debian's chromium" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
(cd end2end && npm ci --no-audit --no-fund --silent)
mkdir -p docs/img
HOUSTON_BIN="$bin" HOUSTON_README_PICTURES="$root/docs/img" \
  node --test --test-concurrency=1 end2end/tests/demo.test.mjs
ls -l docs/img/*.png
