//! Webhook endpoints, the event outbox and its deliveries (claimed under a lease, one
//! per endpoint and lead at a time), and the log of every HTTP attempt.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// An endpoint as stored; `events` is a JSON array.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub events: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<Micros>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<Micros>,
    pub created_by: String,
    pub created_at: Micros,
    pub updated_at: Micros,
}

const ENDPOINT_COLUMNS: &str = "id, url, description, events, secret, previous_secret, \
    previous_secret_until, enabled, disabled_reason, failing_since, created_by, created_at, updated_at";

/// Adds an endpoint.
pub async fn insert_endpoint(conn: Conn<'_>, e: &EndpointRow) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(e.id)
        .bind(&e.url)
        .bind(&e.description)
        .bind(&e.events)
        .bind(&e.secret)
        .bind(&e.previous_secret)
        .bind(e.previous_secret_until)
        .bind(e.enabled)
        .bind(&e.disabled_reason)
        .bind(e.failing_since)
        .bind(&e.created_by)
        .bind(e.created_at)
        .bind(e.updated_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Saves an endpoint's settings and secrets (not its failure state).
pub async fn update_endpoint(conn: Conn<'_>, e: &EndpointRow) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "UPDATE webhook_endpoints SET url = $2, description = $3, events = $4, secret = $5, \
         previous_secret = $6, previous_secret_until = $7, enabled = $8, disabled_reason = $9, \
         failing_since = $10, updated_at = $11 WHERE id = $1"
    )
    .bind(e.id)
    .bind(&e.url)
    .bind(&e.description)
    .bind(&e.events)
    .bind(&e.secret)
    .bind(&e.previous_secret)
    .bind(e.previous_secret_until)
    .bind(e.enabled)
    .bind(&e.disabled_reason)
    .bind(e.failing_since)
    .bind(e.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// One endpoint.
pub async fn endpoint(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<EndpointRow>> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

/// Every endpoint, oldest first.
pub async fn endpoints(conn: Conn<'_>) -> StoreResult<Vec<EndpointRow>> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .fetch_all(c)
    .await)?)
}

/// Deletes an endpoint with its deliveries and their log.
pub async fn delete_endpoint(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "DELETE FROM webhook_endpoints WHERE id = $1"
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The enabled endpoints' ids and event filters (JSON), to fan an event out.
pub async fn subscriptions(conn: Conn<'_>) -> StoreResult<Vec<(Uuid, String)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, events FROM webhook_endpoints WHERE enabled"
    )
    .fetch_all(c)
    .await)?)
}

/// One event in the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub event_type: String,
    pub lead_id: Option<Uuid>,
    pub body: String,
    pub created_at: Micros,
}

/// One event to one endpoint.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub order_key: Option<Uuid>,
    pub created_at: Micros,
}

/// Writes events and their deliveries (in the caller's transaction: the outbox).
pub async fn insert_outbox(
    mut conn: Conn<'_>,
    events: &[EventRow],
    deliveries: &[NewDelivery],
) -> StoreResult<()> {
    for chunk in events.chunks(crate::sql::bulk_rows(conn.backend(), 5)) {
        let sql = format!(
            "INSERT INTO events (id, event_type, lead_id, body, created_at) VALUES {}",
            crate::sql::values_rows(conn.backend(), chunk.len(), 5)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for e in chunk {
                q = q
                    .bind(e.id)
                    .bind(&e.event_type)
                    .bind(e.lead_id)
                    .bind(&e.body)
                    .bind(e.created_at);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    for chunk in deliveries.chunks(crate::sql::bulk_rows(conn.backend(), 6)) {
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, order_key, created_at, \
             next_attempt_at, status) VALUES {}",
            values_with_pending(conn.backend(), chunk.len())
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for d in chunk {
                q = q
                    .bind(d.id)
                    .bind(d.endpoint_id)
                    .bind(d.event_id)
                    .bind(d.order_key)
                    .bind(d.created_at)
                    .bind(d.created_at);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// `($1, …, $6, 'pending'), …`
fn values_with_pending(backend: crate::Backend, rows: usize) -> String {
    crate::sql::values_rows(backend, rows, 6).replace(')', ", 'pending')")
}

/// A delivery claimed for an attempt, with what is needed to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    /// Including this attempt.
    pub attempts: i32,
    pub event_type: String,
    pub body: String,
    pub event_at: Micros,
    pub url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<Micros>,
}

/// Claims up to `limit` due deliveries until `lease_until` and counts the attempt. Only
/// the oldest pending delivery of an (endpoint, lead) is due, so a lead's events reach an
/// endpoint in order; a delivery whose claimant died is due again when its lease ends.
pub async fn claim_due(
    mut conn: Conn<'_>,
    now: Micros,
    lease_until: Micros,
    limit: i64,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_until = $2, attempts = attempts + 1 WHERE id IN (\
         SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
         AND (d.lease_until IS NULL OR d.lease_until < $1) AND e.enabled \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.status = 'pending' \
           AND p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key AND p.event_id < d.event_id) \
         ORDER BY d.next_attempt_at LIMIT $3{}) RETURNING id",
        crate::dialect::skip_locked(conn.backend(), "d")
    );
    let ids: Vec<Uuid> = dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.id, d.endpoint_id, d.event_id, d.attempts, ev.event_type, ev.body, \
         ev.created_at AS event_at, e.url, e.secret, e.previous_secret, e.previous_secret_until \
         FROM webhook_deliveries d JOIN events ev ON ev.id = d.event_id \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id IN ({}) \
         ORDER BY d.next_attempt_at, d.event_id",
        crate::sql::placeholders(ids.len(), 0)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for id in &ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?)
}

/// One HTTP attempt, for the log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub attempt: i32,
    pub started_at: Micros,
    pub duration_ms: i32,
    pub request_headers: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// How an attempt left its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again at this time.
    Retry(Micros),
    /// Given up.
    Failed,
}

/// Logs an attempt and moves its delivery on; also keeps the endpoint's failure mark (set
/// by the first failure after a success, cleared by a success).
pub async fn record_attempt(
    mut conn: Conn<'_>,
    endpoint_id: Uuid,
    a: &AttemptRow,
    outcome: Outcome,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn.reborrow(), |c| sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_id, attempt, started_at, duration_ms, \
         request_headers, response_status, response_body, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    .bind(a.id)
    .bind(a.delivery_id)
    .bind(a.attempt)
    .bind(a.started_at)
    .bind(a.duration_ms)
    .bind(&a.request_headers)
    .bind(a.response_status)
    .bind(&a.response_body)
    .bind(&a.error)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    let (status, next, finished) = match outcome {
        Outcome::Delivered => ("delivered", at, Some(at)),
        Outcome::Retry(t) => ("pending", t, None),
        Outcome::Failed => ("failed", at, Some(at)),
    };
    dispatch!(conn.reborrow(), |c| sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, next_attempt_at = $3, finished_at = $4, \
         lease_until = NULL, last_status = $5, last_error = $6 WHERE id = $1"
    )
    .bind(a.delivery_id)
    .bind(status)
    .bind(next)
    .bind(finished)
    .bind(a.response_status)
    .bind(&a.error)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    let sql = if outcome == Outcome::Delivered {
        "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL AND failing_since <= $2"
    } else {
        "UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL"
    };
    dispatch!(conn, |c| sqlx::query(sql)
        .bind(endpoint_id)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Turns an endpoint off (persistent failure or by hand) with the reason.
pub async fn disable_endpoint(
    conn: Conn<'_>,
    id: Uuid,
    reason: &str,
    at: Micros,
) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $2, updated_at = $3 \
         WHERE id = $1 AND enabled"
    )
    .bind(id)
    .bind(reason)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Makes an endpoint's waiting deliveries due now (it was switched back on).
pub async fn resume_deliveries(conn: Conn<'_>, endpoint_id: Uuid, now: Micros) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| sqlx::query(
        "UPDATE webhook_deliveries SET next_attempt_at = $2 \
         WHERE endpoint_id = $1 AND status = 'pending' AND next_attempt_at > $2"
    )
    .bind(endpoint_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// A delivery for the log: where it stands and which event it carries.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub lead_id: Option<Uuid>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Micros,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: Micros,
    pub finished_at: Option<Micros>,
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.endpoint_id, d.event_id, ev.event_type, ev.lead_id, \
    d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.finished_at \
    FROM webhook_deliveries d JOIN events ev ON ev.id = d.event_id";

/// An endpoint's deliveries, newest first; `status` narrows to one state.
pub async fn deliveries_of(
    conn: Conn<'_>,
    endpoint_id: Uuid,
    status: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<DeliveryRow>> {
    let sql = format!(
        "{DELIVERY_SELECT} WHERE d.endpoint_id = $1 AND ($2 IS NULL OR d.status = $2) \
         ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(endpoint_id)
    .bind(status)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// One delivery.
pub async fn delivery(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<DeliveryRow>> {
    let sql = format!("{DELIVERY_SELECT} WHERE d.id = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

/// A delivery's attempts, oldest first.
pub async fn attempts_of(conn: Conn<'_>, delivery_id: Uuid) -> StoreResult<Vec<AttemptRow>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, delivery_id, attempt, started_at, duration_ms, request_headers, \
         response_status, response_body, error FROM webhook_attempts WHERE delivery_id = $1 \
         ORDER BY started_at, attempt"
    )
    .bind(delivery_id)
    .fetch_all(c)
    .await)?)
}

/// One event's body.
pub async fn event(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<EventRow>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, event_type, lead_id, body, created_at FROM events WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

/// Deliveries per endpoint and state: (endpoint, status, count).
pub async fn delivery_counts(conn: Conn<'_>) -> StoreResult<Vec<(Uuid, String, i64)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT endpoint_id, status, COUNT(*) FROM webhook_deliveries GROUP BY endpoint_id, status"
    )
    .fetch_all(c)
    .await)?)
}

/// Forgets events older than `before` that no delivery still waits for (their deliveries
/// and attempts go with them); how many.
pub async fn prune(conn: Conn<'_>, before: Micros) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| {
        sqlx::query(
        "DELETE FROM events WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
         WHERE d.event_id = events.id AND d.status = 'pending')"
    )
    .bind(before)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?)
}
