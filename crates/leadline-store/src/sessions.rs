//! Browser sessions. The cookie holds a random token; only its hash is stored.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// Stores a new session.
pub async fn insert(
    conn: Conn<'_>,
    token_hash: &str,
    user_id: Uuid,
    now: Micros,
    expires_at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)"
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The user of a live session: not expired and seen within `idle` microseconds.
pub async fn user_for(
    conn: Conn<'_>,
    token_hash: &str,
    now: Micros,
    idle: Micros,
) -> StoreResult<Option<(Uuid, Micros)>> {
    let r: Option<(Uuid, Micros)> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT user_id, last_seen_at FROM sessions WHERE token_hash = $1 AND expires_at > $2 AND last_seen_at > $3"
    )
    .bind(token_hash)
    .bind(now)
    .bind(now - idle)
    .fetch_optional(c)
    .await
    })?;
    Ok(r)
}

/// Moves a session's idle clock forward.
pub async fn touch(conn: Conn<'_>, token_hash: &str, now: Micros) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1"
    )
    .bind(token_hash)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends one session.
pub async fn delete(conn: Conn<'_>, token_hash: &str) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "DELETE FROM sessions WHERE token_hash = $1"
    )
    .bind(token_hash)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends every session of a user (logout everywhere, deactivation, password change).
pub async fn delete_for_user(conn: Conn<'_>, user_id: Uuid) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "DELETE FROM sessions WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes expired sessions.
pub async fn purge_expired(conn: Conn<'_>, now: Micros) -> StoreResult<u64> {
    let r = dispatch!(conn, |c| sqlx::query(
        "DELETE FROM sessions WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r)
}
