//! Key figures as pure functions with defined results at the edges: a rate over nothing is
//! `None` (shown as "—"), never NaN; money is summed per currency by the caller.

use serde::Serialize;

/// `numerator / denominator`, or `None` when there is nothing to divide by.
pub fn rate(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// The steps of the lead funnel, in order: `converted` is the hand-over to a contact (and
/// usually an opportunity), `won` a won deal or a historical outcome marked won.
pub const FUNNEL: [&str; 6] = ["lead", "mql", "sal", "sql", "converted", "won"];

/// How far a lead got: the index in [`FUNNEL`] of the furthest step it reached (a lead
/// that skipped a step — imported as SQL, converted straight from MQL — counts as having
/// passed the steps before it).
pub fn furthest_step(reached: &[&str]) -> usize {
    reached
        .iter()
        .filter_map(|s| FUNNEL.iter().position(|f| f == s))
        .max()
        .unwrap_or(0)
}

/// One funnel step: leads that reached it, and the share of the previous step's that did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FunnelStep {
    pub step: String,
    pub leads: i64,
    /// Of the previous step's leads; `None` for the first step or an empty previous step.
    pub from_previous: Option<f64>,
    /// Of all leads; `None` when there are no leads.
    pub from_start: Option<f64>,
}

/// How many leads stopped at each funnel step, from each lead's furthest step.
pub fn furthest_counts(furthest: impl IntoIterator<Item = usize>) -> [i64; FUNNEL.len()] {
    let mut at = [0i64; FUNNEL.len()];
    for f in furthest {
        at[f.min(FUNNEL.len() - 1)] += 1;
    }
    at
}

/// The funnel from how many leads stopped at each step.
pub fn funnel(at: [i64; FUNNEL.len()]) -> Vec<FunnelStep> {
    // Reached step i = stopped at i or beyond.
    let mut reached = [0i64; FUNNEL.len()];
    let mut running = 0;
    for i in (0..FUNNEL.len()).rev() {
        running += at[i];
        reached[i] = running;
    }
    FUNNEL
        .iter()
        .enumerate()
        .map(|(i, s)| FunnelStep {
            step: (*s).into(),
            leads: reached[i],
            from_previous: if i == 0 {
                None
            } else {
                rate(reached[i], reached[i - 1])
            },
            from_start: rate(reached[i], reached[0]),
        })
        .collect()
}

/// Lead velocity rate: month-over-month growth of qualified leads, `(this - last) / last`;
/// `None` when last month had none.
pub fn lead_velocity_rate(this_month: i64, last_month: i64) -> Option<f64> {
    rate(this_month - last_month, last_month)
}

/// Win rate: won / (won + lost); open deals do not count.
pub fn win_rate(won: i64, lost: i64) -> Option<f64> {
    rate(won, won + lost)
}

/// Mean absolute percentage error of forecasts against actuals, over the periods whose
/// actual is not zero (a percentage of nothing is undefined); `None` when there are none.
pub fn mape(pairs: &[(f64, f64)]) -> Option<f64> {
    let errs: Vec<f64> = pairs
        .iter()
        .filter(|(_, a)| *a != 0.0 && a.is_finite())
        .filter(|(f, _)| f.is_finite())
        .map(|(f, a)| ((a - f) / a).abs())
        .collect();
    (!errs.is_empty()).then(|| errs.iter().sum::<f64>() / errs.len() as f64)
}

/// Weighted pipeline: Σ amount × probability (0–100 %), in minor units, rounded.
pub fn weighted_pipeline(deals: &[(i64, u8)]) -> i64 {
    deals
        .iter()
        .map(|(amount, p)| (*amount as i128 * i128::from((*p).min(100)) + 50) / 100)
        .sum::<i128>()
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The median of some values (`None` when there are none): sales cycle lengths, time to
/// first touch.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_funnel() {
        // 10 leads: 4 stopped as leads, 3 at MQL, 1 at SQL (skipped SAL), 1 converted, 1 won.
        let furthest = [0, 0, 0, 0, 1, 1, 1, 3, 4, 5];
        let f = funnel(furthest_counts(furthest));
        let leads: Vec<i64> = f.iter().map(|s| s.leads).collect();
        assert_eq!(leads, [10, 6, 3, 3, 2, 1]);
        assert_eq!(f[1].from_previous, Some(0.6));
        assert_eq!(f[2].from_previous, Some(0.5));
        assert_eq!(f[5].from_start, Some(0.1));
        assert_eq!(f[0].from_previous, None);
        assert_eq!(furthest_step(&["lead", "sql", "mql"]), 3);
        assert_eq!(furthest_step(&["nurture"]), 0);
    }

    #[test]
    fn empty_periods_and_zero_bases_are_none_not_nan() {
        let f = funnel(furthest_counts([]));
        assert!(f.iter().all(|s| s.leads == 0 && s.from_start.is_none()));
        assert_eq!(lead_velocity_rate(12, 0), None);
        assert_eq!(lead_velocity_rate(12, 10), Some(0.2));
        assert_eq!(lead_velocity_rate(8, 10), Some(-0.2));
        assert_eq!(win_rate(0, 0), None);
        assert_eq!(win_rate(1, 3), Some(0.25));
        assert_eq!(mape(&[(10.0, 0.0)]), None);
        let m = mape(&[(90.0, 100.0), (120.0, 100.0), (5.0, 0.0)]).unwrap();
        assert!((m - 0.15).abs() < 1e-12, "{m}");
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert_eq!(
            weighted_pipeline(&[(10_000, 25), (333, 50), (1_000, 150)]),
            2_500 + 167 + 1_000
        );
    }

    proptest! {
        #[test]
        fn funnel_steps_never_grow_and_shares_stay_in_range(furthest in proptest::collection::vec(0usize..6, 0..200)) {
            let f = funnel(furthest_counts(furthest.iter().copied()));
            prop_assert_eq!(f[0].leads, furthest.len() as i64);
            for w in f.windows(2) {
                prop_assert!(w[1].leads <= w[0].leads);
            }
            for s in &f {
                for r in [s.from_previous, s.from_start].into_iter().flatten() {
                    prop_assert!((0.0..=1.0).contains(&r));
                }
            }
        }
    }
}
