//! The health judge's quality and speed, measured on generated series.
//!
//! `cargo run --release -p houston-core --example bench_judge -- quality [DEPLOYS] [SEED]`
//! generates, for each kind of metric (AR(1) noise up to ρ = 0.95, a daily cycle,
//! drift, bursts, heavy tails, zero-heavy counts, a very noisy volume), DEPLOYS calm
//! deploys and as many with a +10/+25/+50 % step at the deploy, 10 s samples, four hours
//! of history and a 15-minute bake with a 2-minute warm-up, and judges each with:
//!   - Houston's judge, re-read every 30 s through the bake as the scheduler does (an
//!     alarm at any look counts);
//!   - a plain Mann–Whitney judge: the bake against the 30 minutes before, α 0.01,
//!     one-sided, and a 5 % change of medians;
//!   - a history-calibrated placebo judge: the change of medians against the same
//!     change at about 100 placebo deploys over the four hours before; alarm when the
//!     real change is beyond all of them (a 1 % test) and passes 5 %.
//!
//! All three use a 5 % tolerance. It prints false alarms on calm deploys and
//! detections per step, overall and among deploys whose own history shows the step is
//! visible (Houston's minimum detectable change at most the step).
//!
//! `… -- real [EVERY]` runs the same judges on real production series
//! (`examples/data/real-metrics.txt.gz`, see its README): a deploy every EVERY samples
//! (120) wherever the 30 minutes before and the bake hold no labelled anomaly; the
//! samples keep their order and sit on Houston's 10 s grid, so history, baseline and
//! bake hold as many samples as on a 10 s metric. The series are split in two by a
//! hash of their name: `tune` (what the judge may be tuned on) and `held-out`
//! (never tuned on); rows for each. Beside Houston: the placebo peer (the
//! change of medians against the same change at every placebo point of the four hours,
//! alarm beyond its 99.5 % quantile and past the tolerance) and Mann–Whitney. "No
//! data" cuts drop every sample after the deploy: the judge must say no data.
//!
//! `… -- speed` times one metric with 2 × 10,000 points and a deploy with 50 metrics,
//! beside the plain Mann–Whitney test on the same data in the same run.

// A benchmark program, not the judge: it reads its data file and the clock, which the
// core's clippy.toml refuses to the judge itself.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use houston_core::{
    BaselineKind, CheckData, CheckSpec, CheckState, Direction, Look, MetricName, Scale, Series,
    Timing, judge_check,
    stats::{self, Alternative},
};
use rand::{Rng, SeedableRng, rngs::StdRng};

const STEP_SECS: i64 = 10;
const HISTORY_POINTS: i64 = 4 * 360;
const BAKE_POINTS: i64 = 90;
const TOLERANCE: f64 = 0.05;
const EFFECTS: [f64; 4] = [1.0, 1.10, 1.25, 1.50];

#[derive(Clone, Copy)]
struct Kind {
    name: &'static str,
    rho: f64,
    /// Stationary standard deviation of the AR(1) part, on log scale.
    sigma: f64,
    daily_amplitude: f64,
    drift: f64,
    bursts: bool,
    heavy_tails: bool,
    /// Poisson counts with this mean (None: a positive continuous metric).
    counts: Option<f64>,
}

const KINDS: [Kind; 8] = [
    Kind::continuous("steady_ar0.5", 0.5, 0.05),
    Kind::continuous("sticky_ar0.95", 0.95, 0.10),
    Kind {
        daily_amplitude: 0.4,
        ..Kind::continuous("daily_cycle", 0.8, 0.05)
    },
    Kind {
        drift: 0.003,
        ..Kind::continuous("drifting", 0.8, 0.05)
    },
    Kind {
        bursts: true,
        ..Kind::continuous("bursty", 0.7, 0.05)
    },
    Kind {
        heavy_tails: true,
        ..Kind::continuous("heavy_tailed_t3", 0.7, 0.08)
    },
    Kind {
        counts: Some(0.8),
        ..Kind::continuous("counts_mean0.8", 0.9, 0.3)
    },
    Kind::continuous("noisy_volume", 0.95, 0.5),
];

impl Kind {
    const fn continuous(name: &'static str, rho: f64, sigma: f64) -> Kind {
        Kind {
            name,
            rho,
            sigma,
            daily_amplitude: 0.0,
            drift: 0.0,
            bursts: false,
            heavy_tails: false,
            counts: None,
        }
    }

    /// One deploy's samples: history and bake, the step applied from the deploy on.
    fn generate(&self, rng: &mut StdRng, t0: DateTime<Utc>, factor: f64) -> Series {
        let phase = rng.random::<f64>() * std::f64::consts::TAU;
        let innovation = self.sigma * (1.0 - self.rho * self.rho).sqrt();
        let mut ar = self.sigma * normal(rng);
        let mut drift = 0.0;
        let mut burst_left = 0;
        let mut burst = 1.0;
        let mut points = Vec::with_capacity((HISTORY_POINTS + BAKE_POINTS) as usize);
        for i in -HISTORY_POINTS..BAKE_POINTS {
            let shock = if self.heavy_tails {
                student_t3(rng) / 3f64.sqrt()
            } else {
                normal(rng)
            };
            ar = self.rho * ar + innovation * shock;
            drift += self.drift * normal(rng);
            let seconds = (i * STEP_SECS) as f64;
            let daily =
                self.daily_amplitude * (phase + seconds * std::f64::consts::TAU / 86_400.0).sin();
            if self.bursts {
                if burst_left == 0 && rng.random::<f64>() < 0.003 {
                    burst_left = rng.random_range(1..=6);
                    burst = rng.random_range(1.5..4.0);
                }
                if burst_left > 0 {
                    burst_left -= 1;
                } else {
                    burst = 1.0;
                }
            }
            let step = if i >= 0 { factor } else { 1.0 };
            let level = (ar + drift + daily).exp() * burst * step;
            let value = match self.counts {
                Some(mean) => poisson(rng, mean * level) as f64,
                None => 100.0 * level,
            };
            points.push((t0 + Duration::seconds(i * STEP_SECS), value));
        }
        Series::new(points)
    }
}

fn normal(rng: &mut StdRng) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn student_t3(rng: &mut StdRng) -> f64 {
    let chi2: f64 = (0..3).map(|_| normal(rng).powi(2)).sum();
    normal(rng) / (chi2 / 3.0).sqrt()
}

fn poisson(rng: &mut StdRng, mean: f64) -> u64 {
    if mean > 30.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u64;
    }
    let limit = (-mean).exp();
    let (mut count, mut product) = (0, rng.random::<f64>());
    while product > limit {
        count += 1;
        product *= rng.random::<f64>();
    }
    count
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A deploy's outcome under each judge, and Houston's minimum detectable change.
type Judged = (Outcome, Option<f64>);

struct Outcome {
    houston_any_look: bool,
    houston_final: bool,
    mann_whitney: bool,
    placebo: bool,
}

/// Houston re-read every interval through the bake, as the scheduler does: whether any
/// look was unhealthy, and the final look's state.
fn houston_looks(
    series: &Series,
    spec: &CheckSpec,
    timing: &Timing,
    metric: &MetricName,
) -> (bool, CheckState) {
    let (any_look, last, _, _) = houston_looks_margin(series, spec, timing, metric);
    (any_look, last)
}

/// [`houston_looks`], and the factor Houston's bar would have to be raised by for no
/// look to call the deploy unhealthy on the comparison (the largest `z / z_bar` among
/// looks whose change is past the tolerance; 0 when none is): the judge at any other
/// false-alarm rate.
fn houston_looks_margin(
    series: &Series,
    spec: &CheckSpec,
    timing: &Timing,
    metric: &MetricName,
) -> (bool, CheckState, f64, Option<Scale>) {
    let data = CheckData {
        main: series,
        concurrent: None,
        unavailable: false,
    };
    let mut any_look = false;
    let mut last = CheckState::NoData;
    let mut margin = 0.0f64;
    let mut scale = None;
    let mut elapsed = timing.warmup_secs + timing.interval_secs;
    while elapsed <= timing.bake_secs {
        let look = Look::at(t0(), timing, None, t0() + Duration::seconds(elapsed));
        let complete = elapsed >= timing.bake_secs;
        let receipt = judge_check(metric, spec, timing, data, &look, complete);
        any_look |= receipt.state == CheckState::Unhealthy;
        last = receipt.state;
        scale = receipt.scale.or(scale);
        let past_tolerance = receipt
            .delta_relative
            .is_some_and(|r| spec.direction.bad_way(r) > spec.tolerance);
        if let (true, Some(z), Some(bar)) = (past_tolerance, receipt.z, receipt.z_bar)
            && bar > 0.0
        {
            margin = margin.max(z / bar);
        }
        elapsed += timing.interval_secs;
    }
    (any_look, last, margin, scale)
}

fn judge_all(series: &Series, spec: &CheckSpec, timing: &Timing, metric: &MetricName) -> Outcome {
    let (any_look, last) = houston_looks(series, spec, timing, metric);
    Outcome {
        houston_any_look: any_look,
        houston_final: last == CheckState::Unhealthy,
        mann_whitney: plain_mann_whitney(series),
        placebo: placebo_judge(series),
    }
}

fn millis(i: i64) -> i64 {
    (t0() + Duration::seconds(i * STEP_SECS)).timestamp_millis()
}

/// Values with sample index in `[from, to)`.
fn values(series: &Series, from: i64, to: i64) -> Vec<f64> {
    series.values_between(millis(from), millis(to))
}

fn plain_mann_whitney(series: &Series) -> bool {
    let before = values(series, -180, 0);
    let after = values(series, 12, BAKE_POINTS);
    let Some(test) = stats::mann_whitney(&after, &before, Alternative::Greater) else {
        return false;
    };
    let (Some(a), Some(b)) = (stats::median(&after), stats::median(&before)) else {
        return false;
    };
    test.p_value < 0.01 && b > 0.0 && a / b - 1.0 > TOLERANCE
}

fn placebo_judge(series: &Series) -> bool {
    let change = |start: i64| -> Option<f64> {
        let before = values(series, start - 180, start);
        let after = values(series, start + 12, start + BAKE_POINTS);
        let (a, b) = (stats::median(&after)?, stats::median(&before)?);
        (b > 0.0)
            .then(|| a / b - 1.0)
            .or(Some(if a > b { f64::INFINITY } else { 0.0 }))
    };
    let Some(real) = change(0) else { return false };
    let earliest = -HISTORY_POINTS + 180;
    let latest = -BAKE_POINTS;
    let step = ((latest - earliest) / 96).max(1);
    let placebos: Vec<f64> = (0..)
        .map(|k| latest - k * step)
        .take_while(|&p| p >= earliest)
        .filter_map(change)
        .collect();
    // Andrews' end-of-sample test: the real change beyond every placebo's, which with
    // about 100 placebos is a 1 % test.
    !placebos.is_empty() && placebos.iter().all(|&p| p < real) && real > TOLERANCE
}

fn quality(deploys: usize, seed: u64) {
    let timing = Timing::default();
    let mut spec = CheckSpec::new(Direction::IncreaseIsBad);
    spec.tolerance = TOLERANCE;
    spec.baseline = BaselineKind::Before;
    let metric = MetricName::parse("bench").unwrap_or_else(|_| unreachable!());
    println!(
        "{:<16} {:>6} | {:>20} | {:>9} | {:>9} | {:>10}",
        "kind", "step", "houston any/final", "visible", "mann-wh.", "placebo"
    );
    let started = Instant::now();
    for (kind_index, kind) in KINDS.iter().enumerate() {
        for (effect_index, &factor) in EFFECTS.iter().enumerate() {
            let results = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..2)
                    .map(|part| {
                        let spec = spec.clone();
                        let metric = metric.clone();
                        scope.spawn(move || {
                            let mut rng = StdRng::seed_from_u64(
                                seed ^ ((kind_index as u64) << 32)
                                    ^ ((effect_index as u64) << 16)
                                    ^ part,
                            );
                            (0..deploys / 2)
                                .map(|_| {
                                    let series = kind.generate(&mut rng, t0(), factor);
                                    let outcome = judge_all(&series, &spec, &timing, &metric);
                                    let mde = final_mde(&series, &spec, &timing, &metric);
                                    (outcome, mde)
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|handle| handle.join().unwrap_or_default())
                    .collect::<Vec<_>>()
            });
            let n = results.len() as f64;
            let share = |hit: &dyn Fn(&Judged) -> bool| {
                100.0 * results.iter().filter(|r| hit(r)).count() as f64 / n
            };
            let visible: Vec<&Judged> = results
                .iter()
                .filter(|(_, mde)| mde.is_some_and(|mde| mde <= factor - 1.0))
                .collect();
            let visible_hits = visible.iter().filter(|(o, _)| o.houston_any_look).count();
            let visible_text = if factor > 1.0 {
                format!(
                    "{:>5.1}% of {:>3.0}%",
                    100.0 * visible_hits as f64 / visible.len().max(1) as f64,
                    100.0 * visible.len() as f64 / n
                )
            } else {
                String::from("-")
            };
            println!(
                "{:<16} {:>5.0}% | {:>8.1}% / {:>7.1}% | {:>16} | {:>8.1}% | {:>9.1}%",
                kind.name,
                100.0 * (factor - 1.0),
                share(&|r| r.0.houston_any_look),
                share(&|r| r.0.houston_final),
                visible_text,
                share(&|r| r.0.mann_whitney),
                share(&|r| r.0.placebo),
            );
        }
    }
    println!(
        "{deploys} deploys per row, seed {seed}, {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

fn final_mde(
    series: &Series,
    spec: &CheckSpec,
    timing: &Timing,
    metric: &MetricName,
) -> Option<f64> {
    let look = Look::at(
        t0(),
        timing,
        None,
        t0() + Duration::seconds(timing.bake_secs),
    );
    let data = CheckData {
        main: series,
        concurrent: None,
        unavailable: false,
    };
    judge_check(metric, spec, timing, data, &look, true).min_detectable_change
}

fn speed() {
    let mut rng = StdRng::seed_from_u64(7);
    // 1 s samples: 10,000 before the deploy and 10,000 in a bake of 10,000 s.
    let timing = Timing {
        warmup_secs: 0,
        bake_secs: 10_000,
        interval_secs: 30,
    };
    let points: Vec<(DateTime<Utc>, f64)> = (-10_000..10_000)
        .map(|i| {
            (
                t0() + Duration::seconds(i),
                100.0 * (0.1 * normal(&mut rng)).exp(),
            )
        })
        .collect();
    let series = Series::new(points);
    let metric = MetricName::parse("bench").unwrap_or_else(|_| unreachable!());
    let spec = CheckSpec::new(Direction::IncreaseIsBad);
    // The same check with the pipeline's three checks on.
    let guarded = CheckSpec {
        max_value: Some(1_000.0),
        max_sigma: Some(4.0),
        max_slope_sigma: Some(6.0),
        ..spec.clone()
    };
    let look = Look::at(t0(), &timing, None, t0() + Duration::seconds(10_000));
    let data = CheckData {
        main: &series,
        concurrent: None,
        unavailable: false,
    };
    let before = series.values_between(
        (t0() - Duration::seconds(10_000)).timestamp_millis(),
        t0().timestamp_millis(),
    );
    let after = series.values_between(
        t0().timestamp_millis(),
        (t0() + Duration::seconds(10_000)).timestamp_millis(),
    );
    let rounds = 50;
    let mut judge_times = Vec::new();
    let mut guarded_times = Vec::new();
    let mut reference_times = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let receipt = judge_check(&metric, &spec, &timing, data, &look, true);
        judge_times.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(receipt.current.summary.map(|s| s.count), Some(10_000));
        let started = Instant::now();
        let receipt = judge_check(&metric, &guarded, &timing, data, &look, true);
        guarded_times.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(receipt.guards.len(), 3);
        let started = Instant::now();
        let _ = stats::mann_whitney(&after, &before, Alternative::Greater);
        reference_times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    // A deploy as the scheduler sees it: 50 metrics at 10 s, four hours of history and
    // a 15-minute bake, judged at the bake's end.
    let usual = Timing::default();
    let kind = KINDS[2];
    let metrics: Vec<Series> = (0..50)
        .map(|_| kind.generate(&mut rng, t0(), 1.0))
        .collect();
    let deploy_look = Look::at(
        t0(),
        &usual,
        None,
        t0() + Duration::seconds(usual.bake_secs),
    );
    let mut deploy_times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        for series in &metrics {
            let data = CheckData {
                main: series,
                concurrent: None,
                unavailable: false,
            };
            let _ = judge_check(&metric, &spec, &usual, data, &deploy_look, true);
        }
        deploy_times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    deploy_times.sort_by(f64::total_cmp);
    let deploy_ms = deploy_times[deploy_times.len() / 2];
    judge_times.sort_by(f64::total_cmp);
    guarded_times.sort_by(f64::total_cmp);
    reference_times.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    println!(
        "one metric, 2 x 10,000 points: judge median {:.2} ms (max {:.2}), plain Mann-Whitney {:.2} ms, ratio {:.1}",
        median(&judge_times),
        judge_times[judge_times.len() - 1],
        median(&reference_times),
        median(&judge_times) / median(&reference_times)
    );
    println!(
        "the same with bounds, sigma and slope checks: median {:.2} ms",
        median(&guarded_times)
    );
    println!(
        "a deploy with 50 metrics (10 s samples, 4 h history, 15 min bake): median {deploy_ms:.1} ms"
    );
}

/// A real series from the benchmark's data file.
struct RealSeries {
    id: String,
    values: Vec<Option<f64>>,
    /// Half-open sample ranges labelled anomalous.
    anomalies: Vec<(usize, usize)>,
}

fn load_real() -> Vec<RealSeries> {
    use std::io::Read;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/real-metrics.txt.gz"
    );
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(';').collect();
            let [id, _kind, _step, _labelled, ranges, values] = fields[..] else {
                return None;
            };
            let anomalies = ranges
                .split_whitespace()
                .filter_map(|r| {
                    let (a, b) = r.split_once('-')?;
                    Some((a.parse().ok()?, b.parse().ok()?))
                })
                .collect();
            let values = values
                .split(' ')
                .map(|v| v.parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect();
            Some(RealSeries {
                id: id.to_owned(),
                values,
                anomalies,
            })
        })
        .collect()
}

/// FNV-1a: which half a series belongs to, the same on every machine.
fn held_out(id: &str) -> bool {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    hash % 2 == 1
}

const BASELINE_POINTS: i64 = 180;
const WARMUP_POINTS: i64 = 12;

/// One deploy cut from a real series at sample `at`, the step applied from the deploy
/// on (`None`: every sample after the deploy dropped).
fn cut(real: &RealSeries, at: usize, factor: Option<f64>) -> Series {
    let from = at - (HISTORY_POINTS + BASELINE_POINTS) as usize;
    let to = at + BAKE_POINTS as usize;
    let points = (from..to)
        .filter_map(|i| {
            let value = real.values[i]?;
            let offset = i as i64 - at as i64;
            let value = match factor {
                _ if offset < 0 => value,
                Some(factor) => value * factor,
                None => return None,
            };
            Some((t0() + Duration::seconds(offset * STEP_SECS), value))
        })
        .collect();
    Series::new(points)
}

/// Where deploys are cut: every `every` samples with full history, no labelled anomaly
/// from the baseline to the bake's end, at most 5 % missing and not flat.
fn cut_points(real: &RealSeries, every: usize) -> Vec<usize> {
    let first = (HISTORY_POINTS + BASELINE_POINTS) as usize;
    let n = real.values.len();
    (first..n.saturating_sub(BAKE_POINTS as usize))
        .step_by(every)
        .filter(|&at| {
            let (from, to) = (at - BASELINE_POINTS as usize, at + BAKE_POINTS as usize);
            let clean = !real.anomalies.iter().any(|&(a, b)| a < to && b > from);
            let window = &real.values[at - first..to];
            let missing = window.iter().filter(|v| v.is_none()).count();
            let present: Vec<f64> = window.iter().flatten().copied().collect();
            let flat = present.windows(2).all(|w| w[0] == w[1]);
            clean && missing * 20 <= window.len() && !flat
        })
        .collect()
}

/// The placebo peer: the change of medians (bake after the warm-up against the
/// 30 minutes before) against the same change at every placebo point of the four hours
/// before; alarm beyond the placebos' 99.5 % quantile and past the tolerance. Returns
/// the real change over that quantile (0 when within the tolerance): the peer alarms
/// above 1, and above a higher bar when calibrated to a stricter false-alarm rate.
fn placebo_quantile_peer(series: &Series) -> f64 {
    let change = |start: i64| -> Option<f64> {
        let before = values(series, start - BASELINE_POINTS, start);
        let after = values(series, start + WARMUP_POINTS, start + BAKE_POINTS);
        if before.len() < 10 || after.len() < 10 {
            return None;
        }
        let (a, b) = (stats::median(&after)?, stats::median(&before)?);
        Some(if b > 0.0 {
            a / b - 1.0
        } else if a > b {
            f64::INFINITY
        } else {
            0.0
        })
    };
    let Some(real) = change(0) else { return 0.0 };
    let earliest = -HISTORY_POINTS + BASELINE_POINTS;
    let latest = -BAKE_POINTS;
    let mut placebos: Vec<f64> = (earliest..=latest).filter_map(change).collect();
    if placebos.len() < 100 || real <= TOLERANCE {
        return 0.0;
    }
    placebos.sort_by(f64::total_cmp);
    let q = placebos[((placebos.len() as f64 * 0.995).ceil() as usize).min(placebos.len()) - 1];
    if q <= 0.0 { f64::INFINITY } else { real / q }
}

/// (split, effect index, Houston and the peers, Houston's final state, the peer's
/// change over its bar, Houston's margin) for one cut.
type RealResult = (usize, usize, Outcome, CheckState, f64, f64, Option<Scale>);

#[derive(Default, Clone, Copy)]
struct Tally {
    n: usize,
    any: usize,
    last: usize,
    no_data: usize,
    cant_tell: usize,
    peer: usize,
    mann_whitney: usize,
}

fn real(every: usize) {
    let timing = Timing::default();
    let mut spec = CheckSpec::new(Direction::IncreaseIsBad);
    spec.tolerance = TOLERANCE;
    spec.baseline = BaselineKind::Before;
    let metric = MetricName::parse("bench").unwrap_or_else(|_| unreachable!());
    let started = Instant::now();
    let all = load_real();
    // (split, effect) -> tally; effect index 4 is "no data".
    let mut tallies = [[Tally::default(); 5]; 2];
    let jobs: Vec<(usize, &RealSeries, usize)> = all
        .iter()
        .flat_map(|real| {
            let split = usize::from(held_out(&real.id));
            cut_points(real, every)
                .into_iter()
                .map(move |at| (split, real, at))
        })
        .collect();
    let per_thread = jobs.len().div_ceil(2);
    let parts: Vec<Vec<RealResult>> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(per_thread.max(1))
            .map(|chunk| {
                let (spec, metric) = (spec.clone(), metric.clone());
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for &(split, real, at) in chunk {
                        for (effect_index, factor) in
                            EFFECTS.iter().map(|&f| Some(f)).chain([None]).enumerate()
                        {
                            let series = cut(real, at, factor);
                            let outcome = judge_real(&series, &spec, &timing, &metric);
                            out.push((
                                split,
                                effect_index,
                                outcome.0,
                                outcome.1,
                                outcome.2,
                                outcome.3,
                                outcome.4,
                            ));
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let results: Vec<_> = parts.into_iter().flatten().collect();
    // The peer's bar raised until it calls as many calm deploys healthy as Houston
    // (any look) in each split: detections at the same false-alarm rate.
    let mut calibrated = [1.0f64; 2];
    for (split, bar) in calibrated.iter_mut().enumerate() {
        let calm = |r: &&RealResult| r.0 == split && r.1 == 0;
        let houston_alarms = results
            .iter()
            .filter(calm)
            .filter(|r| r.2.houston_any_look)
            .count();
        let mut ratios: Vec<f64> = results.iter().filter(calm).map(|r| r.4).collect();
        ratios.sort_by(|a, b| b.total_cmp(a));
        // The bar that lets through as many calm alarms as Houston raised (at least 1).
        *bar = ratios.get(houston_alarms).copied().unwrap_or(1.0).max(1.0);
    }
    let mut calibrated_hits = [[0usize; 5]; 2];
    for (split, effect_index, outcome, final_state, ratio, _, _) in &results {
        let t = &mut tallies[*split][*effect_index];
        t.n += 1;
        t.any += usize::from(outcome.houston_any_look);
        t.last += usize::from(outcome.houston_final);
        t.no_data += usize::from(*final_state == CheckState::NoData);
        t.cant_tell += usize::from(*final_state == CheckState::CantTell);
        t.peer += usize::from(*ratio > 1.0);
        t.mann_whitney += usize::from(outcome.mann_whitney);
        calibrated_hits[*split][*effect_index] += usize::from(*ratio > calibrated[*split]);
    }
    println!(
        "{:<9} {:>7} | {:>6} | {:>20} | {:>8} | {:>10} | {:>9} | {:>14} | {:>9}",
        "split",
        "step",
        "cuts",
        "houston any/final",
        "no data",
        "can't tell",
        "placebo",
        "placebo, same",
        "mann-wh."
    );
    for (split, name) in [(0, "tune"), (1, "held-out")] {
        for (effect_index, label) in ["calm", "+10%", "+25%", "+50%", "no data"]
            .iter()
            .enumerate()
        {
            let t = tallies[split][effect_index];
            let pct = |k: usize| 100.0 * k as f64 / t.n.max(1) as f64;
            let (any, last) = if effect_index == 0 {
                // Calm: the share called healthy (never unhealthy at any look).
                (100.0 - pct(t.any), 100.0 - pct(t.last))
            } else {
                (pct(t.any), pct(t.last))
            };
            let same = pct(calibrated_hits[split][effect_index]);
            let (peer, same, mw) = if effect_index == 0 {
                (
                    100.0 - pct(t.peer),
                    100.0 - same,
                    100.0 - pct(t.mann_whitney),
                )
            } else {
                (pct(t.peer), same, pct(t.mann_whitney))
            };
            println!(
                "{name:<9} {label:>7} | {:>6} | {any:>8.1}% / {last:>7.1}% | {:>7.1}% | {:>9.1}% | {peer:>8.1}% | {same:>13.1}% | {mw:>8.1}%",
                t.n,
                pct(t.no_data),
                pct(t.cant_tell),
            );
        }
    }
    println!(
        "calm rows: share not called unhealthy at any look (any) / at the final look; can't tell: share whose final look could not tell; step rows: share caught; \"placebo, same\": the peer's bar raised x{:.2} (tune) / x{:.2} (held-out) to Houston's calm rate; {} series, a deploy every {every} samples, {:.0} s",
        calibrated[0],
        calibrated[1],
        all.len(),
        started.elapsed().as_secs_f64()
    );
    println!();
    println!("Both at the same calm rate (each judge's bar set from the split's calm deploys):");
    println!(
        "{:<9} {:>6} | {:>8} | {:>24} | {:>24}",
        "split", "calm", "factor", "houston +10/+25/+50", "placebo +10/+25/+50"
    );
    for (split, name) in [(0, "tune"), (1, "held-out")] {
        for (calm, only) in [
            (0.985, None),
            (0.99, None),
            (0.995, None),
            (0.985, Some(Scale::Log)),
            (0.985, Some(Scale::Counts)),
        ] {
            let (factor, houston, peer) = at_calm_rate(&results, split, calm, only);
            let n = results
                .iter()
                .filter(|r| r.0 == split && r.1 == 1 && (only.is_none() || r.6 == only))
                .count();
            println!(
                "{name:<9} {:>5.1}% {only:?} n={n} | {factor:>8.2} | {:>6.1}% {:>6.1}% {:>6.1}% | {:>6.1}% {:>6.1}% {:>6.1}%",
                100.0 * calm,
                houston[0],
                houston[1],
                houston[2],
                peer[0],
                peer[1],
                peer[2],
            );
        }
    }
}

/// Houston at every look, its final state, and the peers.
fn judge_real(
    series: &Series,
    spec: &CheckSpec,
    timing: &Timing,
    metric: &MetricName,
) -> (Outcome, CheckState, f64, f64, Option<Scale>) {
    let (any_look, last, margin, scale) = houston_looks_margin(series, spec, timing, metric);
    (
        Outcome {
            houston_any_look: any_look,
            houston_final: last == CheckState::Unhealthy,
            mann_whitney: plain_mann_whitney(series),
            placebo: false,
        },
        last,
        placebo_quantile_peer(series),
        margin,
        scale,
    )
}

/// Houston and the placebo peer each at the bar that calls `calm` of a split's calm
/// deploys healthy: (Houston's factor, its detections per step, the peer's).
fn at_calm_rate(
    results: &[RealResult],
    split: usize,
    calm: f64,
    only: Option<Scale>,
) -> (f64, [f64; 3], [f64; 3]) {
    let bar_for = |score: &dyn Fn(&RealResult) -> f64| {
        let mut scores: Vec<f64> = results
            .iter()
            .filter(|r| r.0 == split && r.1 == 0)
            .map(score)
            .collect();
        scores.sort_by(f64::total_cmp);
        // The smallest bar with at least `calm` of the scores at or below it.
        let index = ((calm * scores.len() as f64).ceil() as usize).clamp(1, scores.len().max(1));
        scores.get(index - 1).copied().unwrap_or(1.0)
    };
    let houston_bar = bar_for(&|r| r.5);
    let peer_bar = bar_for(&|r| r.4);
    let caught = |score: &dyn Fn(&RealResult) -> f64, bar: f64| {
        let mut out = [0.0; 3];
        for (slot, effect) in out.iter_mut().zip(1..=3) {
            let cuts: Vec<_> = results
                .iter()
                .filter(|r| r.0 == split && r.1 == effect && (only.is_none() || r.6 == only))
                .collect();
            let hits = cuts.iter().filter(|r| score(r) > bar.max(1e-12)).count();
            *slot = 100.0 * hits as f64 / cuts.len().max(1) as f64;
        }
        out
    };
    (
        houston_bar,
        caught(&|r| r.5, houston_bar),
        caught(&|r| r.4, peer_bar),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("speed") => speed(),
        Some("real") => real(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(120)),
        Some("quality") | None => {
            let deploys = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
            let seed = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2026);
            quality(deploys, seed);
        }
        Some(other) => {
            eprintln!("unknown mode {other:?}: quality [DEPLOYS] [SEED] | real [EVERY] | speed")
        }
    }
}
