//! The statistics the health judge stands on: summaries, the Mann–Whitney U test
//! (tie-corrected; exact for small samples without ties) and the Hodges–Lehmann shift
//! with its distribution-free confidence interval. Checked against SciPy's numbers
//! (`app/tests/data/stats_reference.json`, made by `scripts/stats-reference.py`).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

/// The exact null distribution of U is used up to this many pairs (50 × 50), when
/// there are no ties; beyond it, or with ties, the normal approximation.
pub const EXACT_MAX_PAIRS: usize = 2_500;

/// Count, mean, median and 95th percentile of one side of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub median: f64,
    pub p95: f64,
}

impl Summary {
    /// `None` for no values: an empty side has no mean to show.
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            count: values.len(),
            mean: values.iter().sum::<f64>() / values.len() as f64,
            median: quantile_sorted(&sorted, 0.5),
            p95: quantile_sorted(&sorted, 0.95),
        })
    }
}

/// The `q` quantile of sorted values, interpolated linearly between the two nearest
/// ranks (Hyndman–Fan type 7, NumPy's default). `sorted` must not be empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * weight
}

/// The median of values in any order (a copy is sorted). `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    Summary::of(values).map(|summary| summary.median)
}

/// Which way a test looks: is `x` larger than `y` (`Greater`), smaller (`Less`), or
/// different either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alternative {
    TwoSided,
    Greater,
    Less,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UMethod {
    Exact,
    Asymptotic,
}

/// The outcome of a Mann–Whitney U test of `x` against `y`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U of `x`: pairs with `x > y`, plus one half per tie.
    pub u: f64,
    pub p_value: f64,
    pub method: UMethod,
    /// The tie-corrected standard deviation of U under the null (normal approximation).
    pub sigma_u: f64,
}

/// Mann–Whitney U of `x` against `y`. `None` when a side is empty.
pub fn mann_whitney(x: &[f64], y: &[f64], alternative: Alternative) -> Option<MannWhitney> {
    let ranked = RankSums::of(x, y)?;
    let (n, m) = (x.len() as f64, y.len() as f64);
    let u1 = ranked.rank_sum_x - n * (n + 1.0) / 2.0;
    let u2 = n * m - u1;
    let (u, factor) = match alternative {
        Alternative::Greater => (u1, 1.0),
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };
    let sigma_u = ranked.sigma_u(x.len(), y.len());
    let null = NullOfU::for_samples(&ranked, x.len(), y.len());
    let (method, upper_tail) = match &null {
        NullOfU::Exact(distribution) => (UMethod::Exact, distribution.at_least(u.round() as usize)),
        NullOfU::Normal { sigma, pairs } if *sigma > 0.0 => (
            UMethod::Asymptotic,
            normal_sf((u - pairs / 2.0 - 0.5) / sigma),
        ),
        NullOfU::Normal { .. } => (UMethod::Asymptotic, 1.0),
    };
    Some(MannWhitney {
        u: u1,
        p_value: (upper_tail * factor).clamp(0.0, 1.0),
        method,
        sigma_u,
    })
}

/// The sum of `x`'s mid-ranks in the pooled sample, and the tie term Σ(t³ − t).
struct RankSums {
    rank_sum_x: f64,
    ties: f64,
}

impl RankSums {
    fn of(x: &[f64], y: &[f64]) -> Option<RankSums> {
        if x.is_empty() || y.is_empty() {
            return None;
        }
        let mut pooled: Vec<(f64, bool)> = x
            .iter()
            .map(|&value| (value, true))
            .chain(y.iter().map(|&value| (value, false)))
            .collect();
        pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut rank_sum_x, mut ties) = (0.0, 0.0);
        let mut start = 0;
        while start < pooled.len() {
            let mut end = start + 1;
            while end < pooled.len() && pooled[end].0 == pooled[start].0 {
                end += 1;
            }
            // Ranks start + 1 ..= end share their mean.
            let mid_rank = (start + 1 + end) as f64 / 2.0;
            let from_x = pooled[start..end].iter().filter(|entry| entry.1).count();
            rank_sum_x += mid_rank * from_x as f64;
            let t = (end - start) as f64;
            ties += t * t * t - t;
            start = end;
        }
        Some(RankSums { rank_sum_x, ties })
    }

    fn sigma_u(&self, n: usize, m: usize) -> f64 {
        let (n, m) = (n as f64, m as f64);
        let total = n + m;
        let variance = n * m / 12.0 * ((total + 1.0) - self.ties / (total * (total - 1.0)));
        variance.max(0.0).sqrt()
    }
}

/// The exact null distribution of U for sample sizes `n` and `m`: the number of
/// orderings giving each U, built by the recursion on which sample holds the largest
/// value. Additions only, so small tails keep their precision.
struct UDistribution {
    counts: Vec<f64>,
    total: f64,
}

impl UDistribution {
    fn new(n: usize, m: usize) -> UDistribution {
        // previous[b] holds the counts for (a - 1, b); current[b] for (a, b).
        let mut previous: Vec<Vec<f64>> = vec![vec![1.0]; m + 1];
        for _ in 1..=n {
            let mut current: Vec<Vec<f64>> = Vec::with_capacity(m + 1);
            current.push(vec![1.0]);
            for b in 1..=m {
                let len = previous[b].len() + b;
                let mut counts = vec![0.0; len];
                // The largest value is from x: it beats all b values of y.
                for (u, count) in previous[b].iter().enumerate() {
                    counts[u + b] += count;
                }
                // The largest value is from y: U is that of (a, b - 1).
                for (u, count) in current[b - 1].iter().enumerate() {
                    counts[u] += count;
                }
                current.push(counts);
            }
            previous = current;
        }
        let counts = previous.pop().unwrap_or_else(|| vec![1.0]);
        let total = counts.iter().sum();
        UDistribution { counts, total }
    }

    /// P(U ≥ u).
    fn at_least(&self, u: usize) -> f64 {
        self.counts.iter().skip(u).sum::<f64>() / self.total
    }

    /// P(U ≤ u).
    fn at_most(&self, u: usize) -> f64 {
        self.counts.iter().take(u + 1).sum::<f64>() / self.total
    }
}

/// The null distribution of U a test or interval uses: exact for small samples
/// without ties, else the tie-corrected normal with continuity correction.
enum NullOfU {
    Exact(UDistribution),
    Normal { sigma: f64, pairs: f64 },
}

impl NullOfU {
    fn for_samples(ranked: &RankSums, n: usize, m: usize) -> NullOfU {
        if ranked.ties == 0.0 && n * m <= EXACT_MAX_PAIRS {
            NullOfU::Exact(UDistribution::new(n, m))
        } else {
            NullOfU::Normal {
                sigma: ranked.sigma_u(n, m),
                pairs: (n * m) as f64,
            }
        }
    }

    /// P(U ≤ u).
    fn at_most(&self, u: usize) -> f64 {
        match self {
            NullOfU::Exact(distribution) => distribution.at_most(u),
            NullOfU::Normal { sigma, pairs } => {
                let excess = u as f64 + 0.5 - pairs / 2.0;
                if *sigma > 0.0 {
                    normal_sf(-excess / sigma)
                } else if excess < 0.0 {
                    0.0
                } else {
                    1.0
                }
            }
        }
    }
}

/// P(Z > z) for a standard normal Z, accurate far into the tail.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(z / std::f64::consts::SQRT_2)
}

/// The `p` quantile of the standard normal distribution.
pub fn normal_quantile(p: f64) -> f64 {
    match Normal::new(0.0, 1.0) {
        Ok(normal) => normal.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

/// The Hodges–Lehmann estimate of the shift of `x` against `y` (the median of all
/// differences `x_i − y_j`) and its distribution-free confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shift {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    /// The interval's level, e.g. 0.95.
    pub level: f64,
}

/// Hodges–Lehmann shift of `x` against `y` with a `level` interval: the `k`-th smallest
/// and `k`-th largest differences, `k` the largest count with P(U ≤ k − 1) ≤ (1 − level)/2
/// (exact distribution or tie-corrected normal, as the U test chooses). `None` when a
/// side is empty. Differences are never all listed: each is found by bisection over the
/// ordered bit patterns of doubles, counting with two pointers (O((n + m) · 64)).
pub fn hodges_lehmann(x: &[f64], y: &[f64], level: f64) -> Option<Shift> {
    let ranked = RankSums::of(x, y)?;
    let differences = PairwiseDifferences::new(x, y);
    let pairs = x.len() * y.len();
    let estimate = if pairs % 2 == 1 {
        differences.kth(pairs / 2 + 1)
    } else {
        (differences.kth(pairs / 2) + differences.kth(pairs / 2 + 1)) / 2.0
    };
    let tail = (1.0 - level) / 2.0;
    let half = (pairs / 2).max(1);
    let null = NullOfU::for_samples(&ranked, x.len(), y.len());
    // The largest c with P(U ≤ c − 1) ≤ tail; the cdf rises with c.
    let k = match &null {
        NullOfU::Exact(distribution) => (1..=half)
            .take_while(|&c| distribution.at_most(c - 1) <= tail)
            .last()
            .unwrap_or(1),
        NullOfU::Normal { sigma, .. } => {
            // Solve Φ((c − 0.5 − N/2) / σ) ≤ tail for c, then settle the rounding by
            // the same comparison the definition makes.
            let guess = (pairs as f64 / 2.0 + 0.5 + sigma * normal_quantile(tail)).floor();
            let mut c = (guess.max(1.0) as usize).clamp(1, half);
            while c < half && null.at_most(c) <= tail {
                c += 1;
            }
            while c > 1 && null.at_most(c - 1) > tail {
                c -= 1;
            }
            c
        }
    };
    let k = k.clamp(1, pairs);
    Some(Shift {
        estimate,
        low: differences.kth(k),
        high: differences.kth(pairs + 1 - k),
        level,
    })
}

/// The differences `x_i − y_j` of two samples, answered by rank without listing them.
struct PairwiseDifferences {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl PairwiseDifferences {
    fn new(x: &[f64], y: &[f64]) -> PairwiseDifferences {
        let mut x = x.to_vec();
        let mut y = y.to_vec();
        x.sort_by(f64::total_cmp);
        y.sort_by(f64::total_cmp);
        PairwiseDifferences { x, y }
    }

    /// How many differences are ≤ `t`, as computed in floating point.
    fn count_at_most(&self, t: f64) -> usize {
        // For a fixed x_i, x_i − y_j falls as j grows; as x_i grows, the first j with
        // x_i − y_j ≤ t moves right.
        let m = self.y.len();
        let mut first = 0;
        let mut count = 0;
        for &xi in &self.x {
            while first < m && xi - self.y[first] > t {
                first += 1;
            }
            count += m - first;
        }
        count
    }

    /// The `k`-th smallest difference (1-based).
    fn kth(&self, k: usize) -> f64 {
        let (Some(&x_min), Some(&x_max), Some(&y_min), Some(&y_max)) =
            (self.x.first(), self.x.last(), self.y.first(), self.y.last())
        else {
            return f64::NAN;
        };
        let (mut low, mut high) = (order_key(x_min - y_max), order_key(x_max - y_min));
        // The smallest key whose value has at least k differences at or below it.
        while low < high {
            let middle = low + (high - low) / 2;
            if self.count_at_most(from_order_key(middle)) >= k {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        from_order_key(low)
    }
}

/// Doubles mapped to integers in the same order (negative below positive).
fn order_key(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn from_order_key(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    struct Reference {
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        name: String,
        x: Vec<f64>,
        y: Vec<f64>,
        method: UMethod,
        u: f64,
        sigma_u: Option<f64>,
        p: BTreeMap<String, Option<f64>>,
        hl: f64,
        hl_ci_95: [f64; 2],
        summary_x: Summary,
        summary_y: Summary,
    }

    fn reference() -> Reference {
        serde_json::from_str(include_str!("../../tests/data/stats_reference.json"))
            .expect("reference vectors")
    }

    fn close(actual: f64, expected: f64, what: &str) {
        let scale = expected.abs().max(1e-300);
        assert!(
            actual == expected || ((actual - expected) / scale).abs() <= 1e-9,
            "{what}: {actual} != {expected}"
        );
    }

    #[test]
    fn u_and_p_values_match_scipy() {
        let reference = reference();
        assert!(reference.cases.len() >= 30);
        for case in &reference.cases {
            for (name, alternative) in [
                ("two-sided", Alternative::TwoSided),
                ("greater", Alternative::Greater),
                ("less", Alternative::Less),
            ] {
                let result = mann_whitney(&case.x, &case.y, alternative).expect("samples");
                close(result.u, case.u, &format!("{} U", case.name));
                assert_eq!(result.method, case.method, "{} method", case.name);
                if let Some(sigma) = case.sigma_u {
                    close(result.sigma_u, sigma, &format!("{} sigma_u", case.name));
                }
                if let Some(Some(p)) = case.p.get(name) {
                    close(result.p_value, *p, &format!("{} p ({name})", case.name));
                }
            }
        }
    }

    #[test]
    fn hodges_lehmann_shift_and_interval_match_the_reference() {
        for case in reference().cases {
            let shift = hodges_lehmann(&case.x, &case.y, 0.95).expect("samples");
            close(shift.estimate, case.hl, &format!("{} shift", case.name));
            close(shift.low, case.hl_ci_95[0], &format!("{} low", case.name));
            close(shift.high, case.hl_ci_95[1], &format!("{} high", case.name));
        }
    }

    #[test]
    fn summaries_match_numpy() {
        for case in reference().cases {
            for (values, expected) in [(&case.x, case.summary_x), (&case.y, case.summary_y)] {
                let summary = Summary::of(values).expect("values");
                assert_eq!(summary.count, expected.count);
                close(summary.mean, expected.mean, &format!("{} mean", case.name));
                close(
                    summary.median,
                    expected.median,
                    &format!("{} median", case.name),
                );
                close(summary.p95, expected.p95, &format!("{} p95", case.name));
            }
        }
    }

    #[test]
    fn empty_sides_have_no_test() {
        assert!(mann_whitney(&[], &[1.0], Alternative::TwoSided).is_none());
        assert!(hodges_lehmann(&[1.0], &[], 0.95).is_none());
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn order_keys_keep_the_order_of_doubles() {
        let values = [-1e300, -2.5, -0.0, 0.0, 1e-300, 3.0, 1e300];
        for pair in values.windows(2) {
            assert!(order_key(pair[0]) <= order_key(pair[1]));
            assert_eq!(from_order_key(order_key(pair[0])), pair[0]);
        }
    }

    #[test]
    fn the_kth_difference_is_the_one_a_full_list_gives() {
        let x = [3.0, 1.5, 8.25, 4.0, 4.0];
        let y = [2.0, 7.5, 0.5];
        let mut all: Vec<f64> = x
            .iter()
            .flat_map(|a| y.iter().map(move |b| a - b))
            .collect();
        all.sort_by(f64::total_cmp);
        let differences = PairwiseDifferences::new(&x, &y);
        for (index, expected) in all.iter().enumerate() {
            assert_eq!(differences.kth(index + 1), *expected);
        }
    }
}
