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
//! during the bake use a bar that starts high and falls to the final one (z/√f, in the
//! manner of O'Brien–Fleming): re-reading every interval adds few false alarms, but
//! some (the benchmark measures 0–2.3 % of calm deploys called unhealthy at any look,
//! per kind of series, against the final look's nominal 0.5 %: `docs/JUDGE.md` §9).
//! The same spread gives the smallest change the check could have seen (its minimum
//! detectable effect), written in every receipt. The rank test and the shift on the
//! receipt are shown, never decisive.
//!
//! The files, one thing each: `spec` (what a check is asked), `check` (one look:
//! the evidence, and `decide`, the rule), `noise` (the bars from the history),
//! `guards` (the pipeline's checks), `receipt` (what a look says), `verdict` (the
//! deploy's verdict from its checks), `fields` (a check as written in files and
//! forms). `docs/JUDGE.md` writes the procedure down formula by formula.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::signals::MetricName;
use super::stats::{self, Alternative, MannWhitney, Shift, Sorted, Summary};

mod check;
pub use check::*;
mod fields;
pub use fields::*;
mod noise;
use noise::*;
mod guards;
pub use guards::{BOUND_SHARE, GuardKind, GuardReceipt};
mod receipt;
pub use receipt::*;
mod spec;
pub use spec::*;
mod verdict;
pub use verdict::*;

/// How far back the judge looks to learn a metric's calm behaviour.
pub const HISTORY: Duration = Duration::hours(4);
/// Placebo windows per look are spread evenly over the history in steps of
/// 1/`MAX_PLACEBOS` of it: at most this many, plus the one at the step's end (401).
pub const MAX_PLACEBOS: usize = 400;
/// Fewer usable placebo windows than this, and the noise comes from a model instead.
pub const MIN_PLACEBOS: usize = 12;
/// The nominal size of the bar at the final look (one-sided; split in two for
/// `both`). Not the whole bake's false-alarm rate: the earlier looks, under a higher
/// bar, add some (measured in `docs/JUDGE.md` §9).
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
/// series: 1.2 keeps ≥ 98.5 % of calm deploys from being called unhealthy at any
/// look; many of the rest say "can't tell").
pub const PLACEBO_MARGIN: f64 = 1.2;
/// The share of zeros up to which a non-negative metric is still judged on the log
/// scale, its zeros at the floor of its calm range: above it, the metric is counts.
pub const RARE_ZEROS: f64 = 0.01;
pub const HEALTHY_SCORE: f64 = 95.0;
pub const AILING_SCORE: f64 = 75.0;

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

#[cfg(test)]
mod tests;
