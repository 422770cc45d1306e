//! What a deploy row shows of its verdict: the badge (with the bake's progress while
//! baking) and, beside it, the deltas people scan for — the error-rate change, new
//! error groups and the worst metric change against its baseline.

use super::judge::{CheckReceipt, CheckState, VerdictReceipt, VerdictState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The name of the check the judge adds for the error rate (events per interval).
pub const ERROR_RATE_CHECK: &str = "errors";

/// One change a deploy row shows: `errors +240 %`, `latency_p95 +12 %`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadlineDelta {
    pub metric: String,
    /// Current against baseline, relative (0.12 = +12 %); none when the baseline is 0.
    pub relative: Option<f64>,
    /// Current minus baseline, in the metric's unit.
    pub delta: Option<f64>,
    /// The check failed.
    pub failed: bool,
}

impl HeadlineDelta {
    /// `+240 %`, `−3.1 %`, or the absolute change when the baseline was zero.
    pub fn change_text(&self) -> String {
        match (self.relative, self.delta) {
            (Some(r), _) => signed(r * 100.0, " %"),
            (None, Some(d)) => signed(d, ""),
            (None, None) => "—".to_owned(),
        }
    }
}

fn signed(value: f64, unit: &str) -> String {
    let magnitude = value.abs();
    let digits = if magnitude >= 10.0 || magnitude == magnitude.trunc() {
        0
    } else {
        1
    };
    let sign = if value < 0.0 { "−" } else { "+" };
    format!("{sign}{magnitude:.digits$}{unit}")
}

/// The part of a verdict a deploy row carries, stored beside the verdict at each look.
/// A field added here is also read by `SummaryWire` (the compiler asks for it there;
/// a serde attribute on it must be repeated there too).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// When the new version started serving, and when its bake ends.
    pub deployed_at: Option<DateTime<Utc>>,
    pub bake_end: Option<DateTime<Utc>>,
    pub new_error_groups: u64,
    /// The error-rate change (when judged), then the worst metric change the bad way.
    pub deltas: Vec<HeadlineDelta>,
    /// The checks that could not tell a regression from their metric's noise.
    #[serde(default)]
    pub cant_tell: Vec<String>,
}

impl Headline {
    pub fn of(receipt: &VerdictReceipt) -> Headline {
        let delta = |c: &CheckReceipt| HeadlineDelta {
            metric: c.metric.to_string(),
            relative: c.delta_relative,
            delta: c.delta,
            failed: c.state == CheckState::Unhealthy,
        };
        let errors = receipt
            .checks
            .iter()
            .find(|c| c.metric.as_str() == ERROR_RATE_CHECK && c.delta.is_some());
        // The worst: a failed critical check (what made the verdict) before another
        // failed one before a passing one, then the largest change the bad way; a
        // metric that only got better is not news.
        let worst = receipt
            .checks
            .iter()
            .filter(|c| c.metric.as_str() != ERROR_RATE_CHECK)
            .filter_map(|c| Some((c, bad_way(c)?)))
            .filter(|(_, bad)| *bad > 0.0)
            .max_by(|(a, x), (b, y)| {
                let rank = |c: &CheckReceipt| {
                    let failed = c.state == CheckState::Unhealthy;
                    (failed && c.critical, failed)
                };
                rank(a).cmp(&rank(b)).then(x.total_cmp(y))
            })
            .map(|(c, _)| c);
        Headline {
            deployed_at: receipt.deployed_at,
            bake_end: receipt.bake_end,
            new_error_groups: u64::try_from(receipt.new_error_groups.len()).unwrap_or(u64::MAX),
            deltas: errors.into_iter().chain(worst).map(delta).collect(),
            cant_tell: receipt
                .checks
                .iter()
                .filter(|c| c.state == CheckState::CantTell)
                .map(|c| c.metric.to_string())
                .collect(),
        }
    }

    /// How far through the bake `now` is, 0 to 1, when the bake's bounds are known.
    pub fn bake_progress(&self, now: DateTime<Utc>) -> Option<f64> {
        let (start, end) = (self.deployed_at?, self.bake_end?);
        let total = (end - start).num_milliseconds();
        if total <= 0 {
            return None;
        }
        let done = (now - start).num_milliseconds();
        Some((done as f64 / total as f64).clamp(0.0, 1.0))
    }
}

/// A check's relative change the bad way (positive is worse), on whichever measure
/// its receipt has.
fn bad_way(check: &CheckReceipt) -> Option<f64> {
    let change = check
        .delta_relative
        .or(check.delta.map(|d| d.signum() * f64::INFINITY))?;
    Some(check.direction.bad_way(change))
}

/// A deploy's verdict as a row shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "SummaryWire")]
pub struct VerdictSummary {
    /// The judge's state: `baking` until final.
    pub state: VerdictState,
    /// While baking: what the checks say so far.
    pub provisional: Option<VerdictState>,
    #[serde(rename = "final")]
    pub is_final: bool,
    /// A lead's override (`healthy` or `unhealthy`), shown instead of the judge's.
    #[serde(rename = "override")]
    pub override_state: Option<VerdictState>,
    #[serde(flatten)]
    pub headline: Headline,
}

/// A [`VerdictSummary`] as it is read off the wire: the headline's fields beside the
/// verdict's, as `flatten` writes them. Serde's own reading of a flattened field
/// buffers the object first and brings that machinery into every page's wasm (a
/// summary rides on each board cell).
#[derive(Deserialize)]
struct SummaryWire {
    state: VerdictState,
    provisional: Option<VerdictState>,
    #[serde(rename = "final")]
    is_final: bool,
    #[serde(rename = "override")]
    override_state: Option<VerdictState>,
    deployed_at: Option<DateTime<Utc>>,
    bake_end: Option<DateTime<Utc>>,
    new_error_groups: u64,
    deltas: Vec<HeadlineDelta>,
    #[serde(default)]
    cant_tell: Vec<String>,
}

impl From<SummaryWire> for VerdictSummary {
    fn from(wire: SummaryWire) -> Self {
        VerdictSummary {
            state: wire.state,
            provisional: wire.provisional,
            is_final: wire.is_final,
            override_state: wire.override_state,
            headline: Headline {
                deployed_at: wire.deployed_at,
                bake_end: wire.bake_end,
                new_error_groups: wire.new_error_groups,
                deltas: wire.deltas,
                cant_tell: wire.cant_tell,
            },
        }
    }
}

impl VerdictSummary {
    /// What people are told: the override when a lead set one, else the judge's.
    pub fn shown_state(&self) -> VerdictState {
        self.override_state.unwrap_or(self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::{Direction, receipt_for_tests};
    use chrono::TimeZone;

    fn check(
        metric: &str,
        direction: Direction,
        relative: Option<f64>,
        delta: Option<f64>,
        state: CheckState,
    ) -> CheckReceipt {
        CheckReceipt {
            delta,
            delta_relative: relative,
            ..receipt_for_tests(metric, direction, state)
        }
    }

    fn receipt(checks: Vec<CheckReceipt>) -> VerdictReceipt {
        VerdictReceipt {
            checks,
            ..VerdictReceipt::default()
        }
    }

    #[test]
    fn the_error_rate_leads_then_the_worst_metric_the_bad_way() {
        use CheckState::{Healthy, Unhealthy};
        use Direction::{Both, DecreaseIsBad, IncreaseIsBad};
        let headline = Headline::of(&receipt(vec![
            check(
                "latency_p95",
                IncreaseIsBad,
                Some(0.12),
                Some(12.0),
                Healthy,
            ),
            // Got better: not news.
            check("cpu", IncreaseIsBad, Some(-0.40), Some(-4.0), Healthy),
            // Fell the bad way by 20 %: the worst.
            check(
                "throughput",
                DecreaseIsBad,
                Some(-0.20),
                Some(-200.0),
                Healthy,
            ),
            check("queue", Both, Some(-0.05), Some(-1.0), Healthy),
            check(
                ERROR_RATE_CHECK,
                IncreaseIsBad,
                Some(2.4),
                Some(24.0),
                Unhealthy,
            ),
        ]));
        let shown: Vec<(String, String, bool)> = headline
            .deltas
            .iter()
            .map(|d| (d.metric.clone(), d.change_text(), d.failed))
            .collect();
        assert_eq!(
            shown,
            [
                ("errors".to_owned(), "+240 %".to_owned(), true),
                ("throughput".to_owned(), "−20 %".to_owned(), false),
            ]
        );
    }

    #[test]
    fn a_failed_check_is_worse_than_a_larger_passing_change() {
        use CheckState::{Healthy, Unhealthy};
        let headline = Headline::of(&receipt(vec![
            check(
                "noisy",
                Direction::IncreaseIsBad,
                Some(0.30),
                Some(3.0),
                Healthy,
            ),
            check(
                "latency_p95",
                Direction::IncreaseIsBad,
                Some(0.12),
                Some(12.0),
                Unhealthy,
            ),
        ]));
        assert_eq!(headline.deltas.len(), 1);
        assert_eq!(headline.deltas[0].metric, "latency_p95");
        assert!(headline.cant_tell.is_empty());
        assert_eq!(headline.deltas[0].change_text(), "+12 %");
    }

    #[test]
    fn the_failed_critical_check_beats_a_larger_failed_one() {
        use CheckState::Unhealthy;
        let critical = CheckReceipt {
            critical: true,
            ..check(
                "latency_p95",
                Direction::IncreaseIsBad,
                Some(0.7),
                Some(70.0),
                Unhealthy,
            )
        };
        let larger = check(
            "error_ratio",
            Direction::IncreaseIsBad,
            Some(2.0),
            Some(1.0),
            Unhealthy,
        );
        let headline = Headline::of(&receipt(vec![larger.clone(), critical.clone()]));
        assert_eq!(headline.deltas[0].metric, "latency_p95");
        let headline = Headline::of(&receipt(vec![critical, larger]));
        assert_eq!(headline.deltas[0].metric, "latency_p95");
    }

    #[test]
    fn a_zero_baseline_shows_the_absolute_change_and_nothing_bad_shows_nothing() {
        let headline = Headline::of(&receipt(vec![
            check(
                ERROR_RATE_CHECK,
                Direction::IncreaseIsBad,
                None,
                Some(3.0),
                CheckState::Healthy,
            ),
            check(
                "cpu",
                Direction::IncreaseIsBad,
                Some(-0.1),
                Some(-1.0),
                CheckState::Healthy,
            ),
        ]));
        assert_eq!(headline.deltas.len(), 1);
        assert_eq!(headline.deltas[0].change_text(), "+3");
        assert_eq!(signed(-3.12, " %"), "−3.1 %");
        assert_eq!(signed(0.0, " %"), "+0 %");
    }

    #[test]
    fn the_checks_that_could_not_tell_are_named_and_old_rows_read_without_them() {
        let headline = Headline::of(&receipt(vec![
            check(
                "cpu",
                Direction::IncreaseIsBad,
                Some(0.47),
                Some(4.7),
                CheckState::CantTell,
            ),
            check(
                "latency_p95",
                Direction::IncreaseIsBad,
                Some(0.01),
                Some(1.0),
                CheckState::Healthy,
            ),
        ]));
        assert_eq!(headline.cant_tell, ["cpu"]);
        // A headline stored before the field existed reads as "every check could tell".
        let old = r#"{"state":"healthy","provisional":null,"final":true,"override":null,
            "deployed_at":null,"bake_end":null,"new_error_groups":0,"deltas":[]}"#;
        let old: VerdictSummary = serde_json::from_str(old).expect("reads an old row");
        assert!(old.headline.cant_tell.is_empty());
    }

    #[test]
    fn bake_progress_runs_from_the_deploy_to_the_bake_end() {
        let start = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let headline = Headline {
            deployed_at: Some(start),
            bake_end: Some(start + chrono::Duration::minutes(10)),
            ..Headline::default()
        };
        let at = |m| headline.bake_progress(start + chrono::Duration::minutes(m));
        assert_eq!(at(-1), Some(0.0));
        assert_eq!(at(4), Some(0.4));
        assert_eq!(at(11), Some(1.0));
        assert_eq!(Headline::default().bake_progress(start), None);
    }

    #[test]
    fn a_summary_reads_back_as_written_with_its_headline_beside_it() {
        let start = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let summary = VerdictSummary {
            state: VerdictState::Baking,
            provisional: Some(VerdictState::Unhealthy),
            is_final: false,
            override_state: Some(VerdictState::Healthy),
            headline: Headline {
                deployed_at: Some(start),
                bake_end: Some(start + chrono::Duration::minutes(10)),
                new_error_groups: 2,
                deltas: vec![HeadlineDelta {
                    metric: "errors".into(),
                    relative: Some(2.4),
                    delta: Some(0.3),
                    failed: true,
                }],
                cant_tell: vec!["cpu".into()],
            },
        };
        let json = serde_json::to_value(&summary).expect("serialises");
        assert_eq!(
            json["new_error_groups"], 2,
            "the headline is written flat: {json}"
        );
        assert_eq!(json["final"], false);
        let back: VerdictSummary = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, summary);
    }
}
