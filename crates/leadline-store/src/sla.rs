//! SLA clocks (one per lead), the alerts the sweeper raises, and follow-up tasks.

use crate::db::{Backend, Conn};
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// A lead's first-touch clock.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ClockRow {
    pub lead_id: Uuid,
    pub stage: String,
    pub target: String,
    pub minutes: i32,
    pub started_at: Micros,
    pub warn_at: Micros,
    pub due_at: Micros,
    pub touched_at: Option<Micros>,
    pub warned_at: Option<Micros>,
    pub breached_at: Option<Micros>,
    pub reassigned: i32,
}

const CLOCK_COLUMNS: &str = "lead_id, stage, target, minutes, started_at, warn_at, due_at, \
                             touched_at, warned_at, breached_at, reassigned";

/// The clocks of these leads (leads without one are left out).
pub async fn clocks_of(conn: Conn<'_>, ids: &[Uuid]) -> StoreResult<Vec<ClockRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {CLOCK_COLUMNS} FROM sla_clocks WHERE lead_id IN ({})",
        crate::sql::placeholders(ids.len(), 0)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?)
}

/// The stages of these leads (deleted ones left out).
pub async fn stages_of(conn: Conn<'_>, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, stage FROM leads WHERE deleted_at IS NULL AND id IN ({})",
        crate::sql::placeholders(ids.len(), 0)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?)
}

/// Writes clocks, replacing a lead's previous one.
pub async fn put_clocks(mut conn: Conn<'_>, rows: &[ClockRow]) -> StoreResult<()> {
    for chunk in rows.chunks(crate::sql::bulk_rows(conn.backend(), 11)) {
        let values = crate::sql::values_rows(conn.backend(), chunk.len(), 11);
        // A new clock carries its lead's creation time (0037). On SQLite it is written with
        // the row (the trigger would write each row twice, moving its index entry); on
        // PostgreSQL the BEFORE trigger sets it in the row being written.
        let insert = match conn.backend() {
            Backend::Sqlite => format!(
                "INSERT INTO sla_clocks ({CLOCK_COLUMNS}, lead_created_at) \
                 SELECT v.*, (SELECT l.created_at FROM leads l WHERE l.id = v.column1) \
                 FROM (VALUES {values}) v WHERE true"
            ),
            Backend::Postgres => {
                format!("INSERT INTO sla_clocks ({CLOCK_COLUMNS}) VALUES {values}")
            }
        };
        let sql = format!(
            "{insert} ON CONFLICT (lead_id) DO UPDATE \
             SET stage = excluded.stage, target = excluded.target, minutes = excluded.minutes, \
             started_at = excluded.started_at, warn_at = excluded.warn_at, \
             due_at = excluded.due_at, touched_at = excluded.touched_at, \
             warned_at = excluded.warned_at, breached_at = excluded.breached_at, \
             reassigned = excluded.reassigned"
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for r in chunk {
                q = q
                    .bind(r.lead_id)
                    .bind(&r.stage)
                    .bind(&r.target)
                    .bind(r.minutes)
                    .bind(r.started_at)
                    .bind(r.warn_at)
                    .bind(r.due_at)
                    .bind(r.touched_at)
                    .bind(r.warned_at)
                    .bind(r.breached_at)
                    .bind(r.reassigned);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Stops a lead's running clock at `at` (its first touch). False when none was running.
pub async fn touch(conn: Conn<'_>, lead: Uuid, at: Micros) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "UPDATE sla_clocks SET touched_at = $2 WHERE lead_id = $1 AND touched_at IS NULL"
    )
    .bind(lead)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Removes a lead's clock (it left every covered stage).
pub async fn drop_clock(conn: Conn<'_>, lead: Uuid) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "DELETE FROM sla_clocks WHERE lead_id = $1"
    )
    .bind(lead)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A running clock the sweeper acts on, with the lead's owner and queue.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueRow {
    pub lead_id: Uuid,
    pub target: String,
    pub due_at: Micros,
    pub reassigned: i32,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub name: String,
    pub created_at: Micros,
}

const DUE_SELECT: &str = "SELECT c.lead_id, c.target, c.due_at, c.reassigned, l.owner_id, \
     l.team_id, l.created_at, COALESCE(NULLIF(TRIM(COALESCE(l.first_name, '') || ' ' || \
     COALESCE(l.last_name, '')), ''), l.email, '') AS name FROM sla_clocks c JOIN leads l ON l.id = c.lead_id";

/// Untouched clocks whose warning time has come and that were not warned yet.
pub async fn due_for_warning(conn: Conn<'_>, now: Micros, limit: i64) -> StoreResult<Vec<DueRow>> {
    let sql = format!(
        "{DUE_SELECT} WHERE c.touched_at IS NULL AND c.warned_at IS NULL AND c.warn_at <= $1 \
         AND l.deleted_at IS NULL ORDER BY c.warn_at LIMIT $2"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Untouched clocks past their deadline that were not marked breached yet.
pub async fn due_for_breach(conn: Conn<'_>, now: Micros, limit: i64) -> StoreResult<Vec<DueRow>> {
    let sql = format!(
        "{DUE_SELECT} WHERE c.touched_at IS NULL AND c.breached_at IS NULL AND c.due_at <= $1 \
         AND l.deleted_at IS NULL ORDER BY c.due_at LIMIT $2"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Marks clocks warned (`breached` false) or breached.
pub async fn mark(conn: Conn<'_>, ids: &[Uuid], breached: bool, at: Micros) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let column = if breached { "breached_at" } else { "warned_at" };
    let sql = format!(
        "UPDATE sla_clocks SET {column} = $1 WHERE lead_id IN ({})",
        crate::sql::placeholders(ids.len(), 1)
    );
    dispatch!(conn, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(at);
        for id in ids {
            q = q.bind(*id);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Clock counts for the board: running, in the warning window, past the deadline (deleted
/// leads have no clock).
pub async fn clock_counts(conn: Conn<'_>, now: Micros) -> StoreResult<(i64, i64, i64)> {
    let row: (Option<i64>, Option<i64>, Option<i64>) = dispatch!(conn, |c| sqlx::query_as(
        "SELECT SUM(CASE WHEN c.warn_at > $1 THEN 1 ELSE 0 END), \
                SUM(CASE WHEN c.warn_at <= $1 AND c.due_at > $1 THEN 1 ELSE 0 END), \
                SUM(CASE WHEN c.due_at <= $1 THEN 1 ELSE 0 END) \
         FROM sla_clocks c WHERE c.touched_at IS NULL"
    )
    .bind(now)
    .fetch_one(c)
    .await)?;
    Ok((row.0.unwrap_or(0), row.1.unwrap_or(0), row.2.unwrap_or(0)))
}

/// Untouched leads past their deadline, the longest overdue first. Two single-table
/// steps (the clocks by the partial deadline index, then their leads by key), so the plan
/// stays an index walk whatever the planner's statistics say.
pub async fn past_due(mut conn: Conn<'_>, now: Micros, limit: i64) -> StoreResult<Vec<DueRow>> {
    let clocks: Vec<(Uuid, String, Micros, i32)> = dispatch!(conn.reborrow(), |c| sqlx::query_as(
        "SELECT lead_id, target, due_at, reassigned FROM sla_clocks \
         WHERE touched_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT $2"
    )
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    if clocks.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, owner_id, team_id, created_at, \
         COALESCE(NULLIF(TRIM(COALESCE(first_name, '') || ' ' || \
         COALESCE(last_name, '')), ''), email, '') FROM leads \
         WHERE deleted_at IS NULL AND id IN ({})",
        crate::sql::placeholders(clocks.len(), 0)
    );
    type LeadPart = (Uuid, Option<Uuid>, Option<Uuid>, Micros, String);
    let leads: Vec<LeadPart> = dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for (id, ..) in &clocks {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?;
    let leads: std::collections::HashMap<Uuid, LeadPart> =
        leads.into_iter().map(|l| (l.0, l)).collect();
    Ok(clocks
        .into_iter()
        .filter_map(|(lead_id, target, due_at, reassigned)| {
            let (_, owner_id, team_id, created_at, name) = leads.get(&lead_id)?.clone();
            Some(DueRow {
                lead_id,
                target,
                due_at,
                reassigned,
                owner_id,
                team_id,
                name,
                created_at,
            })
        })
        .collect())
}

/// A line of a rep's queue: an open lead, its priority and its running clock, if any.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueRow {
    pub lead_id: Uuid,
    pub name: String,
    pub company: Option<String>,
    pub stage: String,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub priority: Option<String>,
    pub target: Option<String>,
    pub warn_at: Option<Micros>,
    pub due_at: Option<Micros>,
    pub created_at: Micros,
}

/// Open leads the user owns, and unowned ones waiting in the queues of `teams`: those
/// waiting for their first touch first, by priority then deadline; then the touched ones
/// by priority.
pub async fn queue(
    conn: Conn<'_>,
    user: Uuid,
    teams: &[Uuid],
    limit: i64,
) -> StoreResult<Vec<QueueRow>> {
    let team_clause = if teams.is_empty() {
        String::new()
    } else {
        format!(
            " OR (l.owner_id IS NULL AND l.team_id IN ({}))",
            crate::sql::placeholders(teams.len(), 2)
        )
    };
    let sql = format!(
        "SELECT l.id AS lead_id, COALESCE(NULLIF(TRIM(COALESCE(l.first_name, '') || ' ' || \
         COALESCE(l.last_name, '')), ''), l.email, '') AS name, l.company, \
         l.stage, l.owner_id, l.team_id, s.priority, c.target, c.warn_at, c.due_at, \
         l.created_at \
         FROM leads l \
         LEFT JOIN sla_clocks c ON c.lead_id = l.id AND c.touched_at IS NULL \
         LEFT JOIN lead_scores s ON s.lead_id = l.id \
              AND s.model_key = (SELECT key FROM scoring_models WHERE is_default) \
         WHERE l.deleted_at IS NULL AND l.stage IN ('new', 'mql', 'sal', 'sql') \
         AND (l.owner_id = $1{team_clause}) \
         ORDER BY CASE WHEN c.due_at IS NULL THEN 1 ELSE 0 END, \
                  CASE WHEN s.priority IS NULL THEN 1 ELSE 0 END, s.priority, c.due_at, \
                  l.created_at \
         LIMIT $2"
    );
    // Planned with the actual owner and teams each time (not a cached generic plan, which
    // PostgreSQL may pick badly for this OR of two indexes).
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .persistent(false)
            .bind(user)
            .bind(limit);
        for t in teams {
            q = q.bind(*t);
        }
        q.fetch_all(c).await
    })?)
}

/// An alert for a person, or (no user) for the managers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    pub id: Uuid,
    pub kind: String,
    pub lead_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub message: String,
    pub created_at: Micros,
    pub resolved_at: Option<Micros>,
    pub resolved_by: Option<String>,
}

const ALERT_COLUMNS: &str =
    "id, kind, lead_id, task_id, user_id, team_id, message, created_at, resolved_at, resolved_by";

/// Raises alerts.
pub async fn insert_alerts(mut conn: Conn<'_>, rows: &[AlertRow]) -> StoreResult<()> {
    for chunk in rows.chunks(crate::sql::bulk_rows(conn.backend(), 10)) {
        let sql = format!(
            "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES {}",
            crate::sql::values_rows(conn.backend(), chunk.len(), 10)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for r in chunk {
                q = q
                    .bind(r.id)
                    .bind(&r.kind)
                    .bind(r.lead_id)
                    .bind(r.task_id)
                    .bind(r.user_id)
                    .bind(r.team_id)
                    .bind(&r.message)
                    .bind(r.created_at)
                    .bind(r.resolved_at)
                    .bind(&r.resolved_by);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Open alerts for `user` and, with `managers`, those for the managers; newest first.
pub async fn open_alerts(
    conn: Conn<'_>,
    user: Option<Uuid>,
    managers: bool,
    limit: i64,
) -> StoreResult<Vec<AlertRow>> {
    let who = match (user.is_some(), managers) {
        (true, true) => "(user_id = $2 OR user_id IS NULL)",
        (true, false) => "user_id = $2",
        (false, true) => "user_id IS NULL",
        (false, false) => return Ok(Vec::new()),
    };
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE resolved_at IS NULL AND {who} \
         ORDER BY created_at DESC, id DESC LIMIT $1"
    );
    Ok(dispatch!(conn, |c| {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(limit);
        match user {
            Some(u) => q.bind(u).fetch_all(c).await,
            None => q.fetch_all(c).await,
        }
    })?)
}

/// One alert.
pub async fn alert(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<AlertRow>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

/// A lead's alerts, newest first.
pub async fn alerts_of_lead(conn: Conn<'_>, lead: Uuid) -> StoreResult<Vec<AlertRow>> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE lead_id = $1 ORDER BY created_at DESC, id DESC"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(lead)
    .fetch_all(c)
    .await)?)
}

/// Resolves one open alert; false when it is unknown or already resolved.
pub async fn resolve_alert(conn: Conn<'_>, id: Uuid, at: Micros, by: &str) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE alerts SET resolved_at = $2, resolved_by = $3 WHERE id = $1 AND resolved_at IS NULL"
    )
    .bind(id)
    .bind(at)
    .bind(by)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Resolves a lead's open SLA and assignment alerts (it was touched).
pub async fn resolve_sla_alerts(
    conn: Conn<'_>,
    lead: Uuid,
    at: Micros,
    by: &str,
) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| sqlx::query(
        "UPDATE alerts SET resolved_at = $2, resolved_by = $3 WHERE lead_id = $1 \
         AND resolved_at IS NULL AND kind IN ('sla_warning', 'sla_breach', 'lead_assigned')"
    )
    .bind(lead)
    .bind(at)
    .bind(by)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// A follow-up task.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub kind: String,
    pub title: String,
    pub due_at: Micros,
    pub remind_at: Micros,
    pub reminded_at: Option<Micros>,
    pub assignee_id: Option<Uuid>,
    pub attempt: i32,
    pub outcome: Option<String>,
    pub done_at: Option<Micros>,
    pub created_by: String,
    pub created_at: Micros,
}

const TASK_COLUMNS: &str = "id, lead_id, kind, title, due_at, remind_at, reminded_at, \
                            assignee_id, attempt, outcome, done_at, created_by, created_at";

/// Creates a task.
pub async fn insert_task(conn: Conn<'_>, t: &TaskRow) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13)"
    );
    dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(t.id)
        .bind(t.lead_id)
        .bind(&t.kind)
        .bind(&t.title)
        .bind(t.due_at)
        .bind(t.remind_at)
        .bind(t.reminded_at)
        .bind(t.assignee_id)
        .bind(t.attempt)
        .bind(&t.outcome)
        .bind(t.done_at)
        .bind(&t.created_by)
        .bind(t.created_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One task.
pub async fn task(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<TaskRow>> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1");
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

/// A lead's tasks: open ones by due time, then done ones, newest first.
pub async fn tasks_of_lead(conn: Conn<'_>, lead: Uuid, limit: i64) -> StoreResult<Vec<TaskRow>> {
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE lead_id = $1 \
         ORDER BY CASE WHEN done_at IS NULL THEN 0 ELSE 1 END, \
                  CASE WHEN done_at IS NULL THEN due_at ELSE -done_at END LIMIT $2"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(lead)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// A user's open tasks by due time (on leads not deleted).
pub async fn open_tasks(conn: Conn<'_>, user: Uuid, limit: i64) -> StoreResult<Vec<TaskRow>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT t.id, t.lead_id, t.kind, t.title, t.due_at, t.remind_at, t.reminded_at, \
         t.assignee_id, t.attempt, t.outcome, t.done_at, t.created_by, t.created_at \
         FROM tasks t JOIN leads l ON l.id = t.lead_id \
         WHERE t.assignee_id = $1 AND t.done_at IS NULL AND l.deleted_at IS NULL \
         ORDER BY t.due_at LIMIT $2"
    )
    .bind(user)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Closes an open task with an outcome; false when it was already closed.
pub async fn complete_task(
    conn: Conn<'_>,
    id: Uuid,
    outcome: &str,
    at: Micros,
) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "UPDATE tasks SET outcome = $2, done_at = $3 WHERE id = $1 AND done_at IS NULL"
    )
    .bind(id)
    .bind(outcome)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Closes a lead's open tasks without an outcome (the lead left sales).
pub async fn cancel_open_tasks(conn: Conn<'_>, lead: Uuid, at: Micros) -> StoreResult<u64> {
    Ok(dispatch!(conn, |c| {
        sqlx::query(
        "UPDATE tasks SET outcome = 'cancelled', done_at = $2 WHERE lead_id = $1 AND done_at IS NULL"
    )
    .bind(lead)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?)
}

/// Open tasks whose reminder is due and was not sent.
pub async fn due_reminders(conn: Conn<'_>, now: Micros, limit: i64) -> StoreResult<Vec<TaskRow>> {
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE done_at IS NULL AND reminded_at IS NULL \
         AND remind_at <= $1 ORDER BY remind_at LIMIT $2"
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}

/// Marks tasks reminded.
pub async fn mark_reminded(conn: Conn<'_>, ids: &[Uuid], at: Micros) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE tasks SET reminded_at = $1 WHERE id IN ({})",
        crate::sql::placeholders(ids.len(), 1)
    );
    dispatch!(conn, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(at);
        for id in ids {
            q = q.bind(*id);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Every lead with an alert of `kind`, and when the first was raised (tests and audits).
pub async fn alerted_leads(conn: Conn<'_>, kind: &str) -> StoreResult<Vec<(Uuid, Micros)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT lead_id, MIN(created_at) FROM alerts WHERE kind = $1 AND lead_id IS NOT NULL \
         GROUP BY lead_id"
    )
    .bind(kind)
    .fetch_all(c)
    .await)?)
}

/// Sets (or replaces) the time a nurtured lead comes back to sales.
pub async fn put_reengagement(
    conn: Conn<'_>,
    lead: Uuid,
    due_at: Micros,
    by: &str,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO reengagements (lead_id, due_at, created_by, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (lead_id) DO UPDATE SET due_at = excluded.due_at, \
         created_by = excluded.created_by, created_at = excluded.created_at"
    )
    .bind(lead)
    .bind(due_at)
    .bind(by)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Forgets a lead's re-engage time (it left nurture, or came back).
pub async fn drop_reengagement(conn: Conn<'_>, lead: Uuid) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "DELETE FROM reengagements WHERE lead_id = $1"
    )
    .bind(lead)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A lead's re-engage time, if set.
pub async fn reengagement(conn: Conn<'_>, lead: Uuid) -> StoreResult<Option<Micros>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT due_at FROM reengagements WHERE lead_id = $1"
    )
    .bind(lead)
    .fetch_optional(c)
    .await)?)
}

/// Leads whose re-engage time has come, the earliest first.
pub async fn due_reengagements(conn: Conn<'_>, now: Micros, limit: i64) -> StoreResult<Vec<Uuid>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT lead_id FROM reengagements WHERE due_at <= $1 ORDER BY due_at LIMIT $2"
    )
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await)?)
}
