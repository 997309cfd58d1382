//! Reports on how far leads got: the funnel by group, leads by period, cohorts by
//! creation period, and lead velocity (qualified leads month over month).

use super::{Column, ColumnKind, Report, Resolved, rate_value, row};
use crate::App;
use crate::error::AppResult;
use leadline_domain::analytics::kpi::{FUNNEL, funnel, lead_velocity_rate};
use leadline_domain::analytics::period::day_start;
use leadline_domain::time::to_micros;
use leadline_store::analytics::{self as store, Dimension, GroupKey};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The funnel columns after the key: leads reaching each step, then step-to-step rates.
fn funnel_columns(key: &str) -> Vec<Column> {
    let mut c = vec![Column::new(key, key, ColumnKind::Text)];
    for s in FUNNEL {
        let label = if s == "lead" { "leads" } else { s };
        c.push(Column::leads(label, label, s));
    }
    c.push(Column::new(
        "conversion_rate",
        "lead → converted",
        ColumnKind::Rate,
    ));
    for s in &FUNNEL[1..] {
        c.push(Column::new(
            &format!("{s}_rate"),
            &format!("→ {s}"),
            ColumnKind::Rate,
        ));
    }
    c
}

/// A funnel row from the leads at each furthest step.
fn funnel_row(key_col: &str, key: String, at: [i64; FUNNEL.len()]) -> Map<String, Value> {
    let steps = funnel(at);
    let mut r = Map::new();
    r.insert(key_col.into(), key.into());
    for s in &steps {
        let name = if s.step == "lead" {
            "leads"
        } else {
            s.step.as_str()
        };
        r.insert(name.into(), s.leads.into());
    }
    r.insert(
        "conversion_rate".into(),
        rate_value(leadline_domain::analytics::kpi::rate(
            steps[4].leads,
            steps[0].leads,
        )),
    );
    for s in &steps[1..] {
        r.insert(format!("{}_rate", s.step), rate_value(s.from_previous));
    }
    r
}

impl App {
    /// The funnel by group.
    pub(super) async fn funnel_report(&self, r: &Resolved) -> AppResult<Report> {
        let dim = r.dimension();
        let key_col = r.by_name();
        let counts = {
            let mut c = self.db.acquire().await?;
            store::funnel_counts(c.conn(), dim, false, &r.scope).await?
        };
        let names = self.report_names().await?;
        let mut groups: BTreeMap<String, ([i64; FUNNEL.len()], Option<GroupKey>)> = BTreeMap::new();
        let mut all = [0i64; FUNNEL.len()];
        for c in counts {
            let step = (c.furthest.max(0) as usize).min(FUNNEL.len() - 1);
            let g = groups.entry(names.label(dim, &c.key)).or_default();
            g.0[step] += c.n;
            // A channel merges several keys; any of them gives its filter.
            if g.1.is_none() {
                g.1 = Some(c.key.clone());
            }
            all[step] += c.n;
        }
        let mut rep = r.report(
            "Lead funnel",
            "Leads created in the period and the furthest step each had reached by the report's \
             moment (a skipped step counts as passed; historical outcomes marked won count as \
             converted and won). Rates are step to step; conversion rate is converted / leads.",
            funnel_columns(&key_col),
        );
        for (label, (at, key)) in groups {
            let mut row = funnel_row(&key_col, label, at);
            if let Some(f) = key.and_then(|k| r.lead_filter(&names, dim, &k)) {
                row.insert("_filter".into(), f);
            }
            rep.rows.push(row);
        }
        rep.total = Some(funnel_row(&key_col, "total".into(), all));
        Ok(rep)
    }

    /// Leads created per period (and group): how many, how many reached MQL and converted.
    pub(super) async fn leads_report(&self, r: &Resolved) -> AppResult<Report> {
        let dim = r.dimension();
        let counts = {
            let mut c = self.db.acquire().await?;
            store::funnel_counts(c.conn(), dim, true, &r.scope).await?
        };
        let names = self.report_names().await?;
        let mut groups: BTreeMap<(chrono::NaiveDate, String, String), ([i64; 3], GroupKey)> =
            BTreeMap::new();
        for c in counts {
            let (start, label) = r.period_of(c.bucket);
            let (g, _) = groups
                .entry((start, label, names.label(dim, &c.key)))
                .or_insert_with(|| ([0; 3], c.key.clone()));
            g[0] += c.n;
            if c.furthest >= 1 {
                g[1] += c.n;
            }
            if c.furthest >= 4 {
                g[2] += c.n;
            }
        }
        let mut cols = vec![Column::new("period", "period", ColumnKind::Text)];
        if r.by.is_some() {
            cols.push(Column::new(&r.by_name(), &r.by_name(), ColumnKind::Text));
        }
        cols.extend([
            Column::leads("leads", "leads", "lead"),
            Column::leads("mql", "reached MQL", "mql"),
            Column::leads("converted", "converted", "converted"),
            Column::new("mql_rate", "MQL rate", ColumnKind::Rate),
        ]);
        let mut rep = r.report(
            "Leads by period",
            "Leads created in each period (in the report's time zone), with how many of them had \
             reached MQL and converted by the report's moment.",
            cols,
        );
        let mut total = [0i64; 3];
        for ((start, label, key), (n, group)) in groups {
            let mut row = row([
                ("period", label.into()),
                ("leads", n[0].into()),
                ("mql", n[1].into()),
                ("converted", n[2].into()),
                (
                    "mql_rate",
                    rate_value(leadline_domain::analytics::kpi::rate(n[1], n[0])),
                ),
            ]);
            if r.by.is_some() {
                row.insert(r.by_name(), key.into());
            }
            // The period's leads of the row's group (none when no filter selects the group).
            if let Some(mut f) = names.filter(dim, &group) {
                f.extend(r.created_filter(Some(start), Some(r.period.next(start))));
                row.insert("_filter".into(), Value::Object(f));
            }
            rep.rows.push(row);
            for i in 0..3 {
                total[i] += n[i];
            }
        }
        rep.total = Some(row([
            ("period", "total".into()),
            ("leads", total[0].into()),
            ("mql", total[1].into()),
            ("converted", total[2].into()),
            (
                "mql_rate",
                rate_value(leadline_domain::analytics::kpi::rate(total[1], total[0])),
            ),
        ]));
        Ok(rep)
    }

    /// Leads created in each period and how far they had got by the report's moment.
    pub(super) async fn cohort_report(&self, r: &Resolved) -> AppResult<Report> {
        let counts = {
            let mut c = self.db.acquire().await?;
            store::funnel_counts(c.conn(), Dimension::All, true, &r.scope).await?
        };
        let mut groups: BTreeMap<(chrono::NaiveDate, String), [i64; FUNNEL.len()]> =
            BTreeMap::new();
        let mut all = [0i64; FUNNEL.len()];
        for c in counts {
            let step = (c.furthest.max(0) as usize).min(FUNNEL.len() - 1);
            groups.entry(r.period_of(c.bucket)).or_default()[step] += c.n;
            all[step] += c.n;
        }
        let mut rep = r.report(
            "Cohorts",
            "Leads grouped by the period they were created in, and how many of each cohort had \
             reached each funnel step by the report's moment.",
            funnel_columns("cohort"),
        );
        for ((start, label), at) in groups {
            let mut row = funnel_row("cohort", label, at);
            let f = r.created_filter(Some(start), Some(r.period.next(start)));
            row.insert("_filter".into(), Value::Object(f));
            rep.rows.push(row);
        }
        rep.total = Some(funnel_row("cohort", "total".into(), all));
        Ok(rep)
    }

    /// Leads that became marketing qualified per period, and the growth over the period
    /// before (lead velocity rate).
    pub(super) async fn velocity_report(&self, r: &Resolved) -> AppResult<Report> {
        let mut c = self.db.acquire().await?;
        // The periods from the first qualified lead's to the last's, each counted in the
        // database.
        let starts = match store::qualified_span(c.conn(), &r.scope).await? {
            Some((first, last)) => r.periods_between(first, last),
            None => Vec::new(),
        };
        let ranges: Vec<(i64, i64)> = starts
            .iter()
            .map(|d| {
                (
                    to_micros(day_start(*d, r.tz)),
                    to_micros(day_start(r.period.next(*d), r.tz)),
                )
            })
            .collect();
        let counts: BTreeMap<i64, i64> = store::qualified_in_ranges(c.conn(), &r.scope, &ranges)
            .await?
            .into_iter()
            .collect();
        drop(c);
        let mut rep = r.report(
            "Lead velocity",
            "Leads that first reached MQL (or a later step) in each period, and the lead \
             velocity rate: the change over the period before, as a share of it (null when the \
             period before had none). Periods without any are listed with 0.",
            vec![
                Column::new("period", "period", ColumnKind::Text),
                Column::new("qualified", "newly qualified", ColumnKind::Count),
                Column::new("velocity_rate", "lead velocity rate", ColumnKind::Number),
            ],
        );
        let mut previous: Option<i64> = None;
        let mut total = 0;
        for (start, (from, _)) in starts.iter().zip(&ranges) {
            let n = counts.get(from).copied().unwrap_or(0);
            let lvr = previous.and_then(|p| lead_velocity_rate(n, p));
            rep.rows.push(row([
                ("period", r.period.label(*start).into()),
                ("qualified", n.into()),
                ("velocity_rate", rate_value(lvr)),
            ]));
            total += n;
            previous = Some(n);
        }
        if starts.is_empty() {
            return Ok(rep);
        }
        rep.total = Some(row([
            ("period", "total".into()),
            ("qualified", total.into()),
            ("velocity_rate", Value::Null),
        ]));
        Ok(rep)
    }
}
