//! Activities on a lead's timeline.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::Activity;
use leadline_domain::time::{Micros, from_micros, to_micros};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ActivityRow {
    id: Uuid,
    lead_id: Uuid,
    kind: String,
    occurred_at: Micros,
    properties: Json<Map<String, Value>>,
    recorded_by: Option<String>,
    created_at: Micros,
}

impl From<ActivityRow> for Activity {
    fn from(r: ActivityRow) -> Self {
        Activity {
            id: r.id,
            lead_id: r.lead_id,
            kind: r.kind,
            occurred_at: from_micros(r.occurred_at),
            properties: r.properties.0,
            recorded_by: r.recorded_by,
            created_at: from_micros(r.created_at),
        }
    }
}

/// Appends an activity.
pub async fn insert(mut conn: Conn<'_>, a: &Activity) -> StoreResult<()> {
    dispatch!(conn.reborrow(), |c| {
        sqlx::query(
        "INSERT INTO activities (id, lead_id, kind, occurred_at, properties, recorded_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(a.id)
    .bind(a.lead_id)
    .bind(&a.kind)
    .bind(to_micros(a.occurred_at))
    .bind(Json(crate::sql::map_without_nul(&a.properties)))
    .bind(&a.recorded_by)
    .bind(to_micros(a.created_at))
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    // The lead's last activity only moves forward when one is appended.
    dispatch!(conn, |c| sqlx::query(
        "UPDATE leads SET last_activity_at = $2 WHERE id = $1 \
         AND (last_activity_at IS NULL OR last_activity_at < $2)"
    )
    .bind(a.lead_id)
    .bind(to_micros(a.occurred_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Recomputes `leads.last_activity_at` (the newest activity's time, which the aging report
/// reads) for leads whose timeline gained or lost rows in bulk.
pub async fn refresh_last_activity(mut conn: Conn<'_>, leads: &[Uuid]) -> StoreResult<()> {
    let mut ids: Vec<Uuid> = leads.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        dispatch!(conn.reborrow(), |c| sqlx::query(
            "UPDATE leads SET last_activity_at = \
               (SELECT MAX(a.occurred_at) FROM activities a WHERE a.lead_id = leads.id) \
             WHERE id = $1"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Appends many activities (bulk-load path).
pub async fn insert_many(mut conn: Conn<'_>, items: &[Activity]) -> StoreResult<()> {
    for chunk in items.chunks(crate::sql::bulk_rows(conn.backend(), 7)) {
        let sql = format!(
            "INSERT INTO activities (id, lead_id, kind, occurred_at, properties, recorded_by, created_at) VALUES {}",
            crate::sql::values_rows(conn.backend(), chunk.len(), 7)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for a in chunk {
                q = q
                    .bind(a.id)
                    .bind(a.lead_id)
                    .bind(&a.kind)
                    .bind(to_micros(a.occurred_at))
                    .bind(Json(crate::sql::map_without_nul(&a.properties)))
                    .bind(&a.recorded_by)
                    .bind(to_micros(a.created_at));
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    let leads: Vec<Uuid> = items.iter().map(|a| a.lead_id).collect();
    refresh_last_activity(conn, &leads).await
}

/// A lead's activities, newest first, at most `limit`, older than `before` when given.
pub async fn for_lead(
    conn: Conn<'_>,
    lead_id: Uuid,
    before: Option<(Micros, Uuid)>,
    limit: u32,
) -> StoreResult<Vec<Activity>> {
    let (t, id) = before.unwrap_or((i64::MAX, Uuid::max()));
    let rows: Vec<ActivityRow> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT id, lead_id, kind, occurred_at, properties, recorded_by, created_at FROM activities \
         WHERE lead_id = $1 AND (occurred_at, id) < ($2, $3) ORDER BY occurred_at DESC, id DESC LIMIT $4"
    )
    .bind(lead_id)
    .bind(t)
    .bind(id)
    .bind(i64::from(limit))
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(Activity::from).collect())
}

/// Every activity (benchmarks and reports of the database's size).
pub async fn count_all(conn: Conn<'_>) -> StoreResult<i64> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM activities"
    )
    .fetch_one(c)
    .await)?)
}
