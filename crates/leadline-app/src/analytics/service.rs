//! How leads were served: time to first touch and SLA compliance by group, time in each
//! stage, and the aging of open leads.

use super::{Column, ColumnKind, Report, Resolved, avg_value, rate_value, row};
use crate::App;
use crate::error::AppResult;
use leadline_domain::Principal;
use leadline_domain::Stage;
use leadline_domain::analytics::kpi::rate;
use leadline_store::analytics as store;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

impl App {
    /// Time to first touch and SLA compliance by group.
    pub(super) async fn response_report(&self, r: &Resolved) -> AppResult<Report> {
        let dim = r.dimension();
        let key_col = r.by_name();
        let counts = {
            let mut c = self.db.acquire().await?;
            store::response_counts(c.conn(), dim, &r.scope).await?
        };
        let names = self.report_names().await?;
        let mut groups: BTreeMap<String, [i64; 5]> = BTreeMap::new();
        let mut all = [0i64; 5];
        for c in counts {
            let v = [c.clocks, c.touched, c.touch_minutes, c.met, c.breached];
            let g = groups.entry(names.label(dim, &c.key)).or_default();
            for i in 0..5 {
                g[i] += v[i];
                all[i] += v[i];
            }
        }
        let make = |key: String, v: [i64; 5]| -> Map<String, Value> {
            let mut m = row([
                ("clocks", v[0].into()),
                ("touched", v[1].into()),
                ("avg_minutes_to_touch", avg_value(v[2] as f64, v[1])),
                ("met", v[3].into()),
                ("breached", v[4].into()),
                ("compliance", rate_value(rate(v[3], v[3] + v[4]))),
            ]);
            m.insert(key_col.clone(), key.into());
            m
        };
        let mut rep = r.report(
            "Time to first touch and SLA",
            "For leads created in the period whose first-touch clock had started: how many were \
             touched, the average minutes from the clock's start to the touch, how many were \
             touched by the deadline (met) and how many passed it untouched or were touched \
             late (breached). Compliance is met / (met + breached); clocks still running count \
             in neither.",
            vec![
                Column::new(&key_col, &key_col, ColumnKind::Text),
                Column::new("clocks", "clocks started", ColumnKind::Count),
                Column::new("touched", "touched", ColumnKind::Count),
                Column::new(
                    "avg_minutes_to_touch",
                    "average minutes to touch",
                    ColumnKind::Minutes,
                ),
                Column::new("met", "met", ColumnKind::Count),
                Column::new("breached", "breached", ColumnKind::Count),
                Column::new("compliance", "SLA compliance", ColumnKind::Rate),
            ],
        );
        rep.rows = groups.into_iter().map(|(k, v)| make(k, v)).collect();
        rep.total = Some(make("total".into(), all));
        Ok(rep)
    }

    /// Average time in each stage.
    pub(super) async fn stages_report(&self, r: &Resolved) -> AppResult<Report> {
        let times = {
            let mut c = self.db.acquire().await?;
            store::stage_times(c.conn(), &r.scope).await?
        };
        let day = 86_400.0;
        let mut rep = r.report(
            "Time in stage",
            "For leads created in the period, each stay in a stage up to the report's moment: \
             stays that ended and their average length, and leads still in the stage with the \
             average time they have spent there so far (not shown for final stages).",
            vec![
                Column::new("stage", "stage", ColumnKind::Text),
                Column::new("ended", "stays ended", ColumnKind::Count),
                Column::new("avg_days", "average days (ended)", ColumnKind::Days),
                Column::new("current", "in the stage now", ColumnKind::Count),
                Column::new("avg_days_so_far", "average days so far", ColumnKind::Days),
            ],
        );
        let order = |s: &str| {
            Stage::ALL
                .iter()
                .position(|x| x.as_str() == s)
                .unwrap_or(usize::MAX)
        };
        let mut times = times;
        times.sort_by_key(|t| order(&t.stage));
        for t in times {
            let terminal = matches!(t.stage.as_str(), "converted" | "disqualified");
            let (current, so_far) = if terminal {
                (Value::Null, Value::Null)
            } else {
                (
                    t.current.into(),
                    avg_value(t.current_seconds as f64 / day, t.current),
                )
            };
            rep.rows.push(row([
                ("stage", t.stage.clone().into()),
                ("ended", t.ended.into()),
                ("avg_days", avg_value(t.ended_seconds as f64 / day, t.ended)),
                ("current", current),
                ("avg_days_so_far", so_far),
            ]));
        }
        Ok(rep)
    }

    /// The aging report (open and closed leads by stage and owner, by days since their
    /// last activity) as a report table.
    pub(super) async fn aging_table(&self, by: &Principal, r: &Resolved) -> AppResult<Report> {
        if r.scope.past {
            self.remember_aging_zone(r.tz).await?;
        }
        let a = self
            .aging_report_at(by, r.scope.past.then_some(r.as_of))
            .await?;
        let mut cols = vec![
            Column::new("stage", "stage", ColumnKind::Text),
            Column::new("owner", "owner", ColumnKind::Text),
            Column::new("leads", "leads", ColumnKind::Count),
            Column::new("stale", "stale", ColumnKind::Count),
        ];
        for (i, b) in a.buckets.iter().enumerate() {
            cols.push(Column::new(&format!("age_{i}"), b, ColumnKind::Count));
        }
        let mut rep = r.report(
            "Aging",
            "Leads (all of them, not only those created in a period) by stage and owner at the \
             report's moment, by days since their last activity (or creation), and how many \
             open ones were stale under the qualification settings.",
            cols,
        );
        for x in a.rows {
            let mut m = row([
                ("stage", x.stage.as_str().into()),
                (
                    "owner",
                    x.owner_name
                        .clone()
                        .unwrap_or_else(|| {
                            if x.owner_id.is_some() {
                                "(deleted user)"
                            } else {
                                "(unassigned)"
                            }
                            .into()
                        })
                        .into(),
                ),
                ("leads", x.leads.into()),
                ("stale", x.stale.into()),
            ]);
            for (i, n) in x.by_age.iter().enumerate() {
                m.insert(format!("age_{i}"), (*n).into());
            }
            rep.rows.push(m);
        }
        Ok(rep)
    }
}
