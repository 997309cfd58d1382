//! What lead aging reads: a lead's last activity and last stage change, and the aging
//! report's counts by stage, owner and age bucket.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// A lead's last activity and the time it entered its current stage.
pub async fn lead_times(
    mut conn: Conn<'_>,
    lead_id: Uuid,
) -> StoreResult<(Option<Micros>, Option<Micros>)> {
    let activity: Option<Micros> = dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT MAX(occurred_at) FROM activities WHERE lead_id = $1"
    )
    .bind(lead_id)
    .fetch_one(c)
    .await)?;
    let stage: Option<Micros> = dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT MAX(at) FROM stage_history WHERE lead_id = $1"
    )
    .bind(lead_id)
    .fetch_one(c)
    .await)?;
    Ok((activity, stage))
}

/// One cell of the aging report.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AgingCount {
    pub stage: String,
    pub owner_id: Option<Uuid>,
    /// Index of the age bucket (days since the last activity).
    pub bucket: i32,
    pub stale: i32,
    pub leads: i64,
}

/// Live leads counted by stage, owner, bucket of days since their last activity (or their
/// creation), and whether they are stale. `bounds` are the buckets' upper bounds in days;
/// `stale_days` the limit per stage as `(stage, days)`.
pub async fn report(
    conn: Conn<'_>,
    now: Micros,
    bounds: &[i64],
    stale_days: &[(&str, i64)],
    past: bool,
) -> StoreResult<Vec<AgingCount>> {
    const DAY: i64 = 86_400_000_000;
    let bucket = bounds
        .iter()
        .enumerate()
        .map(|(i, b)| format!("WHEN age < {} THEN {i}", b * DAY))
        .collect::<Vec<_>>()
        .join(" ");
    let stale = stale_days
        .iter()
        .map(|(s, d)| format!("WHEN '{s}' THEN {}", d * DAY))
        .collect::<Vec<_>>()
        .join(" ");
    // As of a past moment, stage and owner come from their histories.
    let (stage, owner) = if past {
        (
            crate::analytics::STAGE_THEN.replace("$3", "$1"),
            crate::analytics::OWNER_THEN.replace("$3", "$1"),
        )
    } else {
        ("l.stage".to_owned(), "l.owner_id".to_owned())
    };
    // Now, the lead's own last_activity_at; in the past, its newest activity by then.
    let last = if past {
        "(SELECT MAX(a.occurred_at) FROM activities a WHERE a.lead_id = l.id \
           AND a.occurred_at <= $1)"
    } else {
        "l.last_activity_at"
    };
    // Stage names and numbers come from the domain, never from a request.
    let sql = format!(
        "SELECT stage, owner_id, CAST(CASE {bucket} ELSE {} END AS INTEGER) AS bucket, \
                CAST(CASE WHEN age > (CASE stage {stale} ELSE -1 END) \
                          AND (CASE stage {stale} ELSE -1 END) >= 0 THEN 1 ELSE 0 END AS INTEGER) AS stale, \
                COUNT(*) AS leads \
         FROM (SELECT {stage} AS stage, {owner} AS owner_id, $1 - COALESCE({last}, \
                   l.created_at) AS age \
               FROM leads l WHERE l.deleted_at IS NULL AND l.created_at <= $1) x \
         GROUP BY stage, owner_id, 3, 4 ORDER BY stage, owner_id",
        bounds.len(),
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(now)
    .fetch_all(c)
    .await)?)
}
