//! The health judge: one check of one deploy at one look, decided from the metric's own
//! history, and the deploy's verdict from its checks. Pure: the caller brings the
//! samples and says when the look is.
//!
//! A plain rank test of the bake against the window before it cries wolf on real
//! metrics (they drift, cycle and are autocorrelated, so its samples are not
//! independent). This judge asks the question the history can answer: how far does
//! this metric's comparison move over windows of these lengths when nothing was
//! deployed? It slides placebo "deploys" over the hours before the real one, takes the
//! spread of their effects as the noise, and calls the real effect a regression only
//! when it is far outside that spread *and* beyond the check's tolerance. The looks
//! during the bake use a boundary that starts high and falls to the final one
//! (O'Brien–Fleming), so re-reading every interval does not add false alarms. The same
//! spread gives the smallest change the check could have seen (its minimum detectable
//! effect), written in every receipt.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::signals::MetricName;
use super::stats::{self, Alternative, MannWhitney, Shift, Sorted, Summary};

mod guards;
pub use guards::{BOUND_SHARE, GuardKind, GuardReceipt};
mod verdict;
pub use verdict::*;

/// How far back the judge looks to learn a metric's calm behaviour.
pub const HISTORY: Duration = Duration::hours(4);
/// At most this many placebo windows per look (spread evenly over the history).
pub const MAX_PLACEBOS: usize = 400;
/// Fewer usable placebo windows than this, and the noise comes from a model instead.
pub const MIN_PLACEBOS: usize = 12;
/// The false-alarm rate of one check over the whole bake (one-sided; split in two for
/// `both`).
pub const CHECK_ALPHA: f64 = 0.005;
/// The power at which the minimum detectable effect is stated.
pub const MDE_POWER: f64 = 0.95;
/// The model's noise is widened by this much: it cannot see drift.
pub const MODEL_WIDENING: f64 = 1.5;
/// With at least this many placebo windows, the bar is read off their distribution
/// (its `1 − CHECK_ALPHA` quantile), not from their spread under a normal curve.
pub const QUANTILE_PLACEBOS: usize = 100;
/// The bar stands this far beyond the placebos' quantile: a deploy's moment can be
/// calmer or wilder than any moment of the four hours before it (measured on real
/// series: 1.2 keeps ≥ 98.5 % of calm deploys healthy at every look).
pub const PLACEBO_MARGIN: f64 = 1.2;
pub const DEFAULT_TOLERANCE: f64 = 0.10;
pub const DEFAULT_MIN_SAMPLES: usize = 10;
pub const DEFAULT_WARMUP: Duration = Duration::minutes(2);
pub const DEFAULT_BAKE: Duration = Duration::minutes(15);
pub const DEFAULT_INTERVAL: Duration = Duration::seconds(30);
pub const HEALTHY_SCORE: f64 = 95.0;
pub const AILING_SCORE: f64 = 75.0;

/// Which change of a metric is bad.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    IncreaseIsBad,
    DecreaseIsBad,
    Both,
}

impl Direction {
    /// A change measured the bad way: positive is worse (for `both`, any move).
    pub fn bad_way(self, change: f64) -> f64 {
        match self {
            Direction::IncreaseIsBad => change,
            Direction::DecreaseIsBad => -change,
            Direction::Both => change.abs(),
        }
    }
}

/// What a deploy's window is compared with.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// The window before the deploy.
    #[default]
    Before,
    /// The same window one week earlier.
    LastWeek,
    /// Group `baseline` against group `canary` over the same window.
    Control,
}

/// How a metric is judged: the check fields of a metric definition.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSpec {
    pub direction: Direction,
    pub critical: bool,
    pub weight: f64,
    /// Relative change that never matters (0.05 = 5 %).
    pub tolerance: f64,
    /// Absolute change, in the metric's unit, below which nothing matters.
    pub tolerance_floor: f64,
    pub min_samples: usize,
    pub runbook: Option<String>,
    pub baseline: BaselineKind,
    /// The pipeline's checks beside the comparison ([`guards`]): absolute bounds in
    /// the metric's unit, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    /// … the most standard deviations the bake's median may sit from the history's, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sigma: Option<f64>,
    /// … and the most the bake's slope may sit from the history windows' slopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_slope_sigma: Option<f64>,
}

impl CheckSpec {
    pub fn new(direction: Direction) -> CheckSpec {
        CheckSpec {
            direction,
            critical: false,
            weight: 1.0,
            tolerance: DEFAULT_TOLERANCE,
            tolerance_floor: 0.0,
            min_samples: DEFAULT_MIN_SAMPLES,
            runbook: None,
            baseline: BaselineKind::Before,
            min_value: None,
            max_value: None,
            max_sigma: None,
            max_slope_sigma: None,
        }
    }
}

/// When a service's deploys are judged.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Samples this soon after the deploy are left out (restarts, cold caches).
    pub warmup_secs: i64,
    pub bake_secs: i64,
    pub interval_secs: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            warmup_secs: DEFAULT_WARMUP.num_seconds(),
            bake_secs: DEFAULT_BAKE.num_seconds(),
            interval_secs: DEFAULT_INTERVAL.num_seconds(),
        }
    }
}

impl Timing {
    fn warmup(&self) -> Duration {
        Duration::seconds(self.warmup_secs)
    }

    fn bake(&self) -> Duration {
        Duration::seconds(self.bake_secs)
    }

    /// The window before the deploy that a `before` baseline uses: twice the bake.
    pub fn baseline_length(&self) -> Duration {
        Duration::seconds(2 * self.bake_secs)
    }
}

/// A duration as people write it in a config file: `90s`, `15m`, `1h`, `1h30m`.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let text = raw.trim_ascii();
    let wrong = || format!("{text:?} is not a duration like \"30s\", \"15m\" or \"1h30m\"");
    if text.is_empty() {
        return Err(wrong());
    }
    let mut seconds: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(wrong()),
        };
        let value: i64 = number.parse().map_err(|_| wrong())?;
        number.clear();
        seconds = value
            .checked_mul(unit)
            .and_then(|part| seconds.checked_add(part))
            .filter(|total| *total <= 7 * 24 * 3600)
            .ok_or_else(|| format!("{text:?} is longer than a week"))?;
    }
    if !number.is_empty() {
        return Err(wrong());
    }
    Ok(Duration::seconds(seconds))
}

/// Samples of one metric for one place and group, in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    times: Vec<i64>,
    values: Vec<f64>,
}

impl Series {
    /// Sorts by time; non-finite values are dropped (storage never holds them).
    pub fn new(mut points: Vec<(DateTime<Utc>, f64)>) -> Series {
        points.retain(|point| point.1.is_finite());
        points.sort_by_key(|point| point.0);
        Series {
            times: points.iter().map(|p| p.0.timestamp_millis()).collect(),
            values: points.iter().map(|p| p.1).collect(),
        }
    }

    /// The same samples moved later by `by` (last week's, aligned with this week).
    pub fn shifted(&self, by: Duration) -> Series {
        let millis = by.num_milliseconds();
        Series {
            times: self.times.iter().map(|t| t + millis).collect(),
            values: self.values.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn first_time(&self) -> Option<i64> {
        self.times.first().copied()
    }

    /// A copy of the values with times (ms since the epoch) in `[from, to)`.
    pub fn values_between(&self, from: i64, to: i64) -> Vec<f64> {
        self.window(from, to).to_vec()
    }

    /// The times and values in `[from, to)`.
    fn points(&self, from: i64, to: i64) -> (&[i64], &[f64]) {
        let start = self.times.partition_point(|&t| t < from);
        let end = self.times.partition_point(|&t| t < to).max(start);
        (&self.times[start..end], &self.values[start..end])
    }

    /// The values with times in `[from, to)`.
    fn window(&self, from: i64, to: i64) -> &[f64] {
        let start = self.times.partition_point(|&t| t < from);
        let end = self.times.partition_point(|&t| t < to);
        &self.values[start..end.max(start)]
    }
}

/// Errors are judged as counts: occurrences per bin of this length.
pub const ERROR_BIN: Duration = Duration::seconds(10);

/// The error-rate check Houston adds to every deploy whose place reports errors: more
/// is bad, beyond 10 % and beyond 0.05 occurrences per 10 s (3 a minute over ten
/// minutes) — a stray error or two after a deploy is not a regression.
pub fn error_rate_spec() -> CheckSpec {
    CheckSpec {
        tolerance: 0.10,
        tolerance_floor: 0.05,
        ..CheckSpec::new(Direction::IncreaseIsBad)
    }
}

/// Where a deploy's error bins start: whole bins before `deployed_at` that cover
/// `before`, so the deploy falls on a bin's edge and no bin mixes the two versions.
pub fn error_bins_start(deployed_at: DateTime<Utc>, before: Duration) -> DateTime<Utc> {
    let bin = ERROR_BIN.num_milliseconds();
    let bins = (before.num_milliseconds() + bin - 1).div_euclid(bin);
    deployed_at - Duration::milliseconds(bins * bin)
}

impl Series {
    /// Occurrences per `ERROR_BIN` as a series: one sample per whole bin from `start`
    /// to `end`, at the bin's start, zero where nothing fell; `counts` holds `(bin
    /// index, occurrences)` for the bins that have any. A bin `end` cuts short is left
    /// out (it would read as a fall).
    pub fn of_counts(start: DateTime<Utc>, end: DateTime<Utc>, counts: &[(i64, u64)]) -> Series {
        let bin = ERROR_BIN.num_milliseconds();
        let whole = usize::try_from((end - start).num_milliseconds().div_euclid(bin)).unwrap_or(0);
        let mut values = vec![0.0; whole];
        for &(index, occurrences) in counts {
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| values.get_mut(i)) {
                *slot = occurrences as f64;
            }
        }
        let origin = start.timestamp_millis();
        Series {
            times: (0..whole as i64).map(|i| origin + i * bin).collect(),
            values,
        }
    }
}

/// What a check is judged on: the metric (for `control`, group `canary`) and, for
/// `last_week` and `control`, the series it is compared with over the same window
/// (last week's already moved one week later; group `baseline`).
#[derive(Clone, Copy, Debug)]
pub struct CheckData<'a> {
    pub main: &'a Series,
    pub concurrent: Option<&'a Series>,
    /// The source could not be read: the check has no data, whatever was cached.
    pub unavailable: bool,
}

/// One evaluation: the deploy's time and how far the analysis reaches.
#[derive(Clone, Copy, Debug)]
pub struct Look {
    pub deployed_at: DateTime<Utc>,
    /// The end of the analysis window: the bake's end, the next deploy of the same
    /// place, or now, whichever is first.
    pub analysis_end: DateTime<Utc>,
}

impl Look {
    /// The look for `now`, given the bake and the next deploy of the same place.
    pub fn at(
        deployed_at: DateTime<Utc>,
        timing: &Timing,
        next_deploy: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Look {
        let bake_end = deployed_at + timing.bake();
        let end = next_deploy.map_or(bake_end, |next| next.min(bake_end));
        Look {
            deployed_at,
            analysis_end: end.min(now).max(deployed_at),
        }
    }

    /// Final when the window can grow no more: the bake is over or the next deploy
    /// cut it short.
    pub fn is_final(&self, timing: &Timing, next_deploy: Option<DateTime<Utc>>) -> bool {
        let bake_end = self.deployed_at + timing.bake();
        self.analysis_end >= bake_end || next_deploy.is_some_and(|next| self.analysis_end >= next)
    }
}

/// The scale a metric is compared on.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Positive values (latency, rates): logarithms, so +25 % is the same step at any level.
    Log,
    /// Non-negative with zeros (counts): means, with a Poisson floor under the noise.
    Counts,
    /// Anything else: trimmed means of the values.
    Linear,
}

/// Where the noise a check was judged against came from.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseMethod {
    /// Placebo deploys over the metric's own history: the bar is their studentised
    /// effects' 99.5 % quantile (× [`PLACEBO_MARGIN`]), or with fewer than
    /// [`QUANTILE_PLACEBOS`] (and for counts) their spread.
    Placebo,
    /// Too little history: an AR(1) model of the baseline, widened.
    Model,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    pub method: NoiseMethod,
    /// Placebo windows used (0 for the model).
    pub windows: usize,
    /// The spread of a calm effect, on the check's scale.
    pub sigma: f64,
}

/// A check's state at one look.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Healthy,
    Unhealthy,
    NoData,
    /// The change is past the tolerance, but this metric's calm swings are wider than
    /// the tolerance too: the judge cannot tell a regression from noise.
    CantTell,
}

impl CheckState {
    /// `healthy`, `unhealthy`, `no data`, `can't tell`.
    pub fn label(self) -> &'static str {
        match self {
            CheckState::Healthy => "healthy",
            CheckState::Unhealthy => "unhealthy",
            CheckState::NoData => "no data",
            CheckState::CantTell => "can't tell",
        }
    }
}

/// The rule that decided a check.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckRule {
    /// Still inside the warm-up: nothing to compare yet.
    WarmingUp,
    SourceUnavailable,
    TooFewBaselineSamples,
    TooFewCurrentSamples,
    /// The change is no larger than the check's tolerance.
    WithinTolerance,
    /// The change is below the check's absolute floor.
    BelowFloor,
    /// The change is within what this metric does when nothing is deployed.
    WithinNoise,
    /// Beyond the tolerance but within the noise, and the smallest change the check
    /// could see is wider than the tolerance: neither healthy nor a regression.
    CouldNotTell,
    /// Beyond the tolerance and far outside the metric's calm moves, the bad way.
    Regressed,
    /// Too many of the bake's samples past an absolute bound.
    OutOfBounds,
    /// The bake sits too many standard deviations from the metric's history.
    FarFromHistory,
    /// The bake's trend is steeper than the history's, the bad way.
    SteepSlope,
}

impl CheckRule {
    pub fn describe(self) -> &'static str {
        match self {
            CheckRule::WarmingUp => "still warming up",
            CheckRule::SourceUnavailable => "the metric's source was unavailable",
            CheckRule::TooFewBaselineSamples => "too few samples in the baseline",
            CheckRule::TooFewCurrentSamples => "too few samples since the deploy",
            CheckRule::WithinTolerance => "change within tolerance",
            CheckRule::BelowFloor => "change below the absolute floor",
            CheckRule::WithinNoise => "change within the metric's normal noise",
            CheckRule::CouldNotTell => {
                "change beyond tolerance, but this metric's noise hides changes that size"
            }
            CheckRule::Regressed => "regressed beyond tolerance and noise",
            CheckRule::OutOfBounds => "too much of the bake past a bound",
            CheckRule::FarFromHistory => "too far from the metric's history",
            CheckRule::SteepSlope => "a trend steeper than the history's",
        }
    }
}

impl fmt::Display for CheckRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// One side of a comparison as the receipt shows it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowReceipt {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub summary: Option<Summary>,
    /// The centre the judge compared (geometric trimmed mean, mean or trimmed mean).
    pub center: Option<f64>,
}

/// Everything a check used and decided at one look: enough to explain it on a page
/// and to recompute it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReceipt {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub metric: MetricName,
    pub state: CheckState,
    pub rule: CheckRule,
    pub direction: Direction,
    pub baseline_kind: BaselineKind,
    pub critical: bool,
    pub weight: f64,
    pub tolerance: f64,
    pub tolerance_floor: f64,
    pub min_samples: usize,
    pub runbook: Option<String>,
    pub baseline: WindowReceipt,
    pub current: WindowReceipt,
    pub scale: Option<Scale>,
    /// Current centre minus baseline centre, in the metric's unit.
    pub delta: Option<f64>,
    /// `delta` relative to the baseline centre (0.12 = +12 %).
    pub delta_relative: Option<f64>,
    /// The compared effect on the check's scale, and the noise it was judged against.
    pub effect: Option<f64>,
    pub noise: Option<Noise>,
    /// Effect over noise, and the bar it had to pass at this look.
    pub z: Option<f64>,
    pub z_bar: Option<f64>,
    /// The chance of an effect this large the bad way when nothing changed, from the
    /// metric's own history.
    pub p_value: Option<f64>,
    /// The textbook rank test (assumes independent samples; shown, not decisive).
    pub mann_whitney: Option<MannWhitney>,
    /// Hodges–Lehmann shift of current against baseline, in the metric's unit.
    pub shift: Option<Shift>,
    /// The smallest relative change this check could have caught over a full bake,
    /// at its false-alarm rate, with 95 % power.
    pub min_detectable_change: Option<f64>,
    /// The analysis covers the whole bake (or all there will be).
    pub complete: bool,
    pub source_unavailable: bool,
    /// The pipeline's checks the definition asks for, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<GuardReceipt>,
}

/// The judge's decision for one check at one look.
pub fn judge_check(
    metric: &MetricName,
    spec: &CheckSpec,
    timing: &Timing,
    data: CheckData<'_>,
    look: &Look,
    complete: bool,
) -> CheckReceipt {
    let geometry = Geometry::new(spec, timing, look);
    let t0 = look.deployed_at.timestamp_millis();
    let (baseline_values, current_values) = geometry.raw_windows(&data, t0);
    let baseline_sorted = Sorted::new(baseline_values);
    let current_sorted = Sorted::new(current_values);
    let mut receipt = CheckReceipt {
        metric: metric.clone(),
        state: CheckState::NoData,
        rule: CheckRule::WarmingUp,
        direction: spec.direction,
        baseline_kind: spec.baseline,
        critical: spec.critical,
        weight: spec.weight,
        tolerance: spec.tolerance,
        tolerance_floor: spec.tolerance_floor,
        min_samples: spec.min_samples,
        runbook: spec.runbook.clone(),
        baseline: geometry.baseline_receipt(look, &baseline_sorted),
        current: geometry.current_receipt(look, &current_sorted),
        scale: None,
        delta: None,
        delta_relative: None,
        effect: None,
        noise: None,
        z: None,
        z_bar: None,
        p_value: None,
        mann_whitney: None,
        shift: None,
        min_detectable_change: None,
        complete,
        source_unavailable: data.unavailable,
        guards: Vec::new(),
    };
    if data.unavailable {
        receipt.rule = CheckRule::SourceUnavailable;
        return receipt;
    }
    if geometry.length <= 0 {
        return receipt;
    }
    let min_samples = spec.min_samples.max(2);
    if baseline_values.len() < min_samples {
        receipt.rule = CheckRule::TooFewBaselineSamples;
        return receipt;
    }
    if current_values.len() < min_samples {
        receipt.rule = CheckRule::TooFewCurrentSamples;
        return receipt;
    }

    let scale = geometry.scale(&data, t0);
    let main = Prepared::new(data.main, scale, &geometry, t0);
    let concurrent = match (spec.baseline, data.concurrent) {
        (BaselineKind::Before, _) | (_, None) => None,
        (_, Some(other)) => Some(Prepared::new(other, scale, &geometry, t0)),
    };
    let prepared = PreparedData {
        main: &main,
        concurrent: concurrent.as_ref(),
    };
    let Some((baseline_mean, current_mean)) =
        geometry.means(&prepared, t0, geometry.length, min_samples)
    else {
        receipt.rule = CheckRule::TooFewCurrentSamples;
        return receipt;
    };
    // The test compares clamped means (a burst cannot decide it); the size of the
    // change is told from robust centres of the values as they are, which a clamp
    // would cut short.
    let effect = current_mean.1 - baseline_mean.1;
    let baseline_center = scale.center_of(&baseline_sorted);
    let current_center = scale.center_of(&current_sorted);
    let delta = current_center - baseline_center;
    let delta_relative = (baseline_center != 0.0).then(|| delta / baseline_center.abs());
    let alternative = match spec.direction {
        Direction::IncreaseIsBad => Alternative::Greater,
        Direction::DecreaseIsBad => Alternative::Less,
        Direction::Both => Alternative::TwoSided,
    };
    receipt.scale = Some(scale);
    receipt.baseline.center = Some(baseline_center);
    receipt.current.center = Some(current_center);
    receipt.delta = Some(delta);
    receipt.delta_relative = delta_relative;
    receipt.effect = Some(effect);
    if let Some((test, shift)) =
        stats::rank_comparison(&current_sorted, &baseline_sorted, alternative, 0.95)
    {
        receipt.mann_whitney = Some(test);
        receipt.shift = Some(shift);
    }

    let pooled_rate = (baseline_mean.1 * baseline_mean.0 as f64
        + current_mean.1 * current_mean.0 as f64)
        / (baseline_mean.0 + current_mean.0) as f64;
    let noise_for = |length: i64| {
        geometry.noise(
            &prepared,
            t0,
            length,
            min_samples,
            (baseline_mean.0, current_mean.0),
            pooled_rate,
            spec.direction,
        )
    };
    let noise = noise_for(geometry.length);
    let full_noise = if complete || geometry.length >= geometry.full_length {
        noise
    } else {
        let full_current = (current_mean.0 as f64 * geometry.full_length as f64
            / geometry.length as f64)
            .round() as usize;
        geometry.noise(
            &prepared,
            t0,
            geometry.full_length,
            min_samples,
            (baseline_mean.0, full_current.max(1)),
            pooled_rate,
            spec.direction,
        )
    };
    let sides = if spec.direction == Direction::Both {
        2.0
    } else {
        1.0
    };
    let z_final = stats::normal_quantile(1.0 - CHECK_ALPHA / sides);
    let fraction = if complete {
        1.0
    } else {
        (geometry.length as f64 / geometry.full_length as f64).clamp(1e-6, 1.0)
    };
    let z_bar = z_final / fraction.sqrt();
    let bad_way = |change: f64| spec.direction.bad_way(change);
    let z = noise.map(|noise| bad_way(effect) / noise.sigma);
    receipt.noise = noise;
    receipt.z = z;
    receipt.z_bar = Some(z_bar);
    receipt.p_value = z.map(|z| (stats::normal_sf(z) * sides).min(1.0));
    // Counts are few and lumpy: the windows' totals must also differ beyond a test made
    // for counts (conditional on their sum, the current window's share is binomial),
    // widened by how much more the history spreads than Poisson would.
    let count_p = match (scale, noise) {
        (Scale::Counts, Some(noise)) => {
            let poisson = pooled_rate
                * (1.0 / baseline_mean.0.max(1) as f64 + 1.0 / current_mean.0.max(1) as f64);
            let dispersion = if poisson > 0.0 {
                (noise.sigma * noise.sigma / poisson).max(1.0)
            } else {
                1.0
            };
            Some(conditional_count_p(
                baseline_mean.1 * baseline_mean.0 as f64 / dispersion,
                current_mean.1 * current_mean.0 as f64 / dispersion,
                current_mean.0 as f64 / (baseline_mean.0 + current_mean.0) as f64,
                spec.direction,
            ))
        }
        _ => None,
    };
    receipt.min_detectable_change = full_noise.map(|noise| {
        let step = (z_final + stats::normal_quantile(MDE_POWER)) * noise.sigma;
        scale.relative_change(step, baseline_center)
    });

    // From a zero baseline, any change the bad way is beyond every relative tolerance.
    let bad_relative = match delta_relative {
        Some(relative) => bad_way(relative),
        None if bad_way(delta) > 0.0 => f64::INFINITY,
        None => 0.0,
    };
    // A failure needs each bar passed for certain: NaN passes none.
    let exceeds = |value: f64, bar: f64| value > bar;
    receipt.rule = if !exceeds(bad_relative, spec.tolerance) {
        CheckRule::WithinTolerance
    } else if !exceeds(delta.abs(), spec.tolerance_floor) {
        CheckRule::BelowFloor
    } else if !z.is_some_and(|z| z > z_bar)
        || count_p.is_some_and(|p| p >= stats::normal_sf(z_bar) * sides)
    {
        // Past the tolerance, and not past the noise: whether that says "healthy"
        // depends on whether a change of the tolerance's size could have shown at all.
        match receipt.min_detectable_change {
            Some(seen) if !exceeds(seen, spec.tolerance) => CheckRule::WithinNoise,
            _ => CheckRule::CouldNotTell,
        }
    } else {
        CheckRule::Regressed
    };
    // The pipeline's checks: any of them broken fails the check whatever the
    // comparison said (a regression keeps its own rule).
    receipt.guards = guards::guard(&guards::GuardInput {
        spec,
        series: data.main,
        scale,
        t0,
        current: geometry.bounds(t0, geometry.length).1,
        full_length: geometry.full_length,
        complete,
    });
    if receipt.rule != CheckRule::Regressed
        && let Some(broken) = receipt
            .guards
            .iter()
            .find(|g| g.state == CheckState::Unhealthy)
    {
        receipt.rule = match broken.kind {
            GuardKind::Bounds => CheckRule::OutOfBounds,
            GuardKind::Sigma => CheckRule::FarFromHistory,
            GuardKind::Slope => CheckRule::SteepSlope,
        };
    }
    receipt.state = match receipt.rule {
        CheckRule::Regressed
        | CheckRule::OutOfBounds
        | CheckRule::FarFromHistory
        | CheckRule::SteepSlope => CheckState::Unhealthy,
        CheckRule::CouldNotTell => CheckState::CantTell,
        _ => CheckState::Healthy,
    };
    receipt
}

/// The chance, with nothing changed, of the current window holding at least (or, for
/// `decrease_is_bad`, at most) its share of the two windows' `baseline + current`
/// events, when each event falls in the current window with chance `share`: a
/// binomial tail, on counts already divided by the history's dispersion.
fn conditional_count_p(baseline: f64, current: f64, share: f64, direction: Direction) -> f64 {
    use statrs::distribution::{Binomial, DiscreteCDF};
    let total = (baseline + current).round().max(0.0) as u64;
    let current = current.round().max(0.0) as u64;
    let Ok(binomial) = Binomial::new(share.clamp(0.0, 1.0), total) else {
        return 1.0;
    };
    let upper = if current == 0 {
        1.0
    } else {
        binomial.sf(current - 1)
    };
    let lower = binomial.cdf(current);
    match direction {
        Direction::IncreaseIsBad => upper,
        Direction::DecreaseIsBad => lower,
        Direction::Both => (2.0 * upper.min(lower)).min(1.0),
    }
}

impl Scale {
    fn transform(self, value: f64) -> f64 {
        match self {
            Scale::Log => value.ln(),
            Scale::Counts | Scale::Linear => value,
        }
    }

    /// The centre the receipt shows: the geometric 20 %-trimmed mean of positive
    /// values, the mean of counts, else the trimmed mean.
    fn center_of(self, sorted: &Sorted) -> f64 {
        let values = sorted.as_slice();
        let mean = |values: &mut dyn Iterator<Item = f64>, len: usize| {
            values.sum::<f64>() / len.max(1) as f64
        };
        // Sorted, so the trimmed middle is a slice (and logarithms keep the order).
        let cut = values.len() / 5;
        let middle = &values[cut..values.len() - cut];
        match self {
            Scale::Log => mean(&mut middle.iter().map(|v| v.ln()), middle.len()).exp(),
            Scale::Counts => mean(&mut values.iter().copied(), values.len()),
            Scale::Linear => mean(&mut middle.iter().copied(), middle.len()),
        }
    }

    /// A step on this scale as a change relative to `level`.
    fn relative_change(self, step: f64, level: f64) -> f64 {
        match self {
            Scale::Log => step.exp() - 1.0,
            Scale::Counts | Scale::Linear => {
                if level == 0.0 {
                    f64::INFINITY
                } else {
                    step / level.abs()
                }
            }
        }
    }
}

/// A series on the check's scale, clamped to its calm range, with running sums so any
/// window's mean costs two binary searches. Clamping (winsorising at the median ± 5
/// robust standard deviations of the history before the deploy) keeps a burst from
/// deciding a window; counts are not clamped, a burst of errors is the news.
struct Prepared<'a> {
    scale: Scale,
    times: &'a [i64],
    /// prefix[i] = sum of the first i clamped values.
    prefix: Vec<f64>,
    /// prefix2[i] = sum of the squares of the first i clamped values.
    prefix2: Vec<f64>,
    /// The clamped values, for the model's autocorrelation.
    history: Vec<f64>,
}

impl<'a> Prepared<'a> {
    fn new(series: &'a Series, scale: Scale, geometry: &Geometry, t0: i64) -> Prepared<'a> {
        let transformed: Vec<f64> = series.values.iter().map(|&v| scale.transform(v)).collect();
        let history_from = t0 - HISTORY.num_milliseconds() - geometry.baseline_length;
        let start = series.times.partition_point(|&t| t < history_from);
        let end = series.times.partition_point(|&t| t < t0);
        let (low, high) = match scale {
            Scale::Counts => (f64::NEG_INFINITY, f64::INFINITY),
            Scale::Log | Scale::Linear => calm_range(&transformed[start..end.max(start)]),
        };
        let clamped: Vec<f64> = transformed.iter().map(|v| v.clamp(low, high)).collect();
        let mut prefix = Vec::with_capacity(clamped.len() + 1);
        let mut prefix2 = Vec::with_capacity(clamped.len() + 1);
        let (mut sum, mut sum2) = (0.0, 0.0);
        prefix.push(0.0);
        prefix2.push(0.0);
        for value in &clamped {
            sum += value;
            sum2 += value * value;
            prefix.push(sum);
            prefix2.push(sum2);
        }
        Prepared {
            scale,
            times: &series.times,
            prefix,
            prefix2,
            history: clamped[start..end.max(start)].to_vec(),
        }
    }

    /// Variance of the clamped values with times in `[from, to)` (NaN below two).
    fn variance(&self, from: i64, to: i64) -> f64 {
        let start = self.times.partition_point(|&t| t < from);
        let end = self.times.partition_point(|&t| t < to).max(start);
        let n = (end - start) as f64;
        if n < 2.0 {
            return f64::NAN;
        }
        let mean = (self.prefix[end] - self.prefix[start]) / n;
        ((self.prefix2[end] - self.prefix2[start]) / n - mean * mean).max(0.0)
    }

    /// Count and mean of the clamped values with times in `[from, to)`.
    fn mean(&self, from: i64, to: i64) -> (usize, f64) {
        let start = self.times.partition_point(|&t| t < from);
        let end = self.times.partition_point(|&t| t < to).max(start);
        let count = end - start;
        let mean = if count == 0 {
            f64::NAN
        } else {
            (self.prefix[end] - self.prefix[start]) / count as f64
        };
        (count, mean)
    }
}

/// The median ± 5 robust standard deviations (1.4826 × MAD); unbounded when the
/// history is too short or flat.
fn calm_range(values: &[f64]) -> (f64, f64) {
    let unbounded = (f64::NEG_INFINITY, f64::INFINITY);
    if values.len() < 10 {
        return unbounded;
    }
    let mut sorted = values.to_vec();
    let middle = sorted.len() / 2;
    let (_, median, _) = sorted.select_nth_unstable_by(middle, f64::total_cmp);
    let median = *median;
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    let (_, mad, _) = deviations.select_nth_unstable_by(middle, f64::total_cmp);
    let spread = 5.0 * 1.4826 * *mad;
    if spread > 0.0 {
        (median - spread, median + spread)
    } else {
        unbounded
    }
}

#[derive(Clone, Copy)]
struct PreparedData<'p, 'a> {
    main: &'p Prepared<'a>,
    concurrent: Option<&'p Prepared<'a>>,
}

/// Where the windows of a check lie, for the real deploy and for placebos.
struct Geometry {
    kind: BaselineKind,
    warmup: i64,
    baseline_length: i64,
    /// The current window's length at this look, and at the bake's end (ms).
    length: i64,
    full_length: i64,
}

impl Geometry {
    fn new(spec: &CheckSpec, timing: &Timing, look: &Look) -> Geometry {
        let warmup = timing.warmup().num_milliseconds();
        let elapsed = (look.analysis_end - look.deployed_at).num_milliseconds();
        Geometry {
            kind: spec.baseline,
            warmup,
            baseline_length: timing.baseline_length().num_milliseconds(),
            length: elapsed - warmup,
            full_length: (timing.bake().num_milliseconds() - warmup).max(1),
        }
    }

    /// `[from, to)` of the baseline and of the current window for a deploy at `t0`
    /// whose current window is `length` long; the baseline is read from the
    /// concurrent series unless it is the window before.
    fn bounds(&self, t0: i64, length: i64) -> ((i64, i64), (i64, i64)) {
        let start = t0 + self.warmup;
        let current = (start, start + length);
        let baseline = match self.kind {
            BaselineKind::Before => (t0 - self.baseline_length, t0),
            BaselineKind::LastWeek | BaselineKind::Control => current,
        };
        (baseline, current)
    }

    /// The raw values of the real deploy's windows (for summaries and rank tests).
    fn raw_windows<'a>(&self, data: &CheckData<'a>, t0: i64) -> (&'a [f64], &'a [f64]) {
        let ((b_from, b_to), (c_from, c_to)) = self.bounds(t0, self.length);
        let current = data.main.window(c_from, c_to);
        let baseline = match (self.kind, data.concurrent) {
            (BaselineKind::Before, _) => data.main.window(b_from, b_to),
            (_, Some(other)) => other.window(b_from, b_to),
            (_, None) => &[],
        };
        (baseline, current)
    }

    /// (count, mean) of the baseline and current windows on the check's scale; `None`
    /// when a side has fewer than `min_samples`.
    fn means(
        &self,
        data: &PreparedData<'_, '_>,
        t0: i64,
        length: i64,
        min_samples: usize,
    ) -> Option<((usize, f64), (usize, f64))> {
        let ((b_from, b_to), (c_from, c_to)) = self.bounds(t0, length);
        let current = data.main.mean(c_from, c_to);
        let baseline = match self.kind {
            BaselineKind::Before => data.main.mean(b_from, b_to),
            BaselineKind::LastWeek | BaselineKind::Control => data.concurrent?.mean(b_from, b_to),
        };
        (baseline.0 >= min_samples && current.0 >= min_samples).then_some((baseline, current))
    }

    fn baseline_bounds(&self, look: &Look) -> (DateTime<Utc>, DateTime<Utc>) {
        match self.kind {
            BaselineKind::Before => (
                look.deployed_at - Duration::milliseconds(self.baseline_length),
                look.deployed_at,
            ),
            BaselineKind::LastWeek => {
                let (from, to) = self.current_bounds(look);
                (from - Duration::weeks(1), to - Duration::weeks(1))
            }
            BaselineKind::Control => self.current_bounds(look),
        }
    }

    fn current_bounds(&self, look: &Look) -> (DateTime<Utc>, DateTime<Utc>) {
        let from = look.deployed_at + Duration::milliseconds(self.warmup);
        (from, look.analysis_end.max(from))
    }

    fn baseline_receipt(&self, look: &Look, values: &Sorted) -> WindowReceipt {
        let (from, to) = self.baseline_bounds(look);
        WindowReceipt {
            from,
            to,
            summary: Summary::of_sorted(values),
            center: None,
        }
    }

    fn current_receipt(&self, look: &Look, values: &Sorted) -> WindowReceipt {
        let (from, to) = self.current_bounds(look);
        WindowReceipt {
            from,
            to,
            summary: Summary::of_sorted(values),
            center: None,
        }
    }

    /// The earliest time the judge reads for placebos.
    fn history_start(&self, data: &CheckData<'_>, t0: i64) -> i64 {
        self.earliest(
            data.main.first_time(),
            data.concurrent.and_then(Series::first_time),
            t0,
        )
    }

    /// The later of the series' first samples (the concurrent one's only when it is
    /// the baseline) and four hours before `t0`.
    fn earliest(&self, main_first: Option<i64>, other_first: Option<i64>, t0: i64) -> i64 {
        let first = main_first.unwrap_or(t0);
        let first = match (self.kind, other_first) {
            (BaselineKind::Before, _) | (_, None) => first,
            (_, Some(other)) => first.max(other),
        };
        first.max(t0 - HISTORY.num_milliseconds())
    }

    /// Log for positive metrics, counts when zeros appear among non-negative values.
    fn scale(&self, data: &CheckData<'_>, t0: i64) -> Scale {
        let from = self.history_start(data, t0) - self.baseline_length;
        let to = t0 + self.warmup + self.length;
        let other: &[f64] = match (self.kind, data.concurrent) {
            (BaselineKind::Before, _) | (_, None) => &[],
            (_, Some(series)) => series.window(from, to),
        };
        let (mut positive, mut non_negative) = (true, true);
        for &value in data.main.window(from, to).iter().chain(other) {
            positive &= value > 0.0;
            non_negative &= value >= 0.0;
        }
        if positive {
            Scale::Log
        } else if non_negative {
            Scale::Counts
        } else {
            Scale::Linear
        }
    }

    /// How far the effect moves when nothing is deployed, for a current window of
    /// `length`, as the spread σ the check's bar (`z_final · σ`) is built on.
    ///
    /// With [`QUANTILE_PLACEBOS`] placebo deploys in the history before `t0` (and
    /// positive or signed values), each placebo's effect is divided by its own windows'
    /// spread (studentised: a wild hour and a quiet hour become comparable), and σ is
    /// set so the bar is [`PLACEBO_MARGIN`] × their `1 − CHECK_ALPHA` quantile the bad
    /// way, at this deploy's own spread. With fewer placebos (or for counts) σ is the
    /// larger of the placebos' root mean square and an AR(1) model of the history;
    /// with too few, the model alone, widened. Counts never go below the Poisson
    /// spread at the pooled rate.
    #[allow(clippy::too_many_arguments)]
    fn noise(
        &self,
        data: &PreparedData<'_, '_>,
        t0: i64,
        length: i64,
        min_samples: usize,
        sizes: (usize, usize),
        pooled_rate: f64,
        direction: Direction,
    ) -> Option<Noise> {
        let earliest_start = self.earliest(
            data.main.times.first().copied(),
            data.concurrent.and_then(|c| c.times.first().copied()),
            t0,
        );
        // A placebo at p reads back to p − reach and forward to p + warmup + length.
        let reach = match self.kind {
            BaselineKind::Before => self.baseline_length,
            BaselineKind::LastWeek | BaselineKind::Control => 0,
        };
        let latest = t0 - self.warmup - length;
        let earliest = earliest_start + reach;
        // (effect, its windows' spread) per placebo.
        let mut placebos: Vec<(f64, Option<f64>)> = Vec::with_capacity(MAX_PLACEBOS + 2);
        if latest > earliest {
            let step = ((latest - earliest) / MAX_PLACEBOS as i64).max(1_000);
            let mut p = latest;
            while p >= earliest {
                if let Some((baseline, current)) = self.means(data, p, length, min_samples) {
                    placebos.push((current.1 - baseline.1, self.local_scale(data, p, length)));
                }
                p -= step;
            }
        }
        let poisson = match data.main.scale {
            Scale::Counts => {
                pooled_rate * (1.0 / sizes.0.max(1) as f64 + 1.0 / sizes.1.max(1) as f64)
            }
            Scale::Log | Scale::Linear => 0.0,
        };
        let quantile = match data.main.scale {
            Scale::Log | Scale::Linear if placebos.len() >= QUANTILE_PLACEBOS => {
                studentised_bar(&placebos, direction)
                    .zip(self.local_scale(data, t0, length))
                    .map(|(bar, own)| {
                        let sides = if direction == Direction::Both {
                            2.0
                        } else {
                            1.0
                        };
                        let z_final = stats::normal_quantile(1.0 - CHECK_ALPHA / sides);
                        (PLACEBO_MARGIN * bar * own / z_final).powi(2)
                    })
            }
            _ => None,
        };
        let (method, variance) = match quantile {
            Some(variance) => (NoiseMethod::Placebo, variance),
            None => {
                let model = ar1_variance(&data.main.history, sizes, self.gap(sizes));
                if placebos.len() >= MIN_PLACEBOS {
                    let placebo =
                        placebos.iter().map(|(e, _)| e * e).sum::<f64>() / placebos.len() as f64;
                    (NoiseMethod::Placebo, placebo.max(model.unwrap_or(0.0)))
                } else {
                    (NoiseMethod::Model, model? * MODEL_WIDENING.powi(2))
                }
            }
        };
        let sigma = variance.max(poisson).sqrt();
        (sigma > 0.0 && sigma.is_finite()).then_some(Noise {
            method,
            windows: placebos.len(),
            sigma,
        })
    }

    /// The spread of the values inside the baseline and current windows of a deploy
    /// at `p` (pooled; a step between the windows does not count), `None` when a
    /// window has fewer than two values or none vary.
    fn local_scale(&self, data: &PreparedData<'_, '_>, p: i64, length: i64) -> Option<f64> {
        let ((b_from, b_to), (c_from, c_to)) = self.bounds(p, length);
        let baseline = match self.kind {
            BaselineKind::Before => data.main.variance(b_from, b_to),
            BaselineKind::LastWeek | BaselineKind::Control => data
                .concurrent
                .map_or(f64::NAN, |c| c.variance(b_from, b_to)),
        };
        let current = data.main.variance(c_from, c_to);
        let scale = ((baseline + current) / 2.0).sqrt();
        (scale > 0.0 && scale.is_finite()).then_some(scale)
    }

    /// Samples between the baseline and the current window (the warm-up), for the
    /// model's covariance; none for concurrent baselines.
    fn gap(&self, sizes: (usize, usize)) -> Option<f64> {
        match self.kind {
            BaselineKind::Before => {
                let per_sample = self.length as f64 / sizes.1.max(1) as f64;
                Some(self.warmup as f64 / per_sample.max(1.0))
            }
            BaselineKind::LastWeek | BaselineKind::Control => None,
        }
    }
}

/// The `1 − CHECK_ALPHA` quantile (linearly interpolated) of the placebos' effects the
/// bad way, each divided by its own windows' spread; placebos whose windows do not
/// vary are left out. `None` when fewer than [`QUANTILE_PLACEBOS`] remain or the
/// quantile is not above zero (the history never moved the bad way: the spread rule
/// takes over).
fn studentised_bar(placebos: &[(f64, Option<f64>)], direction: Direction) -> Option<f64> {
    let mut bad: Vec<f64> = placebos
        .iter()
        .filter_map(|&(effect, scale)| {
            let t = effect / scale?;
            Some(match direction {
                Direction::IncreaseIsBad => t,
                Direction::DecreaseIsBad => -t,
                Direction::Both => t.abs(),
            })
        })
        .filter(|t| t.is_finite())
        .collect();
    if bad.len() < QUANTILE_PLACEBOS {
        return None;
    }
    bad.sort_by(f64::total_cmp);
    let rank = (1.0 - CHECK_ALPHA) * (bad.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = (low + 1).min(bad.len() - 1);
    let bar = bad[low] + (bad[high] - bad[low]) * (rank - low as f64);
    (bar > 0.0).then_some(bar)
}

/// The history's variance and lag-1 autocorrelation (clamped to [0, 0.99]) around its
/// straight-line trend; `None` below 20 values.
fn ar1_fit(history: &[f64]) -> Option<(f64, f64)> {
    if history.len() < 20 {
        return None;
    }
    let n = history.len() as f64;
    let x_mean = (n - 1.0) / 2.0;
    let y_mean = history.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in history.iter().enumerate() {
        let dx = i as f64 - x_mean;
        sxy += dx * (y - y_mean);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    let residual = |i: usize| history[i] - y_mean - slope * (i as f64 - x_mean);
    let gamma0 = (0..history.len()).map(|i| residual(i).powi(2)).sum::<f64>() / n;
    if gamma0 <= 0.0 {
        return Some((0.0, 0.0));
    }
    let lag_one = (1..history.len())
        .map(|i| residual(i - 1) * residual(i))
        .sum::<f64>()
        / n
        / gamma0;
    Some((gamma0, lag_one.clamp(0.0, 0.99)))
}

/// The variance of (mean of `sizes.1` samples) − (mean of `sizes.0` samples) under an
/// AR(1) fitted to the history around its straight-line trend (so a slow drift or the
/// slope of a daily cycle does not pass for autocorrelation). With a `gap` (samples
/// between the windows) the two means' covariance is subtracted; concurrent windows of
/// two series are treated as independent.
fn ar1_variance(history: &[f64], sizes: (usize, usize), gap: Option<f64>) -> Option<f64> {
    let (gamma0, rho) = ar1_fit(history)?;
    if gamma0 <= 0.0 {
        return Some(0.0);
    }
    let mean_variance = |size: usize| -> f64 {
        let k = size as f64;
        if rho == 0.0 {
            return gamma0 / k;
        }
        let sum = rho / (1.0 - rho) * (1.0 - (1.0 - rho.powf(k)) / (k * (1.0 - rho)));
        gamma0 / k * (1.0 + 2.0 * sum)
    };
    let (b, c) = (sizes.0.max(1), sizes.1.max(1));
    let covariance = match gap {
        Some(gap) => {
            let (bf, cf) = (b as f64, c as f64);
            gamma0 / (bf * cf) * rho.powf(gap + 1.0) * (1.0 - rho.powf(bf)) * (1.0 - rho.powf(cf))
                / (1.0 - rho).powi(2)
        }
        None => 0.0,
    };
    Some((mean_variance(b) + mean_variance(c) - 2.0 * covariance).max(0.0))
}

/// The check fields of a metric, as written in a file, the API or an offline case;
/// absent fields take their defaults. Without `direction` a metric is charted but not
/// judged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckFields {
    pub direction: Option<String>,
    pub tolerance: Option<f64>,
    pub tolerance_floor: Option<f64>,
    pub critical: Option<bool>,
    pub weight: Option<f64>,
    pub min_samples: Option<u64>,
    pub runbook: Option<String>,
    pub baseline: Option<String>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub max_sigma: Option<f64>,
    pub max_slope_sigma: Option<f64>,
}

/// The check fields as a settings-page form sends them: text, empty for "the default"
/// (or, for `direction`, "not judged"); `critical` present when ticked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckForm {
    pub direction: String,
    pub tolerance: String,
    pub tolerance_floor: String,
    pub critical: Option<String>,
    pub weight: String,
    pub min_samples: String,
    pub runbook: String,
    pub baseline: String,
    pub min_value: String,
    pub max_value: String,
    pub max_sigma: String,
    pub max_slope_sigma: String,
}

impl CheckForm {
    /// The check (`None`: charted, not judged), or every problem by field.
    pub fn parse(&self) -> Result<Option<CheckSpec>, super::deploy::ValidationErrors> {
        let mut p = super::deploy::Problems::default();
        let text = |raw: &str| Some(raw.trim_ascii().to_owned()).filter(|t| !t.is_empty());
        let mut number = |field: &str, raw: &str| -> Option<f64> {
            let raw = text(raw)?;
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    p.add(field, format!("must be a number, got {raw:?}"));
                    None
                }
            }
        };
        let tolerance = number("tolerance", &self.tolerance);
        let tolerance_floor = number("tolerance_floor", &self.tolerance_floor);
        let weight = number("weight", &self.weight);
        let min_samples = number("min_samples", &self.min_samples);
        let min_value = number("min_value", &self.min_value);
        let max_value = number("max_value", &self.max_value);
        let max_sigma = number("max_sigma", &self.max_sigma);
        let max_slope_sigma = number("max_slope_sigma", &self.max_slope_sigma);
        let whole = min_samples.filter(|n| n.fract() == 0.0 && *n >= 0.0);
        if min_samples.is_some() && whole.is_none() {
            p.add("min_samples", "must be a whole number");
        }
        let fields = CheckFields {
            direction: text(&self.direction),
            tolerance,
            tolerance_floor,
            critical: self.critical.as_ref().map(|_| true),
            weight,
            min_samples: whole.map(|n| n as u64),
            runbook: text(&self.runbook),
            baseline: text(&self.baseline),
            min_value,
            max_value,
            max_sigma,
            max_slope_sigma,
        };
        // Without a direction the other fields mean nothing: not judged.
        let check = if fields.direction.is_none() {
            None
        } else {
            fields.parse_into(&mut p, &|name| name.to_owned())
        };
        if p.is_empty() {
            Ok(check)
        } else {
            Err(p.into_errors())
        }
    }
}

pub const MAX_TOLERANCE: f64 = 100.0;
pub const MAX_WEIGHT: f64 = 1000.0;
pub const MAX_MIN_SAMPLES: u64 = 10_000;
/// Bounds are at most this large either way.
pub const MAX_BOUND: f64 = 1e15;
/// The σ and slope checks' limits are above 0 and at most this.
pub const MAX_SIGMA: f64 = 1000.0;
const MAX_RUNBOOK_LEN: usize = 2048;

impl CheckFields {
    /// The check, `None` when the metric is not judged, or the problems (each named
    /// after `field(name)`).
    pub(super) fn parse_into(
        &self,
        p: &mut super::deploy::Problems,
        field: &dyn Fn(&str) -> String,
    ) -> Option<CheckSpec> {
        let Some(raw_direction) = self.direction.as_deref() else {
            let set: Vec<&str> = [
                ("tolerance", self.tolerance.is_some()),
                ("tolerance_floor", self.tolerance_floor.is_some()),
                ("critical", self.critical.is_some()),
                ("weight", self.weight.is_some()),
                ("min_samples", self.min_samples.is_some()),
                ("runbook", self.runbook.is_some()),
                ("baseline", self.baseline.is_some()),
                ("min_value", self.min_value.is_some()),
                ("max_value", self.max_value.is_some()),
                ("max_sigma", self.max_sigma.is_some()),
                ("max_slope_sigma", self.max_slope_sigma.is_some()),
            ]
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .collect();
            if !set.is_empty() {
                p.add(
                    field("direction"),
                    format!(
                        "is required to judge the metric ({} set without it)",
                        set.join(", ")
                    ),
                );
            }
            return None;
        };
        let direction = match raw_direction.trim_ascii() {
            "increase_is_bad" => Some(Direction::IncreaseIsBad),
            "decrease_is_bad" => Some(Direction::DecreaseIsBad),
            "both" => Some(Direction::Both),
            _ => {
                p.add(
                    field("direction"),
                    "must be increase_is_bad, decrease_is_bad or both",
                );
                None
            }
        };
        let mut spec = CheckSpec::new(direction.unwrap_or(Direction::Both));
        let mut number = |name: &str, value: Option<f64>, low: f64, high: f64, low_open: bool| {
            let value = value?;
            let below = if low_open { value <= low } else { value < low };
            if !value.is_finite() || below || value > high {
                let bound = if low_open { "above" } else { "at least" };
                p.add(
                    field(name),
                    format!("must be {bound} {low} and at most {high}"),
                );
                return None;
            }
            Some(value)
        };
        if let Some(tolerance) = number("tolerance", self.tolerance, 0.0, MAX_TOLERANCE, false) {
            spec.tolerance = tolerance;
        }
        if let Some(floor) = number("tolerance_floor", self.tolerance_floor, 0.0, 1e15, false) {
            spec.tolerance_floor = floor;
        }
        if let Some(weight) = number("weight", self.weight, 0.0, MAX_WEIGHT, true) {
            spec.weight = weight;
        }
        spec.min_value = number("min_value", self.min_value, -MAX_BOUND, MAX_BOUND, false);
        spec.max_value = number("max_value", self.max_value, -MAX_BOUND, MAX_BOUND, false);
        spec.max_sigma = number("max_sigma", self.max_sigma, 0.0, MAX_SIGMA, true);
        spec.max_slope_sigma = number(
            "max_slope_sigma",
            self.max_slope_sigma,
            0.0,
            MAX_SIGMA,
            true,
        );
        spec.critical = self.critical.unwrap_or(false);
        if let Some(min) = self.min_samples {
            if (2..=MAX_MIN_SAMPLES).contains(&min) {
                spec.min_samples = min as usize;
            } else {
                p.add(
                    field("min_samples"),
                    format!("must be from 2 to {MAX_MIN_SAMPLES}"),
                );
            }
        }
        if let Some(runbook) = self.runbook.as_deref() {
            // Counted and split as the API document states them: characters, and the
            // ASCII spaces its pattern names.
            let url = runbook.trim_ascii();
            if runbook.chars().count() > MAX_RUNBOOK_LEN {
                p.add(
                    field("runbook"),
                    format!("must be at most {MAX_RUNBOOK_LEN} characters"),
                );
            } else if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.bytes().any(|b| b.is_ascii_whitespace())
            {
                p.add(field("runbook"), "must be an http(s) URL");
            } else {
                spec.runbook = Some(url.to_owned());
            }
        }
        if let Some(baseline) = self.baseline.as_deref() {
            match baseline.trim_ascii() {
                "before" => spec.baseline = BaselineKind::Before,
                "last_week" => spec.baseline = BaselineKind::LastWeek,
                "control" => spec.baseline = BaselineKind::Control,
                _ => p.add(field("baseline"), "must be before, last_week or control"),
            }
        }
        if let (Some(low), Some(high)) = (spec.min_value, spec.max_value)
            && low > high
        {
            p.add(field("min_value"), "must not be above max_value");
        }
        direction.map(|_| spec)
    }
}

/// The longest bake a service may set.
pub const MAX_BAKE: Duration = Duration::hours(24);

/// Warm-up, bake and interval as written (`"2m"`, `"15m"`, `"30s"`); absent ones take
/// the defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimingFields {
    pub warmup: Option<String>,
    pub bake: Option<String>,
    pub interval: Option<String>,
}

impl TimingFields {
    pub(super) fn parse_into(
        &self,
        p: &mut super::deploy::Problems,
        field: &dyn Fn(&str) -> String,
    ) -> Timing {
        let mut timing = Timing::default();
        let mut read = |name: &str, raw: Option<&str>| -> Option<i64> {
            match parse_duration(raw?) {
                Ok(duration) => Some(duration.num_seconds()),
                Err(message) => {
                    p.add(field(name), message);
                    None
                }
            }
        };
        let warmup = read("warmup", self.warmup.as_deref());
        let bake = read("bake", self.bake.as_deref());
        let interval = read("interval", self.interval.as_deref());
        timing.warmup_secs = warmup.unwrap_or(timing.warmup_secs);
        timing.bake_secs = bake.unwrap_or(timing.bake_secs);
        timing.interval_secs = interval.unwrap_or(timing.interval_secs);
        if timing.bake_secs > MAX_BAKE.num_seconds() {
            p.add(field("bake"), "must be at most 24h");
        } else if timing.bake_secs <= timing.warmup_secs {
            p.add(field("bake"), "must be longer than the warm-up");
        }
        if !(5..=timing.bake_secs.max(5)).contains(&timing.interval_secs) {
            p.add(field("interval"), "must be from 5s to the bake time");
        }
        timing
    }
}

/// One metric of one deploy to judge without a server (`houston judge FILE.json`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeCase {
    pub check: CaseCheck,
    pub deployed_at: DateTime<Utc>,
    /// `[time, value]` pairs before and after the deploy (up to 4 hours before).
    pub samples: Vec<(DateTime<Utc>, f64)>,
    /// For `baseline = "control"`: group `baseline`'s samples (`samples` are the
    /// canary's); for `"last_week"`: the samples of one week earlier, at their own times.
    #[serde(default)]
    pub baseline_samples: Option<Vec<(DateTime<Utc>, f64)>>,
    /// Judge as at this time (a provisional reading during the bake); the bake's end
    /// when absent.
    #[serde(default)]
    pub now: Option<DateTime<Utc>>,
    /// The next deploy of the same service and environment, which ends the analysis.
    #[serde(default)]
    pub next_deploy_at: Option<DateTime<Utc>>,
}

/// A case's check: the metric's name, its check fields and the service's timings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseCheck {
    pub metric: Option<String>,
    pub direction: Option<String>,
    pub tolerance: Option<f64>,
    pub tolerance_floor: Option<f64>,
    pub critical: Option<bool>,
    pub weight: Option<f64>,
    pub min_samples: Option<u64>,
    pub runbook: Option<String>,
    pub baseline: Option<String>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub max_sigma: Option<f64>,
    pub max_slope_sigma: Option<f64>,
    pub warmup: Option<String>,
    pub bake: Option<String>,
    pub interval: Option<String>,
}

/// What `houston judge` prints: the verdict as the server would reach it, and the
/// check's receipt.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseVerdict {
    pub verdict: VerdictState,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub rule: VerdictRule,
    pub score: Option<f64>,
    /// The reading so far, while baking.
    pub provisional: Option<VerdictState>,
    pub check: CheckReceipt,
}

impl JudgeCase {
    /// Judges the case, or names every problem with it.
    pub fn judge(&self) -> Result<CaseVerdict, super::deploy::ValidationErrors> {
        let mut p = super::deploy::Problems::default();
        let field = |name: &str| format!("check.{name}");
        let metric = match self.check.metric.as_deref() {
            Some(raw) => MetricName::parse(raw)
                .map_err(|e| p.add("check.metric", e))
                .ok(),
            None => {
                p.add("check.metric", "is required");
                None
            }
        };
        let fields = CheckFields {
            direction: self.check.direction.clone(),
            tolerance: self.check.tolerance,
            tolerance_floor: self.check.tolerance_floor,
            critical: self.check.critical,
            weight: self.check.weight,
            min_samples: self.check.min_samples,
            runbook: self.check.runbook.clone(),
            baseline: self.check.baseline.clone(),
            min_value: self.check.min_value,
            max_value: self.check.max_value,
            max_sigma: self.check.max_sigma,
            max_slope_sigma: self.check.max_slope_sigma,
        };
        let spec = if fields.direction.is_none() {
            p.add(
                "check.direction",
                "is required: a metric without one is not judged",
            );
            None
        } else {
            fields.parse_into(&mut p, &field)
        };
        let timing = TimingFields {
            warmup: self.check.warmup.clone(),
            bake: self.check.bake.clone(),
            interval: self.check.interval.clone(),
        }
        .parse_into(&mut p, &field);
        if let Some(spec) = &spec
            && spec.baseline != BaselineKind::Before
            && self.baseline_samples.is_none()
        {
            p.add(
                "baseline_samples",
                "is required for a last_week or control baseline",
            );
        }
        if let Some((index, _)) = self
            .samples
            .iter()
            .enumerate()
            .find(|(_, sample)| !sample.1.is_finite())
        {
            p.add(format!("samples[{index}]"), "must be a finite number");
        }
        let (Some(metric), Some(spec)) = (metric, spec) else {
            return Err(p.into_errors());
        };
        if !p.is_empty() {
            return Err(p.into_errors());
        }
        let main = Series::new(self.samples.clone());
        let concurrent = self.baseline_samples.clone().map(|samples| {
            let series = Series::new(samples);
            match spec.baseline {
                BaselineKind::LastWeek => series.shifted(Duration::weeks(1)),
                BaselineKind::Before | BaselineKind::Control => series,
            }
        });
        let bake_end = self.deployed_at + Duration::seconds(timing.bake_secs);
        let now = self.now.unwrap_or(bake_end);
        let look = Look::at(self.deployed_at, &timing, self.next_deploy_at, now);
        let complete = look.is_final(&timing, self.next_deploy_at);
        let data = CheckData {
            main: &main,
            concurrent: concurrent.as_ref(),
            unavailable: false,
        };
        let check = judge_check(&metric, &spec, &timing, data, &look, complete);
        let receipt = VerdictReceipt {
            checks: vec![check.clone()],
            ..VerdictReceipt::default()
        };
        let evaluation = conclude(receipt, complete, now);
        Ok(CaseVerdict {
            verdict: evaluation.state,
            is_final: evaluation.is_final,
            rule: evaluation.rule,
            score: evaluation.score,
            provisional: evaluation.provisional,
            check,
        })
    }
}

/// A check's receipt with only what a test names set, for the domain's tests.
#[cfg(test)]
pub(crate) fn receipt_for_tests(
    metric: &str,
    direction: Direction,
    state: CheckState,
) -> CheckReceipt {
    let at = DateTime::<Utc>::UNIX_EPOCH;
    let window = WindowReceipt {
        from: at,
        to: at,
        summary: None,
        center: None,
    };
    CheckReceipt {
        metric: MetricName::parse(metric).expect("a metric name"),
        state,
        rule: CheckRule::WithinTolerance,
        direction,
        baseline_kind: BaselineKind::Before,
        critical: false,
        weight: 1.0,
        tolerance: 0.05,
        tolerance_floor: 0.0,
        min_samples: DEFAULT_MIN_SAMPLES,
        runbook: None,
        baseline: window.clone(),
        current: window,
        scale: None,
        delta: None,
        delta_relative: None,
        effect: None,
        noise: None,
        z: None,
        z_bar: None,
        p_value: None,
        mann_whitney: None,
        shift: None,
        min_detectable_change: None,
        complete: true,
        source_unavailable: false,
        guards: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
