//! Teams and their members.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::account::Team;
use leadline_domain::time::{Micros, from_micros, to_micros};
use uuid::Uuid;

/// Creates a team (names are unique).
pub async fn insert(conn: Conn<'_>, t: &Team) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)"
    )
    .bind(t.id)
    .bind(&t.name)
    .bind(to_micros(t.created_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Replaces a team's member list.
pub async fn set_members(mut conn: Conn<'_>, team_id: Uuid, members: &[Uuid]) -> StoreResult<()> {
    dispatch!(conn.reborrow(), |c| sqlx::query(
        "DELETE FROM team_members WHERE team_id = $1"
    )
    .bind(team_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    for m in members {
        dispatch!(conn.reborrow(), |c| sqlx::query(
            "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)"
        )
        .bind(team_id)
        .bind(*m)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Renames a team.
pub async fn rename(conn: Conn<'_>, id: Uuid, name: &str) -> StoreResult<bool> {
    let r = dispatch!(conn, |c| sqlx::query(
        "UPDATE teams SET name = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(name)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Deletes a team; its leads keep their owners and lose the team queue.
pub async fn delete(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let r = dispatch!(conn, |c| sqlx::query("DELETE FROM teams WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Every team with its members, by name.
pub async fn list(mut conn: Conn<'_>) -> StoreResult<Vec<Team>> {
    let teams: Vec<(Uuid, String, Micros)> = dispatch!(conn.reborrow(), |c| sqlx::query_as(
        "SELECT id, name, created_at FROM teams ORDER BY name"
    )
    .fetch_all(c)
    .await)?;
    let members: Vec<(Uuid, Uuid)> = dispatch!(conn.reborrow(), |c| sqlx::query_as(
        "SELECT team_id, user_id FROM team_members"
    )
    .fetch_all(c)
    .await)?;
    Ok(teams
        .into_iter()
        .map(|(id, name, created_at)| Team {
            id,
            name,
            members: members
                .iter()
                .filter(|(t, _)| *t == id)
                .map(|(_, u)| *u)
                .collect(),
            created_at: from_micros(created_at),
        })
        .collect())
}

/// True when the team exists.
pub async fn exists(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let n: i64 = dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM teams WHERE id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// One team with its members.
pub async fn get(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<Team>> {
    Ok(list(conn).await?.into_iter().find(|t| t.id == id))
}
