//! Outbound email: messages queued in the transaction of their cause, claimed under a lease
//! by the sender, and the outbox listing.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// One outbound message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub purpose: String,
    pub to_address: String,
    pub user_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub message_id: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Micros,
    pub last_error: Option<String>,
    pub created_at: Micros,
    pub sent_at: Option<Micros>,
    /// Sequence mail: the enrollment and its step run.
    pub enrollment_id: Option<Uuid>,
    pub step_run: Option<i32>,
    pub unsubscribe_token: Option<String>,
    /// Never sent twice: a claim whose sender died becomes `unknown`, not due again.
    pub at_most_once: bool,
    /// The token of the message's open pixel (sequence mail).
    pub track_token: Option<String>,
    /// The recipient's domain, lower-case (per-domain throttling).
    pub to_domain: Option<String>,
}

const COLUMNS: &str = "id, purpose, to_address, user_id, lead_id, subject, body_text, body_html, \
    message_id, status, attempts, next_attempt_at, last_error, created_at, sent_at, enrollment_id, \
    step_run, unsubscribe_token, at_most_once, track_token, to_domain";

/// Queues messages.
pub async fn queue(mut conn: Conn<'_>, rows: &[MessageRow]) -> StoreResult<()> {
    for chunk in rows.chunks(crate::sql::bulk_rows(conn.backend(), 21)) {
        let sql = format!(
            "INSERT INTO outbound_messages ({COLUMNS}) VALUES {}",
            crate::sql::values_rows(conn.backend(), chunk.len(), 21)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for m in chunk {
                q = q
                    .bind(m.id)
                    .bind(&m.purpose)
                    .bind(&m.to_address)
                    .bind(m.user_id)
                    .bind(m.lead_id)
                    .bind(&m.subject)
                    .bind(&m.body_text)
                    .bind(&m.body_html)
                    .bind(&m.message_id)
                    .bind(&m.status)
                    .bind(m.attempts)
                    .bind(m.next_attempt_at)
                    .bind(&m.last_error)
                    .bind(m.created_at)
                    .bind(m.sent_at)
                    .bind(m.enrollment_id)
                    .bind(m.step_run)
                    .bind(&m.unsubscribe_token)
                    .bind(m.at_most_once)
                    .bind(&m.track_token)
                    .bind(&m.to_domain);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Claims up to `limit` queued messages that are due, until `lease_until`, counting the
/// attempt. A message whose sender died is due again when its lease ends — except
/// at-most-once mail, which is claimed as `sending` and never due again by itself (see
/// [`interrupted`]).
pub async fn claim_due(
    mut conn: Conn<'_>,
    now: Micros,
    lease_until: Micros,
    limit: i64,
) -> StoreResult<Vec<MessageRow>> {
    let sql = format!(
        "UPDATE outbound_messages SET lease_until = $2, attempts = attempts + 1, \
         status = CASE WHEN at_most_once THEN 'sending' ELSE status END WHERE id IN (\
         SELECT m.id FROM outbound_messages m WHERE m.status = 'queued' AND m.next_attempt_at <= $1 \
         AND (m.lease_until IS NULL OR m.lease_until < $1) ORDER BY m.next_attempt_at LIMIT $3{}) \
         RETURNING {COLUMNS}",
        crate::dialect::skip_locked(conn.backend(), "m")
    );
    Ok(dispatch!(conn.reborrow(), |c| sqlx::query_as(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Records how an attempt went: `sent`, `failed`, or `queued` again at `next`.
pub async fn finish(
    conn: Conn<'_>,
    id: Uuid,
    status: &str,
    next: Micros,
    error: Option<&str>,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "UPDATE outbound_messages SET status = $2, next_attempt_at = $3, last_error = $4, \
         lease_until = NULL, sent_at = CASE WHEN $2 = 'sent' THEN $5 ELSE sent_at END WHERE id = $1"
    )
    .bind(id)
    .bind(status)
    .bind(next)
    .bind(error)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Messages newest first; `status` narrows to one state, `lead` to one lead.
pub async fn list(
    conn: Conn<'_>,
    status: Option<&str>,
    lead: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<MessageRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outbound_messages WHERE ($1 IS NULL OR status = $1) \
         AND ($2 IS NULL OR lead_id = $2) ORDER BY created_at DESC, id DESC LIMIT $3"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(status)
    .bind(lead)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// At-most-once messages whose sender stopped while holding them (lease over): they may or
/// may not have reached the relay, so they are marked `unknown` and not sent again.
pub async fn interrupted(conn: Conn<'_>, now: Micros) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| sqlx::query(
        "UPDATE outbound_messages SET status = 'unknown', lease_until = NULL, last_error = \
         'the sender stopped while delivering it; not sent again, so it is never sent twice' \
         WHERE status = 'sending' AND lease_until < $1"
    )
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// The message whose unsubscribe link holds this token.
pub async fn by_unsubscribe_token(conn: Conn<'_>, token: &str) -> StoreResult<Option<MessageRow>> {
    let sql = format!("SELECT {COLUMNS} FROM outbound_messages WHERE unsubscribe_token = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(token)
    .fetch_optional(c)
    .await)?)
}

/// Cancels a lead's queued messages (the lead was deleted or merged away); how many.
pub async fn cancel_queued_of_lead(conn: Conn<'_>, lead: Uuid, reason: &str) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| sqlx::query(
        "UPDATE outbound_messages SET status = 'failed', last_error = $2 \
         WHERE lead_id = $1 AND status = 'queued'"
    )
    .bind(lead)
    .bind(reason)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// The message whose open pixel holds this token.
pub async fn by_track_token(conn: Conn<'_>, token: &str) -> StoreResult<Option<MessageRow>> {
    let sql = format!("SELECT {COLUMNS} FROM outbound_messages WHERE track_token = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(token)
    .fetch_optional(c)
    .await)?)
}

/// The first of these Message-IDs (without angle brackets) that is one of ours.
pub async fn by_message_ids(mut conn: Conn<'_>, ids: &[String]) -> StoreResult<Option<MessageRow>> {
    let sql = format!("SELECT {COLUMNS} FROM outbound_messages WHERE message_id = $1");
    for id in ids.iter().take(50) {
        let row: Option<MessageRow> = dispatch!(conn.reborrow(), |c| sqlx::query_as(
            sqlx::AssertSqlSafe(sql.as_str())
        )
        .bind(id)
        .fetch_optional(c)
        .await)?;
        if row.is_some() {
            return Ok(row);
        }
    }
    Ok(None)
}

/// What happened to a sent message, as recorded on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engagement {
    Opened,
    Clicked,
    Replied,
    Bounced,
    Unsubscribed,
}

/// Records an open, click, reply, bounce or unsubscribe on a message; true the first time
/// (opens and clicks are also counted every time).
pub async fn record_engagement(
    mut conn: Conn<'_>,
    id: Uuid,
    what: Engagement,
    at: Micros,
) -> StoreResult<bool> {
    let (first, count) = match what {
        Engagement::Opened => (
            "UPDATE outbound_messages SET opened_at = $2 WHERE id = $1 AND opened_at IS NULL",
            Some("UPDATE outbound_messages SET opens = opens + 1 WHERE id = $1"),
        ),
        Engagement::Clicked => (
            "UPDATE outbound_messages SET clicked_at = $2 WHERE id = $1 AND clicked_at IS NULL",
            Some("UPDATE outbound_messages SET clicks = clicks + 1 WHERE id = $1"),
        ),
        Engagement::Replied => (
            "UPDATE outbound_messages SET replied_at = $2 WHERE id = $1 AND replied_at IS NULL",
            None,
        ),
        Engagement::Bounced => (
            "UPDATE outbound_messages SET bounced_at = $2 WHERE id = $1 AND bounced_at IS NULL",
            None,
        ),
        Engagement::Unsubscribed => (
            "UPDATE outbound_messages SET unsubscribed_at = $2 WHERE id = $1 \
             AND unsubscribed_at IS NULL",
            None,
        ),
    };
    let n = dispatch!(conn.reborrow(), |c| sqlx::query(first)
        .bind(id)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    if let Some(count) = count {
        dispatch!(conn, |c| sqlx::query(count)
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(n > 0)
}

/// Sequence messages queued for a recipient domain since `since` (per-domain throttling).
pub async fn domain_messages_since(
    conn: Conn<'_>,
    domain: &str,
    since: Micros,
) -> StoreResult<i64> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbound_messages WHERE to_domain = $1 AND created_at >= $2 \
         AND enrollment_id IS NOT NULL"
    )
    .bind(domain)
    .bind(since)
    .fetch_one(c)
    .await)?)
}

/// One message.
pub async fn get(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<MessageRow>> {
    let sql = format!("SELECT {COLUMNS} FROM outbound_messages WHERE id = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

/// A message sent to a lead, with what the lead did with it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeadMessageRow {
    pub id: Uuid,
    pub purpose: String,
    pub subject: String,
    pub status: String,
    pub enrollment_id: Option<Uuid>,
    pub created_at: Micros,
    pub sent_at: Option<Micros>,
    pub opened_at: Option<Micros>,
    pub opens: i32,
    pub clicked_at: Option<Micros>,
    pub clicks: i32,
    pub replied_at: Option<Micros>,
    pub bounced_at: Option<Micros>,
    pub unsubscribed_at: Option<Micros>,
}

/// The messages written to a lead (not notifications about it), newest first.
pub async fn of_lead(conn: Conn<'_>, lead: Uuid, limit: i64) -> StoreResult<Vec<LeadMessageRow>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, purpose, subject, status, enrollment_id, created_at, sent_at, opened_at, \
         opens, clicked_at, clicks, replied_at, bounced_at, unsubscribed_at \
         FROM outbound_messages WHERE lead_id = $1 AND user_id IS NULL \
         ORDER BY created_at DESC, id DESC LIMIT $2"
    )
    .bind(lead)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}
