#!/usr/bin/env python3
"""Mission control with many deploys stored: seeds an SQLite database with N deploys
(7 services x 4 environments, spread over a year) straight through SQL, starts each
given houston binary on it in turn, signs in, and measures `/` and `/healthz` with
wrk on kept-alive connections. Compare the binaries' ratios, not bare times.

Usage: scripts/bench-board.py [--deploys N] [--seconds S] BINARY [BINARY ...]
"""
import argparse, datetime, os, random, re, shutil, socket, sqlite3, subprocess, sys, tempfile, time, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def seed(binary, url, deploys):
    env = dict(os.environ, HOUSTON_DATABASE_URL=url, HOUSTON_LOG="warn")
    subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    db = sqlite3.connect(url.removeprefix("sqlite:"))
    now = datetime.datetime.now(datetime.timezone.utc)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    services = ["checkout", "cart", "search", "accounts", "payments", "catalog", "gateway"]
    environments = [("dev", 0), ("staging", 1), ("canary", 2), ("production", 3)]
    db.executemany("INSERT INTO services (name, created_at) VALUES (?, ?)", [(s, iso(now)) for s in services])
    db.executemany("INSERT INTO environments (name, stage_order, created_at) VALUES (?, ?, ?)",
                   [(e, o, iso(now)) for e, o in environments])
    rng = random.Random(7)
    rows = []
    for i in range(deploys):
        started = now - datetime.timedelta(seconds=int(365 * 86400 * (deploys - i) / deploys))
        status = rng.choice(["succeeded"] * 8 + ["failed", "rolled_back"])
        rows.append((rng.randint(1, len(services)), rng.randint(1, len(environments)), f"v1.{i}",
                     rng.choice(["ada", "grace", "linus"]), status, iso(started),
                     iso(started + datetime.timedelta(minutes=3)), "api", iso(started), "token:bench",
                     iso(started + datetime.timedelta(minutes=3))))
    db.executemany("INSERT INTO deploys (service_id, environment_id, version, author, status, started_at, "
                   "finished_at, source, created_at, registered_by, status_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit(); db.close()

def measure(binary, url, seconds, site_root):
    port = free_port()
    env = dict(os.environ, HOUSTON_DATABASE_URL=url, HOUSTON_BIND=f"127.0.0.1:{port}",
               HOUSTON_SITE_ROOT=site_root, HOUSTON_LOG="warn")
    password = "bench board password"
    subprocess.run([binary, "user", "create", "--name", "bench"], input=password + "\n", text=True,
                   env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/readyz"); break
            except Exception:
                time.sleep(0.2)
        login = urllib.request.Request(base + "/api/login", data=f"username=bench&password={password.replace(' ', '+')}".encode(),
                                       headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"})
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k): return None
        try:
            resp = urllib.request.build_opener(NoRedirect).open(login)
            headers = resp.headers
        except urllib.error.HTTPError as e:
            headers = e.headers
        cookie = headers.get("Set-Cookie", "").split(";")[0]
        results = {}
        for route in ["/healthz", "/"]:
            out = subprocess.run(["wrk", "-t2", "-c4", f"-d{seconds}s", "--latency", "-H", f"Cookie: {cookie}", base + route],
                                 capture_output=True, text=True).stdout
            p50 = re.search(r"\s50%\s+(\S+)", out).group(1); p99 = re.search(r"\s99%\s+(\S+)", out).group(1)
            rps = re.search(r"Requests/sec:\s+(\S+)", out).group(1)
            non2xx = re.search(r"Non-2xx.*?(\d+)", out)
            results[route] = (p50, p99, rps, non2xx.group(1) if non2xx else "0")
        return results
    finally:
        server.terminate(); server.wait()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deploys", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    site_root = os.path.abspath("target/site")
    work = tempfile.mkdtemp(prefix="houston-board-")
    try:
        template = os.path.join(work, "seeded.db")
        t = time.time(); seed(args.binaries[0], "sqlite:" + template, args.deploys)
        print(f"seeded {args.deploys} deploys in {time.time() - t:.1f} s")
        for binary in args.binaries:
            db = os.path.join(work, f"run-{abs(hash(binary))}.db"); shutil.copy(template, db)
            for route, (p50, p99, rps, bad) in measure(binary, "sqlite:" + db, args.seconds, site_root).items():
                print(f"{binary}\t{route}\tp50 {p50}\tp99 {p99}\t{rps} req/s\tnon-2xx {bad}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
