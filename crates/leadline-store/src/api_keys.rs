//! API keys. Only a SHA-256 hash of each key is stored.

use crate::db::Conn;
use crate::error::{StoreError, StoreResult};
use leadline_domain::account::ApiKey;
use leadline_domain::time::{Micros, from_micros, to_micros};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    name: String,
    role: String,
    user_id: Option<Uuid>,
    prefix: String,
    created_at: Micros,
    last_used_at: Option<Micros>,
    revoked_at: Option<Micros>,
}

impl KeyRow {
    fn into_key(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            id: self.id,
            name: self.name,
            role: self
                .role
                .parse()
                .map_err(|e: leadline_domain::stage::UnknownValue| {
                    StoreError::Corrupt(e.to_string())
                })?,
            user_id: self.user_id,
            prefix: self.prefix,
            created_at: from_micros(self.created_at),
            last_used_at: self.last_used_at.map(from_micros),
            revoked_at: self.revoked_at.map(from_micros),
        })
    }
}

const COLS: &str = "id, name, role, user_id, prefix, created_at, last_used_at, revoked_at";

/// Stores a new key's metadata and hash.
pub async fn insert(conn: Conn<'_>, k: &ApiKey, key_hash: &str) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO api_keys (id, name, role, user_id, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(k.id)
    .bind(&k.name)
    .bind(k.role.as_str())
    .bind(k.user_id)
    .bind(&k.prefix)
    .bind(key_hash)
    .bind(to_micros(k.created_at))
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Finds a key that is not revoked by its hash.
pub async fn by_hash(conn: Conn<'_>, key_hash: &str) -> StoreResult<Option<ApiKey>> {
    let sql = format!("SELECT {COLS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL");
    let r: Option<KeyRow> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(key_hash)
        .fetch_optional(c)
        .await)?;
    r.map(KeyRow::into_key).transpose()
}

/// Records use, at most once a minute per key to keep reads cheap.
pub async fn touch(conn: Conn<'_>, id: Uuid, at: Micros) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)"
    )
    .bind(id)
    .bind(at)
    .bind(at - 60_000_000)
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Revokes a key at once. Returns false when it was unknown or already revoked.
pub async fn revoke(conn: Conn<'_>, id: Uuid, at: Micros) -> StoreResult<bool> {
    let r = dispatch!(conn, |c| sqlx::query(
        "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
    )
    .bind(id)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Every key, newest first.
pub async fn list(conn: Conn<'_>) -> StoreResult<Vec<ApiKey>> {
    let sql = format!("SELECT {COLS} FROM api_keys ORDER BY created_at DESC");
    let rows: Vec<KeyRow> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .fetch_all(c)
        .await)?;
    rows.into_iter().map(KeyRow::into_key).collect()
}
