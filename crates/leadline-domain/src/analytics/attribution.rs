//! Multi-touch attribution: how much of a won deal's revenue each touch (a channel, a
//! campaign) earns under the usual models — first touch, last touch, linear,
//! position-based (40/20/40) and time decay. Credits are in integer minor units and always
//! add up to the amount exactly (largest remainder), so report totals reconcile with the
//! revenue they split; currencies are never added together.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An attribution model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Model {
    /// All credit to the first touch.
    FirstTouch,
    /// All credit to the last touch before the conversion.
    LastTouch,
    /// Equal credit to every touch.
    Linear,
    /// 40 % to the first touch, 40 % to the last, 20 % shared by those between (one touch:
    /// all of it; two: half each).
    PositionBased,
    /// Credit halves for every `half_life_days` a touch lies before the conversion.
    TimeDecay { half_life_days: f64 },
}

impl Model {
    /// Every model with its default settings (time decay: a 7-day half-life).
    pub const ALL: [Model; 5] = [
        Model::FirstTouch,
        Model::LastTouch,
        Model::Linear,
        Model::PositionBased,
        Model::TimeDecay {
            half_life_days: 7.0,
        },
    ];

    /// The model's name as reports and the API spell it.
    pub fn key(&self) -> &'static str {
        match self {
            Model::FirstTouch => "first_touch",
            Model::LastTouch => "last_touch",
            Model::Linear => "linear",
            Model::PositionBased => "position_based",
            Model::TimeDecay { .. } => "time_decay",
        }
    }

    /// Each touch's share (summing to 1) for touches at `at` (oldest first) converting at
    /// `conversion`.
    fn weights(&self, at: &[DateTime<Utc>], conversion: DateTime<Utc>) -> Vec<f64> {
        let n = at.len();
        let mut w = vec![0.0; n];
        if n == 0 {
            return w;
        }
        match *self {
            Model::FirstTouch => w[0] = 1.0,
            Model::LastTouch => w[n - 1] = 1.0,
            Model::Linear => w.iter_mut().for_each(|x| *x = 1.0 / n as f64),
            Model::PositionBased => match n {
                1 => w[0] = 1.0,
                2 => {
                    w[0] = 0.5;
                    w[1] = 0.5;
                }
                _ => {
                    w[0] = 0.4;
                    w[n - 1] = 0.4;
                    for x in &mut w[1..n - 1] {
                        *x = 0.2 / (n - 2) as f64;
                    }
                }
            },
            Model::TimeDecay { half_life_days } => {
                let half = if half_life_days.is_finite() && half_life_days > 0.0 {
                    half_life_days
                } else {
                    7.0
                };
                for (x, t) in w.iter_mut().zip(at) {
                    let days = (conversion - *t).num_seconds().max(0) as f64 / 86_400.0;
                    *x = 0.5f64.powf(days / half);
                }
                let sum: f64 = w.iter().sum();
                if sum > 0.0 && sum.is_finite() {
                    w.iter_mut().for_each(|x| *x /= sum);
                } else {
                    w.iter_mut().for_each(|x| *x = 1.0 / n as f64);
                }
            }
        }
        w
    }
}

/// Splits `amount` (minor units, ≥ 0) by `weights` so the parts add up to it exactly: each
/// part rounded down, the rest given one unit at a time to the largest remainders (ties to
/// the earlier touch).
fn split(amount: i64, weights: &[f64]) -> Vec<i64> {
    let amount = amount.max(0);
    let exact: Vec<f64> = weights.iter().map(|w| w * amount as f64).collect();
    let mut parts: Vec<i64> = exact.iter().map(|x| x.floor() as i64).collect();
    let mut left = amount - parts.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.partial_cmp(&ra)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    for &i in order.iter().cycle().take(parts.len() * 2) {
        if left <= 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

/// One touch of a journey: what it is credited to (a channel, a campaign) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch<K> {
    pub key: K,
    pub at: DateTime<Utc>,
}

/// A won deal and the touches of the lead behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey<K> {
    pub touches: Vec<Touch<K>>,
    pub converted_at: DateTime<Utc>,
    /// Revenue in minor units of `currency`.
    pub amount: i64,
    pub currency: String,
}

/// Each touch's credit in minor units, in the order of `j.touches`. Touches after the
/// conversion earn nothing; a journey with no touch before it credits nothing.
pub fn credit<K>(model: Model, j: &Journey<K>) -> Vec<i64> {
    let mut idx: Vec<usize> = (0..j.touches.len())
        .filter(|&i| j.touches[i].at <= j.converted_at)
        .collect();
    idx.sort_by_key(|&i| (j.touches[i].at, i));
    let at: Vec<DateTime<Utc>> = idx.iter().map(|&i| j.touches[i].at).collect();
    let parts = split(j.amount, &model.weights(&at, j.converted_at));
    let mut out = vec![0; j.touches.len()];
    for (k, &i) in idx.iter().enumerate() {
        out[i] = parts[k];
    }
    out
}

/// Revenue credited per (currency, key) over many journeys. Journeys without touches are
/// counted under `unattributed` so the totals still equal the revenue.
pub fn attribute<K: Ord + Clone>(
    model: Model,
    journeys: &[Journey<K>],
    unattributed: K,
) -> BTreeMap<(String, K), i64> {
    let mut out = BTreeMap::new();
    for j in journeys {
        let parts = credit(model, j);
        if parts.iter().all(|p| *p == 0) && j.amount > 0 {
            *out.entry((j.currency.clone(), unattributed.clone()))
                .or_insert(0) += j.amount;
            continue;
        }
        for (t, p) in j.touches.iter().zip(parts) {
            if p != 0 {
                *out.entry((j.currency.clone(), t.key.clone())).or_insert(0) += p;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(d: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + d * 86_400, 0).unwrap()
    }

    fn journey(keys: &[(&'static str, i64)], won: i64, amount: i64) -> Journey<&'static str> {
        Journey {
            touches: keys
                .iter()
                .map(|(k, d)| Touch {
                    key: *k,
                    at: day(*d),
                })
                .collect(),
            converted_at: day(won),
            amount,
            currency: "EUR".into(),
        }
    }

    #[test]
    fn hand_computed_credits() {
        // Touches on days 0 (ads), 10 (email), 20 (webinar), 27 (email); won on day 28
        // for 1,000.00 EUR.
        let j = journey(
            &[("ads", 0), ("email", 10), ("webinar", 20), ("email", 27)],
            28,
            100_000,
        );
        assert_eq!(credit(Model::FirstTouch, &j), [100_000, 0, 0, 0]);
        assert_eq!(credit(Model::LastTouch, &j), [0, 0, 0, 100_000]);
        assert_eq!(credit(Model::Linear, &j), [25_000, 25_000, 25_000, 25_000]);
        assert_eq!(
            credit(Model::PositionBased, &j),
            [40_000, 10_000, 10_000, 40_000]
        );
        // Half-life 7 days: weights 2^-4, 2^-(18/7), 2^-(8/7), 2^-(1/7).
        let w = [
            0.5f64.powf(28.0 / 7.0),
            0.5f64.powf(18.0 / 7.0),
            0.5f64.powf(8.0 / 7.0),
            0.5f64.powf(1.0 / 7.0),
        ];
        let sum: f64 = w.iter().sum();
        let expect: Vec<i64> = w
            .iter()
            .map(|x| (x / sum * 100_000.0).round() as i64)
            .collect();
        let got = credit(
            Model::TimeDecay {
                half_life_days: 7.0,
            },
            &j,
        );
        for (g, e) in got.iter().zip(&expect) {
            assert!((g - e).abs() <= 1, "{got:?} vs {expect:?}");
        }
        assert_eq!(got.iter().sum::<i64>(), 100_000);
        let by_key = attribute(Model::PositionBased, &[j], "none");
        assert_eq!(by_key[&("EUR".into(), "email")], 50_000);
        assert_eq!(by_key[&("EUR".into(), "ads")], 40_000);
    }

    #[test]
    fn edge_cases_are_defined() {
        // One touch, two touches, touches after the win, none at all, odd cents.
        let one = journey(&[("ads", 0)], 5, 999);
        assert_eq!(credit(Model::PositionBased, &one), [999]);
        let two = journey(&[("ads", 0), ("email", 1)], 5, 1001);
        assert_eq!(credit(Model::PositionBased, &two), [501, 500]);
        let late = journey(&[("ads", 0), ("email", 9)], 5, 100);
        assert_eq!(credit(Model::LastTouch, &late), [100, 0]);
        let none = journey(&[], 5, 100);
        let totals = attribute(
            Model::Linear,
            &[none, journey(&[("ads", 9)], 5, 50)],
            "unattributed",
        );
        assert_eq!(totals[&("EUR".into(), "unattributed")], 150);
        let three = journey(&[("a", 0), ("b", 1), ("c", 2)], 3, 100);
        assert_eq!(credit(Model::Linear, &three), [34, 33, 33]);
        // Touches given out of order are credited by time.
        let shuffled = journey(&[("email", 3), ("ads", 1)], 5, 10);
        assert_eq!(credit(Model::FirstTouch, &shuffled), [0, 10]);
    }

    #[test]
    fn currencies_are_never_added() {
        let mut usd = journey(&[("ads", 0)], 1, 500);
        usd.currency = "USD".into();
        let totals = attribute(
            Model::Linear,
            &[usd, journey(&[("ads", 0)], 1, 700)],
            "none",
        );
        assert_eq!(totals[&("USD".into(), "ads")], 500);
        assert_eq!(totals[&("EUR".into(), "ads")], 700);
    }

    proptest! {
        #[test]
        fn credits_add_up_exactly_and_are_never_negative(
            days in proptest::collection::vec(0i64..60, 0..12),
            won in 0i64..70,
            amount in 0i64..10_000_000,
            half in 0.1f64..60.0,
        ) {
            let touches: Vec<(&'static str, i64)> = days.iter().map(|d| ("k", *d)).collect();
            let j = journey(&touches, won, amount);
            let counted = days.iter().any(|d| *d <= won);
            for m in [Model::FirstTouch, Model::LastTouch, Model::Linear, Model::PositionBased,
                      Model::TimeDecay { half_life_days: half }] {
                let c = credit(m, &j);
                prop_assert!(c.iter().all(|x| *x >= 0));
                prop_assert_eq!(c.iter().sum::<i64>(), if counted { amount } else { 0 });
                let totals = attribute(m, std::slice::from_ref(&j), "none");
                prop_assert_eq!(totals.values().sum::<i64>(), amount);
            }
        }
    }
}
