//! Routing: rule set versions, reps' routing settings, each team's turns (taken under a
//! per-team row lock) and the figures a team's pick needs (open leads, conversion rates).

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// A saved routing rule set.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub version: i32,
    pub rules: Json<Value>,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: Micros,
    pub activated_at: Option<Micros>,
    pub in_force: bool,
}

const VERSION_COLUMNS: &str =
    "version, rules, note, created_by, created_at, activated_at, in_force";

/// Saves a new version (numbered after the newest) and returns its number.
pub async fn insert_version(
    mut conn: Conn<'_>,
    rules: &Value,
    note: Option<&str>,
    by: &str,
    at: Micros,
) -> StoreResult<i32> {
    let next: i32 = dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM routing_versions"
    )
    .fetch_one(c)
    .await)?;
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO routing_versions (version, rules, note, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(next)
    .bind(Json(rules))
    .bind(note)
    .bind(by)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(next)
}

/// One version.
pub async fn version(conn: Conn<'_>, version: i32) -> StoreResult<Option<VersionRow>> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM routing_versions WHERE version = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(version)
    .fetch_optional(c)
    .await)?)
}

/// The version in force, if any.
pub async fn in_force(conn: Conn<'_>) -> StoreResult<Option<VersionRow>> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM routing_versions WHERE in_force");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .fetch_optional(c)
    .await)?)
}

/// The newest versions first.
pub async fn versions(conn: Conn<'_>, limit: i64) -> StoreResult<Vec<VersionRow>> {
    let sql =
        format!("SELECT {VERSION_COLUMNS} FROM routing_versions ORDER BY version DESC LIMIT $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Puts a version in force (and the previous one out). False when there is no such
/// version.
pub async fn put_in_force(mut conn: Conn<'_>, version: i32, at: Micros) -> StoreResult<bool> {
    dispatch!(conn.reborrow(), |c| sqlx::query(
        "UPDATE routing_versions SET in_force = FALSE WHERE in_force AND version <> $1"
    )
    .bind(version)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    let n = dispatch!(conn, |c| sqlx::query(
        "UPDATE routing_versions SET in_force = TRUE, activated_at = $2 WHERE version = $1"
    )
    .bind(version)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Reps' routing settings (JSON documents) for these users; users without any are left
/// out.
pub async fn rep_settings(conn: Conn<'_>, users: &[Uuid]) -> StoreResult<Vec<(Uuid, Value)>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT user_id, settings FROM rep_settings WHERE user_id IN ({})",
        crate::sql::placeholders(users.len(), 0)
    );
    let rows: Vec<(Uuid, Json<Value>)> = dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for u in users {
            q = q.bind(*u);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows.into_iter().map(|(u, j)| (u, j.0)).collect())
}

/// Replaces a rep's routing settings.
pub async fn set_rep_settings(
    conn: Conn<'_>,
    user: Uuid,
    settings: &Value,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO rep_settings (user_id, settings, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings, \
         updated_at = excluded.updated_at"
    )
    .bind(user)
    .bind(Json(settings))
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Takes the team's turn lock until the transaction ends: concurrent picks for one team,
/// from any number of server processes, run one after the other (PostgreSQL row lock;
/// SQLite has one writer anyway). Reads after this see every earlier pick.
pub async fn lock_team(mut conn: Conn<'_>, team: Uuid) -> StoreResult<()> {
    dispatch!(conn.reborrow(), |c| sqlx::query(
        "INSERT INTO routing_locks (team_id, turns) VALUES ($1, 0) ON CONFLICT DO NOTHING"
    )
    .bind(team)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    dispatch!(conn, |c| sqlx::query(
        "UPDATE routing_locks SET turns = turns + 1 WHERE team_id = $1"
    )
    .bind(team)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// How many leads the team has routed to each member with a count.
pub async fn turns(conn: Conn<'_>, team: Uuid) -> StoreResult<Vec<(Uuid, i64)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT user_id, assigned FROM routing_turns WHERE team_id = $1"
    )
    .bind(team)
    .fetch_all(c)
    .await)?)
}

/// Sets a member's count (under the team's lock).
pub async fn set_turn(conn: Conn<'_>, team: Uuid, user: Uuid, assigned: i64) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO routing_turns (team_id, user_id, assigned) VALUES ($1, $2, $3) \
         ON CONFLICT (team_id, user_id) DO UPDATE SET assigned = excluded.assigned"
    )
    .bind(team)
    .bind(user)
    .bind(assigned)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Open leads (new, MQL, SAL, SQL) each of these users owns.
pub async fn open_leads(conn: Conn<'_>, users: &[Uuid]) -> StoreResult<Vec<(Uuid, i64)>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT owner_id, COUNT(*) FROM leads WHERE deleted_at IS NULL \
         AND stage IN ('new', 'mql', 'sal', 'sql') AND owner_id IN ({}) GROUP BY owner_id",
        crate::sql::placeholders(users.len(), 0)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for u in users {
            q = q.bind(*u);
        }
        q.fetch_all(c).await
    })?)
}

/// Per user: leads they own that were decided since `since` — converted, and converted or
/// lost (disqualified, back to nurture).
pub async fn decided_since(
    conn: Conn<'_>,
    users: &[Uuid],
    since: Micros,
) -> StoreResult<Vec<(Uuid, i64, i64)>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT l.owner_id, \
                SUM(CASE WHEN h.to_stage = 'converted' THEN 1 ELSE 0 END), COUNT(*) \
         FROM stage_history h JOIN leads l ON l.id = h.lead_id \
         WHERE h.at >= $1 AND h.to_stage IN ('converted', 'disqualified', 'nurture') \
         AND l.owner_id IN ({}) GROUP BY l.owner_id",
        crate::sql::placeholders(users.len(), 1)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(since);
        for u in users {
            q = q.bind(*u);
        }
        q.fetch_all(c).await
    })?)
}

/// Gives a lead to an owner and/or team queue if it is still at `expected_version`; false
/// when somebody changed it first (or it is gone).
pub async fn set_owner(
    conn: Conn<'_>,
    lead: Uuid,
    owner: Option<Uuid>,
    team: Option<Uuid>,
    expected_version: i64,
    at: Micros,
) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "UPDATE leads SET owner_id = $2, team_id = $3, version = version + 1, updated_at = $5 \
         WHERE id = $1 AND version = $4 AND deleted_at IS NULL"
    )
    .bind(lead)
    .bind(owner)
    .bind(team)
    .bind(expected_version)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Open leads (new, MQL, SAL, SQL) nobody owns, by team queue (none: no queue at all).
pub async fn unowned_by_queue(conn: Conn<'_>) -> StoreResult<Vec<(Option<Uuid>, i64)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT team_id, COUNT(*) FROM leads WHERE deleted_at IS NULL AND owner_id IS NULL \
         AND stage IN ('new', 'mql', 'sal', 'sql') GROUP BY team_id"
    )
    .fetch_all(c)
    .await)?)
}
