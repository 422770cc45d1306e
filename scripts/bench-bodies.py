#!/usr/bin/env python3
"""Peak server memory under the worst ingest bodies of the security review
(docs/SECURITY.md, N4), sent 8 at once to a release build on loopback.

The bodies, each `--mib` MiB (default 32, what the review sent):
  points  one series of `0` points
  series  empty series `{}`
  events  empty error events `{}`
Each kind is sent by 8 clients at once, `--rounds` times. The server's peak resident
memory (VmHWM in /proc/PID/status) is read after each kind, beside its resident
memory when idle. Run it twice to compare: with HOUSTON_MAX_INGEST_BODY_BYTES at
the bodies' size (the counting limit alone stops them) and at the default (8 MiB:
413 before reading).

Usage: scripts/bench-bodies.py [--mib 32] [--rounds 3] [--body-limit BYTES]
Expects scripts/build.sh to have run (target/release/houston).
"""
import argparse
import concurrent.futures
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOUSTON = os.path.join(ROOT, "target", "release", "houston")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"no {field} for {pid}")


def body(kind, size):
    if kind == "points":
        head, item, tail = b'{"series":[{"service":"a","environment":"b","metric":"m","points":[', b"0", b"]}]}"
    elif kind == "series":
        head, item, tail = b'{"series":[', b"{}", b"]}"
    else:
        head, item, tail = b'{"events":[', b"{}", b"]}"
    n = (size - len(head) - len(tail)) // (len(item) + 1)
    return head + b",".join([item] * n) + tail


def post(port, token, path, payload):
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", path, body=payload,
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        status = conn.getresponse().status
    except (ConnectionError, http.client.HTTPException):
        # The server may answer 413 and close before the whole body is sent.
        status = "closed early"
    finally:
        conn.close()
    return status, time.monotonic() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--body-limit", type=int, default=None,
                        help="HOUSTON_MAX_INGEST_BODY_BYTES (default: the body size, so only the counting limit stops them)")
    args = parser.parse_args()
    if not os.access(HOUSTON, os.X_OK):
        raise SystemExit("run scripts/build.sh first")
    size = args.mib * 1024 * 1024
    limit = args.body_limit if args.body_limit is not None else size + 1024
    with tempfile.TemporaryDirectory(prefix="houston-bodies.") as work:
        port = free_port()
        env = {**os.environ, "HOUSTON_DATABASE_URL": f"sqlite:{work}/houston.db",
               "HOUSTON_BIND": f"127.0.0.1:{port}", "HOUSTON_LOG": "warn", "HOUSTON_RUN_JOBS": "false",
               "HOUSTON_MAX_INGEST_BODY_BYTES": str(limit)}
        token = subprocess.run([HOUSTON, "token", "create", "--name", "bodies", "--scope", "ingest"],
                               env=env, check=True, capture_output=True, text=True).stdout.strip()
        server = subprocess.Popen([HOUSTON, "serve"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(work, "log"), "w"))
        try:
            deadline = time.time() + 30
            while True:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            print(f"body {args.mib} MiB, HOUSTON_MAX_INGEST_BODY_BYTES={limit}, 8 at once, {args.rounds} rounds")
            print(f"idle: resident {memory_kib(server.pid, 'VmRSS') // 1024} MiB")
            print("| body | answers | slowest answer | server peak RSS after |")
            print("|---|---|---|---|")
            for kind, path in (("points", "/api/v1/metrics"), ("series", "/api/v1/metrics"),
                               ("events", "/api/v1/errors")):
                payload = body(kind, size)
                answers, slowest = {}, 0.0
                for _ in range(args.rounds):
                    with concurrent.futures.ThreadPoolExecutor(8) as pool:
                        for status, took in pool.map(lambda _: post(port, token, path, payload), range(8)):
                            answers[status] = answers.get(status, 0) + 1
                            slowest = max(slowest, took)
                said = ", ".join(f"{s} ×{n}" for s, n in sorted(answers.items(), key=str))
                print(f"| {kind} | {said} | {slowest:.1f} s | {memory_kib(server.pid, 'VmHWM') // 1024} MiB |")
            print(f"after: resident {memory_kib(server.pid, 'VmRSS') // 1024} MiB")
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    sys.exit(main())
