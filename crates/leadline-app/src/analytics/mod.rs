//! Reports: every key figure of issue 9 as one table shape ([`Report`]) that the API
//! serves as JSON, `leadline report` prints as CSV/JSON/table and the dashboard draws.
//! Each report is defined in `docs/reports.md`; the figures come from the database's
//! grouped queries (`leadline_store::analytics`) and the pure KPI functions of
//! `leadline_domain::analytics`.

mod attribution;
mod funnel;
mod quality;
pub mod render;
mod sales;
mod service;

use crate::App;
use crate::error::{AppResult, invalid};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use leadline_domain::Principal;
use leadline_domain::analytics::period::{Period, day_start, local_day};
use leadline_domain::source::Channel;
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_store::analytics::{BUCKET_MICROS, Dimension, GroupKey, ReportFilter, Scope};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// What a report covers. Every field is optional; each report documents which it reads.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ReportQuery {
    /// Group rows by `source`, `medium`, `campaign`, `channel` (first touch), `owner` or
    /// `team`; nothing for one row. Which are allowed depends on the report.
    pub by: Option<String>,
    /// From this day (in `tz`), inclusive.
    pub from: Option<NaiveDate>,
    /// To this day (in `tz`), inclusive.
    pub to: Option<NaiveDate>,
    /// Where things stood at the end of this day (in `tz`); default now.
    pub as_of: Option<NaiveDate>,
    /// `day`, `week`, `month` (default) or `quarter`, for reports with periods.
    pub period: Option<String>,
    /// IANA time zone for days and periods; default UTC.
    pub tz: Option<String>,
    /// Only leads (deals) whose first source is this (empty: leads without one).
    pub source: Option<String>,
    /// Only leads whose first medium is this (deals: their lead's).
    pub medium: Option<String>,
    /// Only leads (deals) whose first campaign is this.
    pub campaign: Option<String>,
    /// Only leads (deals) owned by this user: id or email.
    pub owner: Option<String>,
    /// Only leads of this team: id or name.
    pub team: Option<String>,
}

impl ReportQuery {
    /// The filters set, by name (empty values count as set only for source, medium and
    /// campaign, where they select leads without one).
    fn filters_set(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (name, value) in [
            ("source", &self.source),
            ("medium", &self.medium),
            ("campaign", &self.campaign),
        ] {
            if value.is_some() {
                v.push(name);
            }
        }
        for (name, value) in [("owner", &self.owner), ("team", &self.team)] {
            if value.as_deref().is_some_and(|x| !x.trim().is_empty()) {
                v.push(name);
            }
        }
        v
    }
}

/// How a column's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// A key (group, period, stage…).
    Text,
    Count,
    /// A share in [0, 1]; `null` when there is nothing to divide by.
    Rate,
    /// Minor units of the row's `currency`.
    Money,
    /// An average or total in days / minutes (fractional).
    Days,
    Minutes,
    /// Any other number (a score, a ratio that may exceed 1).
    Number,
}

/// A column of a report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Column {
    pub key: String,
    pub label: String,
    pub kind: ColumnKind,
    /// For lead counts: the funnel step the leads behind the number reached (`lead` for
    /// all of them), so the dashboard can list them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reached: Option<String>,
}

impl Column {
    fn new(key: &str, label: &str, kind: ColumnKind) -> Column {
        Column {
            key: key.into(),
            label: label.into(),
            kind,
            reached: None,
        }
    }

    fn leads(key: &str, label: &str, step: &str) -> Column {
        Column {
            reached: Some(step.into()),
            ..Column::new(key, label, ColumnKind::Count)
        }
    }
}

/// A report: columns in order, rows as objects keyed by column, an optional total row.
/// Rows may also hold `_filter`: the lead-list filter (`source`, `campaign`, `owner`,
/// `team`, `created_from`, `created_to`) that selects the leads behind the row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub name: String,
    pub title: String,
    /// What the figures mean (the definitions are in docs/reports.md).
    pub description: String,
    /// The grouping used (`all` for one row).
    pub by: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub as_of: DateTime<Utc>,
    pub time_zone: String,
    pub columns: Vec<Column>,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub total: Option<Map<String, Value>>,
    /// Caveats about these figures (e.g. a currency without a cost).
    pub notes: Vec<String>,
}

/// A report's name, title and the groupings it accepts.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct ReportInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub dimensions: &'static [&'static str],
    /// Whether `period` applies.
    pub periods: bool,
    /// The filters it accepts (`source`, `medium`, `campaign`, `owner`, `team`).
    pub filters: &'static [&'static str],
}

const LEAD_FILTERS: &[&str] = &["source", "medium", "campaign", "owner", "team"];
/// Deals carry their own source, campaign and owner, else their lead's first touch (its
/// medium too); not a team.
const DEAL_FILTERS: &[&str] = &["source", "medium", "campaign", "owner"];

const LEAD_DIMS: &[&str] = &["source", "medium", "campaign", "channel", "owner", "team"];
const DEAL_DIMS: &[&str] = &["owner", "source", "campaign", "channel", "team"];

/// Every report, in the dashboard's order.
pub const REPORTS: &[ReportInfo] = &[
    ReportInfo {
        name: "funnel",
        title: "Lead funnel",
        dimensions: LEAD_DIMS,
        periods: false,
        filters: LEAD_FILTERS,
    },
    ReportInfo {
        name: "leads",
        title: "Leads by period",
        dimensions: LEAD_DIMS,
        periods: true,
        filters: LEAD_FILTERS,
    },
    ReportInfo {
        name: "cohorts",
        title: "Cohorts",
        dimensions: &[],
        periods: true,
        filters: LEAD_FILTERS,
    },
    ReportInfo {
        name: "velocity",
        title: "Lead velocity",
        dimensions: &[],
        periods: true,
        filters: LEAD_FILTERS,
    },
    ReportInfo {
        name: "quality",
        title: "Lead quality",
        dimensions: LEAD_DIMS,
        periods: false,
        filters: LEAD_FILTERS,
    },
    ReportInfo {
        name: "response",
        title: "Time to first touch and SLA",
        dimensions: LEAD_DIMS,
        periods: false,
        filters: LEAD_FILTERS,
    },
    ReportInfo {
        name: "stages",
        title: "Time in stage",
        dimensions: &[],
        periods: false,
        filters: LEAD_FILTERS,
    },
    ReportInfo {
        name: "aging",
        title: "Aging",
        dimensions: &[],
        periods: false,
        filters: &[],
    },
    ReportInfo {
        name: "sales",
        title: "Sales and leaderboard",
        dimensions: DEAL_DIMS,
        periods: false,
        filters: DEAL_FILTERS,
    },
    ReportInfo {
        name: "roi",
        title: "Campaign ROI",
        dimensions: &["campaign", "channel"],
        periods: false,
        filters: DEAL_FILTERS,
    },
    ReportInfo {
        name: "attribution",
        title: "Revenue attribution",
        dimensions: &["channel", "source", "campaign"],
        periods: false,
        filters: &["owner"],
    },
    ReportInfo {
        name: "forecast",
        title: "Forecast",
        dimensions: &[],
        periods: false,
        filters: &[],
    },
];

/// A report request resolved: the instants, the zone, the grouping.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub info: ReportInfo,
    pub by: Option<&'static str>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub tz: Tz,
    pub period: Period,
    pub as_of: DateTime<Utc>,
    pub scope: Scope,
}

impl Resolved {
    /// The store's lead dimension for `by`.
    fn dimension(&self) -> Dimension {
        match self.by {
            Some("source") => Dimension::Source,
            Some("medium") => Dimension::Medium,
            Some("campaign") => Dimension::Campaign,
            Some("channel") => Dimension::Channel,
            Some("owner") => Dimension::Owner,
            Some("team") => Dimension::Team,
            _ => Dimension::All,
        }
    }

    fn by_name(&self) -> String {
        self.by.unwrap_or("all").to_owned()
    }

    /// The first days of the periods from the one instant `first` falls in to the one
    /// `last` falls in.
    fn periods_between(&self, first: i64, last: i64) -> Vec<NaiveDate> {
        let end = self.period.start(local_day(from_micros(last), self.tz));
        let mut start = self.period.start(local_day(from_micros(first), self.tz));
        let mut starts = Vec::new();
        while start <= end {
            starts.push(start);
            start = self.period.next(start);
        }
        starts
    }

    /// The label of the period a quarter-hour bucket falls in, and its first day.
    fn period_of(&self, bucket: i64) -> (NaiveDate, String) {
        let start = self
            .period
            .start(local_day(from_micros(bucket * self.scope.bucket), self.tz));
        (start, self.period.label(start))
    }

    /// The lead-list filter for leads created from local day `from` up to (not including)
    /// local day `until`, clipped to the report's period, as instants in the report's zone.
    fn created_filter(
        &self,
        from: Option<NaiveDate>,
        until: Option<NaiveDate>,
    ) -> Map<String, Value> {
        let report_until = self.to.and_then(|d| d.succ_opt());
        let from = from.max(self.from).or(self.from);
        let until = match (until, report_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut f = Map::new();
        // The report's own filters narrow every list behind its numbers.
        let rf = &self.scope.filter;
        for (k, v) in [
            ("source", &rf.source),
            ("medium", &rf.medium),
            ("campaign", &rf.campaign),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                f.insert(k.into(), v.into());
            }
        }
        for (k, v) in [("owner", rf.owner), ("team", rf.team)] {
            if let Some(id) = v {
                f.insert(k.into(), id.to_string().into());
            }
        }
        if let Some(d) = from {
            f.insert(
                "created_from".into(),
                day_start(d, self.tz).to_rfc3339().into(),
            );
        }
        if let Some(d) = until {
            let end = day_start(d, self.tz) - chrono::Duration::microseconds(1);
            f.insert(
                "created_to".into(),
                end.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                    .into(),
            );
        }
        f
    }

    /// A group's lead-list filter with the report's creation period; `None` when no filter
    /// selects the group.
    fn lead_filter(&self, names: &Names, dim: Dimension, k: &GroupKey) -> Option<Value> {
        let mut f = names.filter(dim, k)?;
        f.extend(self.created_filter(None, None));
        Some(Value::Object(f))
    }

    fn report(&self, title: &str, description: &str, columns: Vec<Column>) -> Report {
        Report {
            name: self.info.name.into(),
            title: title.into(),
            description: description.into(),
            by: self.by_name(),
            from: self.from,
            to: self.to,
            as_of: self.as_of,
            time_zone: self.tz.name().into(),
            columns,
            rows: Vec::new(),
            total: None,
            notes: Vec::new(),
        }
    }
}

/// Names for group keys: users, teams, and each source's channel.
pub(crate) struct Names {
    users: HashMap<Uuid, String>,
    teams: HashMap<Uuid, String>,
    channels: HashMap<String, Channel>,
}

impl Names {
    /// The row label of a group key under a dimension; `(none)` for a missing value.
    fn label(&self, dim: Dimension, k: &GroupKey) -> String {
        let none = || "(none)".to_owned();
        match dim {
            Dimension::All => "all".into(),
            Dimension::Owner => {
                k.id.map(|id| {
                    self.users
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| "(deleted user)".into())
                })
                .unwrap_or_else(|| "(unassigned)".into())
            }
            Dimension::Team => {
                k.id.map(|id| {
                    self.teams
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| "(deleted team)".into())
                })
                .unwrap_or_else(|| "(no team)".into())
            }
            Dimension::Channel => self.channel(&k.text, &k.extra).as_str().into(),
            _ if k.text.is_empty() => none(),
            _ => k.text.clone(),
        }
    }

    /// A lead's channel (see [`Channel::of_lead`]).
    fn channel(&self, source: &str, medium: &str) -> Channel {
        Channel::of_lead(self.channels.get(source).copied(), source, medium)
    }

    /// The lead-list filter selecting a group's leads (`missing=…` for a `(none)` row).
    fn filter(&self, dim: Dimension, k: &GroupKey) -> Option<Map<String, Value>> {
        let mut f = Map::new();
        match dim {
            Dimension::All => {}
            // A `(none)` row lists the leads without the value.
            Dimension::Source | Dimension::Campaign | Dimension::Medium => {
                let name = match dim {
                    Dimension::Source => "source",
                    Dimension::Campaign => "campaign",
                    _ => "medium",
                };
                if k.text.is_empty() {
                    f.insert("missing".into(), name.into());
                } else {
                    f.insert(name.into(), k.text.clone().into());
                }
            }
            Dimension::Channel => {
                f.insert(
                    "channel".into(),
                    self.channel(&k.text, &k.extra).as_str().into(),
                );
            }
            Dimension::Owner => {
                f.insert(
                    "owner".into(),
                    k.id.map(|i| i.to_string())
                        .unwrap_or_else(|| "none".into())
                        .into(),
                );
            }
            Dimension::Team => match k.id {
                Some(id) => {
                    f.insert("team".into(), id.to_string().into());
                }
                None => {
                    f.insert("missing".into(), "team".into());
                }
            },
        }
        Some(f)
    }
}

/// A rate as JSON (`null` over nothing).
fn rate_value(r: Option<f64>) -> Value {
    r.map(round4).map(Value::from).unwrap_or(Value::Null)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// An average as JSON (`null` over nothing).
fn avg_value(sum: f64, n: i64) -> Value {
    if n > 0 {
        Value::from(round4(sum / n as f64))
    } else {
        Value::Null
    }
}

/// Builds a row from (column, value) pairs.
fn row<const N: usize>(cells: [(&str, Value); N]) -> Map<String, Value> {
    cells.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

impl App {
    /// Runs the report `name` (admins, managers and marketers).
    pub async fn report(&self, by: &Principal, name: &str, q: &ReportQuery) -> AppResult<Report> {
        crate::auth::require_marketing(by, "reports")?;
        let mut r = resolve(name, q)?;
        r.scope.filter.owner = match q.owner.as_deref().map(str::trim) {
            Some(o) if !o.is_empty() => Some(self.report_owner(o).await?),
            _ => None,
        };
        r.scope.filter.team = match q.team.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => Some(self.report_team(t).await?),
            _ => None,
        };
        if r.scope.period_starts.is_none() {
            r.scope.period_starts = self.period_starts(&r).await?;
        }
        match r.info.name {
            "funnel" => self.funnel_report(&r).await,
            "leads" => self.leads_report(&r).await,
            "cohorts" => self.cohort_report(&r).await,
            "velocity" => self.velocity_report(&r).await,
            "quality" => self.quality_report(&r).await,
            "response" => self.response_report(&r).await,
            "stages" => self.stages_report(&r).await,
            "aging" => self.aging_table(by, &r).await,
            "sales" => self.sales_report(&r).await,
            "roi" => self.roi_report(&r).await,
            "attribution" => self.attribution_report(&r).await,
            _ => self.forecast_report(&r).await,
        }
    }

    /// The instants the report's periods start at off UTC midnight (its zone is not UTC),
    /// from its first lead on: the roll-ups split those days. `None` past
    /// [`MAX_PERIOD_STARTS`].
    async fn period_starts(&self, r: &Resolved) -> AppResult<Option<Vec<i64>>> {
        let mut c = self.db.acquire().await?;
        let Some(first_day) = leadline_store::analytics::first_rollup_day(c.conn()).await? else {
            return Ok(Some(Vec::new()));
        };
        let first = from_micros(r.scope.from.max(first_day.saturating_mul(DAY_MICROS)));
        let last = from_micros(r.scope.to.min(r.scope.as_of));
        Ok(leadline_domain::analytics::period::off_midnight_starts(
            r.period,
            r.tz,
            first,
            last,
            MAX_PERIOD_STARTS,
        ))
    }

    /// Folds the lead roll-up's pending changes into it (the server does so every ten
    /// seconds; reports are exact either way, faster with fewer pending changes).
    pub async fn compact_report_rollup(&self) -> AppResult<u64> {
        Ok(leadline_store::analytics::compact_rollup(&self.db).await?)
    }

    /// Rebuilds the lead roll-up from the leads (a repair; admins).
    pub async fn rebuild_report_rollup(&self, by: &Principal) -> AppResult<u64> {
        crate::auth::require_admin(by)?;
        Ok(leadline_store::analytics::rebuild_rollup(&self.db).await?)
    }

    /// The user a report's `owner` filter names: an id or an email.
    async fn report_owner(&self, o: &str) -> AppResult<Uuid> {
        let users = self.list_users().await?;
        users
            .iter()
            .find(|u| u.id.to_string() == o.to_lowercase() || u.email.eq_ignore_ascii_case(o))
            .map(|u| u.id)
            .ok_or_else(|| invalid("owner", "unknown_owner", "a user's id or email"))
    }

    /// The team a report's `team` filter names: an id or a name.
    async fn report_team(&self, t: &str) -> AppResult<Uuid> {
        let teams = self.list_teams().await?;
        teams
            .iter()
            .find(|x| x.id.to_string() == t.to_lowercase() || x.name.eq_ignore_ascii_case(t))
            .map(|x| x.id)
            .ok_or_else(|| invalid("team", "unknown_team", "a team's id or name"))
    }

    /// Names for group keys.
    pub(crate) async fn report_names(&self) -> AppResult<Names> {
        Ok(Names {
            users: self
                .list_users()
                .await?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect(),
            teams: self
                .list_teams()
                .await?
                .into_iter()
                .map(|t| (t.id, t.name))
                .collect(),
            channels: self
                .sources()
                .await?
                .into_iter()
                .map(|s| (s.key, s.channel))
                .collect(),
        })
    }
}

/// How many periods may start off UTC midnight before reports read every lead instead of
/// the roll-ups (daily periods over eleven years). Each such start costs a read of the
/// leads between it and the nearer UTC midnight, so the limit only bounds the query's size.
const MAX_PERIOD_STARTS: usize = 4000;
use leadline_domain::time::DAY_MICROS;

/// Hour buckets when the zone's offset is a whole number of hours over the last ten years
/// (most zones), quarter hours otherwise (India, Nepal, Newfoundland…).
fn bucket_for(tz: Tz, until: DateTime<Utc>) -> i64 {
    use chrono::Offset;
    use chrono::TimeZone;
    let whole_hours = (0..=120).all(|m| {
        let t = until - chrono::Duration::days(30 * m);
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
            % 3600
            == 0
    });
    if whole_hours {
        3_600_000_000
    } else {
        BUCKET_MICROS
    }
}

/// Checks a request against the report's definition and resolves its days to instants.
pub(crate) fn resolve(name: &str, q: &ReportQuery) -> AppResult<Resolved> {
    let info = *REPORTS.iter().find(|r| r.name == name).ok_or_else(|| {
        invalid(
            "name",
            "unknown_report",
            format!(
                "reports: {}",
                REPORTS
                    .iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let by = match q.by.as_deref().unwrap_or("") {
        "" | "all" => None,
        b => Some(*info.dimensions.iter().find(|d| **d == b).ok_or_else(|| {
            invalid(
                "by",
                "unknown_dimension",
                if info.dimensions.is_empty() {
                    format!("the {name} report has no groupings")
                } else {
                    format!("the {name} report groups by {}", info.dimensions.join(", "))
                },
            )
        })?),
    };
    let tz: Tz = match q.tz.as_deref().unwrap_or("UTC") {
        "" => Tz::UTC,
        z => z.parse().map_err(|_| {
            invalid(
                "tz",
                "unknown_time_zone",
                "an IANA time zone, e.g. Europe/Berlin",
            )
        })?,
    };
    let period = match q.period.as_deref().unwrap_or("") {
        "" => Period::Month,
        p => p
            .parse()
            .map_err(|_| invalid("period", "unknown_period", "day, week, month or quarter"))?,
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
    if let Some(f) = q
        .filters_set()
        .into_iter()
        .find(|f| !info.filters.contains(f))
    {
        return Err(invalid(
            f,
            "unknown_filter",
            if info.filters.is_empty() {
                format!("the {name} report takes no filters")
            } else {
                format!("the {name} report filters by {}", info.filters.join(", "))
            },
        ));
    }
    let t = now();
    let as_of = q
        .as_of
        .map(|d| day_start(d.succ_opt().unwrap_or(d), tz))
        .filter(|a| *a < t)
        .unwrap_or(t);
    let from = q
        .from
        .map(|d| to_micros(day_start(d, tz)))
        .unwrap_or(i64::MIN);
    let to =
        q.to.map(|d| to_micros(day_start(d.succ_opt().unwrap_or(d), tz)))
            .unwrap_or(i64::MAX);
    Ok(Resolved {
        info,
        by,
        from: q.from,
        to: q.to,
        tz,
        period,
        as_of,
        scope: Scope {
            from,
            to,
            as_of: to_micros(as_of),
            past: as_of < t,
            bucket: bucket_for(tz, as_of),
            filter: ReportFilter {
                source: q.source.clone(),
                medium: q.medium.clone(),
                campaign: q.campaign.clone(),
                // Names and emails are looked up by `App::report`.
                owner: None,
                team: None,
            },
            // Away from UTC, `App::report` finds the days the zone's periods cut.
            period_starts: (tz == Tz::UTC || tz == Tz::Etc__UTC).then(Vec::new),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(tz: &str, period: &str) -> ReportQuery {
        ReportQuery {
            tz: Some(tz.into()),
            period: Some(period.into()),
            ..Default::default()
        }
    }

    #[test]
    fn buckets_fold_into_local_periods_at_the_boundaries() {
        let t = "2026-10-31T23:30:00Z".parse::<DateTime<Utc>>().unwrap();
        // Kolkata is +05:30: quarter-hour buckets, and the instant is already 1 November.
        let r = resolve("leads", &q("Asia/Kolkata", "day")).unwrap();
        assert_eq!(r.scope.bucket, BUCKET_MICROS);
        assert_eq!(r.period_of(to_micros(t) / r.scope.bucket).1, "2026-11-01");
        let r = resolve("leads", &q("Asia/Kolkata", "month")).unwrap();
        assert_eq!(r.period_of(to_micros(t) / r.scope.bucket).1, "2026-11");
        // In UTC and in New York (whole hours, DST or not) it is still October.
        for tz in ["UTC", "America/New_York"] {
            let r = resolve("leads", &q(tz, "month")).unwrap();
            assert_eq!(r.scope.bucket, 3_600_000_000, "{tz}");
            assert_eq!(
                r.period_of(to_micros(t) / r.scope.bucket).1,
                "2026-10",
                "{tz}"
            );
        }
    }

    #[test]
    fn requests_are_checked_against_the_report() {
        assert!(resolve("funnel", &ReportQuery::default()).is_ok());
        for (name, q) in [
            ("nonsense", ReportQuery::default()),
            (
                "cohorts",
                ReportQuery {
                    by: Some("source".into()),
                    ..Default::default()
                },
            ),
            (
                "funnel",
                ReportQuery {
                    by: Some("colour".into()),
                    ..Default::default()
                },
            ),
            (
                "funnel",
                ReportQuery {
                    tz: Some("Mars/Olympus".into()),
                    ..Default::default()
                },
            ),
            (
                "leads",
                ReportQuery {
                    period: Some("fortnight".into()),
                    ..Default::default()
                },
            ),
            (
                "funnel",
                ReportQuery {
                    from: "2026-02-01".parse().ok(),
                    to: "2026-01-01".parse().ok(),
                    ..Default::default()
                },
            ),
        ] {
            assert!(resolve(name, &q).is_err(), "{name} {q:?}");
        }
        // A future as-of day means now; a past one is in the past, at the end of that day.
        let r = resolve(
            "funnel",
            &ReportQuery {
                as_of: "2999-01-01".parse().ok(),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!r.scope.past);
        let r = resolve(
            "funnel",
            &ReportQuery {
                as_of: "2026-01-31".parse().ok(),
                tz: Some("Europe/Berlin".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(r.scope.past);
        assert_eq!(r.as_of.to_rfc3339(), "2026-01-31T23:00:00+00:00");
    }
}
