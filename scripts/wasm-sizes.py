#!/usr/bin/env python3
"""The wasm each page downloads on a first load, from a release build's site folder
(scripts/build.sh): the main bundle, plus for a lazy page the chunks Leptos' split
manifest lists for its view. Sizes raw, gzip -9 and brotli (the build's .br copies).
Usage: scripts/wasm-sizes.py [target/site/pkg]"""
import glob, gzip, json, os, re, sys

pkg = sys.argv[1] if len(sys.argv) > 1 else "target/site/pkg"


def one(pattern):
    found = [f for f in glob.glob(os.path.join(pkg, pattern)) if not f.endswith((".br", ".gz"))]
    if len(found) != 1:
        sys.exit(f"expected one {pattern} in {pkg}, found {found}")
    return found[0]


def sizes(path):
    data = open(path, "rb").read()
    brotli = os.path.getsize(path + ".br") if os.path.exists(path + ".br") else 0
    return len(data), len(gzip.compress(data, 9, mtime=0)), brotli


main = one("houston.*.wasm")
manifest = json.load(open(one("__wasm_split_manifest.*.json")))
pages = {"mission control (/)": []}
for view, chunks in sorted(manifest.items()):
    name = re.sub(r"^__(.*)_view_\d+$", r"\1", view).replace("_", " ")
    pages[name] = [os.path.join(pkg, c + ".wasm") for c in chunks]

print(f"{'page':<22} {'files':>5} {'raw':>10} {'gzip -9':>10} {'brotli':>10}")
for page, chunks in pages.items():
    files = [main] + chunks
    raw, gz, br = (sum(s) for s in zip(*(sizes(f) for f in files)))
    print(f"{page:<22} {len(files):>5} {raw:>10,} {gz:>10,} {br:>10,}")
