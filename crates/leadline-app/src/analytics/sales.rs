//! Sales reports: pipeline, won and lost deals, win rate, deal size and cycle length per
//! group and currency (by owner: the leaderboard); the forecast by expected close month.

use super::{Column, ColumnKind, Names, Report, Resolved, avg_value, rate_value, row};
use crate::App;
use crate::error::AppResult;
use chrono::{Datelike, NaiveDate};
use leadline_domain::analytics::kpi::{mape, win_rate};
use leadline_domain::analytics::period::{Period, day_start, local_day};
use leadline_domain::time::{from_micros, to_micros};
use leadline_store::analytics::{self as store, DealDimension, Dimension};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

fn deal_dimension(by: Option<&str>) -> (DealDimension, Dimension) {
    match by {
        Some("owner") => (DealDimension::Owner, Dimension::Owner),
        Some("source") => (DealDimension::Source, Dimension::Source),
        Some("campaign") => (DealDimension::Campaign, Dimension::Campaign),
        Some("channel") => (DealDimension::Channel, Dimension::Channel),
        Some("team") => (DealDimension::Team, Dimension::Team),
        _ => (DealDimension::All, Dimension::All),
    }
}

/// Summable deal figures.
#[derive(Default, Clone, Copy)]
struct D {
    open: i64,
    pipeline: i64,
    weighted: i64,
    won: i64,
    won_amount: i64,
    lost: i64,
    cycles: i64,
    cycle_seconds: i64,
}

impl App {
    /// Configured stage probabilities.
    async fn stage_probabilities(&self) -> AppResult<Vec<(String, u8)>> {
        Ok(self
            .pipeline()
            .await?
            .stages
            .into_iter()
            .map(|s| (s.key, s.probability))
            .collect())
    }

    /// Deals by group and currency; by owner it is the leaderboard (most won first).
    pub(super) async fn sales_report(&self, r: &Resolved) -> AppResult<Report> {
        let (ddim, dim) = deal_dimension(r.by);
        let key_col = r.by_name();
        let probabilities = self.stage_probabilities().await?;
        let counts = {
            let mut c = self.db.acquire().await?;
            store::deal_counts(c.conn(), ddim, &r.scope, &probabilities).await?
        };
        let names: Names = self.report_names().await?;
        let mut groups: BTreeMap<(String, String), D> = BTreeMap::new();
        for c in counts {
            let g = groups
                .entry((c.currency.clone(), names.label(dim, &c.key)))
                .or_default();
            g.open += c.open;
            g.pipeline += c.pipeline;
            g.weighted += c.weighted;
            g.won += c.won;
            g.won_amount += c.won_amount;
            g.lost += c.lost;
            g.cycles += c.cycles;
            g.cycle_seconds += c.cycle_seconds;
        }
        let mut rows: Vec<((String, String), D)> = groups.into_iter().collect();
        // Leaderboard order: per currency, most won revenue first.
        rows.sort_by(|a, b| {
            (&a.0.0, std::cmp::Reverse(a.1.won_amount), &a.0.1).cmp(&(
                &b.0.0,
                std::cmp::Reverse(b.1.won_amount),
                &b.0.1,
            ))
        });
        let mut rep = r.report(
            "Sales and leaderboard",
            "Per group and currency (amounts are never added across currencies): deals open at \
             the report's moment with their value and weighted value (amount × stage \
             probability), deals won and lost in the period, win rate won / (won + lost), \
             average won deal size, and the average days from lead creation to the win. By \
             owner, rows are ranked by won revenue.",
            vec![
                Column::new(&key_col, &key_col, ColumnKind::Text),
                Column::new("currency", "currency", ColumnKind::Text),
                Column::new("open", "open deals", ColumnKind::Count),
                Column::new("pipeline", "pipeline", ColumnKind::Money),
                Column::new("weighted", "weighted pipeline", ColumnKind::Money),
                Column::new("won", "won", ColumnKind::Count),
                Column::new("lost", "lost", ColumnKind::Count),
                Column::new("win_rate", "win rate", ColumnKind::Rate),
                Column::new("won_amount", "won revenue", ColumnKind::Money),
                Column::new("avg_deal_size", "average deal size", ColumnKind::Money),
                Column::new("avg_cycle_days", "sales cycle (days)", ColumnKind::Days),
            ],
        );
        for ((currency, key), d) in rows {
            let mut m = row([
                ("currency", currency.into()),
                ("open", d.open.into()),
                ("pipeline", d.pipeline.into()),
                ("weighted", d.weighted.into()),
                ("won", d.won.into()),
                ("lost", d.lost.into()),
                ("win_rate", rate_value(win_rate(d.won, d.lost))),
                ("won_amount", d.won_amount.into()),
                (
                    "avg_deal_size",
                    if d.won > 0 {
                        (d.won_amount / d.won).into()
                    } else {
                        Value::Null
                    },
                ),
                (
                    "avg_cycle_days",
                    avg_value(d.cycle_seconds as f64 / 86_400.0, d.cycles),
                ),
            ]);
            m.insert(key_col.clone(), key.into());
            rep.rows.push(m);
        }
        Ok(rep)
    }

    /// Open deals by expected close month with their weighted and historical forecasts; past
    /// months compare what was forecast at their start with what was won.
    pub(super) async fn forecast_report(&self, r: &Resolved) -> AppResult<Report> {
        let probabilities: HashMap<String, u8> =
            self.stage_probabilities().await?.into_iter().collect();
        let mut c = self.db.acquire().await?;
        let learned: HashMap<String, f64> = store::stage_outcomes(c.conn(), r.scope.as_of)
            .await?
            .into_iter()
            .filter(|(_, n, _)| *n > 0)
            .map(|(s, n, w)| (s, w as f64 / n as f64))
            .collect();
        let this_month = Period::Month.start(local_day(r.as_of, r.tz));
        let first = r
            .from
            .map(|d| Period::Month.start(d))
            .unwrap_or_else(|| this_month - chrono::Months::new(6));
        let last_default = this_month + chrono::Months::new(12);
        let last = r.to.map(|d| Period::Month.start(d)).unwrap_or(last_default);
        let month_key = |d: NaiveDate| format!("{:04}-{:02}", d.year(), d.month());
        // (month, currency) → [deals, amount, weighted, historical, won_deals, won_amount]
        let mut cells: BTreeMap<(String, String), [f64; 6]> = BTreeMap::new();
        let add_open = |cells: &mut BTreeMap<(String, String), [f64; 6]>, d: &store::OpenDeals| {
            let p = f64::from(probabilities.get(&d.stage).copied().unwrap_or(0)) / 100.0;
            let h = learned.get(&d.stage).copied().unwrap_or(p);
            let e = cells
                .entry((d.month.clone(), d.currency.clone()))
                .or_default();
            e[0] += d.deals as f64;
            e[1] += d.amount as f64;
            e[2] += d.amount as f64 * p;
            e[3] += d.amount as f64 * h;
        };
        // Months before this one: the forecast made at each month's start.
        let mut m = first;
        while m < this_month && m <= last {
            let at = day_start(m, r.tz);
            let key = month_key(m);
            for d in store::open_deals(c.conn(), to_micros(at)).await? {
                if d.month == key {
                    add_open(&mut cells, &d);
                }
            }
            m = Period::Month.next(m);
        }
        // This month on: the deals open now.
        for d in store::open_deals(c.conn(), r.scope.as_of).await? {
            let in_range = d.month.is_empty()
                || (d.month >= month_key(this_month) && d.month <= month_key(last));
            if in_range {
                add_open(&mut cells, &d);
            }
        }
        let won = store::won_by_month(
            c.conn(),
            to_micros(day_start(first, r.tz)),
            r.scope
                .as_of
                .min(to_micros(day_start(Period::Month.next(last), r.tz))),
            r.scope.bucket,
        )
        .await?;
        drop(c);
        for (bucket, currency, n, amount) in won {
            let day = local_day(from_micros(bucket * r.scope.bucket), r.tz);
            let e = cells.entry((month_key(day), currency)).or_default();
            e[4] += n as f64;
            e[5] += amount as f64;
        }
        let mut rep = r.report(
            "Forecast",
            "Deals by expected close month and currency. From this month on: the deals open now, \
             their weighted value (amount × the stage's configured probability) and historical \
             value (amount × the share of past closed deals that passed through the same stage \
             and were won). Earlier months: the same figures for the deals that were open at the \
             month's start and expected to close in it, next to what was actually won in the \
             month. The total row's error columns are the mean absolute percentage error (MAPE) \
             of each forecast over past months with revenue.",
            vec![
                Column::new("month", "close month", ColumnKind::Text),
                Column::new("currency", "currency", ColumnKind::Text),
                Column::new("deals", "open deals", ColumnKind::Count),
                Column::new("pipeline", "pipeline", ColumnKind::Money),
                Column::new("weighted", "weighted forecast", ColumnKind::Money),
                Column::new("historical", "historical forecast", ColumnKind::Money),
                Column::new("won_deals", "won deals", ColumnKind::Count),
                Column::new("won_amount", "won revenue", ColumnKind::Money),
                Column::new(
                    "weighted_error",
                    "weighted forecast error (MAPE)",
                    ColumnKind::Rate,
                ),
                Column::new(
                    "historical_error",
                    "historical forecast error (MAPE)",
                    ColumnKind::Rate,
                ),
            ],
        );
        let this_key = month_key(this_month);
        let mut pairs_w = Vec::new();
        let mut pairs_h = Vec::new();
        let currencies: BTreeSet<&String> = cells.keys().map(|(_, c)| c).collect();
        let one_currency = currencies.len() <= 1;
        for ((month, currency), e) in &cells {
            let past = !month.is_empty() && *month < this_key;
            if past && e[5] > 0.0 {
                pairs_w.push((e[2], e[5]));
                pairs_h.push((e[3], e[5]));
            }
            let error = |f: f64| -> Value {
                if past {
                    rate_value(mape(&[(f, e[5])]))
                } else {
                    Value::Null
                }
            };
            rep.rows.push(row([
                (
                    "month",
                    if month.is_empty() {
                        "(no close date)".into()
                    } else {
                        month.clone().into()
                    },
                ),
                ("currency", currency.clone().into()),
                ("deals", (e[0] as i64).into()),
                ("pipeline", (e[1].round() as i64).into()),
                ("weighted", (e[2].round() as i64).into()),
                ("historical", (e[3].round() as i64).into()),
                (
                    "won_deals",
                    if past || *month == this_key {
                        (e[4] as i64).into()
                    } else {
                        Value::Null
                    },
                ),
                (
                    "won_amount",
                    if past || *month == this_key {
                        (e[5] as i64).into()
                    } else {
                        Value::Null
                    },
                ),
                ("weighted_error", error(e[2])),
                ("historical_error", error(e[3])),
            ]));
        }
        if !one_currency {
            rep.notes.push(
                "Several currencies: the forecast error is computed over each (month, currency) \
                 row; amounts are never added across currencies."
                    .into(),
            );
        }
        if learned.is_empty() {
            rep.notes.push(
                "No closed deals yet: the historical forecast falls back to the configured stage \
                 probabilities."
                    .into(),
            );
        }
        rep.total = Some(row([
            ("month", "forecast error".into()),
            ("weighted_error", rate_value(mape(&pairs_w))),
            ("historical_error", rate_value(mape(&pairs_h))),
        ]));
        Ok(rep)
    }
}
