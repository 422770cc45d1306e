//! A load generator for Houston's benchmarks (docs/BENCHMARKS.md); run it, it is
//! not a test. Two modes, both on kept-alive connections to a running server:
//!
//! `pages`: requests at a fixed rate (open loop: a slow answer does not slow the
//! sending, and latency counts from when a request was due), spread over the
//! given paths in turn; prints p50, p99 and max per path.
//!
//!     bench_load pages --base http://127.0.0.1:3000 --cookie 'houston_session=…' \
//!         --rate 200 --seconds 20 /healthz / '/deploys?service=checkout'
//!
//! `streams`: opens N live-update streams, registers deploys at a fixed rate, and
//! measures how long each event takes to reach each stream; with `--pid`, the
//! server's CPU use over the run.
//!
//!     bench_load streams --base http://127.0.0.1:3000 --token hst_… --streams 500 \
//!         --rate 20 --seconds 30 --pid 1234

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    mode: String,
    base: String,
    cookie: Option<String>,
    token: Option<String>,
    rate: f64,
    seconds: f64,
    streams: usize,
    pid: Option<u32>,
    paths: Vec<String>,
}

fn args() -> Args {
    let mut raw = std::env::args().skip(1);
    let mut args = Args {
        mode: raw.next().unwrap_or_default(),
        base: "http://127.0.0.1:3000".into(),
        cookie: None,
        token: None,
        rate: 100.0,
        seconds: 10.0,
        streams: 100,
        pid: None,
        paths: Vec::new(),
    };
    while let Some(arg) = raw.next() {
        let mut value = || raw.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--base" => args.base = value(),
            "--cookie" => args.cookie = Some(value()),
            "--token" => args.token = Some(value()),
            "--rate" => args.rate = value().parse().expect("--rate is a number"),
            "--seconds" => args.seconds = value().parse().expect("--seconds is a number"),
            "--streams" => args.streams = value().parse().expect("--streams is a count"),
            "--pid" => args.pid = Some(value().parse().expect("--pid is a process id")),
            path => args.paths.push(path.to_owned()),
        }
    }
    args
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn client(args: &Args) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(cookie) = &args.cookie {
        headers.insert(reqwest::header::COOKIE, cookie.parse().expect("cookie"));
    }
    if let Some(token) = &args.token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("token"),
        );
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()
        .expect("client")
}

async fn pages(args: Args) {
    let client = client(&args);
    let total = (args.rate * args.seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let paths = Arc::new(args.paths.clone());
    let start = Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        let due = start + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, paths, base) = (client.clone(), paths.clone(), args.base.clone());
        tasks.push(tokio::spawn(async move {
            let path = &paths[n % paths.len()];
            let ok = match client.get(format!("{base}{path}")).send().await {
                Ok(response) => {
                    let ok = response.status().is_success();
                    ok && response.bytes().await.is_ok()
                }
                Err(_) => false,
            };
            (n % paths.len(), due.elapsed(), ok)
        }));
    }
    let mut by_path: HashMap<usize, (Vec<Duration>, usize)> = HashMap::new();
    for task in tasks {
        let (path, latency, ok) = task.await.expect("request task");
        let entry = by_path.entry(path).or_default();
        entry.0.push(latency);
        if !ok {
            entry.1 += 1;
        }
    }
    println!(
        "{:<40} {:>8} {:>10} {:>10} {:>10} {:>7}",
        "path", "requests", "p50", "p99", "max", "errors"
    );
    // With more than two paths, the ones after the first (the baseline, /healthz)
    // are also counted together.
    let mut rest: (Vec<Duration>, usize) = (Vec::new(), 0);
    for (i, path) in paths.iter().enumerate() {
        let (mut latencies, errors) = by_path.remove(&i).unwrap_or_default();
        if i > 0 {
            rest.0.extend(&latencies);
            rest.1 += errors;
        }
        latencies.sort_unstable();
        println!(
            "{:<40} {:>8} {:>10} {:>10} {:>10} {:>7}",
            path,
            latencies.len(),
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 99.0)),
            ms(latencies.last().copied().unwrap_or_default()),
            errors
        );
    }
    if paths.len() > 2 {
        rest.0.sort_unstable();
        println!(
            "{:<40} {:>8} {:>10} {:>10} {:>10} {:>7}",
            "(all paths after the first)",
            rest.0.len(),
            ms(percentile(&rest.0, 50.0)),
            ms(percentile(&rest.0, 99.0)),
            ms(rest.0.last().copied().unwrap_or_default()),
            rest.1
        );
    }
    println!("rate {:.0}/s for {:.0} s", args.rate, args.seconds);
}

async fn streams(args: Args) {
    let client = client(&args);
    let total = (args.rate * args.seconds) as usize;
    let run = format!("{:x}", std::process::id());
    // When each deploy was sent, by number; events name it in `author`.
    let sent: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..total).map(|_| std::sync::OnceLock::new()).collect());
    let received = Arc::new(AtomicU64::new(0));
    let delays = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let mut readers = Vec::new();
    for _ in 0..args.streams {
        let response = client
            .get(format!("{}/api/v1/events", args.base))
            .send()
            .await
            .expect("open a stream");
        assert!(
            response.status().is_success(),
            "stream refused: {}",
            response.status()
        );
        let (sent, received, delays, run) =
            (sent.clone(), received.clone(), delays.clone(), run.clone());
        readers.push(tokio::spawn(async move {
            let mut response = response;
            let mut buffer = String::new();
            let prefix = format!("\"author\":\"bench-{run}-");
            while let Ok(Some(chunk)) = response.chunk().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let event: String = buffer.drain(..end + 2).collect();
                    let Some(at) = event.find(&prefix) else {
                        continue;
                    };
                    let number: String = event[at + prefix.len()..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if let Some(when) = number
                        .parse::<usize>()
                        .ok()
                        .and_then(|n| sent.get(n)?.get().copied())
                    {
                        let delay = when.elapsed();
                        received.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut d) = delays.lock() {
                            d.push(delay);
                        }
                    }
                }
            }
        }));
    }
    println!("{} streams open", args.streams);
    let cpu_before = args.pid.and_then(cpu_seconds);
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let mut posts = Vec::new();
    for n in 0..total {
        tokio::time::sleep_until((started + interval * n as u32).into()).await;
        let (client, base, sent, run) =
            (client.clone(), args.base.clone(), sent.clone(), run.clone());
        posts.push(tokio::spawn(async move {
            let _ = sent[n].set(Instant::now());
            let body = serde_json::json!({
                "service": format!("bench-{}", n % 20),
                "environment": "production",
                "version": format!("v{n}"),
                "author": format!("bench-{run}-{n}"),
            });
            client
                .post(format!("{base}/api/v1/deploys"))
                .json(&body)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }));
    }
    let mut failed = 0;
    for post in posts {
        if !post.await.unwrap_or(false) {
            failed += 1;
        }
    }
    let expected = (total * args.streams) as u64;
    let deadline = Instant::now() + Duration::from_secs(5);
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, args.pid.and_then(cpu_seconds)) {
        (Some(before), Some(after)) => {
            format!("{:.0} % of one core", 100.0 * (after - before) / elapsed)
        }
        _ => "not measured (no --pid)".into(),
    };
    let mut delays = delays.lock().map(|d| d.clone()).unwrap_or_default();
    delays.sort_unstable();
    let within = delays
        .iter()
        .filter(|d| **d <= Duration::from_secs(1))
        .count();
    println!(
        "deploys registered: {total} ({failed} failed) at {:.0}/s",
        args.rate
    );
    println!(
        "events received: {} of {expected}; within 1 s: {within}",
        received.load(Ordering::Relaxed)
    );
    println!(
        "delay p50 {} p99 {} max {}",
        ms(percentile(&delays, 50.0)),
        ms(percentile(&delays, 99.0)),
        ms(delays.last().copied().unwrap_or_default())
    );
    println!("server CPU over {elapsed:.1} s: {cpu}");
    for reader in readers {
        reader.abort();
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    match args.mode.as_str() {
        "pages" => pages(args).await,
        "streams" => streams(args).await,
        other => {
            eprintln!(
                "usage: bench_load pages|streams [options] (got {other:?}); see the file's header"
            );
            std::process::exit(2);
        }
    }
}
