//! Users.

use crate::db::Conn;
use crate::error::{StoreError, StoreResult};
use leadline_domain::Role;
use leadline_domain::account::User;
use leadline_domain::time::{Micros, from_micros, to_micros};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    sees_all_leads: bool,
    active: bool,
    created_at: Micros,
}

impl UserRow {
    fn into_user(self) -> StoreResult<User> {
        Ok(User {
            id: self.id,
            email: self.email,
            name: self.name,
            role: self
                .role
                .parse::<Role>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            sees_all_leads: self.sees_all_leads,
            active: self.active,
            created_at: from_micros(self.created_at),
        })
    }
}

const COLS: &str = "id, email, name, role, sees_all_leads, active, created_at";

/// Creates a user; the email must be unique (stored lower-case).
pub async fn insert(conn: Conn<'_>, u: &User, password_hash: Option<&str>) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, sees_all_leads, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
    )
    .bind(u.id)
    .bind(u.email.to_lowercase())
    .bind(&u.name)
    .bind(u.role.as_str())
    .bind(password_hash)
    .bind(u.sees_all_leads)
    .bind(u.active)
    .bind(to_micros(u.created_at))
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Updates name, role, visibility and active flag.
pub async fn update(conn: Conn<'_>, u: &User) -> StoreResult<bool> {
    let r = dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE users SET name = $2, role = $3, sees_all_leads = $4, active = $5, updated_at = $6 WHERE id = $1"
    )
    .bind(u.id)
    .bind(&u.name)
    .bind(u.role.as_str())
    .bind(u.sees_all_leads)
    .bind(u.active)
    .bind(to_micros(chrono::Utc::now()))
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(r == 1)
}

/// Replaces a user's password hash.
pub async fn set_password(conn: Conn<'_>, id: Uuid, hash: &str) -> StoreResult<bool> {
    let r = dispatch!(conn, |c| sqlx::query(
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(hash)
    .bind(to_micros(chrono::Utc::now()))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r == 1)
}

/// Reads a user.
pub async fn get(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {COLS} FROM users WHERE id = $1");
    let r: Option<UserRow> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(c)
            .await)?;
    r.map(UserRow::into_user).transpose()
}

/// Reads a user and their password hash by email, for sign-in.
pub async fn by_email_with_hash(
    conn: Conn<'_>,
    email: &str,
) -> StoreResult<Option<(User, Option<String>)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: Option<String>,
    }
    let sql = format!("SELECT {COLS}, password_hash FROM users WHERE email = $1");
    let r: Option<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(email.trim().to_lowercase())
        .fetch_optional(c)
        .await)?;
    r.map(|r| Ok((r.user.into_user()?, r.password_hash)))
        .transpose()
}

/// Every user, by name.
pub async fn list(conn: Conn<'_>) -> StoreResult<Vec<User>> {
    let sql = format!("SELECT {COLS} FROM users ORDER BY name, id");
    let rows: Vec<UserRow> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(c)
            .await)?;
    rows.into_iter().map(UserRow::into_user).collect()
}

/// How many users exist.
pub async fn count(conn: Conn<'_>) -> StoreResult<i64> {
    let n: i64 = dispatch!(conn, |c| sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(c)
        .await)?;
    Ok(n)
}
