//! Custom field definitions.

use crate::db::Conn;
use crate::error::{StoreError, StoreResult};
use leadline_domain::CustomFieldDef;
use leadline_domain::time::{Micros, from_micros, to_micros};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    key: String,
    label: String,
    kind: String,
    options: Json<Vec<String>>,
    created_at: Micros,
}

/// Every definition, in creation order.
pub async fn list(conn: Conn<'_>) -> StoreResult<Vec<CustomFieldDef>> {
    let rows: Vec<Row> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT id, key, label, kind, options, created_at FROM custom_fields ORDER BY created_at, id"
    )
    .fetch_all(c)
    .await
    })?;
    rows.into_iter()
        .map(|r| {
            Ok(CustomFieldDef {
                id: r.id,
                key: r.key,
                label: r.label,
                kind: r
                    .kind
                    .parse()
                    .map_err(|e: leadline_domain::stage::UnknownValue| {
                        StoreError::Corrupt(e.to_string())
                    })?,
                options: r.options.0,
                created_at: from_micros(r.created_at),
            })
        })
        .collect()
}

/// Adds a definition (keys are unique).
pub async fn insert(conn: Conn<'_>, d: &CustomFieldDef) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO custom_fields (id, key, label, kind, options, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(d.id)
    .bind(&d.key)
    .bind(&d.label)
    .bind(d.kind.as_str())
    .bind(Json(&d.options))
    .bind(to_micros(d.created_at))
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Changes a definition's label and options (the key and kind are fixed once created).
pub async fn update(
    conn: Conn<'_>,
    id: Uuid,
    label: &str,
    options: &[String],
) -> StoreResult<bool> {
    let r = dispatch!(conn, |c| sqlx::query(
        "UPDATE custom_fields SET label = $2, options = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(label)
    .bind(Json(options))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Removes a definition; values already stored on leads stay in their JSON until edited.
pub async fn delete(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let r = dispatch!(conn, |c| sqlx::query(
        "DELETE FROM custom_fields WHERE id = $1"
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}
