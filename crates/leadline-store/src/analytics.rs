//! Report queries: how far each lead got, grouped by a dimension, as of a moment.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;

/// What a funnel report groups leads by (a closed set: each maps to one column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Everything in one row.
    All,
    Source,
    Medium,
    Campaign,
}

impl Dimension {
    fn column(self) -> &'static str {
        match self {
            Dimension::All => "''",
            Dimension::Source => "l.first_source",
            Dimension::Medium => "l.first_medium",
            Dimension::Campaign => "l.first_campaign",
        }
    }
}

/// Leads created in `[from, to)` counted by (dimension value, furthest funnel step reached
/// by `as_of`): 0 lead, 1 mql, 2 sal, 3 sql, 4 converted, 5 won (a won opportunity or a
/// historical outcome marked won). A missing value is the empty string.
pub async fn funnel_counts(
    conn: Conn<'_>,
    by: Dimension,
    from: Micros,
    to: Micros,
    as_of: Micros,
) -> StoreResult<Vec<(String, i32, i64)>> {
    let sql = format!(
        "SELECT dim, furthest, COUNT(*) FROM ( \
           SELECT COALESCE({col}, '') AS dim, \
             CASE WHEN EXISTS (SELECT 1 FROM lead_outcomes o WHERE o.lead_id = l.id \
                    AND o.outcome = 'won' AND o.recorded_at <= $3) \
                  OR EXISTS (SELECT 1 FROM opportunities op WHERE op.lead_id = l.id \
                    AND op.stage = 'won' AND op.closed_at <= $3) THEN 5 \
             ELSE COALESCE((SELECT MAX(CASE sh.to_stage WHEN 'converted' THEN 4 WHEN 'sql' THEN 3 \
                    WHEN 'sal' THEN 2 WHEN 'mql' THEN 1 ELSE 0 END) \
                  FROM stage_history sh WHERE sh.lead_id = l.id AND sh.at <= $3), 0) END AS furthest \
           FROM leads l WHERE l.deleted_at IS NULL AND l.created_at >= $1 AND l.created_at < $2 \
             AND l.created_at <= $3 \
         ) x GROUP BY dim, furthest ORDER BY dim, furthest",
        col = by.column()
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(from)
    .bind(to)
    .bind(as_of)
    .fetch_all(c)
    .await)?)
}
