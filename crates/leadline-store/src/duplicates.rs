//! Candidate duplicate pairs: found by a scan or on capture, then merged or dismissed.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use sqlx::types::Json;
use uuid::Uuid;

/// A stored pair; `lead_a < lead_b`.
#[derive(Debug, Clone, PartialEq)]
pub struct PairRow {
    pub lead_a: Uuid,
    pub lead_b: Uuid,
    pub confidence: f64,
    pub reasons: Vec<String>,
    /// `open`, `merged` or `dismissed`.
    pub status: String,
    /// `scan` or `capture`.
    pub found_by: String,
    pub found_at: Micros,
    pub decided_by: Option<String>,
}

type Row = (
    Uuid,
    Uuid,
    f64,
    Json<Vec<String>>,
    String,
    String,
    Micros,
    Option<String>,
);

fn row(r: Row) -> PairRow {
    PairRow {
        lead_a: r.0,
        lead_b: r.1,
        confidence: r.2,
        reasons: r.3.0,
        status: r.4,
        found_by: r.5,
        found_at: r.6,
        decided_by: r.7,
    }
}

/// Records pairs. A pair already known keeps its status (a dismissed pair stays
/// dismissed); an open one takes the new confidence and reasons.
pub async fn upsert(mut conn: Conn<'_>, pairs: &[PairRow]) -> StoreResult<()> {
    for chunk in pairs.chunks(crate::sql::bulk_rows(conn.backend(), 7)) {
        let sql = format!(
            "INSERT INTO duplicate_pairs (lead_a, lead_b, confidence, reasons, status, found_by, found_at) \
             VALUES {} ON CONFLICT (lead_a, lead_b) DO UPDATE SET confidence = excluded.confidence, \
             reasons = excluded.reasons WHERE duplicate_pairs.status = 'open'",
            crate::sql::values_rows(conn.backend(), chunk.len(), 7)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for p in chunk {
                q = q
                    .bind(p.lead_a)
                    .bind(p.lead_b)
                    .bind(p.confidence)
                    .bind(Json(&p.reasons))
                    .bind("open")
                    .bind(&p.found_by)
                    .bind(p.found_at);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

const COLUMNS: &str =
    "p.lead_a, p.lead_b, p.confidence, p.reasons, p.status, p.found_by, p.found_at, p.decided_by";

/// Open pairs of two live leads, most certain first, after `(confidence, a, b)` of the
/// previous page.
pub async fn open(
    conn: Conn<'_>,
    min_confidence: f64,
    after: Option<(f64, Uuid, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<PairRow>> {
    let (c0, a0, b0) = after.unwrap_or((f64::INFINITY, Uuid::nil(), Uuid::nil()));
    let sql = format!(
        "SELECT {COLUMNS} FROM duplicate_pairs p \
         JOIN leads a ON a.id = p.lead_a JOIN leads b ON b.id = p.lead_b \
         WHERE p.status = 'open' AND a.deleted_at IS NULL AND b.deleted_at IS NULL \
         AND p.confidence >= $1 \
         AND (p.confidence < $2 OR (p.confidence = $2 AND (p.lead_a > $3 OR (p.lead_a = $3 AND p.lead_b > $4)))) \
         ORDER BY p.confidence DESC, p.lead_a, p.lead_b LIMIT $5"
    );
    let rows: Vec<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(min_confidence)
        .bind(c0)
        .bind(a0)
        .bind(b0)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(row).collect())
}

/// Open pairs that involve `lead` (either side), with live leads only.
pub async fn for_lead(conn: Conn<'_>, lead: Uuid) -> StoreResult<Vec<PairRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM duplicate_pairs p \
         JOIN leads a ON a.id = p.lead_a JOIN leads b ON b.id = p.lead_b \
         WHERE (p.lead_a = $1 OR p.lead_b = $1) AND p.status = 'open' \
         AND a.deleted_at IS NULL AND b.deleted_at IS NULL ORDER BY p.confidence DESC"
    );
    let rows: Vec<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(lead)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(row).collect())
}

/// Sets a pair's status (`merged`, `dismissed`, or `open` again). False when no such pair.
pub async fn decide(
    conn: Conn<'_>,
    a: Uuid,
    b: Uuid,
    status: &str,
    by: &str,
    at: Micros,
) -> StoreResult<bool> {
    let (a, b) = (a.min(b), a.max(b));
    let n = dispatch!(conn, |c| sqlx::query(
        "UPDATE duplicate_pairs SET status = $3, decided_by = $4, decided_at = $5 \
         WHERE lead_a = $1 AND lead_b = $2"
    )
    .bind(a)
    .bind(b)
    .bind(status)
    .bind(by)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records two leads as different people (after an unmerge), whether or not a scan had
/// paired them, so later scans and bulk merges leave them apart.
pub async fn keep_apart(conn: Conn<'_>, a: Uuid, b: Uuid, by: &str, at: Micros) -> StoreResult<()> {
    let (a, b) = (a.min(b), a.max(b));
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO duplicate_pairs (lead_a, lead_b, confidence, reasons, status, found_by, found_at, decided_by, decided_at) \
         VALUES ($1, $2, 0, $3, 'dismissed', 'unmerge', $5, $4, $5) \
         ON CONFLICT (lead_a, lead_b) DO UPDATE SET status = 'dismissed', decided_by = $4, decided_at = $5"
    )
    .bind(a)
    .bind(b)
    .bind(Json(Vec::<String>::new()))
    .bind(by)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Pairs by status: (open with both leads live, merged, dismissed).
pub async fn counts(conn: Conn<'_>) -> StoreResult<(i64, i64, i64)> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM duplicate_pairs p JOIN leads a ON a.id = p.lead_a \
              JOIN leads b ON b.id = p.lead_b \
              WHERE p.status = 'open' AND a.deleted_at IS NULL AND b.deleted_at IS NULL), \
           (SELECT COUNT(*) FROM duplicate_pairs WHERE status = 'merged'), \
           (SELECT COUNT(*) FROM duplicate_pairs WHERE status = 'dismissed')"
    )
    .fetch_one(c)
    .await)?)
}

/// Live leads filed under any of `keys`, other than `except`, at most `limit`.
pub async fn leads_with_keys(
    conn: Conn<'_>,
    keys: &[String],
    except: Uuid,
    limit: i64,
) -> StoreResult<Vec<Uuid>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT k.lead_id FROM lead_keys k JOIN leads l ON l.id = k.lead_id \
         WHERE k.key IN ({}) AND k.lead_id <> $1 AND l.deleted_at IS NULL LIMIT {}",
        crate::sql::placeholders(keys.len(), 1),
        limit.max(1)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).bind(except);
        for k in keys {
            q = q.bind(k);
        }
        q.fetch_all(c).await
    })?)
}
