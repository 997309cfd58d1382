//! Follow-up tasks: create, list, and log an outcome in one click. The outcome becomes an
//! activity on the lead (a touch that stops its SLA clock); a call that did not connect
//! schedules the next attempt of the cadence, and after the last one the lead goes back to
//! marketing (`nurture`).

use crate::error::{AppError, AppResult, invalid};
use crate::{App, admin::audit};
use chrono::{DateTime, Duration, Utc};
use leadline_domain::sla::{NewTask, Outcome, TaskKind};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Activity, Principal, Stage};
use leadline_store::sla::{self as store, TaskRow};
use leadline_store::{DbTx, activities, users};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// A follow-up task.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub kind: TaskKind,
    pub title: String,
    pub due_at: DateTime<Utc>,
    pub remind_at: DateTime<Utc>,
    pub assignee_id: Option<Uuid>,
    /// 1 for the first attempt; cadence follow-ups count up.
    pub attempt: i32,
    /// How it ended (`cancelled` when the lead left sales first).
    pub outcome: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<TaskRow> for Task {
    type Error = AppError;
    fn try_from(r: TaskRow) -> AppResult<Self> {
        Ok(Task {
            id: r.id,
            lead_id: r.lead_id,
            kind: r
                .kind
                .parse()
                .map_err(|e| AppError::Internal(format!("stored task {}: {e}", r.id)))?,
            title: r.title,
            due_at: from_micros(r.due_at),
            remind_at: from_micros(r.remind_at),
            assignee_id: r.assignee_id,
            attempt: r.attempt,
            outcome: r.outcome,
            done_at: r.done_at.map(from_micros),
            created_by: r.created_by,
            created_at: from_micros(r.created_at),
        })
    }
}

/// Logging how a task ended.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogOutcome {
    pub outcome: Outcome,
    /// Kept on the activity (at most 2000 characters).
    #[serde(default)]
    pub note: Option<String>,
}

/// What logging an outcome did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutcomeLogged {
    pub task: Task,
    /// The activity recorded on the lead's timeline.
    pub activity: Activity,
    /// The next attempt the cadence scheduled, if any.
    pub next_task: Option<Task>,
    /// True when this was the last attempt and the lead went back to marketing.
    pub recycled: bool,
}

pub(crate) fn task_row(
    lead: Uuid,
    kind: TaskKind,
    title: String,
    (due, remind): (DateTime<Utc>, DateTime<Utc>),
    assignee: Option<Uuid>,
    attempt: i32,
    by: &str,
) -> TaskRow {
    TaskRow {
        id: Uuid::now_v7(),
        lead_id: lead,
        kind: kind.as_str().into(),
        title,
        due_at: to_micros(due),
        remind_at: to_micros(remind),
        reminded_at: None,
        assignee_id: assignee,
        attempt,
        outcome: None,
        done_at: None,
        created_by: by.into(),
        created_at: to_micros(now()),
    }
}

fn default_title(kind: TaskKind, attempt: i32) -> String {
    let base = match kind {
        TaskKind::Call => "Call",
        TaskKind::Email => "Email",
        TaskKind::Meeting => "Meeting",
    };
    if attempt > 1 {
        format!("{base} (attempt {attempt})")
    } else {
        base.into()
    }
}

/// Closes a lead's open tasks when it leaves sales (recycled, disqualified, converted).
pub(crate) async fn cancel_open_in(tx: &mut DbTx, lead: Uuid) -> AppResult<()> {
    store::cancel_open_tasks(tx.conn(), lead, to_micros(now())).await?;
    Ok(())
}

impl App {
    /// Creates a task on a lead the principal can see.
    pub async fn create_task(
        &self,
        by: &Principal,
        lead_id: Uuid,
        input: NewTask,
    ) -> AppResult<Task> {
        input.validate()?;
        let mut tx = self.db.begin().await?;
        let lead = crate::leads::visible_lead(tx.conn(), by, lead_id).await?;
        if !followable(lead.stage) {
            return Err(AppError::Conflict(format!(
                "the lead is {}; nothing is left to follow up",
                lead.stage
            )));
        }
        let assignee = input.assignee_id.or(lead.fields.owner_id).or(by.user_id);
        if let Some(a) = assignee {
            let ok = users::get(tx.conn(), a).await?.is_some_and(|u| u.active);
            if !ok {
                return Err(invalid(
                    "assignee_id",
                    "unknown_user",
                    "no active user with this id",
                ));
            }
        }
        let title = input
            .title
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| default_title(input.kind, 1));
        let remind = input
            .remind_at
            .unwrap_or(input.due_at - Duration::minutes(15));
        let row = task_row(
            lead_id,
            input.kind,
            title,
            (input.due_at, remind),
            assignee,
            1,
            &by.label,
        );
        store::insert_task(tx.conn(), &row).await?;
        audit(
            &mut tx,
            by,
            "task.created",
            "lead",
            Some(lead_id),
            json!({"task": row.id, "kind": row.kind}),
        )
        .await?;
        tx.commit().await?;
        row.try_into()
    }

    /// A lead's tasks: open ones by due time, then done ones.
    pub async fn lead_tasks(&self, by: &Principal, lead_id: Uuid) -> AppResult<Vec<Task>> {
        let mut c = self.db.acquire().await?;
        crate::leads::visible_lead(c.conn(), by, lead_id).await?;
        store::tasks_of_lead(c.conn(), lead_id, 200)
            .await?
            .into_iter()
            .map(Task::try_from)
            .collect()
    }

    /// The principal's open tasks by due time.
    pub async fn my_tasks(&self, by: &Principal, limit: u32) -> AppResult<Vec<Task>> {
        let Some(me) = by.user_id else {
            return Ok(Vec::new());
        };
        let mut c = self.db.acquire().await?;
        store::open_tasks(c.conn(), me, i64::from(limit.clamp(1, 500)))
            .await?
            .into_iter()
            .map(Task::try_from)
            .collect()
    }

    /// Logs how a task ended: closes it, records the activity (a touch), schedules the
    /// cadence's next attempt after a call that did not connect, and recycles the lead to
    /// `nurture` after the last attempt. Logging twice is refused.
    pub async fn log_outcome(
        &self,
        by: &Principal,
        task_id: Uuid,
        input: LogOutcome,
    ) -> AppResult<OutcomeLogged> {
        let note = input
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 2000) {
            return Err(invalid(
                "note",
                "too_long",
                "must be at most 2000 characters",
            ));
        }
        let mut tx = self.db.begin().await?;
        let row = store::task(tx.conn(), task_id)
            .await?
            .ok_or(AppError::NotFound("task"))?;
        let lead = crate::leads::visible_lead(tx.conn(), by, row.lead_id)
            .await
            .map_err(|_| AppError::NotFound("task"))?;
        let task: Task = row.clone().try_into()?;
        if !task.kind.outcomes().contains(&input.outcome) {
            return Err(invalid(
                "outcome",
                "not_for_kind",
                format!(
                    "a {} ends with one of: {}",
                    task.kind.as_str(),
                    task.kind
                        .outcomes()
                        .iter()
                        .map(|o| o.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let t = now();
        if !store::complete_task(tx.conn(), task_id, input.outcome.as_str(), to_micros(t)).await? {
            return Err(AppError::Conflict("the task is already done".into()));
        }
        let mut properties = Map::new();
        properties.insert("outcome".into(), json!(input.outcome.as_str()));
        properties.insert("task_id".into(), json!(task_id));
        properties.insert("attempt".into(), json!(task.attempt));
        if let Some(n) = note {
            properties.insert("note".into(), Value::String(n.to_owned()));
        }
        let activity = Activity {
            id: Uuid::now_v7(),
            lead_id: lead.id,
            kind: task.kind.as_str().into(),
            occurred_at: t,
            properties,
            recorded_by: Some(by.label.clone()),
            created_at: t,
        };
        activities::insert(tx.conn(), &activity).await?;
        crate::sla::touch_in(&mut tx, lead.id, &by.label).await?;

        let policy = crate::sla::policy_in(&mut tx).await?;
        let attempt = task.attempt.max(1) as u32;
        let mut next_task = None;
        let mut recycled = false;
        if input.outcome.retries() && lead.stage.next_stages().contains(&Stage::Nurture) {
            if policy.cadence.exhausted(attempt) {
                crate::scoring::auto_transition(
                    &mut tx,
                    &lead,
                    Stage::Nurture,
                    &format!("recycled to marketing after {attempt} attempts without connecting"),
                    "cadence",
                )
                .await?;
                cancel_open_in(&mut tx, lead.id).await?;
                recycled = true;
            } else {
                let due = policy.next_attempt(t, attempt);
                let row = task_row(
                    lead.id,
                    task.kind,
                    default_title(task.kind, task.attempt + 1),
                    (due, due - Duration::minutes(15)),
                    task.assignee_id,
                    task.attempt + 1,
                    "cadence",
                );
                store::insert_task(tx.conn(), &row).await?;
                next_task = Some(row.try_into()?);
            }
        }
        crate::scoring::score_lead_in(&mut tx, lead.id, &format!("activity {}", activity.kind))
            .await?;
        audit(
            &mut tx,
            by,
            "task.done",
            "lead",
            Some(lead.id),
            json!({"task": task_id, "outcome": input.outcome.as_str(), "recycled": recycled}),
        )
        .await?;
        let done = store::task(tx.conn(), task_id)
            .await?
            .ok_or(AppError::NotFound("task"))?;
        tx.commit().await?;
        tracing::info!(task_id = %task_id, lead_id = %lead.id, outcome = input.outcome.as_str(), recycled, "task outcome logged");
        Ok(OutcomeLogged {
            task: done.try_into()?,
            activity,
            next_task,
            recycled,
        })
    }
}

/// Whether a lead is still someone's to follow up (used by the lead page).
pub fn followable(stage: Stage) -> bool {
    !(stage.is_terminal() || stage == Stage::Disqualified)
}
