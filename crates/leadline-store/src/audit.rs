//! The audit log: who changed what, with old and new values.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::account::AuditEntry;
use leadline_domain::time::{Micros, from_micros, to_micros};
use sqlx::types::Json;
use uuid::Uuid;

/// Appends an entry; `actor_user_id`/`actor_api_key_id` identify the principal.
pub async fn insert(
    conn: Conn<'_>,
    e: &AuditEntry,
    actor_user_id: Option<Uuid>,
    actor_api_key_id: Option<Uuid>,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO audit_log (id, actor, actor_user_id, actor_api_key_id, action, entity_type, entity_id, changes, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    .bind(e.id)
    .bind(&e.actor)
    .bind(actor_user_id)
    .bind(actor_api_key_id)
    .bind(&e.action)
    .bind(&e.entity_type)
    .bind(e.entity_id)
    .bind(Json(&e.changes))
    .bind(to_micros(e.at))
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    actor: String,
    action: String,
    entity_type: String,
    entity_id: Option<Uuid>,
    changes: Json<serde_json::Value>,
    at: Micros,
}

/// Entries about one entity, newest first.
pub async fn for_entity(
    conn: Conn<'_>,
    entity_type: &str,
    entity_id: Uuid,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let rows: Vec<Row> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, actor, action, entity_type, entity_id, changes, at FROM audit_log \
         WHERE entity_type = $1 AND entity_id = $2 ORDER BY at DESC, id DESC LIMIT $3"
    )
    .bind(entity_type)
    .bind(entity_id)
    .bind(i64::from(limit))
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            actor: r.actor,
            action: r.action,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            changes: r.changes.0,
            at: from_micros(r.at),
        })
        .collect())
}
