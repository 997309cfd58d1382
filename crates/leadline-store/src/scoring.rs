//! Scoring models and their versions, each lead's scores, score history and re-score jobs.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

/// A model as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ModelRow {
    pub key: String,
    pub is_default: bool,
    pub active_version: Option<i32>,
    pub created_at: Micros,
}

/// One saved version of a model's rules.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct VersionRow {
    pub model_key: String,
    pub version: i32,
    pub definition: Json<Value>,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: Micros,
    pub activated_at: Option<Micros>,
}

/// A lead's score under one model.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ScoreRow {
    pub lead_id: Uuid,
    pub model_key: String,
    pub score: i32,
    pub fit: i32,
    pub grade: String,
    pub priority: String,
    pub version: i32,
    pub computed_at: Micros,
}

/// A recorded change of score.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub model_key: String,
    pub at: Micros,
    pub score: i32,
    pub grade: String,
    pub version: i32,
    pub cause: String,
}

/// A full re-score.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobRow {
    pub id: Uuid,
    pub model_key: String,
    pub version: i32,
    /// `running`, `done` or `failed`.
    pub state: String,
    pub total: i64,
    pub done: i64,
    pub changed: i64,
    pub started_by: String,
    pub started_at: Micros,
    pub updated_at: Micros,
    pub finished_at: Option<Micros>,
    pub error: Option<String>,
}

/// Adds a model unless one with its key exists. Returns whether it was added.
pub async fn insert_model(conn: Conn<'_>, m: &ModelRow) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "INSERT INTO scoring_models (key, is_default, active_version, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING"
    )
    .bind(&m.key)
    .bind(m.is_default)
    .bind(m.active_version)
    .bind(m.created_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Every model, the default first.
pub async fn models(conn: Conn<'_>) -> StoreResult<Vec<ModelRow>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT key, is_default, active_version, created_at FROM scoring_models \
         ORDER BY is_default DESC, key"
    )
    .fetch_all(c)
    .await)?)
}

/// One model.
pub async fn model(conn: Conn<'_>, key: &str) -> StoreResult<Option<ModelRow>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT key, is_default, active_version, created_at FROM scoring_models WHERE key = $1"
    )
    .bind(key)
    .fetch_optional(c)
    .await)?)
}

/// Puts a version in force.
pub async fn activate(conn: Conn<'_>, key: &str, version: i32, at: Micros) -> StoreResult<()> {
    let mut conn = conn;
    dispatch!(conn.reborrow(), |c| sqlx::query(
        "UPDATE scoring_models SET active_version = $2 WHERE key = $1"
    )
    .bind(key)
    .bind(version)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    dispatch!(conn, |c| sqlx::query(
        "UPDATE scoring_versions SET activated_at = $3 WHERE model_key = $1 AND version = $2"
    )
    .bind(key)
    .bind(version)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Makes one model the default (the one whose score and grade the lead shows).
pub async fn set_default(conn: Conn<'_>, key: &str) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "UPDATE scoring_models SET is_default = (key = $1)"
    )
    .bind(key)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Saves a new version (numbered one past the last).
pub async fn insert_version(
    mut conn: Conn<'_>,
    key: &str,
    definition: &Value,
    note: Option<&str>,
    by: &str,
    at: Micros,
) -> StoreResult<i32> {
    let last: Option<i32> = dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT MAX(version) FROM scoring_versions WHERE model_key = $1"
    )
    .bind(key)
    .fetch_one(c)
    .await)?;
    let version = last.unwrap_or(0) + 1;
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO scoring_versions (model_key, version, definition, note, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(key)
    .bind(version)
    .bind(Json(crate::sql::without_nul(definition)))
    .bind(note)
    .bind(by)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(version)
}

const VERSION_COLUMNS: &str =
    "model_key, version, definition, note, created_by, created_at, activated_at";

/// One version.
pub async fn version(conn: Conn<'_>, key: &str, version: i32) -> StoreResult<Option<VersionRow>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM scoring_versions WHERE model_key = $1 AND version = $2"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(key)
    .bind(version)
    .fetch_optional(c)
    .await)?)
}

/// A model's versions, newest first.
pub async fn versions(conn: Conn<'_>, key: &str) -> StoreResult<Vec<VersionRow>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM scoring_versions WHERE model_key = $1 ORDER BY version DESC"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(key)
    .fetch_all(c)
    .await)?)
}

/// Records scores (one per lead and model), replacing earlier ones — never one computed
/// later: a full re-score computes a page before it writes it, and an event may have
/// scored a lead of that page meanwhile.
pub async fn upsert_scores(mut conn: Conn<'_>, rows: &[ScoreRow]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Conn::Postgres(c) = conn.reborrow() {
        sqlx::query(
            "INSERT INTO lead_scores (lead_id, model_key, score, fit, grade, priority, version, computed_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[], \
                                  $7::int[], $8::bigint[]) \
             ON CONFLICT (lead_id, model_key) DO UPDATE SET score = excluded.score, \
             fit = excluded.fit, grade = excluded.grade, priority = excluded.priority, \
             version = excluded.version, computed_at = excluded.computed_at \
             WHERE lead_scores.computed_at <= excluded.computed_at",
        )
        .bind(rows.iter().map(|r| r.lead_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.model_key.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.score).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.fit).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.grade.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.priority.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.version).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.computed_at).collect::<Vec<_>>())
        .execute(c)
        .await?;
        return Ok(());
    }
    for chunk in rows.chunks(crate::sql::bulk_rows(conn.backend(), 8)) {
        let sql = format!(
            "INSERT INTO lead_scores (lead_id, model_key, score, fit, grade, priority, version, computed_at) \
             VALUES {} ON CONFLICT (lead_id, model_key) DO UPDATE SET score = excluded.score, \
             fit = excluded.fit, grade = excluded.grade, priority = excluded.priority, \
             version = excluded.version, computed_at = excluded.computed_at \
             WHERE lead_scores.computed_at <= excluded.computed_at",
            crate::sql::values_rows(conn.backend(), chunk.len(), 8)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for r in chunk {
                q = q
                    .bind(r.lead_id)
                    .bind(&r.model_key)
                    .bind(r.score)
                    .bind(r.fit)
                    .bind(&r.grade)
                    .bind(&r.priority)
                    .bind(r.version)
                    .bind(r.computed_at);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// A lead's scores under every model.
pub async fn scores_of(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Vec<ScoreRow>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT lead_id, model_key, score, fit, grade, priority, version, computed_at \
         FROM lead_scores WHERE lead_id = $1 ORDER BY model_key"
    )
    .bind(lead_id)
    .fetch_all(c)
    .await)?)
}

/// The scores of a page of leads (ids from `first` to `last`) under one model.
pub async fn scores_in_range(
    conn: Conn<'_>,
    model_key: &str,
    first: Uuid,
    last: Uuid,
) -> StoreResult<Vec<(Uuid, i32, i32, String, i32)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT lead_id, score, fit, grade, version FROM lead_scores \
         WHERE model_key = $1 AND lead_id >= $2 AND lead_id <= $3"
    )
    .bind(model_key)
    .bind(first)
    .bind(last)
    .fetch_all(c)
    .await)?)
}

/// The default model's priority (`A1`…) of each of these leads that has a score.
pub async fn default_priorities(conn: Conn<'_>, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT lead_id, priority FROM lead_scores WHERE model_key = \
         (SELECT key FROM scoring_models WHERE is_default) AND lead_id IN ({})",
        crate::sql::placeholders(ids.len(), 0)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?)
}

/// Records a score change.
pub async fn insert_history(conn: Conn<'_>, h: &HistoryRow) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO score_history (id, lead_id, model_key, at, score, grade, version, cause) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(h.id)
    .bind(h.lead_id)
    .bind(&h.model_key)
    .bind(h.at)
    .bind(h.score)
    .bind(&h.grade)
    .bind(h.version)
    .bind(&h.cause)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A lead's recorded score changes under one model, oldest first (at most `limit`, newest).
pub async fn history(
    conn: Conn<'_>,
    lead_id: Uuid,
    model_key: &str,
    limit: i64,
) -> StoreResult<Vec<HistoryRow>> {
    let mut rows: Vec<HistoryRow> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, lead_id, model_key, at, score, grade, version, cause FROM score_history \
         WHERE lead_id = $1 AND model_key = $2 ORDER BY at DESC, id DESC LIMIT $3"
    )
    .bind(lead_id)
    .bind(model_key)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    rows.reverse();
    Ok(rows)
}

/// An activity as scoring reads it: lead, id, kind, time, properties.
pub type EventRow = (Uuid, Uuid, String, Micros, Json<Map<String, Value>>);

/// Activities of the given kinds for the leads with ids from `first` to `last` (a page of
/// leads in id order), by lead.
pub async fn events_in_range(
    conn: Conn<'_>,
    first: Uuid,
    last: Uuid,
    kinds: &[String],
) -> StoreResult<Vec<EventRow>> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT lead_id, id, kind, occurred_at, properties FROM activities \
         WHERE lead_id >= $1 AND lead_id <= $2 AND kind IN ({}) ORDER BY lead_id",
        crate::sql::placeholders(kinds.len(), 2)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(first)
            .bind(last);
        for k in kinds {
            q = q.bind(k);
        }
        q.fetch_all(c).await
    })?)
}

/// One lead's activities of the given kinds (its newest `limit`).
pub async fn events_of(
    conn: Conn<'_>,
    lead_id: Uuid,
    kinds: &[String],
    limit: i64,
) -> StoreResult<Vec<EventRow>> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT lead_id, id, kind, occurred_at, properties FROM activities \
         WHERE lead_id = $1 AND kind IN ({}) ORDER BY occurred_at DESC, id DESC LIMIT {}",
        crate::sql::placeholders(kinds.len(), 1),
        limit.max(1)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(lead_id);
        for k in kinds {
            q = q.bind(k);
        }
        q.fetch_all(c).await
    })?)
}

const JOB_COLUMNS: &str = "id, model_key, version, state, total, done, changed, started_by, \
                           started_at, updated_at, finished_at, error";

/// Records a new re-score job.
pub async fn insert_job(conn: Conn<'_>, j: &JobRow) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO scoring_jobs ({JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(j.id)
        .bind(&j.model_key)
        .bind(j.version)
        .bind(&j.state)
        .bind(j.total)
        .bind(j.done)
        .bind(j.changed)
        .bind(&j.started_by)
        .bind(j.started_at)
        .bind(j.updated_at)
        .bind(j.finished_at)
        .bind(&j.error)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Saves a job's progress or end.
pub async fn update_job(conn: Conn<'_>, j: &JobRow) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "UPDATE scoring_jobs SET state = $2, done = $3, changed = $4, updated_at = $5, \
         finished_at = $6, error = $7 WHERE id = $1"
    )
    .bind(j.id)
    .bind(&j.state)
    .bind(j.done)
    .bind(j.changed)
    .bind(j.updated_at)
    .bind(j.finished_at)
    .bind(&j.error)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One job.
pub async fn job(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<JobRow>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM scoring_jobs WHERE id = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

/// The newest jobs.
pub async fn recent_jobs(conn: Conn<'_>, limit: i64) -> StoreResult<Vec<JobRow>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM scoring_jobs ORDER BY started_at DESC LIMIT $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Known outcomes (`won`/`lost`) of the leads with ids from `first` to `last`.
pub async fn outcomes_in_range(
    conn: Conn<'_>,
    first: Uuid,
    last: Uuid,
) -> StoreResult<Vec<(Uuid, String)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT lead_id, outcome FROM lead_outcomes WHERE lead_id >= $1 AND lead_id <= $2"
    )
    .bind(first)
    .bind(last)
    .fetch_all(c)
    .await)?)
}

/// Activities by kind of the leads with ids from `first` to `last`.
pub async fn activity_counts_in_range(
    conn: Conn<'_>,
    first: Uuid,
    last: Uuid,
) -> StoreResult<Vec<(Uuid, String, i64)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT lead_id, kind, COUNT(*) FROM activities WHERE lead_id >= $1 AND lead_id <= $2 \
         GROUP BY lead_id, kind"
    )
    .bind(first)
    .bind(last)
    .fetch_all(c)
    .await)?)
}
