//! Each lead's verification status and findings.

use crate::db::Conn;
use crate::error::{StoreError, StoreResult};
use leadline_domain::quality::verify::{Finding, Verification, VerificationStatus};
use leadline_domain::time::Micros;
use sqlx::types::Json;
use uuid::Uuid;

fn status(s: &str) -> StoreResult<VerificationStatus> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::Corrupt(format!("verification status: {e}")))
}

/// Records (or replaces) a lead's verification.
pub async fn upsert(
    conn: Conn<'_>,
    lead_id: Uuid,
    v: &Verification,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO lead_quality (lead_id, status, findings, checked_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (lead_id) DO UPDATE SET status = excluded.status, findings = excluded.findings, \
         checked_at = excluded.checked_at"
    )
    .bind(lead_id)
    .bind(v.status.as_str())
    .bind(Json(&v.findings))
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A lead's verification, with when it was checked.
pub async fn get(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Option<(Verification, Micros)>> {
    let row: Option<(String, Json<Vec<Finding>>, Micros)> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT status, findings, checked_at FROM lead_quality WHERE lead_id = $1"
    )
    .bind(lead_id)
    .fetch_optional(c)
    .await)?;
    row.map(|(s, f, at)| {
        Ok((
            Verification {
                status: status(&s)?,
                findings: f.0,
            },
            at,
        ))
    })
    .transpose()
}
