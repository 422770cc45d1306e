//! The pipeline's checks a metric may carry beside the baseline comparison, each a
//! line of the check's receipt:
//!
//! - **bounds** (`min_value`, `max_value`): absolute limits in the metric's unit. More
//!   than [`BOUND_SHARE`] of the bake's samples past a limit fails the check, as soon
//!   as that many are in (later samples cannot undo it).
//! - **σ from history** (`max_sigma`): how many standard deviations the bake's median
//!   sits from the median of the four hours before the deploy (σ from their median
//!   absolute deviation), the bad way. Decided when the bake is complete.
//! - **slope** (`max_slope_sigma`): the bake's trend (least squares over time) against
//!   the trends of windows of the same length over the four hours before, in their
//!   standard deviations, the bad way. Decided when the bake is complete.
//!
//! On a positive metric σ and slopes are read on logarithms (a slope is then a relative
//! change per minute), as the comparison reads it.

use super::{CheckSpec, CheckState, HISTORY, MIN_PLACEBOS, Scale, Series};
use serde::{Deserialize, Serialize};

/// More than this share of the bake's samples past a bound fails the check.
pub const BOUND_SHARE: f64 = 0.10;

/// Which of the pipeline's checks a receipt line is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardKind {
    Bounds,
    Sigma,
    Slope,
}

/// One of the pipeline's checks at one look.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuardReceipt {
    pub kind: GuardKind,
    /// `unhealthy` fails the check; `no_data` when there was too little to measure.
    pub state: CheckState,
    /// Bounds: the share of the bake's samples past a bound (0–1); σ and slope: the
    /// standard deviations the bake sits from the history, the bad way.
    pub value: Option<f64>,
    /// The most `value` may be.
    pub limit: f64,
    /// What was measured and decided, in words.
    pub line: String,
}

/// What the guards read: the metric's samples, the bake window at this look and the
/// history before the deploy.
pub(super) struct GuardInput<'a> {
    pub spec: &'a CheckSpec,
    pub series: &'a Series,
    pub scale: Scale,
    /// The deploy's time and the bake window at this look, `[from, to)` (ms).
    pub t0: i64,
    pub current: (i64, i64),
    /// The bake window's length when the bake is complete (ms).
    pub full_length: i64,
    pub complete: bool,
}

/// The receipt lines of the guards `spec` asks for (none when it asks for none).
pub(super) fn guard(input: &GuardInput<'_>) -> Vec<GuardReceipt> {
    let mut lines = Vec::new();
    if input.spec.min_value.is_some() || input.spec.max_value.is_some() {
        lines.push(bounds(input));
    }
    if let Some(limit) = input.spec.max_sigma {
        lines.push(sigma(input, limit));
    }
    if let Some(limit) = input.spec.max_slope_sigma {
        lines.push(slope(input, limit));
    }
    lines
}

fn bounds(input: &GuardInput<'_>) -> GuardReceipt {
    let (min, max) = (input.spec.min_value, input.spec.max_value);
    let limit = BOUND_SHARE;
    let (_, values) = input.series.points(input.current.0, input.current.1);
    let limits = match (min, max) {
        (Some(low), Some(high)) => format!("{} to {}", figure(low), figure(high)),
        (Some(low), None) => format!("at least {}", figure(low)),
        (None, Some(high)) => format!("at most {}", figure(high)),
        (None, None) => String::new(),
    };
    if values.is_empty() {
        return GuardReceipt {
            kind: GuardKind::Bounds,
            state: CheckState::NoData,
            value: None,
            limit,
            line: format!("bounds {limits}: no samples in the bake yet"),
        };
    }
    let past = |v: f64| min.is_some_and(|low| v < low) || max.is_some_and(|high| v > high);
    let outside = values.iter().filter(|v| past(**v)).count();
    let worst = values.iter().copied().filter(|v| past(*v)).max_by(|a, b| {
        let beyond =
            |v: f64| (min.map_or(0.0, |low| low - v)).max(max.map_or(0.0, |high| v - high));
        beyond(*a).total_cmp(&beyond(*b))
    });
    // Samples the whole bake will hold at this rate: a share of those already past
    // cannot be undone by samples to come.
    let seen = (input.current.1 - input.current.0).max(1) as f64;
    let expected = if input.complete {
        values.len() as f64
    } else {
        (values.len() as f64 * input.full_length as f64 / seen).max(values.len() as f64)
    };
    let share = outside as f64 / values.len() as f64;
    let broken = outside as f64 > BOUND_SHARE * expected;
    let so_far = if input.complete { "" } else { " so far" };
    let line = match worst {
        None => format!(
            "bounds {limits}: all {} samples of the bake{so_far} within",
            values.len()
        ),
        Some(worst) => format!(
            "bounds {limits}: {outside} of {} samples of the bake{so_far} ({:.0} %) past, the farthest {}; more than {:.0} % fails",
            values.len(),
            share * 100.0,
            figure(worst),
            BOUND_SHARE * 100.0
        ),
    };
    GuardReceipt {
        kind: GuardKind::Bounds,
        state: state_of(broken),
        value: Some(share),
        limit,
        line,
    }
}

fn sigma(input: &GuardInput<'_>, limit: f64) -> GuardReceipt {
    let scale = input.scale;
    let on_scale = |values: &[f64]| -> Vec<f64> {
        values
            .iter()
            .map(|v| scale.transform(*v))
            .filter(|v| v.is_finite())
            .collect()
    };
    let history_from = input.t0 - HISTORY.num_milliseconds();
    let mut history = on_scale(input.series.points(history_from, input.t0).1);
    let mut bake = on_scale(input.series.points(input.current.0, input.current.1).1);
    let no_data = |why: &str| GuardReceipt {
        kind: GuardKind::Sigma,
        state: CheckState::NoData,
        value: None,
        limit,
        line: format!("σ from history (at most {}): {why}", figure(limit)),
    };
    let Some((centre, spread)) = robust_sd(&mut history) else {
        return no_data("too little history before the deploy");
    };
    let Some(bake_centre) = median_of(&mut bake) else {
        return no_data("no samples in the bake yet");
    };
    let z = standardised(input.spec.direction.bad_way(bake_centre - centre), spread);
    let decided = input.complete;
    let broken = decided && z > limit;
    let so_far = if decided { "" } else { " so far" };
    let line = format!(
        "σ from history: the bake's median{so_far} sits {} σ from the last four hours' the bad way (σ {} on the {} scale); more than {} fails{}",
        signed_figure(z),
        figure(spread),
        scale_name(scale),
        figure(limit),
        pending(decided)
    );
    GuardReceipt {
        kind: GuardKind::Sigma,
        state: state_of(broken),
        value: Some(z),
        limit,
        line,
    }
}

fn slope(input: &GuardInput<'_>, limit: f64) -> GuardReceipt {
    let no_data = |why: &str| GuardReceipt {
        kind: GuardKind::Slope,
        state: CheckState::NoData,
        value: None,
        limit,
        line: format!("slope against history (at most {} σ): {why}", figure(limit)),
    };
    let scale = input.scale;
    let (from, to) = input.current;
    let length = to - from;
    let Some(bake) = trend(input.series, scale, from, to) else {
        return no_data("too few samples in the bake yet");
    };
    // Windows of the bake's length over the four hours before the deploy, half a
    // window apart.
    let step = (length / 2).max(1);
    let earliest = input.t0 - HISTORY.num_milliseconds();
    let mut slopes = Vec::new();
    let mut end = input.t0;
    while end - length >= earliest {
        if let Some(s) = trend(input.series, scale, end - length, end) {
            slopes.push(s);
        }
        end -= step;
    }
    if slopes.len() < MIN_PLACEBOS {
        return no_data("too few windows of history before the deploy");
    }
    let Some((centre, spread)) = robust_sd(&mut slopes) else {
        return no_data("too few windows of history before the deploy");
    };
    let z = standardised(input.spec.direction.bad_way(bake - centre), spread);
    let decided = input.complete;
    let broken = decided && z > limit;
    let per_minute = |s: f64| match scale {
        Scale::Log => format!("{:+.2} %/min", (s.exp() - 1.0) * 100.0),
        Scale::Counts | Scale::Linear => format!("{}/min", signed_figure(s)),
    };
    let line = format!(
        "slope: the bake{} moves {}, {} σ from the {} windows of history before it the bad way (σ {}); more than {} fails{}",
        if decided { "" } else { " so far" },
        per_minute(bake),
        signed_figure(z),
        slopes.len(),
        per_minute(spread).trim_start_matches('+'),
        figure(limit),
        pending(decided)
    );
    GuardReceipt {
        kind: GuardKind::Slope,
        state: state_of(broken),
        value: Some(z),
        limit,
        line,
    }
}

fn state_of(broken: bool) -> CheckState {
    if broken {
        CheckState::Unhealthy
    } else {
        CheckState::Healthy
    }
}

/// What a line adds while its check waits for the bake's end.
fn pending(decided: bool) -> &'static str {
    if decided {
        ""
    } else {
        "; decided when the bake is complete"
    }
}

/// The least-squares slope per minute of the samples in `[from, to)` on `scale`;
/// `None` with fewer than three samples or all at one time.
fn trend(series: &Series, scale: Scale, from: i64, to: i64) -> Option<f64> {
    let (times, values) = series.points(from, to);
    let points: Vec<(f64, f64)> = times
        .iter()
        .zip(values)
        .map(|(t, v)| ((t - from) as f64 / 60_000.0, scale.transform(*v)))
        .filter(|(_, v)| v.is_finite())
        .collect();
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_v = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (t, v) in &points {
        sxy += (t - mean_t) * (v - mean_v);
        sxx += (t - mean_t) * (t - mean_t);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The median, and 1.4826 × the median absolute deviation (the standard deviation of
/// a normal sample) or the plain standard deviation when more than half the values are
/// equal. Reorders `values`.
fn robust_sd(values: &mut [f64]) -> Option<(f64, f64)> {
    if values.len() < 2 {
        return None;
    }
    let centre = median_of(values)?;
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - centre).abs()).collect();
    let mad = 1.4826 * median_of(&mut deviations)?;
    if mad > 0.0 {
        return Some((centre, mad));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    // Equal values summed in floating point leave a trace: that is no spread.
    let sd = if sd <= 1e-12 * mean.abs().max(1.0) {
        0.0
    } else {
        sd
    };
    Some((centre, sd))
}

/// The median (the mean of the two middle values of an even count), found by
/// selection rather than a sort: the history can hold tens of thousands of samples.
/// Reorders `values`.
fn median_of(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (lower, upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Some(upper);
    }
    lower
        .iter()
        .copied()
        .max_by(f64::total_cmp)
        .map(|below| (below + upper) / 2.0)
}

/// A change the bad way in units of `spread`: with no spread at all, any change the
/// bad way is infinitely far.
fn standardised(change: f64, spread: f64) -> f64 {
    if spread > 0.0 {
        change / spread
    } else if change > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

fn scale_name(scale: Scale) -> &'static str {
    match scale {
        Scale::Log => "logarithmic",
        Scale::Counts | Scale::Linear => "metric's",
    }
}

/// A number at a precision people read: 1234, 12.3, 0.0123.
fn figure(value: f64) -> String {
    let magnitude = value.abs();
    if !value.is_finite() {
        "∞".to_owned()
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 1.0 {
        format!("{value:.1}")
    } else if magnitude == 0.0 {
        "0".to_owned()
    } else {
        format!("{value:.3}")
    }
}

fn signed_figure(value: f64) -> String {
    if value > 0.0 {
        format!("+{}", figure(value))
    } else {
        figure(value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Direction;
    use super::*;
    use chrono::{DateTime, Duration, TimeZone, Utc};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
            .single()
            .expect("time")
    }

    /// Four hours before the deploy and 15 minutes after, every 10 s: `before(i)`
    /// before it, `after(i)` from it on.
    fn series(before: impl Fn(i64) -> f64, after: impl Fn(i64) -> f64) -> Series {
        Series::new(
            (-1440..90)
                .map(|i| {
                    let value = if i < 0 { before(i) } else { after(i) };
                    (t0() + Duration::seconds(10 * i), value)
                })
                .collect(),
        )
    }

    fn wiggle(i: i64) -> f64 {
        let x = (i as f64 * 12.9898).sin() * 43_758.545_3;
        2.0 * (x - x.floor()) - 1.0
    }

    fn run(spec: &CheckSpec, series: &Series, minutes: i64, complete: bool) -> Vec<GuardReceipt> {
        let t0 = t0().timestamp_millis();
        let warmup = 2 * 60_000;
        guard(&GuardInput {
            spec,
            series,
            scale: Scale::Log,
            t0,
            current: (t0 + warmup, t0 + minutes * 60_000),
            full_length: 13 * 60_000,
            complete,
        })
    }

    fn spec() -> CheckSpec {
        CheckSpec::new(Direction::IncreaseIsBad)
    }

    #[test]
    fn a_bound_fails_past_its_share_and_not_at_it() {
        let mut spec = spec();
        spec.max_value = Some(800.0);
        // 78 samples in the bake (2 to 15 minutes); 7 of them (9 %) at 900: passes.
        let some = series(
            |_| 500.0,
            |i| if (12..19).contains(&i) { 900.0 } else { 500.0 },
        );
        let lines = run(&spec, &some, 15, true);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].state, CheckState::Healthy, "{}", lines[0].line);
        assert!(lines[0].line.contains("7 of 78"), "{}", lines[0].line);
        // 8 of 78 (10.3 %): fails, and says which sample was farthest.
        let more = series(
            |_| 500.0,
            |i| {
                if (12..20).contains(&i) {
                    900.0 + i as f64
                } else {
                    500.0
                }
            },
        );
        let lines = run(&spec, &more, 15, true);
        assert_eq!(lines[0].state, CheckState::Unhealthy, "{}", lines[0].line);
        assert!(
            lines[0].line.contains("the farthest 919"),
            "{}",
            lines[0].line
        );
        // A lower bound works the same way; a value on the bound is within it.
        let mut spec = self::spec();
        spec.min_value = Some(500.0);
        assert_eq!(run(&spec, &some, 15, true)[0].state, CheckState::Healthy);
    }

    #[test]
    fn a_bound_fails_early_only_once_the_whole_bake_cannot_undo_it() {
        let mut spec = spec();
        spec.max_value = Some(800.0);
        let high = series(|_| 500.0, |i| if i < 24 { 900.0 } else { 500.0 });
        // Four minutes in: 12 samples, all past, of the ~78 the bake will hold: fails.
        assert_eq!(run(&spec, &high, 4, false)[0].state, CheckState::Unhealthy);
        // Two minutes and a half in: 3 samples past of ~78 expected: not yet.
        let lines = run(&spec, &high, 2, false);
        assert_eq!(lines[0].state, CheckState::NoData);
        let early = series(
            |_| 500.0,
            |i| if (12..15).contains(&i) { 900.0 } else { 500.0 },
        );
        let lines = run(&spec, &early, 3, false);
        assert_eq!(lines[0].state, CheckState::Healthy, "{}", lines[0].line);
        assert!(lines[0].line.contains("so far"), "{}", lines[0].line);
    }

    #[test]
    fn sigma_counts_standard_deviations_from_the_history_the_bad_way() {
        let mut spec = spec();
        spec.max_sigma = Some(3.0);
        // ±5 % jitter: σ on logarithms ≈ 0.05 × 1.4826 × 0.5 ≈ 0.037; +20 % is ~5 σ.
        let jitter = |i: i64| 200.0 * (1.0 + 0.05 * wiggle(i));
        let up = series(jitter, |i| jitter(i) * 1.2);
        let lines = run(&spec, &up, 15, true);
        assert_eq!(lines[0].kind, GuardKind::Sigma);
        let z = lines[0].value.expect("z");
        assert!(z > 3.0 && z < 8.0, "{z}");
        assert_eq!(lines[0].state, CheckState::Unhealthy);
        // +3 %: about 1 σ; and down 20 % is the good way.
        let small = series(jitter, |i| jitter(i) * 1.03);
        assert_eq!(run(&spec, &small, 15, true)[0].state, CheckState::Healthy);
        let down = series(jitter, |i| jitter(i) * 0.8);
        assert!(run(&spec, &down, 15, true)[0].value.expect("z") < 0.0);
        // Not decided before the bake is complete.
        let lines = run(&spec, &up, 8, false);
        assert_eq!(lines[0].state, CheckState::Healthy);
        assert!(lines[0].line.contains("decided when"), "{}", lines[0].line);
    }

    #[test]
    fn a_flat_history_makes_any_bad_move_infinitely_far() {
        let mut spec = spec();
        spec.max_sigma = Some(3.0);
        let flat = series(|_| 100.0, |_| 101.0);
        let lines = run(&spec, &flat, 15, true);
        assert_eq!(lines[0].value, Some(f64::INFINITY));
        assert_eq!(lines[0].state, CheckState::Unhealthy);
        let same = series(|_| 100.0, |_| 100.0);
        assert_eq!(run(&spec, &same, 15, true)[0].value, Some(0.0));
    }

    #[test]
    fn a_climb_steeper_than_the_historys_fails_the_slope_check() {
        let mut spec = spec();
        spec.max_slope_sigma = Some(4.0);
        let jitter = |i: i64| 200.0 * (1.0 + 0.05 * wiggle(i));
        // A leak: +2 % a minute from the deploy on.
        let leak = series(jitter, |i| jitter(i) * (1.0 + 0.02 * i as f64 / 6.0));
        let lines = run(&spec, &leak, 15, true);
        assert_eq!(lines[0].kind, GuardKind::Slope);
        assert_eq!(lines[0].state, CheckState::Unhealthy, "{}", lines[0].line);
        assert!(
            lines[0].line.contains("windows of history"),
            "{}",
            lines[0].line
        );
        // The same jitter without the leak: within.
        let calm = series(jitter, jitter);
        let lines = run(&spec, &calm, 15, true);
        assert_eq!(lines[0].state, CheckState::Healthy, "{}", lines[0].line);
        let z = lines[0].value.expect("z");
        assert!(z.abs() < 4.0, "{z}");
        // A falling metric whose fall is bad.
        let mut falling = spec.clone();
        falling.direction = Direction::DecreaseIsBad;
        assert_eq!(run(&falling, &leak, 15, true)[0].state, CheckState::Healthy);
    }

    #[test]
    fn the_median_by_selection_is_the_textbook_median() {
        for values in [
            vec![3.0, 1.0, 2.0],
            vec![4.0, 1.0, 3.0, 2.0],
            vec![5.0],
            vec![2.0, 2.0, 1.0, 9.0, 7.0, 7.5],
        ] {
            let expected = super::super::stats::median(&values);
            assert_eq!(median_of(&mut values.clone()), expected, "{values:?}");
        }
        assert_eq!(median_of(&mut []), None);
    }

    #[test]
    fn without_history_the_sigma_and_slope_checks_have_no_data() {
        let mut spec = spec();
        spec.max_sigma = Some(3.0);
        spec.max_slope_sigma = Some(3.0);
        let t0 = t0();
        let short = Series::new(
            (0..90)
                .map(|i| (t0 + Duration::seconds(10 * i), 100.0))
                .collect(),
        );
        let lines = run(&spec, &short, 15, true);
        assert_eq!(lines.len(), 2);
        assert!(
            lines.iter().all(|l| l.state == CheckState::NoData),
            "{lines:?}"
        );
    }
}
