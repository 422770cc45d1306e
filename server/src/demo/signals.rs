//! The demo's signals: metric samples and error events for a place (service ×
//! environment) as a small production system would send them — a daily cycle,
//! correlated noise, the odd burst — and what each deploy did to them (its [`Fate`]).
//! The judge is never told the fate: it finds it in the samples, as it would in a
//! real system. Seeded: the same place, seed and deploys give the same signals.

use app::domain::{
    EnvironmentName, ErrorEvent, ErrorKey, ErrorLevel, MetricName, Sample, SeriesKey,
    SeriesSamples, ServiceName,
};
use chrono::{DateTime, Duration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Poisson, StandardNormal};

/// One sample per metric every this long, aligned to it.
pub const STEP: Duration = Duration::seconds(10);

/// The metrics the demo sends, as its definitions name them (`demo.toml`).
pub const LATENCY: &str = "latency_p95";
pub const ERROR_RATIO: &str = "error_ratio";
pub const CPU: &str = "cpu";
pub const REQUESTS: &str = "requests";
pub const METRICS: [&str; 4] = [LATENCY, ERROR_RATIO, CPU, REQUESTS];

/// What a release did to the signals of every place it reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Calm,
    /// p95 latency up 70 % and three times the errors: a critical check fails.
    SlowAndFailing,
    /// CPU up 35 %: one lighter check fails, the deploy is ailing.
    HotterCpu,
    /// A new error group from the deploy on.
    NewErrors,
}

impl Fate {
    /// Whether the team rolls it back once the judge says so.
    pub fn is_rolled_back(self) -> bool {
        matches!(self, Fate::SlowAndFailing | Fate::NewErrors)
    }

    fn latency(self) -> f64 {
        if self == Fate::SlowAndFailing {
            1.7
        } else {
            1.0
        }
    }

    fn errors(self) -> f64 {
        if self == Fate::SlowAndFailing {
            3.0
        } else {
            1.0
        }
    }

    fn cpu(self) -> f64 {
        if self == Fate::HotterCpu { 1.35 } else { 1.0 }
    }
}

/// FNV-1a over the parts: a stable hash for seeding (std's hasher may change).
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// The fate of a release, by its key: about one in seven goes wrong.
pub fn fate_of(seed: u64, key: &str) -> Fate {
    match stable_hash(&[&seed.to_string(), key]) % 1000 {
        0..60 => Fate::SlowAndFailing,
        60..110 => Fate::HotterCpu,
        110..150 => Fate::NewErrors,
        _ => Fate::Calm,
    }
}

/// A succeeded deploy as its place's signals feel it: from `at` (its finish) on,
/// until the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub at: DateTime<Utc>,
    pub version: String,
    pub fate: Fate,
}

/// A place's steady state: what its metrics sit at on an average hour.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Profile {
    requests: f64,
    latency_ms: f64,
    cpu_percent: f64,
    error_percent: f64,
    /// Errors the error tracker logs per step, at average load.
    logged_errors: f64,
}

impl Profile {
    fn of(service: &str, environment: &str) -> Profile {
        let h = stable_hash(&[service]);
        let unit = |shift: u32| ((h >> shift) % 1000) as f64 / 1000.0;
        let traffic = match environment {
            "production" => 1.0,
            "canary" => 0.1,
            "staging" => 0.04,
            "dev" => 0.01,
            _ => 0.05,
        };
        let requests = (80.0 + 520.0 * unit(0)) * traffic;
        Profile {
            requests,
            latency_ms: 40.0 + 210.0 * unit(10),
            cpu_percent: (18.0 + 30.0 * unit(20)) * (0.6 + 0.4 * traffic),
            error_percent: 0.2 + 0.6 * unit(30),
            logged_errors: (0.6 + requests / 80.0).min(8.0),
        }
    }
}

/// Error groups every service has had for a long time: (kind, site, message, level,
/// share of the service's logged errors).
const OLD_ERRORS: [(&str, &str, &str, ErrorLevel, f64); 3] = [
    (
        "TimeoutError",
        "client.rs:88",
        "upstream call timed out after 2s",
        ErrorLevel::Error,
        0.6,
    ),
    (
        "ValidationError",
        "request.rs:41",
        "request rejected: a field failed validation",
        ErrorLevel::Warning,
        0.3,
    ),
    (
        "PoolTimedOut",
        "db.rs:120",
        "database pool exhausted: waited 500ms for a connection",
        ErrorLevel::Error,
        0.1,
    ),
];

/// Bugs a bad release brings: (kind, file, message).
const NEW_BUGS: [(&str, &str, &str); 4] = [
    (
        "TypeError",
        "cart/totals.ts",
        "TypeError: cannot read properties of undefined (reading 'total')",
    ),
    (
        "NullPointerException",
        "PriceLookup.java",
        "NullPointerException at PriceLookup.resolve",
    ),
    ("KeyError", "rates.py", "KeyError: 'currency'"),
    (
        "Panic",
        "src/pool.rs",
        "panicked at 'index out of bounds: the len is 0 but the index is 0'",
    ),
];

/// The samples and error events a place sends, one step at a time.
pub struct PlaceSignals {
    service: ServiceName,
    environment: EnvironmentName,
    profile: Profile,
    rng: StdRng,
    /// Correlated noise per metric (AR(1) on the log scale), in `METRICS` order.
    noise: [f64; 4],
    /// Steps left in the current burst.
    burst: u32,
    keys: Vec<SeriesKey>,
}

/// One step's output.
#[derive(Debug, Default)]
pub struct Step {
    /// `(metric index in METRICS, value)`.
    pub values: Vec<(usize, f64)>,
    pub errors: Vec<ErrorEvent>,
}

impl PlaceSignals {
    pub fn new(service: &ServiceName, environment: &EnvironmentName, seed: u64) -> PlaceSignals {
        let rng = StdRng::seed_from_u64(stable_hash(&[
            &seed.to_string(),
            service.as_str(),
            environment.as_str(),
        ]));
        let keys = METRICS
            .iter()
            .map(|metric| SeriesKey {
                service: service.clone(),
                environment: environment.clone(),
                metric: MetricName::parse(metric)
                    .unwrap_or_else(|e| unreachable!("demo metric names are valid: {e}")),
                group: None,
            })
            .collect();
        PlaceSignals {
            service: service.clone(),
            environment: environment.clone(),
            profile: Profile::of(service.as_str(), environment.as_str()),
            rng,
            noise: [0.0; 4],
            burst: 0,
            keys,
        }
    }

    /// The series keys, in `METRICS` order.
    pub fn keys(&self) -> &[SeriesKey] {
        &self.keys
    }

    /// The values and errors at `at` while `episode` serves (none: the version
    /// before the demo's period, calm). No burst starts while `quiet`.
    pub fn step(&mut self, at: DateTime<Utc>, episode: Option<&Episode>, quiet: bool) -> Step {
        let fate = episode.map_or(Fate::Calm, |e| e.fate);
        // Load over the day: lowest at 04:00 UTC, highest at 16:00.
        let hour = f64::from(at.hour()) + f64::from(at.minute()) / 60.0;
        let load = 1.0 - 0.35 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
        // Noise: each metric's own AR(1), σ on the log scale.
        const RHO: f64 = 0.7;
        let sigmas = [0.05, 0.12, 0.04, 0.03];
        for (state, sigma) in self.noise.iter_mut().zip(sigmas) {
            let z: f64 = StandardNormal.sample(&mut self.rng);
            *state = RHO * *state + (1.0 - RHO * RHO).sqrt() * sigma * z;
        }
        // The odd burst: a few minutes of slow, hot service, about twice a day — never
        // around a deploy (`quiet`), so what the judge finds in a bake is the
        // release's doing and the seeded verdicts do not hang on luck.
        let roll = self.rng.random_range(0..4000);
        if self.burst > 0 {
            self.burst -= 1;
        } else if roll == 0 && !quiet {
            self.burst = self.rng.random_range(12..30);
        }
        let burst = if self.burst > 0 { 1.5 } else { 1.0 };
        let p = self.profile;
        // Few requests make a noisy count.
        let expected_requests = p.requests * load;
        let requests = poisson(&mut self.rng, expected_requests * 10.0) / 10.0;
        let latency =
            p.latency_ms * (0.9 + 0.1 * load) * self.noise[0].exp() * burst * fate.latency();
        let error_ratio = p.error_percent * self.noise[1].exp() * fate.errors() * burst.sqrt();
        let cpu =
            (p.cpu_percent * load * self.noise[2].exp() * burst.sqrt() * fate.cpu()).min(99.0);
        let values = vec![
            (0, round2(latency)),
            (1, round3(error_ratio)),
            (2, round2(cpu)),
            (3, round2(requests * self.noise[3].exp())),
        ];
        let version = episode.map(|e| e.version.clone()).unwrap_or_default();
        let mut errors = Vec::new();
        for (kind, site, message, level, share) in OLD_ERRORS {
            let rate = p.logged_errors * load * share * fate.errors() * burst;
            let count = poisson(&mut self.rng, rate) as u64;
            if count > 0 {
                errors.push(self.error(
                    format!("{kind}:{site}"),
                    message,
                    level,
                    at,
                    &version,
                    count,
                ));
            }
        }
        if let Some(episode) = episode.filter(|e| e.fate == Fate::NewErrors)
            && at >= episode.at + Duration::seconds(40)
        {
            let h = stable_hash(&[self.service.as_str(), &episode.version]);
            let (kind, file, message) = NEW_BUGS[(h % NEW_BUGS.len() as u64) as usize];
            let line = 20 + h % 400;
            let count = poisson(&mut self.rng, 1.2) as u64;
            if count > 0 {
                errors.push(self.error(
                    format!("{kind}:{file}:{line}"),
                    message,
                    ErrorLevel::Error,
                    at,
                    &version,
                    count,
                ));
            }
        }
        Step { values, errors }
    }

    fn error(
        &self,
        fingerprint: String,
        message: &str,
        level: ErrorLevel,
        at: DateTime<Utc>,
        version: &str,
        count: u64,
    ) -> ErrorEvent {
        ErrorEvent {
            key: ErrorKey {
                service: self.service.clone(),
                environment: self.environment.clone(),
                fingerprint,
            },
            message: message.to_owned(),
            level,
            at,
            version: version.to_owned(),
            count,
        }
    }

    /// Every step in `[from, to)` (aligned to [`STEP`]), the serving episode looked
    /// up in `episodes` (sorted by `at`): the samples as series, and the error events.
    pub fn span(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        episodes: &[Episode],
    ) -> (Vec<SeriesSamples>, Vec<ErrorEvent>) {
        let mut series: Vec<SeriesSamples> = self
            .keys
            .iter()
            .map(|key| SeriesSamples {
                key: key.clone(),
                samples: Vec::new(),
            })
            .collect();
        let mut errors = Vec::new();
        let mut at = align(from);
        while at < to {
            let serving = episodes.partition_point(|e| e.at <= at);
            let episode = serving.checked_sub(1).map(|i| &episodes[i]);
            let quiet = quiet_at(at, episodes.get(serving), episode);
            let step = self.step(at, episode, quiet);
            for (index, value) in step.values {
                series[index].samples.push(Sample { at, value });
            }
            errors.extend(step.errors);
            at += STEP;
        }
        (series, errors)
    }
}

/// Whether `at` is near a deploy: within 6 minutes before the `next` one (a burst
/// lasts at most 5) or the first quarter hour after the `serving` one.
pub fn quiet_at(at: DateTime<Utc>, next: Option<&Episode>, serving: Option<&Episode>) -> bool {
    next.is_some_and(|e| e.at - at < Duration::minutes(6))
        || serving.is_some_and(|e| at - e.at < Duration::minutes(15))
}

/// The first step boundary at or after `t`.
pub fn align(t: DateTime<Utc>) -> DateTime<Utc> {
    let step = STEP.num_seconds();
    let floor = t.timestamp().div_euclid(step) * step;
    let start = if floor == t.timestamp() && t.timestamp_subsec_nanos() == 0 {
        floor
    } else {
        floor + step
    };
    DateTime::from_timestamp(start, 0).unwrap_or(t)
}

/// Merges overlapping `[from, to)` spans; sorted by start.
pub fn merge_spans(
    mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    spans.sort_by_key(|s| s.0);
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

fn poisson(rng: &mut StdRng, mean: f64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    Poisson::new(mean).map_or(mean, |d| d.sample(rng))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> PlaceSignals {
        PlaceSignals::new(
            &ServiceName::parse("checkout").expect("valid"),
            &EnvironmentName::parse("production").expect("valid"),
            7,
        )
    }

    fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    }

    /// An hour of signals from 10:00, then a deploy of `version` with `fate`.
    fn an_hour_then(version: &str, fate: Fate) -> (DateTime<Utc>, DateTime<Utc>, Vec<Episode>) {
        let start = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .expect("valid")
            .to_utc();
        let deployed = start + Duration::hours(1);
        let episodes = vec![Episode {
            at: deployed,
            version: version.to_owned(),
            fate,
        }];
        (start, deployed, episodes)
    }

    #[test]
    fn a_slow_release_raises_latency_and_a_calm_one_does_not() {
        let latency_ratio = |fate| {
            let (start, deployed, episodes) = an_hour_then("v2", fate);
            let (series, _) = place().span(start, deployed + Duration::minutes(20), &episodes);
            let latency = &series[0].samples;
            let before: Vec<f64> = latency
                .iter()
                .filter(|s| s.at >= deployed - Duration::minutes(20) && s.at < deployed)
                .map(|s| s.value)
                .collect();
            let after: Vec<f64> = latency
                .iter()
                .filter(|s| s.at >= deployed)
                .map(|s| s.value)
                .collect();
            median(after) / median(before)
        };
        let slow = latency_ratio(Fate::SlowAndFailing);
        let calm = latency_ratio(Fate::Calm);
        assert!((1.5..1.9).contains(&slow), "slow release: ×{slow}");
        assert!((0.9..1.1).contains(&calm), "calm release: ×{calm}");
    }

    #[test]
    fn a_new_bug_shows_as_a_group_first_seen_after_the_deploy() {
        let (start, deployed, episodes) = an_hour_then("v9", Fate::NewErrors);
        let (_, errors) = place().span(start, deployed + Duration::minutes(10), &episodes);
        let old: std::collections::HashSet<&str> = errors
            .iter()
            .filter(|e| e.at < deployed)
            .map(|e| e.key.fingerprint.as_str())
            .collect();
        let new: u64 = errors
            .iter()
            .filter(|e| !old.contains(e.key.fingerprint.as_str()))
            .map(|e| e.count)
            .sum();
        assert!(
            new >= 20,
            "the new group's occurrences in ten minutes: {new}"
        );
        assert!(
            errors
                .iter()
                .filter(|e| e.at >= deployed)
                .all(|e| e.version == "v9")
        );
    }

    #[test]
    fn same_seed_same_signals_and_steps_are_aligned() {
        let from = DateTime::parse_from_rfc3339("2026-12-01T10:00:03Z")
            .expect("valid")
            .to_utc();
        let to = from + Duration::minutes(5);
        let (a, _) = place().span(from, to, &[]);
        let (b, _) = place().span(from, to, &[]);
        assert_eq!(a, b);
        assert_eq!(a[0].samples.len(), 30);
        assert_eq!(a[0].samples[0].at.timestamp() % 10, 0);
        assert!(a[0].samples[0].at >= from);
    }

    #[test]
    fn spans_merge_where_they_overlap() {
        let t = |m: i64| DateTime::from_timestamp(m * 60, 0).expect("valid");
        assert_eq!(
            merge_spans(vec![(t(10), t(20)), (t(0), t(12)), (t(30), t(40))]),
            vec![(t(0), t(20)), (t(30), t(40))]
        );
    }

    #[test]
    fn fates_are_mostly_calm_and_stable() {
        let calm = (0..1000)
            .filter(|i| fate_of(7, &format!("checkout:{i}")) == Fate::Calm)
            .count();
        assert!((800..900).contains(&calm), "{calm} calm of 1000");
        assert_eq!(fate_of(7, "checkout:12"), fate_of(7, "checkout:12"));
    }
}
