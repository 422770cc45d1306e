#!/usr/bin/env python3
"""Houston against a real Prometheus and a real Alertmanager (Debian's packages),
all on loopback, each with a scratch folder of its own.

1. Prometheus holds two hours of backfilled samples (`promtool tsdb
   create-blocks-from openmetrics`); a metric defined by `houston config apply`
   with a PromQL template reads those samples back through Houston's API.
2. With Prometheus stopped the same read answers 503 `unavailable`: no data,
   never a value.
3. An alert posted to Alertmanager's API reaches Houston's receiver (bearer
   token of scope `alerts`, the alert source's own) firing, and resolved once it
   ends; Houston's API is read with a token of scope `read`.

Expects `scripts/build.sh` to have run; installs the Debian packages when missing.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOUSTON = os.path.join(ROOT, "target", "release", "houston")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


def log(message):
    print(f"[signals] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_packages():
    missing = [p for p, b in (("prometheus", "promtool"), ("prometheus-alertmanager", ALERTMANAGER)) if not shutil.which(b)]
    if missing:
        log(f"installing {' '.join(missing)} from Debian")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)


def request(method, url, body=None, token=None, timeout=10):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(what, check, seconds=30, interval=0.2):
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError) as e:  # not up yet
            last = e
        time.sleep(interval)
    raise SystemExit(f"[signals] FAILED: {what} (last: {last})")


class Processes:
    def __init__(self):
        self.running = {}

    def start(self, name, args, env=None, log_path=None):
        out = open(log_path, "w") if log_path else subprocess.DEVNULL
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.running[name] = (proc, log_path)
        return proc

    def stop(self, name):
        proc, _ = self.running.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    def stop_all(self):
        for name in list(self.running):
            self.stop(name)

    def tail(self):
        for name, (_, path) in self.running.items():
            if path and os.path.exists(path):
                with open(path) as f:
                    lines = f.readlines()[-20:]
                log(f"--- {name} log ---\n" + "".join(lines))


def main():
    if not os.access(HOUSTON, os.X_OK):
        raise SystemExit(f"[signals] {HOUSTON} is missing: run scripts/build.sh")
    ensure_packages()
    work = tempfile.mkdtemp(prefix="houston-signals.")
    procs = Processes()
    try:
        run(work, procs)
    except BaseException:
        procs.tail()
        raise
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    log("Prometheus and Alertmanager integration passed")


def run(work, procs):
    houston_port, prom_port, am_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{houston_port}"
    env = {**os.environ, "HOUSTON_DATABASE_URL": f"sqlite:{work}/houston.db",
           "HOUSTON_BIND": f"127.0.0.1:{houston_port}", "HOUSTON_LOG": "warn",
           "HOUSTON_PROMETHEUS_URL": f"http://127.0.0.1:{prom_port}",
           "HOUSTON_PROMETHEUS_TIMEOUT_SECS": "2"}
    def new_token(name, scope):
        return subprocess.run([HOUSTON, "token", "create", "--name", name, "--scope", scope],
                              env=env, check=True, capture_output=True, text=True).stdout.strip()
    # The reader reads; only Alertmanager's own token may send alerts.
    token = new_token("signals", "read")
    alerts_token = new_token("alertmanager", "alerts")
    admin_token = new_token("integration-admin", "admin")

    # Two hours of samples, one every 15 s, ending a minute ago: the error ratio of
    # checkout in production is 0.01 plus a little every minute; another job's is 9.
    now = int(time.time())
    lines = []
    for t in range(now - 7200, now - 60, 15):
        minute = (t - (now - 7200)) // 60
        lines.append(f'http_errors_ratio{{job="checkout",env="production"}} {0.01 + minute / 10000:.6f} {t}')
        lines.append(f'http_errors_ratio{{job="cart",env="production"}} 9 {t}')
    openmetrics = os.path.join(work, "backfill.om")
    with open(openmetrics, "w") as f:
        f.write("# TYPE http_errors_ratio gauge\n" + "\n".join(lines) + "\n# EOF\n")
    tsdb = os.path.join(work, "tsdb")
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", openmetrics, tsdb],
                   check=True, stdout=subprocess.DEVNULL)
    prom_config = os.path.join(work, "prometheus.yml")
    with open(prom_config, "w") as f:
        f.write("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    prometheus = ["prometheus", f"--config.file={prom_config}", f"--storage.tsdb.path={tsdb}",
                  f"--web.listen-address=127.0.0.1:{prom_port}", "--storage.tsdb.retention.time=30d"]
    procs.start("prometheus", prometheus, log_path=os.path.join(work, "prometheus.log"))
    wait_for("Prometheus ready", lambda: request("GET", f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200)

    am_config = os.path.join(work, "alertmanager.yml")
    with open(am_config, "w") as f:
        f.write(f"""route:
  receiver: houston
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: houston
    webhook_configs:
      - url: {base}/api/v1/webhooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {alerts_token}
""")
    procs.start("alertmanager", [ALERTMANAGER, f"--config.file={am_config}",
                                 f"--storage.path={work}/am", f"--web.listen-address=127.0.0.1:{am_port}",
                                 "--cluster.listen-address=", "--log.level=warn"],
                log_path=os.path.join(work, "alertmanager.log"))
    wait_for("Alertmanager ready", lambda: request("GET", f"http://127.0.0.1:{am_port}/-/ready")[0] == 200)

    config = os.path.join(work, "houston.toml")
    with open(config, "w") as f:
        f.write("""[[metric]]
name = "error_ratio"
unit = "%"
source = "prometheus"
query = 'max(http_errors_ratio{job="{{service}}", env="{{environment}}"})'
services = ["*"]
""")
    applied = subprocess.run([HOUSTON, "config", "apply", config, "--reason", "integration"],
                             env=env, check=True, capture_output=True, text=True).stdout
    assert "+ error_ratio" in applied, applied

    procs.start("houston", [HOUSTON, "serve"], env=env, log_path=os.path.join(work, "houston.log"))
    wait_for("Houston ready", lambda: request("GET", f"{base}/readyz")[0] == 200)

    # 1. The metric reads back through Houston from Prometheus.
    params = urllib.parse.urlencode({"service": "checkout", "environment": "production",
                                     "metric": "error_ratio", "from": now - 7200, "to": now})
    status, body = request("GET", f"{base}/api/v1/metrics?{params}", token=token)
    assert status == 200, (status, body)
    points = json.loads(body)["points"]
    # A 2-hour window is read at Prometheus' 10 s step: 720 steps, the last minute
    # empty, and Prometheus looks back 5 minutes past the last sample.
    assert len(points) >= 600, f"only {len(points)} points"
    assert all(0.01 <= v < 0.03 for _, v in points), points[:5]
    assert points[0][0].endswith("Z"), points[0]
    log(f"read {len(points)} points of error_ratio from Prometheus through Houston")
    # The template is filled per place: cart reads its own series.
    params_cart = params.replace("checkout", "cart")
    status, body = request("GET", f"{base}/api/v1/metrics?{params_cart}", token=token)
    assert status == 200 and all(v == 9 for _, v in json.loads(body)["points"]), body

    # A dry run of a PromQL definition (admins only): the query runs once, nothing is stored.
    definition = {"unit": "%", "source": "prometheus", "services": ["*"],
                  "query": 'max(http_errors_ratio{job="{{service}}", env="{{environment}}"})'}
    dry = f"{base}/api/v1/metric-definitions/error_ratio_try/dry-run?service=checkout&environment=production"
    status, body = request("POST", dry, definition, token=token)
    assert status == 403, (status, body)
    status, body = request("POST", dry, definition, token=admin_token)
    assert status == 200, (status, body)
    tried = json.loads(body)
    assert tried["series"] == 1 and tried["points"] > 0 and tried["problem"] is None, tried
    assert 'job="checkout"' in tried["query"], tried
    status, body = request("POST", dry, dict(definition, query="sum(rate(nope[5m]"), token=admin_token)
    assert status == 200 and json.loads(body)["problem"], body
    status, body = request("GET", f"{base}/api/v1/metric-definitions", token=token)
    assert "error_ratio_try" not in body, "a dry run stores nothing"
    log("a dry run ran the query once and stored nothing")

    # 3. An alert through Alertmanager: firing, then resolved.
    alert = {"labels": {"alertname": "HighErrorRate", "service": "checkout", "environment": "production",
                        "severity": "page"},
             "annotations": {"summary": "5xx above 2%"},
             "generatorURL": f"http://127.0.0.1:{prom_port}/graph?g0.expr=up",
             "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 30)),
             "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))}
    status, body = request("POST", f"http://127.0.0.1:{am_port}/api/v2/alerts", [alert])
    assert status == 200, (status, body)

    def alerts(state):
        status, body = request("GET", f"{base}/api/v1/alerts?state={state}&service=checkout", token=token)
        assert status == 200, (status, body)
        return json.loads(body)

    firing = wait_for("the alert reaches Houston firing", lambda: alerts("firing"), seconds=30)
    assert firing[0]["name"] == "HighErrorRate" and firing[0]["environment"] == "production", firing
    assert firing[0]["generator_url"].startswith(f"http://127.0.0.1:{prom_port}/graph"), firing
    log("the alert reached Houston firing")
    alert["endsAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    status, body = request("POST", f"http://127.0.0.1:{am_port}/api/v2/alerts", [alert])
    assert status == 200, (status, body)
    resolved = wait_for("the alert reaches Houston resolved", lambda: alerts("resolved"), seconds=30)
    assert resolved[0]["ends_at"], resolved
    assert alerts("firing") == [], "the resolved alert is no longer firing"
    log("the alert reached Houston resolved")

    # 2. Prometheus down: the read says unavailable, and says it fast enough.
    procs.stop("prometheus")
    started = time.time()
    status, body = request("GET", f"{base}/api/v1/metrics?{params}", token=token, timeout=30)
    took = time.time() - started
    assert status == 503, (status, body)
    assert json.loads(body)["error"] == "unavailable", body
    assert took < 15, f"the unavailable answer took {took:.1f} s"
    log(f"with Prometheus stopped the read answers 503 unavailable in {took:.1f} s")


if __name__ == "__main__":
    main()
