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
    /// When the daily roll-ups may answer: the UTC days (numbers since 1970) inside which
    /// one of the report's periods starts off UTC midnight (none in UTC); those days are
    /// read lead by lead. `None` when there are too many to read around.
    pub period_cuts: Option<Vec<i64>>,
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
    if !super::rollup_answers(s) {
        return scanned_funnel_counts(conn, by, bucketed, s, "").await;
    }
    let mut conn = conn;
    let cuts = super::cut_days(s, bucketed);
    let mut rows = super::rollup_funnel_counts(conn.reborrow(), by, bucketed, s, &cuts).await?;
    if cuts.is_empty() {
        return Ok(rows);
    }
    let only = super::created_in_days(&cuts);
    rows.extend(scanned_funnel_counts(conn, by, bucketed, s, &only).await?);
    let mut sums = std::collections::BTreeMap::new();
    for r in rows {
        *sums.entry((r.key, r.bucket, r.furthest)).or_insert(0) += r.n;
    }
    Ok(sums
        .into_iter()
        .map(|((key, bucket, furthest), n)| FunnelCount {
            key,
            bucket,
            furthest,
            n,
        })
        .collect())
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
    let sql = format!(
        "SELECT k_text, k_extra, k_id, bucket, furthest, COUNT(*) AS n FROM ( \
           SELECT {key}, CAST({bucket} AS BIGINT) AS bucket, {FURTHEST} AS furthest \
           FROM leads l WHERE {in_period}{only}) x \
         GROUP BY k_text, k_extra, k_id, bucket, furthest",
        in_period = super::leads_in_period(s),
        key = by.select(s.past)
    );
    super::fetch_scoped(conn, &sql, s).await
}

/// Leads by (group, bucket) that became marketing qualified in `[from, to)`, by `as_of`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BucketCount {
    #[sqlx(flatten)]
    pub key: GroupKey,
    pub bucket: i64,
    pub n: i64,
}

/// Leads that first reached MQL (or a later step) in the scope's period, by group and
/// quarter-hour bucket of that moment.
pub async fn qualified_counts(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
) -> StoreResult<Vec<BucketCount>> {
    let sql = format!(
        "SELECT k_text, k_extra, k_id, bucket, COUNT(*) AS n FROM ( \
           SELECT {key}, CAST(l.mql_at / {b} AS BIGINT) AS bucket FROM leads l \
           WHERE l.deleted_at IS NULL AND l.mql_at IS NOT NULL AND l.mql_at >= $1 \
             AND l.mql_at < $2 AND l.mql_at <= $3{filter}) x \
         GROUP BY k_text, k_extra, k_id, bucket",
        key = by.select(s.past),
        b = s.bucket.max(1),
        filter = s.filter.sql(&super::FilterColumns::lead(s.past), 4),
    );
    super::fetch_scoped(conn, &sql, s).await
}
