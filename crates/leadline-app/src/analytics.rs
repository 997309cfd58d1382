//! Reports (issue 9, first slice): the lead funnel by source, medium or campaign, for
//! leads created in a period, as of any moment (recomputed from the stage history, won
//! deals and historical outcomes). Reachable from the API and `leadline report`.

use crate::App;
use crate::error::{AppResult, invalid};
use chrono::{DateTime, NaiveDate, Utc};
use leadline_domain::Principal;
use leadline_domain::analytics::kpi::{FUNNEL, funnel, rate};
use leadline_domain::time::{now, to_micros};
use leadline_store::analytics::{self as store, Dimension};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a funnel report covers.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ReportQuery {
    /// `source`, `medium`, `campaign` (first touch), or nothing for one row.
    pub by: Option<String>,
    /// Leads created on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// … and before the end of this day (UTC).
    pub to: Option<NaiveDate>,
    /// Where the leads stood at the end of this day (UTC); default now.
    pub as_of: Option<NaiveDate>,
}

/// One row of the funnel report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FunnelRow {
    /// The dimension's value (`(none)` when the lead has none; `all` for one row).
    pub key: String,
    pub leads: i64,
    pub mql: i64,
    pub sal: i64,
    pub sql: i64,
    /// Reached `converted` (including historical outcomes marked won).
    pub converted: i64,
    pub won: i64,
    /// converted / leads; absent when there are no leads.
    pub conversion_rate: Option<f64>,
}

/// The funnel report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FunnelReport {
    pub by: String,
    pub as_of: DateTime<Utc>,
    pub rows: Vec<FunnelRow>,
    pub total: FunnelRow,
}

fn end_of(day: NaiveDate) -> DateTime<Utc> {
    day.succ_opt()
        .unwrap_or(day)
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(now)
}

fn row(key: String, at: [i64; FUNNEL.len()]) -> FunnelRow {
    let steps = funnel(at);
    let leads = |name: &str| {
        FUNNEL
            .iter()
            .position(|s| *s == name)
            .map(|i| steps[i].leads)
            .unwrap_or(0)
    };
    FunnelRow {
        conversion_rate: rate(leads("converted"), leads("lead")),
        key,
        leads: leads("lead"),
        mql: leads("mql"),
        sal: leads("sal"),
        sql: leads("sql"),
        converted: leads("converted"),
        won: leads("won"),
    }
}

impl App {
    /// The lead funnel (admins, managers, marketers).
    pub async fn funnel_report(&self, by: &Principal, q: &ReportQuery) -> AppResult<FunnelReport> {
        crate::auth::require_marketing(by, "reports")?;
        let dim = match q.by.as_deref().unwrap_or("") {
            "" | "all" => Dimension::All,
            "source" => Dimension::Source,
            "medium" => Dimension::Medium,
            "campaign" => Dimension::Campaign,
            _ => {
                return Err(invalid(
                    "by",
                    "unknown_dimension",
                    "source, medium or campaign",
                ));
            }
        };
        if let (Some(f), Some(t)) = (q.from, q.to)
            && f > t
        {
            return Err(invalid(
                "to",
                "before_from",
                "the period ends before it starts",
            ));
        }
        let as_of = q.as_of.map(end_of).unwrap_or_else(now);
        let from = q
            .from
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| to_micros(t.and_utc()))
            .unwrap_or(i64::MIN);
        let to = q.to.map(|d| to_micros(end_of(d))).unwrap_or(i64::MAX);
        let mut c = self.db.acquire().await?;
        let counts = store::funnel_counts(c.conn(), dim, from, to, to_micros(as_of)).await?;
        let mut groups: BTreeMap<String, [i64; FUNNEL.len()]> = BTreeMap::new();
        let mut all = [0i64; FUNNEL.len()];
        for (key, furthest, n) in counts {
            let key = match (dim, key.is_empty()) {
                (Dimension::All, _) => "all".to_owned(),
                (_, true) => "(none)".to_owned(),
                (_, false) => key,
            };
            let step = (furthest.max(0) as usize).min(FUNNEL.len() - 1);
            groups.entry(key).or_default()[step] += n;
            all[step] += n;
        }
        Ok(FunnelReport {
            by: q.by.clone().unwrap_or_else(|| "all".into()),
            as_of,
            rows: groups.into_iter().map(|(k, at)| row(k, at)).collect(),
            total: row("total".into(), all),
        })
    }
}
