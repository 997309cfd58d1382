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

/// A lead's walk through a sequence.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrollmentRow {
    pub id: Uuid,
    pub sequence_id: Uuid,
    pub lead_id: Uuid,
    pub status: String,
    pub step: i32,
    pub step_run: i32,
    pub due_at: Micros,
    pub enrolled_stage: String,
    pub exit_reason: Option<String>,
    pub enrolled_by: String,
    pub enrolled_at: Micros,
    pub finished_at: Option<Micros>,
}

const ENROLLMENT_COLUMNS: &str = "id, sequence_id, lead_id, status, step, step_run, due_at, \
    enrolled_stage, exit_reason, enrolled_by, enrolled_at, finished_at";

/// Enrolls a lead; false when it is already active in the sequence.
pub async fn enroll(conn: Conn<'_>, e: &EnrollmentRow) -> StoreResult<bool> {
    let sql = format!(
        "INSERT INTO enrollments ({ENROLLMENT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING"
    );
    let n = dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(e.id)
        .bind(e.sequence_id)
        .bind(e.lead_id)
        .bind(&e.status)
        .bind(e.step)
        .bind(e.step_run)
        .bind(e.due_at)
        .bind(&e.enrolled_stage)
        .bind(&e.exit_reason)
        .bind(&e.enrolled_by)
        .bind(e.enrolled_at)
        .bind(e.finished_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// True when the lead went through the sequence before (finished or left it).
pub async fn enrolled_before(conn: Conn<'_>, sequence: Uuid, lead: Uuid) -> StoreResult<bool> {
    let n: i64 = dispatch!(conn, |c| {
        sqlx::query_scalar(
        "SELECT COUNT(*) FROM enrollments WHERE sequence_id = $1 AND lead_id = $2 AND status <> 'active'"
    )
    .bind(sequence)
    .bind(lead)
    .fetch_one(c)
    .await
    })?;
    Ok(n > 0)
}

/// Claims up to `limit` active enrollments that are due, until `lease_until`.
pub async fn claim_due_enrollments(
    conn: Conn<'_>,
    now: Micros,
    lease_until: Micros,
    limit: i64,
) -> StoreResult<Vec<EnrollmentRow>> {
    let sql = format!(
        "UPDATE enrollments SET lease_until = $2 WHERE id IN (\
         SELECT e.id FROM enrollments e WHERE e.status = 'active' AND e.due_at <= $1 \
         AND (e.lease_until IS NULL OR e.lease_until < $1) ORDER BY e.due_at LIMIT $3{}) \
         RETURNING {ENROLLMENT_COLUMNS}",
        crate::dialect::skip_locked(conn.backend(), "e")
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Saves where an enrollment stands and releases its claim.
pub async fn save_enrollment(conn: Conn<'_>, e: &EnrollmentRow) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "UPDATE enrollments SET status = $2, step = $3, step_run = $4, due_at = $5, \
         exit_reason = $6, finished_at = $7, lease_until = NULL WHERE id = $1"
    )
    .bind(e.id)
    .bind(&e.status)
    .bind(e.step)
    .bind(e.step_run)
    .bind(e.due_at)
    .bind(&e.exit_reason)
    .bind(e.finished_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends a lead's active enrollments (unsubscribed, deleted …); how many.
pub async fn exit_active_of_lead(
    conn: Conn<'_>,
    lead: Uuid,
    reason: &str,
    at: Micros,
) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| sqlx::query(
        "UPDATE enrollments SET status = 'exited', exit_reason = $2, finished_at = $3, \
         lease_until = NULL WHERE lead_id = $1 AND status = 'active'"
    )
    .bind(lead)
    .bind(reason)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// A lead's enrollments, newest first.
pub async fn enrollments_of_lead(conn: Conn<'_>, lead: Uuid) -> StoreResult<Vec<EnrollmentRow>> {
    let sql = format!(
        "SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE lead_id = $1 ORDER BY enrolled_at DESC, id DESC"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(lead)
    .fetch_all(c)
    .await)?)
}

/// A sequence's enrollments, newest first.
pub async fn enrollments_of_sequence(
    conn: Conn<'_>,
    sequence: Uuid,
    limit: i64,
) -> StoreResult<Vec<EnrollmentRow>> {
    let sql = format!(
        "SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE sequence_id = $1 \
         ORDER BY enrolled_at DESC, id DESC LIMIT $2"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(sequence)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Enrollments of a sequence by status, with exit reasons: (status, reason, count).
pub async fn enrollment_counts(
    conn: Conn<'_>,
    sequence: Uuid,
) -> StoreResult<Vec<(String, Option<String>, i64)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT status, exit_reason, COUNT(*) FROM enrollments WHERE sequence_id = $1 \
         GROUP BY status, exit_reason"
    )
    .bind(sequence)
    .fetch_all(c)
    .await)?)
}

/// A sequence's messages by status and step: (step_index, status, count). The step is
/// read from the enrollment's message purpose `sequence:N`.
pub async fn message_counts(
    conn: Conn<'_>,
    sequence: Uuid,
) -> StoreResult<Vec<(String, String, i64)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT m.purpose, m.status, COUNT(*) FROM outbound_messages m \
         JOIN enrollments e ON e.id = m.enrollment_id WHERE e.sequence_id = $1 \
         GROUP BY m.purpose, m.status"
    )
    .bind(sequence)
    .fetch_all(c)
    .await)?)
}

/// What became of a sequence's sent messages, per step (message purpose `sequence:N`).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct StepEngagement {
    pub purpose: String,
    pub sent: i64,
    pub opened: i64,
    pub clicked: i64,
    pub replied: i64,
    pub bounced: i64,
    pub unsubscribed: i64,
    /// Messages whose lead has since been converted.
    pub converted: i64,
}

/// Engagement with a sequence's sent messages, per step.
pub async fn step_engagement(conn: Conn<'_>, sequence: Uuid) -> StoreResult<Vec<StepEngagement>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT m.purpose, COUNT(*) AS sent, COUNT(m.opened_at) AS opened, \
         COUNT(m.clicked_at) AS clicked, COUNT(m.replied_at) AS replied, \
         COUNT(m.bounced_at) AS bounced, COUNT(m.unsubscribed_at) AS unsubscribed, \
         COUNT(CASE WHEN l.stage = 'converted' THEN 1 END) AS converted \
         FROM outbound_messages m JOIN enrollments e ON e.id = m.enrollment_id \
         LEFT JOIN leads l ON l.id = m.lead_id \
         WHERE e.sequence_id = $1 AND m.status = 'sent' GROUP BY m.purpose"
    )
    .bind(sequence)
    .fetch_all(c)
    .await)?)
}

/// Messages a sequence queued since `since` (the daily limit).
pub async fn messages_since(conn: Conn<'_>, sequence: Uuid, since: Micros) -> StoreResult<i64> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbound_messages m JOIN enrollments e ON e.id = m.enrollment_id \
         WHERE e.sequence_id = $1 AND m.created_at >= $2"
    )
    .bind(sequence)
    .bind(since)
    .fetch_one(c)
    .await)?)
}

/// True when the lead has an activity of this kind since `since`.
pub async fn has_activity_since(
    conn: Conn<'_>,
    lead: Uuid,
    kind: &str,
    since: Micros,
) -> StoreResult<bool> {
    let n: i64 = dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM activities WHERE lead_id = $1 AND kind = $2 \
         AND occurred_at >= $3 LIMIT 1) x"
    )
    .bind(lead)
    .bind(kind)
    .bind(since)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Adds an address to the suppression list (kept as it was when already there).
pub async fn suppress(
    conn: Conn<'_>,
    email_key: &str,
    reason: &str,
    lead: Option<Uuid>,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO suppressions (email_key, reason, lead_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email_key) DO NOTHING"
    )
    .bind(email_key)
    .bind(reason)
    .bind(lead)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Why an address is suppressed, if it is.
pub async fn suppressed(conn: Conn<'_>, email_key: &str) -> StoreResult<Option<String>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT reason FROM suppressions WHERE email_key = $1"
    )
    .bind(email_key)
    .fetch_optional(c)
    .await)?)
}

/// One enrollment.
pub async fn enrollment(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<EnrollmentRow>> {
    let sql = format!("SELECT {ENROLLMENT_COLUMNS} FROM enrollments WHERE id = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)?)
}
