//! Lead merges: moving a merged lead's records to the survivor, the merge record that
//! lets a person undo it, and moving them back.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// What a merge moved from one merged lead to the survivor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Moved {
    pub activities: Vec<Uuid>,
    pub stage_history: Vec<Uuid>,
    pub owner_history: Vec<Uuid>,
    pub visitors: Vec<String>,
    pub links: Vec<String>,
    pub fingerprints: Vec<String>,
    /// The referral moved (the survivor had none).
    pub referral: bool,
    /// The historical outcome moved (the survivor had none).
    pub outcome: bool,
    /// Enriched values moved, as (field, provider).
    pub enrichment: Vec<(String, String)>,
    /// Consent records (the survivor inherits what the person agreed to).
    pub consents: Vec<Uuid>,
}

/// Moves `table`'s rows from one lead to another; returns the moved rows' `key` column.
async fn move_rows<K>(
    conn: Conn<'_>,
    table: &str,
    key: &str,
    to: Uuid,
    from: Uuid,
) -> StoreResult<Vec<K>>
where
    K: Send
        + Unpin
        + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>,
{
    let sql = format!("UPDATE {table} SET lead_id = $1 WHERE lead_id = $2 RETURNING {key}");
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(to)
    .bind(from)
    .fetch_all(c)
    .await)?)
}

async fn exec(conn: Conn<'_>, sql: &str, to: Uuid, from: Uuid) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(to)
        .bind(from)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Moves everything recorded against `from` to `to`: timeline, stage and owner history,
/// visitors, consent records, tracked links, import fingerprints, and the referral, outcome and enriched
/// values where `to` has none of its own.
pub async fn repoint(mut conn: Conn<'_>, from: Uuid, to: Uuid) -> StoreResult<Moved> {
    let mut m = Moved {
        activities: move_rows(conn.reborrow(), "activities", "id", to, from).await?,
        stage_history: move_rows(conn.reborrow(), "stage_history", "id", to, from).await?,
        owner_history: move_rows(conn.reborrow(), "owner_history", "id", to, from).await?,
        visitors: move_rows(conn.reborrow(), "visitors", "id", to, from).await?,
        consents: move_rows(conn.reborrow(), "consents", "id", to, from).await?,
        links: move_rows(conn.reborrow(), "tracked_links", "token", to, from).await?,
        fingerprints: move_rows(
            conn.reborrow(),
            "lead_fingerprints",
            "fingerprint",
            to,
            from,
        )
        .await?,
        ..Moved::default()
    };
    m.referral = exec(
        conn.reborrow(),
        "UPDATE referrals SET lead_id = $1 WHERE lead_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.lead_id = $1)",
        to,
        from,
    )
    .await?
        == 1;
    m.outcome = exec(
        conn.reborrow(),
        "UPDATE lead_outcomes SET lead_id = $1 WHERE lead_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM lead_outcomes o WHERE o.lead_id = $1)",
        to,
        from,
    )
    .await?
        == 1;
    m.enrichment = dispatch!(conn.reborrow(), |c| sqlx::query_as(
        "UPDATE lead_enrichment SET lead_id = $1 WHERE lead_id = $2 AND NOT EXISTS ( \
            SELECT 1 FROM lead_enrichment e WHERE e.lead_id = $1 \
            AND e.field = lead_enrichment.field AND e.provider = lead_enrichment.provider) \
         RETURNING field, provider"
    )
    .bind(to)
    .bind(from)
    .fetch_all(c)
    .await)?;
    after_move(conn, &[from, to]).await?;
    Ok(m)
}

/// What follows rows moving between leads: their milestones and last activity again.
async fn after_move(mut conn: Conn<'_>, leads: &[Uuid]) -> StoreResult<()> {
    for &l in leads {
        crate::milestones::recompute(conn.reborrow(), l).await?;
    }
    crate::activities::refresh_last_activity(conn, leads).await
}

async fn move_ids(
    mut conn: Conn<'_>,
    table: &str,
    column: &str,
    values: &[impl AsRef<str>],
    uuids: &[Uuid],
    to: Uuid,
) -> StoreResult<()> {
    let n = values.len().max(uuids.len());
    for start in (0..n).step_by(500) {
        let end = (start + 500).min(n);
        let sql = format!(
            "UPDATE {table} SET lead_id = $1 WHERE {column} IN ({})",
            crate::sql::placeholders(end - start, 1)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(to);
            if uuids.is_empty() {
                for v in &values[start..end] {
                    q = q.bind(v.as_ref().to_owned());
                }
            } else {
                for v in &uuids[start..end] {
                    q = q.bind(*v);
                }
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Moves what [`repoint`] moved from the survivor back to the merged lead `to`.
pub async fn move_back(mut conn: Conn<'_>, m: &Moved, survivor: Uuid, to: Uuid) -> StoreResult<()> {
    let none: &[String] = &[];
    move_ids(conn.reborrow(), "activities", "id", none, &m.activities, to).await?;
    move_ids(
        conn.reborrow(),
        "stage_history",
        "id",
        none,
        &m.stage_history,
        to,
    )
    .await?;
    move_ids(
        conn.reborrow(),
        "owner_history",
        "id",
        none,
        &m.owner_history,
        to,
    )
    .await?;
    move_ids(conn.reborrow(), "visitors", "id", &m.visitors, &[], to).await?;
    move_ids(conn.reborrow(), "consents", "id", none, &m.consents, to).await?;
    move_ids(conn.reborrow(), "tracked_links", "token", &m.links, &[], to).await?;
    move_ids(
        conn.reborrow(),
        "lead_fingerprints",
        "fingerprint",
        &m.fingerprints,
        &[],
        to,
    )
    .await?;
    if m.referral {
        exec(
            conn.reborrow(),
            "UPDATE referrals SET lead_id = $1 WHERE lead_id = $2",
            to,
            survivor,
        )
        .await?;
    }
    if m.outcome {
        exec(
            conn.reborrow(),
            "UPDATE lead_outcomes SET lead_id = $1 WHERE lead_id = $2",
            to,
            survivor,
        )
        .await?;
    }
    for (field, provider) in &m.enrichment {
        dispatch!(conn.reborrow(), |c| {
            sqlx::query(
            "UPDATE lead_enrichment SET lead_id = $1 WHERE lead_id = $2 AND field = $3 AND provider = $4"
        )
        .bind(to)
        .bind(survivor)
        .bind(field)
        .bind(provider)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
    }
    after_move(conn, &[survivor, to]).await
}

/// A stored merge.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeRow {
    pub id: Uuid,
    pub survivor_id: Uuid,
    /// Snapshots of the merged leads (JSON of `Lead`).
    pub merged: Value,
    pub survivor_before: Value,
    pub survivor_after: Value,
    /// Per merged lead id, what moved ([`Moved`]).
    pub moved: Value,
    pub picks: Value,
    pub merged_by: String,
    pub merged_at: Micros,
    pub undone_by: Option<String>,
    pub undone_at: Option<Micros>,
}

type Row = (
    Uuid,
    Uuid,
    Json<Value>,
    Json<Value>,
    Json<Value>,
    Json<Value>,
    Json<Value>,
    String,
    Micros,
    Option<String>,
    Option<Micros>,
);

fn row(r: Row) -> MergeRow {
    MergeRow {
        id: r.0,
        survivor_id: r.1,
        merged: r.2.0,
        survivor_before: r.3.0,
        survivor_after: r.4.0,
        moved: r.5.0,
        picks: r.6.0,
        merged_by: r.7,
        merged_at: r.8,
        undone_by: r.9,
        undone_at: r.10,
    }
}

const COLUMNS: &str = "id, survivor_id, merged, survivor_before, survivor_after, moved, picks, \
                       merged_by, merged_at, undone_by, undone_at";

/// Records a merge and which leads it merged away.
pub async fn insert(mut conn: Conn<'_>, m: &MergeRow, merged_ids: &[Uuid]) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO lead_merges ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    );
    dispatch!(conn.reborrow(), |c| sqlx::query(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(m.id)
    .bind(m.survivor_id)
    .bind(Json(crate::sql::without_nul(&m.merged)))
    .bind(Json(crate::sql::without_nul(&m.survivor_before)))
    .bind(Json(crate::sql::without_nul(&m.survivor_after)))
    .bind(Json(&m.moved))
    .bind(Json(crate::sql::without_nul(&m.picks)))
    .bind(&m.merged_by)
    .bind(m.merged_at)
    .bind(&m.undone_by)
    .bind(m.undone_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    for id in merged_ids {
        dispatch!(conn.reborrow(), |c| sqlx::query(
            "INSERT INTO merged_leads (lead_id, merge_id) VALUES ($1, $2)"
        )
        .bind(id)
        .bind(m.id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// One merge.
pub async fn get(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<MergeRow>> {
    let sql = format!("SELECT {COLUMNS} FROM lead_merges WHERE id = $1");
    let r: Option<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(r.map(row))
}

/// Merges, newest first, before `(merged_at, id)` of the previous page; `survivor` narrows
/// them to one lead's.
pub async fn list(
    conn: Conn<'_>,
    survivor: Option<Uuid>,
    before: Option<(Micros, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<MergeRow>> {
    let (at, id) = before.unwrap_or((i64::MAX, Uuid::max()));
    let sql = format!(
        "SELECT {COLUMNS} FROM lead_merges WHERE ($1 IS NULL OR survivor_id = $1) \
         AND (merged_at < $2 OR (merged_at = $2 AND id < $3)) \
         ORDER BY merged_at DESC, id DESC LIMIT $4"
    );
    let rows: Vec<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(survivor)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(row).collect())
}

/// Marks a merge undone and forgets which leads it merged away. False when it already was.
pub async fn mark_undone(mut conn: Conn<'_>, id: Uuid, by: &str, at: Micros) -> StoreResult<bool> {
    let n = dispatch!(conn.reborrow(), |c| {
        sqlx::query(
        "UPDATE lead_merges SET undone_by = $2, undone_at = $3 WHERE id = $1 AND undone_at IS NULL"
    )
    .bind(id)
    .bind(by)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    dispatch!(conn, |c| sqlx::query(
        "DELETE FROM merged_leads WHERE merge_id = $1"
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The merge that merged `lead_id` away and its survivor, if it was.
pub async fn merged_into(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Option<(Uuid, Uuid)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT m.id, m.survivor_id FROM merged_leads ml JOIN lead_merges m ON m.id = ml.merge_id \
         WHERE ml.lead_id = $1"
    )
    .bind(lead_id)
    .fetch_optional(c)
    .await)?)
}

/// Merges not undone, and the leads they merged away.
pub async fn counts(conn: Conn<'_>) -> StoreResult<(i64, i64)> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM lead_merges WHERE undone_at IS NULL), \
                (SELECT COUNT(*) FROM merged_leads)"
    )
    .fetch_one(c)
    .await)?)
}
