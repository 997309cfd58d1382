//! CSV import jobs: the file (kept until the job ends), progress counters that advance in
//! the same transaction as each batch of rows, and the per-row error report.

use crate::db::Conn;
use crate::error::{StoreError, StoreResult};
use leadline_domain::capture::import::{ImportJob, ImportOptions, ImportRowError, ImportStatus};
use leadline_domain::time::{Micros, from_micros, to_micros};
use sqlx::types::Json;
use uuid::Uuid;

const COLUMNS: &str = "id, file_name, file_sha256, options, status, total_rows, next_row, created_count, \
    updated_count, skipped_count, failed_count, created_by, created_at, updated_at, finished_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    file_name: String,
    file_sha256: String,
    options: Json<ImportOptions>,
    status: String,
    total_rows: i64,
    next_row: i64,
    created_count: i64,
    updated_count: i64,
    skipped_count: i64,
    failed_count: i64,
    created_by: String,
    created_at: Micros,
    updated_at: Micros,
    finished_at: Option<Micros>,
}

impl Row {
    fn into_job(self) -> StoreResult<ImportJob> {
        Ok(ImportJob {
            id: self.id,
            file_name: self.file_name,
            file_sha256: self.file_sha256,
            options: self.options.0,
            status: ImportStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("import status {}", self.status)))?,
            total_rows: self.total_rows,
            processed_rows: self.next_row,
            created: self.created_count,
            updated: self.updated_count,
            skipped: self.skipped_count,
            failed: self.failed_count,
            created_by: self.created_by,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
            finished_at: self.finished_at.map(from_micros),
        })
    }
}

/// Adds a job with its file.
pub async fn insert(conn: Conn<'_>, job: &ImportJob, content: &[u8]) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO imports (id, file_name, file_sha256, content, options, status, total_rows, next_row, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $9)"
    )
    .bind(job.id)
    .bind(&job.file_name)
    .bind(&job.file_sha256)
    .bind(content)
    .bind(Json(&job.options))
    .bind(job.status.as_str())
    .bind(job.total_rows)
    .bind(&job.created_by)
    .bind(to_micros(job.created_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// One job.
pub async fn get(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<ImportJob>> {
    let sql = format!("SELECT {COLUMNS} FROM imports WHERE id = $1");
    let row: Option<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(c)
        .await)?;
    row.map(Row::into_job).transpose()
}

/// The file of a job that has not ended.
pub async fn content(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
    let row: Option<Option<Vec<u8>>> = dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT content FROM imports WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(row.flatten())
}

/// The newest jobs first.
pub async fn list(conn: Conn<'_>, limit: i64) -> StoreResult<Vec<ImportJob>> {
    let sql = format!("SELECT {COLUMNS} FROM imports ORDER BY created_at DESC, id DESC LIMIT $1");
    let rows: Vec<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(limit)
        .fetch_all(c)
        .await)?;
    rows.into_iter().map(Row::into_job).collect()
}

/// Jobs that have not ended (to resume after a restart), oldest first.
pub async fn unfinished(conn: Conn<'_>) -> StoreResult<Vec<ImportJob>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM imports WHERE status IN ('pending', 'running', 'failed') ORDER BY created_at"
    );
    let rows: Vec<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .fetch_all(c)
        .await)?;
    rows.into_iter().map(Row::into_job).collect()
}

/// Takes a job to run: pending or failed ones, or running ones whose runner stopped
/// reporting before `stale_before` (it crashed). Returns false when another runner has it.
pub async fn claim(
    conn: Conn<'_>,
    id: Uuid,
    now: Micros,
    stale_before: Micros,
) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "UPDATE imports SET status = 'running', updated_at = $2 WHERE id = $1 AND \
         (status IN ('pending', 'failed') OR (status = 'running' AND updated_at < $3))"
    )
    .bind(id)
    .bind(now)
    .bind(stale_before)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Counts a batch of handled rows; runs in the batch's transaction so progress and leads
/// commit together.
#[allow(clippy::too_many_arguments)]
pub async fn advance(
    conn: Conn<'_>,
    id: Uuid,
    next_row: i64,
    created: i64,
    updated: i64,
    skipped: i64,
    failed: i64,
    now: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE imports SET next_row = $2, created_count = created_count + $3, updated_count = updated_count + $4, \
         skipped_count = skipped_count + $5, failed_count = failed_count + $6, updated_at = $7 WHERE id = $1"
    )
    .bind(id)
    .bind(next_row)
    .bind(created)
    .bind(updated)
    .bind(skipped)
    .bind(failed)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Ends a job; a finished job's file is dropped.
pub async fn finish(
    conn: Conn<'_>,
    id: Uuid,
    status: ImportStatus,
    now: Micros,
) -> StoreResult<()> {
    let drop_file = status == ImportStatus::Done;
    dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE imports SET status = $2, updated_at = $3, finished_at = CASE WHEN $4 THEN $3 ELSE finished_at END, \
         content = CASE WHEN $4 THEN NULL ELSE content END WHERE id = $1"
    )
    .bind(id)
    .bind(status.as_str())
    .bind(now)
    .bind(drop_file)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Records row problems.
pub async fn add_errors(
    mut conn: Conn<'_>,
    import_id: Uuid,
    items: &[ImportRowError],
) -> StoreResult<()> {
    for chunk in items.chunks(crate::sql::bulk_rows(conn.backend(), 7)) {
        let sql = format!(
            "INSERT INTO import_errors (id, import_id, row_number, field, code, message, raw) VALUES {}",
            crate::sql::values_rows(conn.backend(), chunk.len(), 7)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for e in chunk {
                q = q
                    .bind(Uuid::now_v7())
                    .bind(import_id)
                    .bind(e.row)
                    .bind(&e.column)
                    .bind(&e.code)
                    .bind(&e.message)
                    .bind(&e.raw);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// A job's row problems in row order, after row `after_row`.
pub async fn errors(
    conn: Conn<'_>,
    import_id: Uuid,
    after_row: i64,
    limit: i64,
) -> StoreResult<Vec<ImportRowError>> {
    let rows: Vec<(i64, String, String, String, String)> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT row_number, field, code, message, raw FROM import_errors WHERE import_id = $1 AND row_number > $2 \
         ORDER BY row_number, id LIMIT $3"
    )
    .bind(import_id)
    .bind(after_row)
    .bind(limit)
    .fetch_all(c)
    .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(row, column, code, message, raw)| ImportRowError {
            row,
            column,
            code,
            message,
            raw,
        })
        .collect())
}

/// Sets the options of a draft and moves it to `status`. False unless it was a draft.
pub async fn set_options(
    conn: Conn<'_>,
    id: Uuid,
    options: &ImportOptions,
    status: ImportStatus,
    now: Micros,
) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE imports SET options = $2, status = $3, updated_at = $4 WHERE id = $1 AND status = 'draft'"
    )
    .bind(id)
    .bind(Json(options))
    .bind(status.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}
