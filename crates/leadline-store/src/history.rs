//! Stage and owner history: who moved a lead where, when and why.

use crate::db::Conn;
use crate::error::StoreResult;
pub use leadline_domain::history::{OwnerChange, StageChange};
use leadline_domain::time::{Micros, from_micros, to_micros};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct StageRow {
    id: Uuid,
    lead_id: Uuid,
    from_stage: Option<String>,
    to_stage: String,
    reason: Option<String>,
    note: Option<String>,
    actor: String,
    at: Micros,
}

#[derive(sqlx::FromRow)]
struct OwnerRow {
    id: Uuid,
    lead_id: Uuid,
    from_owner: Option<Uuid>,
    to_owner: Option<Uuid>,
    reason: Option<String>,
    actor: String,
    at: Micros,
    team_id: Option<Uuid>,
    rule_id: Option<String>,
    method: Option<String>,
    routing_version: Option<i32>,
}

/// Records a stage change.
pub async fn record_stage(mut conn: Conn<'_>, ch: &StageChange) -> StoreResult<()> {
    dispatch!(conn.reborrow(), |c| {
        sqlx::query(
        "INSERT INTO stage_history (id, lead_id, from_stage, to_stage, reason, note, actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(ch.id)
    .bind(ch.lead_id)
    .bind(&ch.from_stage)
    .bind(&ch.to_stage)
    .bind(&ch.reason)
    .bind(&ch.note)
    .bind(&ch.actor)
    .bind(to_micros(ch.at))
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    if let Some(step) = crate::milestones::step_of_stage(&ch.to_stage) {
        crate::milestones::reach(conn, ch.lead_id, step, to_micros(ch.at)).await?;
    }
    Ok(())
}

/// Records many stage changes (bulk-load path).
pub async fn record_stages(mut conn: Conn<'_>, items: &[StageChange]) -> StoreResult<()> {
    for chunk in items.chunks(crate::sql::bulk_rows(conn.backend(), 8)) {
        let sql = format!(
            "INSERT INTO stage_history (id, lead_id, from_stage, to_stage, reason, note, actor, at) VALUES {}",
            crate::sql::values_rows(conn.backend(), chunk.len(), 8)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for ch in chunk {
                q = q
                    .bind(ch.id)
                    .bind(ch.lead_id)
                    .bind(&ch.from_stage)
                    .bind(&ch.to_stage)
                    .bind(&ch.reason)
                    .bind(&ch.note)
                    .bind(&ch.actor)
                    .bind(to_micros(ch.at));
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    let reached: Vec<_> = items
        .iter()
        .filter_map(|ch| {
            crate::milestones::step_of_stage(&ch.to_stage)
                .map(|s| (ch.lead_id, s, to_micros(ch.at)))
        })
        .collect();
    crate::milestones::reach_many(conn, &reached).await?;
    Ok(())
}

/// Records an owner change, with its lead's creation time (0037; written here, so SQLite's
/// trigger need not rewrite the row).
pub async fn record_owner(conn: Conn<'_>, ch: &OwnerChange) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
            "INSERT INTO owner_history (id, lead_id, from_owner, to_owner, reason, actor, at, \
         team_id, rule_id, method, routing_version, lead_created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
           (SELECT l.created_at FROM leads l WHERE l.id = $2))",
        )
        .bind(ch.id)
        .bind(ch.lead_id)
        .bind(ch.from_owner)
        .bind(ch.to_owner)
        .bind(&ch.reason)
        .bind(&ch.actor)
        .bind(to_micros(ch.at))
        .bind(ch.team_id)
        .bind(&ch.rule_id)
        .bind(&ch.method)
        .bind(ch.routing_version)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A lead's stage history, oldest first.
pub async fn stages_for_lead(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Vec<StageChange>> {
    let v: Vec<StageRow> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT id, lead_id, from_stage, to_stage, reason, note, actor, at FROM stage_history WHERE lead_id = $1 ORDER BY at, id"
    )
    .bind(lead_id)
    .fetch_all(c)
    .await
    })?;
    Ok(v.into_iter()
        .map(|r| StageChange {
            id: r.id,
            lead_id: r.lead_id,
            from_stage: r.from_stage,
            to_stage: r.to_stage,
            reason: r.reason,
            note: r.note,
            actor: r.actor,
            at: from_micros(r.at),
        })
        .collect())
}

/// A lead's owner history, oldest first.
pub async fn owners_for_lead(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Vec<OwnerChange>> {
    let v: Vec<OwnerRow> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT id, lead_id, from_owner, to_owner, reason, actor, at, team_id, rule_id, method, \
         routing_version FROM owner_history WHERE lead_id = $1 ORDER BY at, id"
    )
    .bind(lead_id)
    .fetch_all(c)
    .await
    })?;
    Ok(v.into_iter()
        .map(|r| OwnerChange {
            id: r.id,
            lead_id: r.lead_id,
            from_owner: r.from_owner,
            to_owner: r.to_owner,
            reason: r.reason,
            actor: r.actor,
            at: from_micros(r.at),
            team_id: r.team_id,
            rule_id: r.rule_id,
            method: r.method,
            routing_version: r.routing_version,
        })
        .collect())
}
