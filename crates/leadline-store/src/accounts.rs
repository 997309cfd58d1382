//! Accounts (companies) and which leads belong to them.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::customer_account::Account;
use leadline_domain::time::{Micros, from_micros, to_micros};
use uuid::Uuid;

type Row = (
    Uuid,
    String,
    Option<String>,
    Option<String>,
    Option<Uuid>,
    Micros,
    Micros,
);

fn row(r: Row) -> Account {
    Account {
        id: r.0,
        name: r.1,
        domain: r.2,
        industry: r.3,
        owner_id: r.4,
        created_at: from_micros(r.5),
        updated_at: from_micros(r.6),
    }
}

const COLUMNS: &str = "id, name, domain, industry, owner_id, created_at, updated_at";

/// Adds an account.
pub async fn insert(conn: Conn<'_>, a: &Account) -> StoreResult<()> {
    let sql = format!("INSERT INTO accounts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(a.id)
        .bind(&a.name)
        .bind(&a.domain)
        .bind(&a.industry)
        .bind(a.owner_id)
        .bind(to_micros(a.created_at))
        .bind(to_micros(a.updated_at))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Replaces an account's fields. False when it does not exist.
pub async fn update(conn: Conn<'_>, a: &Account) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE accounts SET name = $2, domain = $3, industry = $4, owner_id = $5, updated_at = $6 WHERE id = $1"
    )
    .bind(a.id)
    .bind(&a.name)
    .bind(&a.domain)
    .bind(&a.industry)
    .bind(a.owner_id)
    .bind(to_micros(a.updated_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Deletes an account; its leads lose the link.
pub async fn delete(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// One account.
pub async fn get(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
    let r: Option<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(r.map(row))
}

/// The account of a registrable domain.
pub async fn by_domain(conn: Conn<'_>, domain: &str) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE domain = $1");
    let r: Option<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(domain)
        .fetch_optional(c)
        .await)?;
    Ok(r.map(row))
}

/// Accounts by name, after `after` (a name) of the previous page.
pub async fn list(conn: Conn<'_>, after: Option<&str>, limit: i64) -> StoreResult<Vec<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE name > $1 ORDER BY name, id LIMIT $2");
    let rows: Vec<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(row).collect())
}

/// Links a lead to an account (replacing any link). `matched_by`: `domain` or `manual`.
pub async fn link_lead(
    conn: Conn<'_>,
    lead_id: Uuid,
    account_id: Uuid,
    matched_by: &str,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO lead_accounts (lead_id, account_id, matched_by, linked_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (lead_id) DO UPDATE SET account_id = excluded.account_id, \
         matched_by = excluded.matched_by, linked_at = excluded.linked_at"
    )
    .bind(lead_id)
    .bind(account_id)
    .bind(matched_by)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The account a lead belongs to and how it was matched.
pub async fn of_lead(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Option<(Account, String)>> {
    let sql = format!(
        "SELECT a.{}, la.matched_by FROM lead_accounts la JOIN accounts a ON a.id = la.account_id \
         WHERE la.lead_id = $1",
        COLUMNS.replace(", ", ", a.")
    );
    type R = (
        Uuid,
        String,
        Option<String>,
        Option<String>,
        Option<Uuid>,
        Micros,
        Micros,
        String,
    );
    let r: Option<R> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(lead_id)
        .fetch_optional(c)
        .await)?;
    Ok(r.map(|r| (row((r.0, r.1, r.2, r.3, r.4, r.5, r.6)), r.7)))
}

/// Live leads linked to an account.
pub async fn lead_count(conn: Conn<'_>, account_id: Uuid) -> StoreResult<i64> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM lead_accounts la JOIN leads l ON l.id = la.lead_id \
         WHERE la.account_id = $1 AND l.deleted_at IS NULL"
    )
    .bind(account_id)
    .fetch_one(c)
    .await)?)
}

/// Links every live, unlinked lead with an email at `domain` (or a subdomain of it) to
/// the account. Returns how many were linked.
pub async fn link_by_email_domain(
    conn: Conn<'_>,
    account_id: Uuid,
    domain: &str,
    at: Micros,
) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| sqlx::query(
        "INSERT INTO lead_accounts (lead_id, account_id, matched_by, linked_at) \
         SELECT id, $1, 'domain', $2 FROM leads WHERE deleted_at IS NULL \
         AND (email_key LIKE $3 OR email_key LIKE $4) ON CONFLICT (lead_id) DO NOTHING"
    )
    .bind(account_id)
    .bind(at)
    .bind(format!("%@{domain}"))
    .bind(format!("%.{domain}"))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Removes a lead's account link.
pub async fn unlink_lead(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "DELETE FROM lead_accounts WHERE lead_id = $1"
    )
    .bind(lead_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
