//! Email templates and sequence definitions.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// A stored template.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: Uuid,
    pub name: String,
    pub subject: String,
    pub html: String,
    pub marketing: bool,
    pub created_by: String,
    pub created_at: Micros,
    pub updated_at: Micros,
}

const TEMPLATE_COLUMNS: &str =
    "id, name, subject, html, marketing, created_by, created_at, updated_at";

/// Adds or replaces a template.
pub async fn put_template(conn: Conn<'_>, t: &TemplateRow) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO email_templates ({TEMPLATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, subject = excluded.subject, \
         html = excluded.html, marketing = excluded.marketing, updated_at = excluded.updated_at"
    );
    dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(t.id)
        .bind(&t.name)
        .bind(&t.subject)
        .bind(&t.html)
        .bind(t.marketing)
        .bind(&t.created_by)
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One template.
pub async fn template(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<TemplateRow>> {
    let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM email_templates WHERE id = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

/// Every template by name.
pub async fn templates(conn: Conn<'_>) -> StoreResult<Vec<TemplateRow>> {
    let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM email_templates ORDER BY name, id");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .fetch_all(c)
    .await)?)
}

/// Deletes a template.
pub async fn delete_template(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "DELETE FROM email_templates WHERE id = $1"
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A stored sequence; `definition` is its JSON.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SequenceRow {
    pub id: Uuid,
    pub name: String,
    pub definition: String,
    pub active: bool,
    pub created_by: String,
    pub created_at: Micros,
    pub updated_at: Micros,
}

const SEQUENCE_COLUMNS: &str = "id, name, definition, active, created_by, created_at, updated_at";

/// Adds or replaces a sequence.
pub async fn put_sequence(conn: Conn<'_>, s: &SequenceRow) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO sequences ({SEQUENCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, definition = excluded.definition, \
         active = excluded.active, updated_at = excluded.updated_at"
    );
    dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(s.id)
        .bind(&s.name)
        .bind(&s.definition)
        .bind(s.active)
        .bind(&s.created_by)
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One sequence.
pub async fn sequence(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<SequenceRow>> {
    let sql = format!("SELECT {SEQUENCE_COLUMNS} FROM sequences WHERE id = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

/// Every sequence by name.
pub async fn sequences(conn: Conn<'_>) -> StoreResult<Vec<SequenceRow>> {
    let sql = format!("SELECT {SEQUENCE_COLUMNS} FROM sequences ORDER BY name, id");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .fetch_all(c)
    .await)?)
}

/// Deletes a sequence.
pub async fn delete_sequence(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query("DELETE FROM sequences WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
