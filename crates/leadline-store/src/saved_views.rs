//! Saved lead-list views, per user.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::account::SavedView;
use leadline_domain::time::{Micros, from_micros, to_micros};
use uuid::Uuid;

/// Saves a view (names are unique per user).
pub async fn insert(conn: Conn<'_>, v: &SavedView) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO saved_views (id, user_id, name, query, created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(v.id)
    .bind(v.user_id)
    .bind(&v.name)
    .bind(&v.query)
    .bind(to_micros(v.created_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A user's views, by name.
pub async fn for_user(conn: Conn<'_>, user_id: Uuid) -> StoreResult<Vec<SavedView>> {
    let rows: Vec<(Uuid, Uuid, String, String, Micros)> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT id, user_id, name, query, created_at FROM saved_views WHERE user_id = $1 ORDER BY name"
    )
    .bind(user_id)
    .fetch_all(c)
    .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(id, user_id, name, query, at)| SavedView {
            id,
            user_id,
            name,
            query,
            created_at: from_micros(at),
        })
        .collect())
}

/// Deletes one of a user's views.
pub async fn delete(conn: Conn<'_>, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
    let r = dispatch!(conn, |c| sqlx::query(
        "DELETE FROM saved_views WHERE id = $1 AND user_id = $2"
    )
    .bind(id)
    .bind(user_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}
