//! Admin-editable settings, one JSON document per key.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use serde_json::Value;
use sqlx::types::Json;

/// The document stored under `key`.
pub async fn get(conn: Conn<'_>, key: &str) -> StoreResult<Option<Value>> {
    let row: Option<Json<Value>> = dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT value FROM settings WHERE key = $1"
    )
    .bind(key)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|j| j.0))
}

/// Replaces the document stored under `key`.
pub async fn put(conn: Conn<'_>, key: &str, value: &Value, at: Micros) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    )
    .bind(key)
    .bind(Json(value))
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
