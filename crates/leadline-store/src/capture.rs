//! What capture needs besides the leads table: finding the lead a submission belongs to,
//! serialising captures of one identity, content fingerprints, historical outcomes,
//! referrals, rejected submissions and idempotency records.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::capture::{CaptureChannel, RejectedSubmission};
use leadline_domain::lead::Outcome;
use leadline_domain::source::Referral;
use leadline_domain::time::{Micros, from_micros, to_micros};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// Serialises writers working on one identity (an email, an external id) until the
/// transaction ends, so two simultaneous captures of one person make one lead. SQLite
/// already runs one write transaction at a time.
pub async fn lock_identity(conn: Conn<'_>, key: &str) -> StoreResult<()> {
    if let Conn::Postgres(c) = conn {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(c)
            .await?;
    }
    Ok(())
}

/// The live lead with this external id.
pub async fn lead_by_external_id(conn: Conn<'_>, external_id: &str) -> StoreResult<Option<Uuid>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT id FROM leads WHERE external_id = $1 AND deleted_at IS NULL"
    )
    .bind(external_id)
    .fetch_optional(c)
    .await)?)
}

/// The oldest live lead with this email (case-insensitive).
pub async fn lead_by_email(conn: Conn<'_>, email: &str) -> StoreResult<Option<Uuid>> {
    let key = crate::leads::email_key(Some(email));
    Ok(dispatch!(conn, |c| {
        sqlx::query_scalar(
        "SELECT id FROM leads WHERE email_key = $1 AND deleted_at IS NULL ORDER BY created_at, id LIMIT 1"
    )
    .bind(key)
    .fetch_optional(c)
    .await
    })?)
}

/// Records content fingerprints (ignores ones already known).
pub async fn add_fingerprints(mut conn: Conn<'_>, items: &[(String, Uuid)]) -> StoreResult<()> {
    for chunk in items.chunks(crate::sql::bulk_rows(conn.backend(), 2)) {
        let sql = format!(
            "INSERT INTO lead_fingerprints (fingerprint, lead_id) VALUES {} ON CONFLICT (fingerprint) DO NOTHING",
            crate::sql::values_rows(conn.backend(), chunk.len(), 2)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (f, id) in chunk {
                q = q.bind(f).bind(id);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Sets historical outcomes (the last one recorded wins).
pub async fn set_outcomes(
    mut conn: Conn<'_>,
    items: &[(Uuid, Outcome)],
    origin: &str,
    at: Micros,
) -> StoreResult<()> {
    for chunk in items.chunks(crate::sql::bulk_rows(conn.backend(), 4)) {
        let sql = format!(
            "INSERT INTO lead_outcomes (lead_id, outcome, origin, recorded_at) VALUES {} \
             ON CONFLICT (lead_id) DO UPDATE SET outcome = excluded.outcome, origin = excluded.origin, \
             recorded_at = excluded.recorded_at",
            crate::sql::values_rows(conn.backend(), chunk.len(), 4)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (id, o) in chunk {
                q = q.bind(id).bind(o.as_str()).bind(origin).bind(at);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    let won: Vec<_> = items
        .iter()
        .filter(|(_, o)| *o == Outcome::Won)
        .map(|(id, _)| (*id, crate::milestones::WON, at))
        .collect();
    crate::milestones::reach_many(conn, &won).await?;
    Ok(())
}

/// A lead's historical outcome, if one is known.
pub async fn outcome(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Option<(Outcome, String)>> {
    let row: Option<(String, String)> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT outcome, origin FROM lead_outcomes WHERE lead_id = $1"
    )
    .bind(lead_id)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(o, origin)| {
        let o = if o == Outcome::Won.as_str() {
            Outcome::Won
        } else {
            Outcome::Lost
        };
        (o, origin)
    }))
}

/// Records (or replaces) who referred a lead.
pub async fn set_referral(
    conn: Conn<'_>,
    lead_id: Uuid,
    r: &Referral,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO referrals (lead_id, referrer_name, referrer_email, referrer_lead_id, note, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (lead_id) DO UPDATE SET \
         referrer_name = excluded.referrer_name, referrer_email = excluded.referrer_email, \
         referrer_lead_id = excluded.referrer_lead_id, note = excluded.note"
    )
    .bind(lead_id)
    .bind(&r.referrer_name)
    .bind(&r.referrer_email)
    .bind(r.referrer_lead_id)
    .bind(&r.note)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

type ReferralRow = (Option<String>, Option<String>, Option<Uuid>, Option<String>);

/// Who referred a lead.
pub async fn referral(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Option<Referral>> {
    let row: Option<ReferralRow> = dispatch!(conn, |c| {
        sqlx::query_as(
            "SELECT referrer_name, referrer_email, referrer_lead_id, note FROM referrals WHERE lead_id = $1"
        )
        .bind(lead_id)
        .fetch_optional(c)
        .await
    })?;
    Ok(row.map(
        |(referrer_name, referrer_email, referrer_lead_id, note)| Referral {
            referrer_name,
            referrer_email,
            referrer_lead_id,
            note,
        },
    ))
}

/// Keeps a rejected submission.
pub async fn insert_rejected(conn: Conn<'_>, r: &RejectedSubmission) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO rejected_submissions (id, channel, reason_code, reason, payload, remote_addr, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(r.id)
    .bind(r.channel.as_str())
    .bind(&r.reason_code)
    .bind(&r.reason)
    .bind(Json(crate::sql::without_nul(&r.payload)))
    .bind(&r.remote_addr)
    .bind(to_micros(r.received_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

type RejectedRow = (
    Uuid,
    String,
    String,
    String,
    Json<Value>,
    Option<String>,
    Micros,
);

fn rejected_from(r: RejectedRow) -> RejectedSubmission {
    RejectedSubmission {
        id: r.0,
        channel: r.1.parse().unwrap_or(CaptureChannel::Api),
        reason_code: r.2,
        reason: r.3,
        payload: r.4.0,
        remote_addr: r.5,
        received_at: from_micros(r.6),
    }
}

/// Rejected submissions, newest first, optionally only one channel; keyset-paginated by
/// (received_at, id) of the last item seen.
pub async fn list_rejected(
    conn: Conn<'_>,
    channel: Option<CaptureChannel>,
    before: Option<(Micros, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<RejectedSubmission>> {
    let (at, id) = before.unwrap_or((i64::MAX, Uuid::max()));
    let rows: Vec<RejectedRow> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT id, channel, reason_code, reason, payload, remote_addr, received_at FROM rejected_submissions \
         WHERE ($1 IS NULL OR channel = $1) AND (received_at < $2 OR (received_at = $2 AND id < $3)) \
         ORDER BY received_at DESC, id DESC LIMIT $4"
    )
    .bind(channel.map(|c| c.as_str()))
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(rejected_from).collect())
}

/// One rejected submission.
pub async fn get_rejected(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<RejectedSubmission>> {
    let row: Option<RejectedRow> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT id, channel, reason_code, reason, payload, remote_addr, received_at FROM rejected_submissions WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(rejected_from))
}

/// Forgets a rejected submission (after it was recovered or judged spam).
pub async fn delete_rejected(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "DELETE FROM rejected_submissions WHERE id = $1"
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A remembered response to a request sent with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotentResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: Value,
}

/// The response stored for `(scope, key)`.
pub async fn idempotent_response(
    conn: Conn<'_>,
    scope: &str,
    key: &str,
) -> StoreResult<Option<IdempotentResponse>> {
    let row: Option<(String, i32, Json<Value>)> = dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE scope = $1 AND key = $2"
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(|(request_hash, status, body)| IdempotentResponse {
        request_hash,
        status: u16::try_from(status).unwrap_or(200),
        body: body.0,
    }))
}

/// Stores the response for `(scope, key)`; a concurrent request that stored first makes
/// this a [`crate::StoreError::Conflict`].
pub async fn remember_response(
    conn: Conn<'_>,
    scope: &str,
    key: &str,
    r: &IdempotentResponse,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(scope)
    .bind(key)
    .bind(&r.request_hash)
    .bind(i32::from(r.status))
    .bind(Json(&r.body))
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Forgets idempotency records older than `before`.
pub async fn purge_idempotency(conn: Conn<'_>, before: Micros) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < $1"
    )
    .bind(before)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// `(key, id)` rows for `sql_head` (ending in `<column> IN`) over many keys: one `= ANY`
/// array on PostgreSQL (planning a 2,000-placeholder list cost ~20 ms per batch), lists of
/// 500 placeholders on SQLite.
async fn keyed_ids(
    mut conn: Conn<'_>,
    sql_head: &str,
    sql_tail: &str,
    keys: &[String],
) -> StoreResult<Vec<(String, Uuid)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    if let Conn::Postgres(c) = conn.reborrow() {
        let column = sql_head.strip_suffix(" IN").unwrap_or(sql_head);
        let sql = format!("{column} = ANY($1) {sql_tail}");
        return Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(keys)
            .fetch_all(c)
            .await?);
    }
    let mut out = Vec::new();
    for chunk in keys.chunks(500) {
        let sql = format!(
            "{sql_head} ({}) {sql_tail}",
            crate::sql::placeholders(chunk.len(), 0)
        );
        let rows: Vec<(String, Uuid)> = dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for k in chunk {
                q = q.bind(k);
            }
            q.fetch_all(c).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Live leads with any of these external ids.
pub async fn leads_by_external_ids(
    conn: Conn<'_>,
    ids: &[String],
) -> StoreResult<Vec<(String, Uuid)>> {
    keyed_ids(
        conn,
        "SELECT external_id, id FROM leads WHERE external_id IN",
        "AND deleted_at IS NULL",
        ids,
    )
    .await
}

/// Live leads with any of these email keys (see [`crate::leads::email_key`]), oldest first.
pub async fn leads_by_email_keys(
    conn: Conn<'_>,
    keys: &[String],
) -> StoreResult<Vec<(String, Uuid)>> {
    keyed_ids(
        conn,
        "SELECT email_key, id FROM leads WHERE email_key IN",
        "AND deleted_at IS NULL ORDER BY created_at, id",
        keys,
    )
    .await
}

/// Live leads recorded for any of these content fingerprints.
pub async fn leads_by_fingerprints(
    conn: Conn<'_>,
    fps: &[String],
) -> StoreResult<Vec<(String, Uuid)>> {
    keyed_ids(
        conn,
        "SELECT f.fingerprint, f.lead_id FROM lead_fingerprints f JOIN leads l ON l.id = f.lead_id WHERE f.fingerprint IN",
        "AND l.deleted_at IS NULL",
        fps,
    )
    .await
}
