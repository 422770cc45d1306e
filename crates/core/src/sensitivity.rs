//! How sharp each check has been: from recent verdicts' receipts, the smallest change
//! each check could have caught (its minimum detectable change), set against its
//! tolerance. A check that can only see changes far above its tolerance passes
//! regressions it was meant to catch; the settings page flags it and says what helps.

use super::judge::{BaselineKind, VerdictReceipt};
use serde::{Deserialize, Serialize};

/// A check is noisy when the change it could see is more than this many times its
/// tolerance.
pub const NOISY_FACTOR: f64 = 2.0;

/// One check's sharpness over recent deploys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sensitivity {
    pub metric: String,
    /// Judged deploys whose receipt states what the check could see.
    pub deploys: usize,
    /// The median of their minimum detectable changes (0.12 = 12 %).
    pub median_detectable: f64,
    /// The tolerance in the latest of them.
    pub tolerance: f64,
    pub noisy: bool,
    /// What would make the check sharper, when it is noisy.
    pub suggestions: Vec<String>,
}

/// The sharpness of every check in `receipts` (complete looks only, newest first or
/// in any order), by metric name.
pub fn sensitivity(receipts: &[VerdictReceipt]) -> Vec<Sensitivity> {
    let mut by_metric: std::collections::BTreeMap<String, (Vec<f64>, f64, BaselineKind)> =
        std::collections::BTreeMap::new();
    for receipt in receipts {
        for check in &receipt.checks {
            let Some(mde) = check.min_detectable_change.filter(|m| m.is_finite()) else {
                continue;
            };
            let entry = by_metric
                .entry(check.metric.to_string())
                .or_insert_with(|| (Vec::new(), check.tolerance, check.baseline_kind));
            entry.0.push(mde);
        }
    }
    by_metric
        .into_iter()
        .map(|(metric, (mut mdes, tolerance, baseline))| {
            mdes.sort_by(f64::total_cmp);
            let n = mdes.len();
            let median = if n % 2 == 1 {
                mdes[n / 2]
            } else {
                (mdes[n / 2 - 1] + mdes[n / 2]) / 2.0
            };
            let noisy = median > NOISY_FACTOR * tolerance.max(f64::EPSILON);
            let mut suggestions = Vec::new();
            if noisy {
                suggestions.push(format!(
                    "a longer bake: the smallest visible change shrinks about as 1/√bake, so {:.0} × the bake would reach the tolerance",
                    (median / tolerance.max(f64::EPSILON)).powi(2).ceil()
                ));
                if baseline != BaselineKind::Control {
                    suggestions.push(
                        "a control group (baseline = \"control\": canary against baseline over the same window) removes drift and daily cycles"
                            .to_owned(),
                    );
                }
                suggestions.push(
                    "a less noisy query: a rate or percentile over a longer range, or over more requests".to_owned(),
                );
            }
            Sensitivity {
                metric,
                deploys: n,
                median_detectable: median,
                tolerance,
                noisy,
                suggestions,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::{CheckState, Direction, receipt_for_tests};

    fn receipt(checks: &[(&str, f64, BaselineKind)]) -> VerdictReceipt {
        VerdictReceipt {
            checks: checks
                .iter()
                .map(|&(metric, mde, baseline)| crate::judge::CheckReceipt {
                    min_detectable_change: Some(mde),
                    baseline_kind: baseline,
                    ..receipt_for_tests(metric, Direction::IncreaseIsBad, CheckState::Healthy)
                })
                .collect(),
            ..VerdictReceipt::default()
        }
    }

    #[test]
    fn a_check_that_sees_only_changes_far_above_its_tolerance_is_flagged() {
        use BaselineKind::{Before, Control};
        let receipts = [
            receipt(&[("latency_p95", 0.03, Before), ("queue_depth", 0.30, Before)]),
            receipt(&[("latency_p95", 0.04, Before), ("queue_depth", 0.20, Before)]),
            receipt(&[
                ("latency_p95", 0.05, Before),
                ("queue_depth", 0.25, Before),
                ("cpu", 0.4, Control),
            ]),
        ];
        let found = sensitivity(&receipts);
        let names: Vec<&str> = found.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names, ["cpu", "latency_p95", "queue_depth"]);
        let latency = &found[1];
        assert_eq!((latency.deploys, latency.median_detectable), (3, 0.04));
        assert!(!latency.noisy && latency.suggestions.is_empty());
        let queue = &found[2];
        assert_eq!(queue.median_detectable, 0.25);
        assert!(queue.noisy);
        // 0.25 / 0.05 = 5: a bake 25 times as long would see the tolerance.
        assert!(
            queue.suggestions[0].contains("25 × the bake"),
            "{:?}",
            queue.suggestions
        );
        assert!(
            queue
                .suggestions
                .iter()
                .any(|s| s.contains("control group"))
        );
        // A check already on a control group is not told to use one.
        assert!(found[0].noisy);
        assert!(
            !found[0]
                .suggestions
                .iter()
                .any(|s| s.contains("control group"))
        );
    }
}
