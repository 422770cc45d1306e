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

mod fields;
pub use fields::*;
mod noise;
use noise::*;
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    pub method: NoiseMethod,
    /// Placebo windows used (0 for the model).
    pub windows: usize,
    /// The spread of a calm effect, on the check's scale.
    pub sigma: f64,
}

/// A check's state at one look.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReceipt {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
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
