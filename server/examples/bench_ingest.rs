//! Ingest benchmark (docs/BENCHMARKS.md, `scripts/bench-ingest.sh`); a program to
//! run, not a test. Three modes:
//!
//! `http`: N clients on kept-alive connections send `POST /api/v1/metrics`
//! batches back to back for the given time; every point is a new sample (its own
//! series and time). Prints samples/s acknowledged and request latency.
//!
//!     bench_ingest http --base http://127.0.0.1:3000 --token hst_… \
//!         --clients 4 --seconds 60 --points 5000 --series 10
//!
//! `store`: the same batches, built the same way, written straight into the
//! database through the store (no HTTP, no JSON): the baseline of the same run.
//!
//!     bench_ingest store --database sqlite:/tmp/b.db --clients 4 --seconds 60 …
//!
//! `seed`: fills a database with `--samples` samples over `--series` series, one
//! every 10 s ending now, straight through the store (for the read benchmark).
//!
//!     bench_ingest seed --database sqlite:/tmp/b.db --samples 100000000 --series 10000
//!
//! `size`: the database's bytes per stored sample.
//!
//!     bench_ingest size --database sqlite:/tmp/b.db
//!
//! `ack`: the kill test's client. Sends batches until stopped (or killed, with its
//! server), appending each acknowledged batch's (series, first time, count) to a
//! file; `verify` then checks every acknowledged point is in the database.
//!
//!     bench_ingest ack --base … --token … --log acked.txt --run 3
//!     bench_ingest verify --database sqlite:/tmp/b.db --log acked.txt

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    mode: String,
    base: String,
    token: String,
    database: String,
    clients: usize,
    seconds: f64,
    points: usize,
    series: usize,
    log: String,
    run: u64,
    samples: u64,
}

fn args() -> Args {
    let mut raw = std::env::args().skip(1);
    let mut args = Args {
        mode: raw.next().unwrap_or_default(),
        base: "http://127.0.0.1:3000".into(),
        token: String::new(),
        database: String::new(),
        clients: 4,
        seconds: 60.0,
        points: 5000,
        series: 10,
        log: "acked.txt".into(),
        run: 0,
        samples: 1_000_000,
    };
    while let Some(arg) = raw.next() {
        let mut value = || raw.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--base" => args.base = value(),
            "--token" => args.token = value(),
            "--database" => args.database = value(),
            "--clients" => args.clients = value().parse().expect("--clients is a count"),
            "--seconds" => args.seconds = value().parse().expect("--seconds is a number"),
            "--points" => args.points = value().parse().expect("--points is a count"),
            "--series" => args.series = value().parse().expect("--series is a count"),
            "--log" => args.log = value(),
            "--run" => args.run = value().parse().expect("--run is a number"),
            "--samples" => args.samples = value().parse().expect("--samples is a count"),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// Batch `n` of client `c`: `series` series of `points / series` points each, at
/// times no other batch uses (1 ms apart, counting back from a start an hour ago,
/// so they stay within retention and before the clock).
struct BatchPlan {
    start_us: i64,
    series: usize,
    per_series: usize,
}

impl BatchPlan {
    fn new(args: &Args) -> Self {
        let start = chrono::Utc::now() - chrono::Duration::hours(1);
        Self {
            start_us: start.timestamp_micros(),
            series: args.series,
            per_series: (args.points / args.series).max(1),
        }
    }

    /// The series name and the first time (µs) of one series of a batch.
    fn series_of(&self, prefix: &str, client: usize, batch: u64, s: usize) -> (String, i64) {
        let name = format!("{prefix}_c{client}_s{s}");
        // Each series of each client advances by per_series steps of 1 µs per batch.
        let first = self.start_us + batch as i64 * self.per_series as i64;
        (name, first)
    }

    fn json(&self, prefix: &str, client: usize, batch: u64) -> String {
        let mut body = String::with_capacity(self.series * self.per_series * 32);
        body.push_str("{\"series\":[");
        for s in 0..self.series {
            let (metric, first) = self.series_of(prefix, client, batch, s);
            if s > 0 {
                body.push(',');
            }
            let _ = write!(
                body,
                "{{\"service\":\"bench\",\"environment\":\"production\",\"metric\":\"{metric}\",\"points\":["
            );
            for k in 0..self.per_series {
                if k > 0 {
                    body.push(',');
                }
                let us = first + k as i64;
                let _ = write!(
                    body,
                    "[{}.{:06},{}]",
                    us.div_euclid(1_000_000),
                    us.rem_euclid(1_000_000),
                    (k % 97) as f64 * 0.5
                );
            }
            body.push_str("]}");
        }
        body.push_str("]}");
        body
    }

    fn batch(&self, prefix: &str, client: usize, batch: u64) -> app::domain::MetricBatch {
        let now = chrono::Utc::now();
        serde_json::from_str::<app::domain::MetricsRequest>(&self.json(prefix, client, batch))
            .expect("the bench's own JSON decodes")
            .parse(now, now - chrono::Duration::days(8))
            .expect("the bench's own batch is valid")
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn http(args: Args) {
    let plan = Arc::new(BatchPlan::new(&args));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()
        .expect("client");
    let samples = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (client, plan, samples) = (client.clone(), plan.clone(), samples.clone());
        let url = format!("{}/api/v1/metrics", args.base);
        let token = args.token.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let body = plan.json("http", c, n);
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("request");
                let status = response.status();
                let text = response.text().await.expect("body");
                assert!(status.is_success(), "{status}: {text}");
                let accepted: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                samples.fetch_add(
                    accepted["accepted"].as_u64().unwrap_or(0),
                    Ordering::Relaxed,
                );
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                n += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("client task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let total = samples.load(Ordering::Relaxed);
    println!(
        "http: {total} samples in {elapsed:.1} s = {:.0} samples/s; {} requests of {} points, p50 {:.1} ms, p99 {:.1} ms",
        total as f64 / elapsed,
        latencies.len(),
        args.points,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
}

async fn store(args: Args) {
    let store = houston::storage::open(&args.database)
        .await
        .expect("open the database");
    let plan = Arc::new(BatchPlan::new(&args));
    let samples = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (store, plan, samples) = (store.clone(), plan.clone(), samples.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let batch = plan.batch("store", c, n);
                let stored = store
                    .store_samples(&batch, chrono::Utc::now())
                    .await
                    .expect("store");
                samples.fetch_add(stored, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = samples.load(Ordering::Relaxed);
    println!(
        "store: {total} samples in {elapsed:.1} s = {:.0} samples/s (no HTTP, no JSON)",
        total as f64 / elapsed
    );
}

async fn size(args: Args) {
    use sqlx::Connection;
    if args.database.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&args.database)
            .await
            .expect("connect");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .expect("checkpoint");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM metric_samples")
            .fetch_one(&mut conn)
            .await
            .expect("count");
        // The table's own pages (dbstat), and the whole file for comparison.
        let table: Option<i64> =
            sqlx::query_scalar("SELECT sum(pgsize) FROM dbstat WHERE name = 'metric_samples'")
                .fetch_one(&mut conn)
                .await
                .ok()
                .flatten();
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut conn)
            .await
            .expect("page size");
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut conn)
            .await
            .expect("pages");
        let file = page_size * pages;
        println!(
            "sqlite: {count} samples; table {} bytes = {:.1} bytes/sample; whole file {file} bytes = {:.1} bytes/sample",
            table.map_or("?".into(), |t| t.to_string()),
            table.unwrap_or(0) as f64 / count.max(1) as f64,
            file as f64 / count.max(1) as f64
        );
    } else {
        let mut conn = sqlx::PgConnection::connect(&args.database)
            .await
            .expect("connect");
        sqlx::query("VACUUM ANALYZE metric_samples")
            .execute(&mut conn)
            .await
            .expect("vacuum");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM metric_samples")
            .fetch_one(&mut conn)
            .await
            .expect("count");
        let (heap, total): (i64, i64) = sqlx::query_as(
            "SELECT pg_relation_size('metric_samples'), pg_total_relation_size('metric_samples')",
        )
        .fetch_one(&mut conn)
        .await
        .expect("sizes");
        println!(
            "postgres: {count} samples; heap {heap} bytes = {:.1} bytes/sample; with its key index {total} bytes = {:.1} bytes/sample",
            heap as f64 / count.max(1) as f64,
            total as f64 / count.max(1) as f64
        );
    }
}

/// Series `read_s{i}` of service `bench`, production, each a sample every 10 s
/// ending now, written in batches of 100,000 points.
async fn seed(args: Args) {
    use app::domain::{
        EnvironmentName, MetricBatch, MetricName, Sample, SeriesKey, SeriesSamples, ServiceName,
    };
    let store = houston::storage::open(&args.database)
        .await
        .expect("open the database");
    let per_series = (args.samples / args.series as u64).max(1) as i64;
    let end = chrono::Utc::now().timestamp();
    let series_per_batch = (100_000 / per_series).max(1) as usize;
    let started = Instant::now();
    let mut written = 0u64;
    for first in (0..args.series).step_by(series_per_batch) {
        let batch = MetricBatch {
            series: (first..(first + series_per_batch).min(args.series))
                .map(|i| SeriesSamples {
                    key: SeriesKey {
                        service: ServiceName::parse("bench").expect("name"),
                        environment: EnvironmentName::parse("production").expect("name"),
                        metric: MetricName::parse(&format!("read_s{i}")).expect("name"),
                        group: None,
                    },
                    samples: (0..per_series)
                        .map(|k| Sample {
                            at: chrono::DateTime::from_timestamp(
                                end - (per_series - 1 - k) * 10,
                                0,
                            )
                            .expect("time"),
                            value: ((k * 31 + i as i64) % 1000) as f64 / 10.0,
                        })
                        .collect(),
                })
                .collect(),
        };
        written += store
            .store_samples(&batch, chrono::Utc::now())
            .await
            .expect("store");
        if first % (series_per_batch * 100) == 0 {
            eprintln!(
                "seed: {written} samples, {:.0} samples/s",
                written as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "seed: {written} samples over {} series in {:.1} s ({:.0} samples/s)",
        args.series,
        started.elapsed().as_secs_f64(),
        written as f64 / started.elapsed().as_secs_f64()
    );
    store.refresh_statistics().await.expect("statistics");
}

/// Sends batches until killed, logging each acknowledged one after its answer.
async fn ack(args: Args) {
    let plan = BatchPlan::new(&args);
    let client = reqwest::Client::new();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.log)
        .expect("log file");
    let url = format!("{}/api/v1/metrics", args.base);
    let prefix = format!("kill{}", args.run);
    for n in 0u64.. {
        let body = plan.json(&prefix, 0, n);
        let Ok(response) = client
            .post(&url)
            .bearer_auth(&args.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
        else {
            return; // the server is gone: nothing more is acknowledged
        };
        if !response.status().is_success() {
            return;
        }
        for s in 0..plan.series {
            let (metric, first) = plan.series_of(&prefix, 0, n, s);
            writeln!(log, "{metric} {first} {}", plan.per_series).expect("log");
        }
        log.flush().expect("flush");
    }
}

/// Every acknowledged point of the log is in the database.
async fn verify(args: Args) {
    let store = houston::storage::open(&args.database).await.expect("open");
    let text = std::fs::read_to_string(&args.log).expect("log");
    let (mut batches, mut missing) = (0u64, 0u64);
    for line in text.lines() {
        let mut parts = line.split(' ');
        let (Some(metric), Some(first), Some(count)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let first: i64 = first.parse().expect("time");
        let count: i64 = count.parse().expect("count");
        let read = app::domain::SeriesQuery {
            service: Some("bench".into()),
            environment: Some("production".into()),
            metric: Some(metric.into()),
            group: None,
            from: Some(format!("{:.6}", first as f64 / 1e6)),
            to: Some(format!("{:.6}", (first + count - 1) as f64 / 1e6)),
        }
        .parse()
        .expect("read");
        let found = store
            .read_samples(&read, 1_000_000)
            .await
            .expect("read")
            .len() as i64;
        missing += (count - found).max(0) as u64;
        batches += 1;
    }
    println!(
        "verify: {batches} acknowledged series batches, {missing} acknowledged points missing"
    );
    let mut healthy = true;
    if args.database.starts_with("sqlite:") {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&args.database)
            .await
            .expect("connect");
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .expect("integrity check");
        println!("verify: SQLite integrity_check: {check}");
        healthy = check == "ok";
    }
    if missing > 0 || !healthy {
        std::process::exit(1);
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    match args.mode.as_str() {
        "http" => http(args).await,
        "store" => store(args).await,
        "size" => size(args).await,
        "seed" => seed(args).await,
        "ack" => ack(args).await,
        "verify" => verify(args).await,
        other => panic!("unknown mode {other:?}: http, store, seed, size, ack or verify"),
    }
}
