//! Failed sign-ins, counted by the throttle. Keyed by hashes of the account's email and of
//! the client address, so the table holds no readable personal data.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;

/// Records one failure.
pub async fn record(
    conn: Conn<'_>,
    account_hash: &str,
    address_hash: &str,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO sign_in_failures (account_hash, address_hash, at) VALUES ($1, $2, $3)"
    )
    .bind(account_hash)
    .bind(address_hash)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The newest failures since `since` for the account and for the address, at most `limit`
/// of each.
pub async fn recent(
    mut conn: Conn<'_>,
    account_hash: &str,
    address_hash: &str,
    since: Micros,
    limit: usize,
) -> StoreResult<(Vec<Micros>, Vec<Micros>)> {
    let limit = limit as i64;
    let account: Vec<(Micros,)> = dispatch!(conn.reborrow(), |c| {
        sqlx::query_as(
        "SELECT at FROM sign_in_failures WHERE account_hash = $1 AND at > $2 ORDER BY at DESC LIMIT $3"
    )
    .bind(account_hash)
    .bind(since)
    .bind(limit)
    .fetch_all(c)
    .await
    })?;
    let address: Vec<(Micros,)> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT at FROM sign_in_failures WHERE address_hash = $1 AND at > $2 ORDER BY at DESC LIMIT $3"
    )
    .bind(address_hash)
    .bind(since)
    .bind(limit)
    .fetch_all(c)
    .await
    })?;
    Ok((
        account.into_iter().map(|r| r.0).collect(),
        address.into_iter().map(|r| r.0).collect(),
    ))
}

/// Forgets an account's failures (after it signs in).
pub async fn clear_account(conn: Conn<'_>, account_hash: &str) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "DELETE FROM sign_in_failures WHERE account_hash = $1"
    )
    .bind(account_hash)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes failures recorded before `before`.
pub async fn purge(conn: Conn<'_>, before: Micros) -> StoreResult<u64> {
    let r = dispatch!(conn, |c| sqlx::query(
        "DELETE FROM sign_in_failures WHERE at < $1"
    )
    .bind(before)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(r)
}
