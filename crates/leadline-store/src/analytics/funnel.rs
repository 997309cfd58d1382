//! How far leads got: counts by group, period bucket and furthest step; qualified leads by
//! the bucket they qualified in.

use super::{Dimension, FURTHEST, GroupKey};
use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;

/// A report's scope: leads created in `[from, to)`, seen as of `as_of`; `past` when
/// `as_of` is before now (owners are then read from the owner history).
#[derive(Debug, Clone)]
pub struct Scope {
    pub from: Micros,
    pub to: Micros,
    pub as_of: Micros,
    pub past: bool,
    /// Width of the period buckets: an hour, or [`super::BUCKET_MICROS`] in zones with
    /// offsets off the hour (fewer buckets, fewer groups to sort).
    pub bucket: i64,
    /// Only leads (or deals) matching this.
    pub filter: super::ReportFilter,
    /// When the daily roll-ups may answer: the instants at which one of the report's
    /// periods starts off UTC midnight (none in UTC); the roll-up's rows of those days are
    /// split there. `None` when there are too many to split.
    pub period_starts: Option<Vec<i64>>,
}

/// Leads by (group, bucket, furthest step).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FunnelCount {
    #[sqlx(flatten)]
    pub key: GroupKey,
    /// Bucket of creation (0 when not asked for).
    pub bucket: i64,
    /// 0 lead, 1 mql, 2 sal, 3 sql, 4 converted, 5 won.
    pub furthest: i32,
    pub n: i64,
}

/// Leads created in the scope by group (and creation bucket when `bucketed`) and the
/// furthest funnel step they had reached by `as_of`: from the roll-up when it can answer,
/// else from the leads.
pub async fn funnel_counts(
    conn: Conn<'_>,
    by: Dimension,
    bucketed: bool,
    s: &Scope,
) -> StoreResult<Vec<FunnelCount>> {
    if !super::rollup_answers(s) && !super::asof_answers(s) {
        return scanned_funnel_counts(conn, by, bucketed, s, "").await;
    }
    let mut conn = conn;
    let cuts = super::cut_days(s);
    let splits = if bucketed {
        super::DaySplits::of(s, &cuts)
    } else {
        super::DaySplits::default()
    };
    // Where the roll-up's row of the UTC day holding bucket `b` is counted.
    let rollup_bucket = |b: i64| {
        if bucketed {
            splits.rollup_bucket(s, (b * s.bucket).div_euclid(super::DAY))
        } else {
            0
        }
    };
    let mut sums = std::collections::BTreeMap::new();
    for r in super::rollup_funnel_counts(conn.reborrow(), by, bucketed, s, &cuts).await? {
        *sums
            .entry((r.key, rollup_bucket(r.bucket), r.furthest))
            .or_insert(0) += r.n;
    }
    if !cuts.is_empty() {
        let only = super::created_in_days(conn.backend(), &cuts);
        for r in scanned_funnel_counts(conn.reborrow(), by, bucketed, s, &only).await? {
            *sums.entry((r.key, r.bucket, r.furthest)).or_insert(0) += r.n;
        }
    }
    // Leads the roll-up counts elsewhere than the report needs: those created in the part
    // of a split day that belongs to another period and, in the past, those that reached a
    // step (or, by owner, changed owner) since the moment. They leave the roll-up's row as
    // they are now and come back in their own bucket as they were then. Only the owner is
    // read from history; the other groups are the same then and now.
    let owners = by == Dimension::Owner && s.past;
    let moved_sql = |from_where: String| {
        format!(
            "SELECT k_text, k_extra, k_id, then_id, bucket, now_step, then_step, \
               COUNT(*) AS n FROM ( \
               SELECT {key}, {then_id} AS then_id, CAST({bucket} AS BIGINT) AS bucket, \
                 {FURTHEST_NOW} AS now_step, {FURTHEST} AS then_step {from_where}) x \
             GROUP BY k_text, k_extra, k_id, then_id, bucket, now_step, then_step",
            key = by.select(false),
            then_id = if owners { super::OWNER_THEN } else { "NULL" },
            bucket = if bucketed {
                format!("l.created_at / {}", s.bucket.max(1))
            } else {
                "0".into()
            },
        )
    };
    let mut moved: Vec<MovedOn> = Vec::new();
    if let Some((from, among)) = splits.leads_from(conn.backend()) {
        let sql = moved_sql(format!(
            "{from} WHERE {}{}{among}",
            super::leads_in_period_as(s, "+l.created_at"),
            super::created_not_in_days(&cuts),
        ));
        moved.extend(super::fetch_scoped::<MovedOn>(conn.reborrow(), &sql, s).await?);
    }
    if s.past {
        let among = super::moved_on_since(
            conn.backend(),
            super::Since {
                steps: true,
                owners,
                ..Default::default()
            },
        );
        let sql = moved_sql(format!(
            "FROM leads l WHERE {}{}{among}",
            super::leads_in_period(s),
            super::created_not_in_days(&cuts),
        ));
        // Leads of the split-off parts were read above.
        moved.extend(
            super::fetch_scoped::<MovedOn>(conn, &sql, s)
                .await?
                .into_iter()
                .filter(|r| !splits.holds_bucket(s, r.bucket)),
        );
    }
    for r in moved {
        *sums
            .entry((r.key.clone(), rollup_bucket(r.bucket), r.now_step))
            .or_insert(0) -= r.n;
        let then = if owners {
            GroupKey {
                id: r.then_id,
                ..r.key
            }
        } else {
            r.key
        };
        *sums.entry((then, r.bucket, r.then_step)).or_insert(0) += r.n;
    }
    Ok(sums
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((key, bucket, furthest), n)| FunnelCount {
            key,
            bucket,
            furthest,
            n,
        })
        .collect())
}

/// Leads the roll-up counts elsewhere (split days, moved on since): their furthest step now
/// and then.
#[derive(Debug, sqlx::FromRow)]
struct MovedOn {
    #[sqlx(flatten)]
    key: GroupKey,
    /// The owner then (by owner only).
    then_id: Option<uuid::Uuid>,
    bucket: i64,
    now_step: i32,
    then_step: i32,
    n: i64,
}

/// The furthest step a lead has reached at all, as the roll-up counts it.
const FURTHEST_NOW: &str = "CASE WHEN l.won_at IS NOT NULL THEN 5 \
     WHEN l.converted_at IS NOT NULL THEN 4 WHEN l.sql_at IS NOT NULL THEN 3 \
     WHEN l.sal_at IS NOT NULL THEN 2 WHEN l.mql_at IS NOT NULL THEN 1 ELSE 0 END";

/// Leads in scope (`only`: more SQL conditions on `l`) by group, `bucket` and `furthest`
/// step; groups and filters as of the scope's moment when it is `past`.
fn funnel_sql(by: Dimension, s: &Scope, bucket: &str, furthest: &str, only: &str) -> String {
    format!(
        "SELECT k_text, k_extra, k_id, bucket, furthest, COUNT(*) AS n FROM ( \
           SELECT {key}, CAST({bucket} AS BIGINT) AS bucket, {furthest} AS furthest \
           FROM leads l WHERE {in_period}{only}) x \
         GROUP BY k_text, k_extra, k_id, bucket, furthest",
        in_period = super::leads_in_period(s),
        key = by.select(s.past)
    )
}

/// [`funnel_counts`] from the leads (`only`: more SQL conditions on `l`).
async fn scanned_funnel_counts(
    conn: Conn<'_>,
    by: Dimension,
    bucketed: bool,
    s: &Scope,
    only: &str,
) -> StoreResult<Vec<FunnelCount>> {
    let bucket = if bucketed {
        format!("l.created_at / {}", s.bucket.max(1))
    } else {
        "0".into()
    };
    let sql = funnel_sql(by, s, &bucket, FURTHEST, only);
    super::fetch_scoped(conn, &sql, s).await
}

/// SQL (` AND …`) keeping leads `l` that first reached MQL (or a later step) in the
/// scope's period, by its moment, and match its filter.
fn qualified_in_scope(s: &Scope) -> String {
    format!(
        "l.deleted_at IS NULL AND l.mql_at IS NOT NULL AND l.mql_at >= $1 AND l.mql_at < $2 \
         AND l.mql_at <= $3{}",
        s.filter.sql(&super::FilterColumns::lead(s.past), 4)
    )
}

/// The first and last moment a lead in the scope first reached MQL (or a later step), if
/// any did: two ends of the index `leads_mql_at`.
pub async fn qualified_span(conn: Conn<'_>, s: &Scope) -> StoreResult<Option<(i64, i64)>> {
    // Two subqueries: SQLite reads an index end for a lone MIN or MAX only.
    let w = qualified_in_scope(s);
    let sql = format!(
        "SELECT (SELECT MIN(l.mql_at) FROM leads l WHERE {w}) AS first, \
           (SELECT MAX(l.mql_at) FROM leads l WHERE {w}) AS last"
    );
    let rows: Vec<(Option<i64>, Option<i64>)> = super::fetch_scoped(conn, &sql, s).await?;
    Ok(rows.into_iter().next().and_then(|r| r.0.zip(r.1)))
}

/// The most ranges one statement counts (a `VALUES` row each).
const RANGES_PER_QUERY: usize = 1000;

/// How many leads in the scope first reached MQL (or a later step) in each of `ranges`
/// (`[start, end)` instants, such as a zone's months): (start, leads) per range. Each range
/// is one count over a range of `leads_mql_at`; grouping every qualified lead by a bucket
/// instead sorted them all (150 ms for 100,000 leads on SQLite, against 15 ms).
pub async fn qualified_in_ranges(
    conn: Conn<'_>,
    s: &Scope,
    ranges: &[(i64, i64)],
) -> StoreResult<Vec<(i64, i64)>> {
    let mut conn = conn;
    let mut counts = Vec::with_capacity(ranges.len());
    for chunk in ranges.chunks(RANGES_PER_QUERY) {
        let values = chunk
            .iter()
            .map(|(a, b)| format!("(CAST({a} AS BIGINT), CAST({b} AS BIGINT))"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT r.column1 AS start, (SELECT COUNT(*) FROM leads l WHERE {w} \
               AND l.mql_at >= r.column1 AND l.mql_at < r.column2) AS n \
             FROM (VALUES {values}) AS r",
            w = qualified_in_scope(s)
        );
        counts.extend(super::fetch_scoped::<(i64, i64)>(conn.reborrow(), &sql, s).await?);
    }
    Ok(counts)
}
