//! How well a score separates leads that converted from leads that did not: AUC, lift by
//! decile, and what a qualification threshold would have done.

use serde::Serialize;

/// Area under the ROC curve: the chance that a random converted lead scores above a random
/// lost one (ties count half). `None` without both kinds of lead.
pub fn auc(scored: &[(f64, bool)]) -> Option<f64> {
    let pos = scored.iter().filter(|(_, y)| *y).count();
    let neg = scored.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut v: Vec<(f64, bool)> = scored.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mann–Whitney U from average ranks over tied groups.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum_pos += avg_rank * v[i..j].iter().filter(|(_, y)| *y).count() as f64;
        i = j;
    }
    let u = rank_sum_pos - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos as f64 * neg as f64))
}

/// One tenth of the leads, by score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Decile {
    /// 1 holds the best-scored tenth.
    pub decile: usize,
    pub leads: usize,
    pub converted: usize,
    /// Conversion rate in this tenth.
    pub rate: f64,
    /// The rate against the overall rate (above 1: better than average).
    pub lift: f64,
    /// Lowest score in this tenth.
    pub min_score: f64,
}

/// Conversion and lift by decile of score, best first.
pub fn deciles(scored: &[(f64, bool)]) -> Vec<Decile> {
    if scored.is_empty() {
        return Vec::new();
    }
    let mut v: Vec<(f64, bool)> = scored.to_vec();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    let overall = v.iter().filter(|(_, y)| *y).count() as f64 / v.len() as f64;
    let n = v.len();
    (0..10)
        .filter_map(|d| {
            let (from, to) = (d * n / 10, (d + 1) * n / 10);
            let part = &v[from..to];
            if part.is_empty() {
                return None;
            }
            let converted = part.iter().filter(|(_, y)| *y).count();
            let rate = converted as f64 / part.len() as f64;
            Some(Decile {
                decile: d + 1,
                leads: part.len(),
                converted,
                rate,
                lift: if overall > 0.0 { rate / overall } else { 0.0 },
                min_score: part.last().map_or(0.0, |p| p.0),
            })
        })
        .collect()
}

/// What a threshold would have done on history.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ThresholdOutcome {
    /// Share of the leads it would have qualified.
    pub qualified_rate: f64,
    /// Conversion rate among those.
    pub qualified_conversion: f64,
    /// Conversion rate among the others.
    pub unqualified_conversion: f64,
    /// Share of all conversions the qualified leads hold (recall).
    pub conversions_captured: f64,
}

/// The effect of qualifying the leads for which `qualifies` is true.
pub fn threshold(outcomes: &[(bool, bool)]) -> ThresholdOutcome {
    let n = outcomes.len().max(1) as f64;
    let q: Vec<&(bool, bool)> = outcomes.iter().filter(|(q, _)| *q).collect();
    let u: Vec<&(bool, bool)> = outcomes.iter().filter(|(q, _)| !*q).collect();
    let rate = |xs: &[&(bool, bool)]| {
        if xs.is_empty() {
            0.0
        } else {
            xs.iter().filter(|(_, y)| *y).count() as f64 / xs.len() as f64
        }
    };
    let all_conv = outcomes.iter().filter(|(_, y)| *y).count();
    let q_conv = q.iter().filter(|(_, y)| *y).count();
    ThresholdOutcome {
        qualified_rate: q.len() as f64 / n,
        qualified_conversion: rate(&q),
        unqualified_conversion: rate(&u),
        conversions_captured: if all_conv == 0 {
            0.0
        } else {
            q_conv as f64 / all_conv as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auc_by_hand() {
        // Positives 3 and 4, negatives 1, 2 and 3: pairs (pos, neg) where pos wins:
        // 3>1, 3>2, 3=3 (half), 4>1, 4>2, 4>3 → 5.5 of 6.
        let s = [
            (1.0, false),
            (2.0, false),
            (3.0, false),
            (3.0, true),
            (4.0, true),
        ];
        assert!((auc(&s).unwrap() - 5.5 / 6.0).abs() < 1e-12);
        assert_eq!(auc(&[(1.0, true)]), None);
        let perfect = [(1.0, false), (2.0, true)];
        assert_eq!(auc(&perfect), Some(1.0));
    }

    #[test]
    fn deciles_and_thresholds() {
        let s: Vec<(f64, bool)> = (0..100).map(|i| (i as f64, i >= 80)).collect();
        let d = deciles(&s);
        assert_eq!(d.len(), 10);
        assert_eq!(d[0].converted, 10);
        assert!((d[0].lift - 5.0).abs() < 1e-9);
        assert_eq!(d[9].converted, 0);
        let t = threshold(&s.iter().map(|(x, y)| (*x >= 90.0, *y)).collect::<Vec<_>>());
        assert!((t.qualified_rate - 0.1).abs() < 1e-9);
        assert!((t.qualified_conversion - 1.0).abs() < 1e-9);
        assert!((t.conversions_captured - 0.5).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn auc_is_a_probability_and_flips(xs in proptest::collection::vec((0.0f64..100.0, any::<bool>()), 2..60)) {
            if let Some(a) = auc(&xs) {
                prop_assert!((0.0..=1.0).contains(&a));
                let flipped: Vec<(f64, bool)> = xs.iter().map(|(x, y)| (-x, *y)).collect();
                prop_assert!((auc(&flipped).unwrap() - (1.0 - a)).abs() < 1e-9);
            }
        }
    }
}
