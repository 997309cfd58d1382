//! Consent records: what a lead agreed to (or withdrew), per purpose, newest last.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// One record of consent given or withdrawn.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ConsentRow {
    pub id: Uuid,
    pub lead_id: Uuid,
    /// e.g. `marketing_email`.
    pub purpose: String,
    pub granted: bool,
    /// Where it came from: `form:{slug}`, `api`, `unsubscribe`.
    pub source: String,
    /// The exact text the person agreed to, when there was one.
    pub consent_text: Option<String>,
    pub ip: Option<String>,
    pub recorded_by: String,
    pub recorded_at: Micros,
    /// GDPR article 6 basis: `consent`, `legitimate_interests`, …
    pub lawful_basis: Option<String>,
    /// The version of the consent text agreed to (e.g. `2026-03` or a hash).
    pub text_version: Option<String>,
    /// What proves it: the form submission, the user agent, a document reference.
    pub proof: Option<String>,
}

const COLUMNS: &str = "id, lead_id, purpose, granted, source, consent_text, ip, recorded_by, \
     recorded_at, lawful_basis, text_version, proof";

/// Adds a record.
pub async fn insert(conn: Conn<'_>, r: &ConsentRow) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO consents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(r.id)
        .bind(r.lead_id)
        .bind(&r.purpose)
        .bind(r.granted)
        .bind(&r.source)
        .bind(&r.consent_text)
        .bind(&r.ip)
        .bind(&r.recorded_by)
        .bind(r.recorded_at)
        .bind(&r.lawful_basis)
        .bind(&r.text_version)
        .bind(&r.proof)
        .execute(c)
        .await
        .map(|x| x.rows_affected()))?;
    Ok(())
}

/// Whether the lead's latest record for the purpose grants it (`None`: no record).
pub async fn current(conn: Conn<'_>, lead: Uuid, purpose: &str) -> StoreResult<Option<bool>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT granted FROM consents WHERE lead_id = $1 AND purpose = $2 \
         ORDER BY recorded_at DESC, id DESC LIMIT 1"
    )
    .bind(lead)
    .bind(purpose)
    .fetch_optional(c)
    .await)?)
}

/// A lead's records, oldest first.
pub async fn of_lead(conn: Conn<'_>, lead: Uuid) -> StoreResult<Vec<ConsentRow>> {
    let sql = format!("SELECT {COLUMNS} FROM consents WHERE lead_id = $1 ORDER BY recorded_at, id");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(lead)
    .fetch_all(c)
    .await)?)
}
