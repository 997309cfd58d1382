//! Predictive models (training runs and the model in force) and each lead's predicted
//! conversion.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// A training run and, once it succeeded, its model (the model text is read apart: it is
/// large and only the scorer needs it).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub id: Uuid,
    /// `training`, `scoring`, `ready` or `failed`.
    pub state: String,
    pub active: bool,
    pub excluded: Vec<String>,
    pub report: Option<Value>,
    pub error: Option<String>,
    pub total: i64,
    pub done: i64,
    pub started_by: String,
    pub started_at: Micros,
    pub updated_at: Micros,
    pub finished_at: Option<Micros>,
}

#[derive(sqlx::FromRow)]
struct Raw {
    id: Uuid,
    state: String,
    active: bool,
    excluded: Json<Vec<String>>,
    report: Option<Json<Value>>,
    error: Option<String>,
    total: i64,
    done: i64,
    started_by: String,
    started_at: Micros,
    updated_at: Micros,
    finished_at: Option<Micros>,
}

impl From<Raw> for ModelRow {
    fn from(r: Raw) -> Self {
        ModelRow {
            id: r.id,
            state: r.state,
            active: r.active,
            excluded: r.excluded.0,
            report: r.report.map(|j| j.0),
            error: r.error,
            total: r.total,
            done: r.done,
            started_by: r.started_by,
            started_at: r.started_at,
            updated_at: r.updated_at,
            finished_at: r.finished_at,
        }
    }
}

const COLUMNS: &str = "id, state, active, excluded, report, error, total, done, started_by, \
                       started_at, updated_at, finished_at";

/// Records a new training run.
pub async fn insert(conn: Conn<'_>, m: &ModelRow) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO prediction_models (id, state, active, excluded, report, error, total, done, \
         started_by, started_at, updated_at, finished_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    )
    .bind(m.id)
    .bind(&m.state)
    .bind(m.active)
    .bind(Json(&m.excluded))
    .bind(m.report.as_ref().map(Json))
    .bind(&m.error)
    .bind(m.total)
    .bind(m.done)
    .bind(&m.started_by)
    .bind(m.started_at)
    .bind(m.updated_at)
    .bind(m.finished_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Saves a run's progress and outcome (not `active`: see [`activate`]).
pub async fn update(conn: Conn<'_>, m: &ModelRow) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "UPDATE prediction_models SET state = $2, report = $3, error = $4, total = $5, done = $6, \
         updated_at = $7, finished_at = $8 WHERE id = $1"
    )
    .bind(m.id)
    .bind(&m.state)
    .bind(m.report.as_ref().map(Json))
    .bind(&m.error)
    .bind(m.total)
    .bind(m.done)
    .bind(m.updated_at)
    .bind(m.finished_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Stores a trained model's columns and trees.
pub async fn set_model(conn: Conn<'_>, id: Uuid, model: &str) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "UPDATE prediction_models SET model = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(model)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Makes a model the one in force (and no other).
pub async fn activate(conn: Conn<'_>, id: Uuid) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "UPDATE prediction_models SET active = (id = $1) WHERE active OR id = $1"
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One run.
pub async fn get(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<ModelRow>> {
    let sql = format!("SELECT {COLUMNS} FROM prediction_models WHERE id = $1");
    let row: Option<Raw> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(Into::into))
}

/// The model in force.
pub async fn active(conn: Conn<'_>) -> StoreResult<Option<ModelRow>> {
    let sql = format!("SELECT {COLUMNS} FROM prediction_models WHERE active");
    let row: Option<Raw> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .fetch_optional(c)
        .await)?;
    Ok(row.map(Into::into))
}

/// The id of the model in force (the cheap read every scored event makes).
pub async fn active_id(conn: Conn<'_>) -> StoreResult<Option<Uuid>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT id FROM prediction_models WHERE active"
    )
    .fetch_optional(c)
    .await)?)
}

/// The newest runs, newest first.
pub async fn recent(conn: Conn<'_>, limit: i64) -> StoreResult<Vec<ModelRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM prediction_models ORDER BY started_at DESC, id DESC LIMIT $1"
    );
    let rows: Vec<Raw> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A model's columns and trees.
pub async fn model_text(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<String>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT model FROM prediction_models WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?
    .flatten())
}

/// A lead's predicted conversion: (model, probability, computed at).
pub type PredictionRow = (Uuid, Uuid, f64, Micros);

/// Writes predictions (lead, model, probability, computed at), replacing older ones.
pub async fn upsert(mut conn: Conn<'_>, rows: &[PredictionRow]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Conn::Postgres(c) = conn.reborrow() {
        sqlx::query(
            "INSERT INTO lead_predictions (lead_id, model_id, probability, computed_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::float8[], $4::bigint[]) \
             ON CONFLICT (lead_id) DO UPDATE SET model_id = excluded.model_id, \
             probability = excluded.probability, computed_at = excluded.computed_at",
        )
        .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.2).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.3).collect::<Vec<_>>())
        .execute(c)
        .await?;
        return Ok(());
    }
    for chunk in rows.chunks(crate::sql::bulk_rows(conn.backend(), 4)) {
        let sql = format!(
            "INSERT INTO lead_predictions (lead_id, model_id, probability, computed_at) \
             VALUES {} ON CONFLICT (lead_id) DO UPDATE SET model_id = excluded.model_id, \
             probability = excluded.probability, computed_at = excluded.computed_at",
            crate::sql::values_rows(conn.backend(), chunk.len(), 4)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (lead, model, p, at) in chunk {
                q = q.bind(lead).bind(model).bind(p).bind(at);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// A lead's prediction.
pub async fn of_lead(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Option<PredictionRow>> {
    Ok(dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT lead_id, model_id, probability, computed_at FROM lead_predictions WHERE lead_id = $1"
    )
    .bind(lead_id)
    .fetch_optional(c)
    .await
    })?)
}

/// The predictions of these leads (those that have one), as (lead, probability).
pub async fn of_leads(mut conn: Conn<'_>, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, f64)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT lead_id, probability FROM lead_predictions WHERE lead_id IN ({})",
            crate::sql::placeholders(chunk.len(), 0)
        );
        let rows: Vec<(Uuid, f64)> = dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(c).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Leads with a prediction by this model.
pub async fn count_by_model(conn: Conn<'_>, model_id: Uuid) -> StoreResult<i64> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM lead_predictions WHERE model_id = $1"
    )
    .bind(model_id)
    .fetch_one(c)
    .await)?)
}

/// A lead's activities by kind.
pub async fn activity_counts_of(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Vec<(String, i64)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT kind, COUNT(*) FROM activities WHERE lead_id = $1 GROUP BY kind"
    )
    .bind(lead_id)
    .fetch_all(c)
    .await)?)
}
