//! Report queries. Each groups rows in the database (never one row per lead back to the
//! app) by a [`Dimension`] and, where a report has periods, by a quarter-hour bucket of
//! the event time so the app can fold buckets into days, weeks or months of any time zone.
//! Funnel steps are read from the lead's milestones (`leads.mql_at` … `won_at`).

mod filter;
mod funnel;
mod quality;
mod rollup;
mod sales;
mod service;

pub use filter::*;
pub use funnel::*;
pub use quality::*;
pub use rollup::*;
pub use sales::*;
pub use service::*;

use crate::db::Conn;
use crate::error::StoreResult;
use uuid::Uuid;

/// Width of a period bucket: a quarter of an hour, so every UTC offset in use (…:30, :45)
/// falls on a bucket boundary.
pub const BUCKET_MICROS: i64 = 15 * 60 * 1_000_000;

/// What a report groups leads by (a closed set: each maps to fixed SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Everything in one row.
    All,
    Source,
    Medium,
    Campaign,
    /// The first source's channel (or, without a known source, the medium's).
    Channel,
    /// The owner as of the report's moment (from the owner history when in the past).
    Owner,
    Team,
}

/// A group's key as read from the database: a text value, a second text (the medium, for
/// channels) and an id (owner, team). Missing values are empty / `None`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, sqlx::FromRow)]
pub struct GroupKey {
    #[sqlx(rename = "k_text")]
    pub text: String,
    #[sqlx(rename = "k_extra")]
    pub extra: String,
    #[sqlx(rename = "k_id")]
    pub id: Option<Uuid>,
}

impl Dimension {
    /// SQL for (text, extra, id) over a lead aliased `l`; `$3` is the report's moment.
    fn exprs(self, past: bool) -> (&'static str, &'static str, &'static str) {
        match self {
            Dimension::All => ("''", "''", "NULL"),
            Dimension::Source => ("COALESCE(l.first_source, '')", "''", "NULL"),
            Dimension::Medium => ("COALESCE(l.first_medium, '')", "''", "NULL"),
            Dimension::Campaign => ("COALESCE(l.first_campaign, '')", "''", "NULL"),
            Dimension::Channel => (
                "COALESCE(l.first_source, '')",
                "COALESCE(l.first_medium, '')",
                "NULL",
            ),
            Dimension::Owner if past => ("''", "''", OWNER_THEN),
            Dimension::Owner => ("''", "''", "l.owner_id"),
            Dimension::Team => ("''", "''", "l.team_id"),
        }
    }

    /// The select list for the group key, aliased `k_text, k_extra, k_id`.
    fn select(self, past: bool) -> String {
        let (t, x, i) = self.exprs(past);
        format!("{t} AS k_text, {x} AS k_extra, {i} AS k_id")
    }
}

/// Rows with the same key summed into one by `add` (a roll-up's rows and the leads read
/// around it), in key order.
pub(crate) fn merge_by<K: Ord, T>(
    rows: Vec<T>,
    key: impl Fn(&T) -> K,
    add: impl Fn(&mut T, &T),
) -> Vec<T> {
    let mut sums: std::collections::BTreeMap<K, T> = std::collections::BTreeMap::new();
    for r in rows {
        match sums.entry(key(&r)) {
            std::collections::btree_map::Entry::Occupied(mut e) => add(e.get_mut(), &r),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(r);
            }
        }
    }
    sums.into_values().collect()
}

/// Leads by group (no bucket).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct BucketlessCount {
    #[sqlx(flatten)]
    pub key: GroupKey,
    pub n: i64,
}

/// SQL for the owner of lead `l` at `$3`: the one the first change after then replaced;
/// not changed since, the owner now. Read back from the present, so a lead with no history
/// row after the moment is where it is now — what lets the roll-ups (which hold the
/// present) answer past moments exactly, correcting only the leads that changed since
/// (found by the history's `at` index).
pub(crate) const OWNER_THEN: &str = "CASE \
     WHEN EXISTS (SELECT 1 FROM owner_history oh WHERE oh.lead_id = l.id AND oh.at > $3) \
       THEN (SELECT oh.from_owner FROM owner_history oh WHERE oh.lead_id = l.id AND oh.at > $3 \
             ORDER BY oh.at, oh.id LIMIT 1) \
     ELSE l.owner_id END";

/// SQL for the stage of lead `l` at `$3`, read from the stage history the same way (a row
/// without a `from_stage`, a lead's first, stands for its `to_stage`); whether it changed
/// since is on the lead (`stage_changed_at`, 0035).
pub(crate) const STAGE_THEN: &str = "CASE \
     WHEN l.stage_changed_at > $3 \
       THEN (SELECT COALESCE(sh.from_stage, sh.to_stage) FROM stage_history sh \
             WHERE sh.lead_id = l.id AND sh.at > $3 ORDER BY sh.at, sh.id LIMIT 1) \
     ELSE l.stage END";

/// The SQL CASE giving a lead's furthest funnel step (0 lead … 5 won) as of `$3`.
const FURTHEST: &str = "CASE WHEN l.won_at <= $3 THEN 5 WHEN l.converted_at <= $3 THEN 4 \
     WHEN l.sql_at <= $3 THEN 3 WHEN l.sal_at <= $3 THEN 2 WHEN l.mql_at <= $3 THEN 1 ELSE 0 END";

/// Leads in scope: not deleted, created in `[$1, $2)` and by `$3`, and matching the
/// scope's filter (`$4` on).
fn leads_in_period(s: &Scope) -> String {
    leads_in_period_as(s, "l.created_at")
}

/// [`leads_in_period`] with the creation column written as `created` (`+l.created_at`
/// keeps those bounds out of SQLite's choice of index range).
fn leads_in_period_as(s: &Scope, created: &str) -> String {
    format!(
        "l.deleted_at IS NULL AND {created} >= $1 AND {created} < $2 \
         AND {created} <= $3{}",
        s.filter.sql(&FilterColumns::lead(s.past), 4)
    )
}

/// Runs a report query whose `$1`, `$2`, `$3` are the scope's from, to and moment and
/// `$4` on its filter's values.
async fn fetch_scoped<T>(conn: Conn<'_>, sql: &str, s: &Scope) -> StoreResult<Vec<T>>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    fetch_filtered(conn, sql, &[s.from, s.to, s.as_of], &s.filter).await
}

/// Runs a report query binding `numbers` as `$1…`, then the filter's values.
async fn fetch_filtered<T>(
    conn: Conn<'_>,
    sql: &str,
    numbers: &[i64],
    filter: &ReportFilter,
) -> StoreResult<Vec<T>>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for n in numbers {
            q = q.bind(*n);
        }
        for v in filter.values() {
            q = match v {
                FilterValue::Text(t) => q.bind(t),
                FilterValue::Id(id) => q.bind(id),
            };
        }
        q.fetch_all(c).await
    })?)
}
