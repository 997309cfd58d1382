//! Hosted forms.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::capture::form::{Form, FormDefinition};
use leadline_domain::time::{Micros, from_micros, to_micros};
use sqlx::types::Json;
use uuid::Uuid;

type Row = (
    Uuid,
    String,
    String,
    Json<FormDefinition>,
    bool,
    Micros,
    Micros,
);

fn form(r: Row) -> Form {
    Form {
        id: r.0,
        slug: r.1,
        name: r.2,
        definition: r.3.0,
        active: r.4,
        created_at: from_micros(r.5),
        updated_at: from_micros(r.6),
    }
}

const COLUMNS: &str = "id, slug, name, definition, active, created_at, updated_at";

/// Adds a form.
pub async fn insert(conn: Conn<'_>, f: &Form) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO forms (id, slug, name, definition, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(f.id)
    .bind(&f.slug)
    .bind(&f.name)
    .bind(Json(&f.definition))
    .bind(f.active)
    .bind(to_micros(f.created_at))
    .bind(to_micros(f.updated_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Replaces a form's slug, name, definition and state. False when it is gone.
pub async fn update(conn: Conn<'_>, f: &Form) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE forms SET slug = $2, name = $3, definition = $4, active = $5, updated_at = $6 WHERE id = $1"
    )
    .bind(f.id)
    .bind(&f.slug)
    .bind(&f.name)
    .bind(Json(&f.definition))
    .bind(f.active)
    .bind(to_micros(f.updated_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// One form by id.
pub async fn get(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<Form>> {
    let sql = format!("SELECT {COLUMNS} FROM forms WHERE id = $1");
    let row: Option<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(form))
}

/// One form by its public slug.
pub async fn by_slug(conn: Conn<'_>, slug: &str) -> StoreResult<Option<Form>> {
    let sql = format!("SELECT {COLUMNS} FROM forms WHERE slug = $1");
    let row: Option<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(slug)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(form))
}

/// Every form, by name.
pub async fn list(conn: Conn<'_>) -> StoreResult<Vec<Form>> {
    let sql = format!("SELECT {COLUMNS} FROM forms ORDER BY name, id");
    let rows: Vec<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(form).collect())
}

/// Deletes a form.
pub async fn delete(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query("DELETE FROM forms WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
