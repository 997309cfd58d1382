//! SLA follow-up: every lead in a covered stage carries a first-touch clock in business
//! time. The clock follows the lead's stage and priority on every event; a person's touch
//! (a call, an email, a meeting, a stage decision) stops it; the sweeper warns the owner
//! before the deadline and, past it, raises an alert for the managers and optionally gives
//! the lead to another rep. The queue and the board read the clocks.

use crate::error::{AppError, AppResult};
use crate::{App, admin::audit};
use chrono::{DateTime, Utc};
use leadline_domain::sla::{ClockState, Deadlines, SlaPolicy};
use leadline_domain::time::{Micros, from_micros, now, to_micros};
use leadline_domain::{Principal, Role, Stage};
use leadline_store::sla::{self as store, AlertRow, ClockRow};
use leadline_store::{DbTx, scoring, settings, teams};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

const POLICY_KEY: &str = "sla_policy";

/// Clocks, alerts and reminders handled per sweeper transaction.
const SWEEP_BATCH: i64 = 500;

/// The SLA policy in force (the default until one is saved).
pub(crate) async fn policy_in(tx: &mut DbTx) -> AppResult<SlaPolicy> {
    match settings::get(tx.conn(), POLICY_KEY).await? {
        None => Ok(SlaPolicy::default()),
        Some(v) => serde_json::from_value(v)
            .map_err(|e| AppError::Internal(format!("stored SLA policy: {e}"))),
    }
}

fn deadlines(c: &ClockRow) -> Deadlines {
    Deadlines {
        warn_at: from_micros(c.warn_at),
        due_at: from_micros(c.due_at),
    }
}

/// Keeps one lead's clock in step with its stage and priority.
pub(crate) async fn follow_lead_in(tx: &mut DbTx, lead: Uuid) -> AppResult<()> {
    follow_in(tx, &[lead]).await
}

/// Keeps the clocks of these leads in step with their stage and priority: a lead entering
/// a covered stage gets a clock from now; an untouched clock whose target changed (the lead
/// got hotter, or moved between covered stages) keeps its start and gets the new deadline;
/// a lead that left every covered stage untouched loses its clock and its SLA alerts.
pub(crate) async fn follow_in(tx: &mut DbTx, ids: &[Uuid]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let policy = policy_in(tx).await?;
    let stages = store::stages_of(tx.conn(), ids).await?;
    let priorities: HashMap<Uuid, String> = scoring::default_priorities(tx.conn(), ids)
        .await?
        .into_iter()
        .collect();
    let clocks: HashMap<Uuid, ClockRow> = store::clocks_of(tx.conn(), ids)
        .await?
        .into_iter()
        .map(|c| (c.lead_id, c))
        .collect();
    let t = now();
    let mut put = Vec::new();
    for (id, stage) in stages {
        let Ok(stage) = stage.parse::<Stage>() else {
            continue;
        };
        let target = policy.target_for(stage, priorities.get(&id).map(String::as_str));
        let clock = clocks.get(&id);
        match (target, clock) {
            (None, Some(c)) if c.touched_at.is_none() => {
                store::drop_clock(tx.conn(), id).await?;
                store::resolve_sla_alerts(tx.conn(), id, to_micros(t), "stage change").await?;
            }
            (None, _) => {}
            (Some(target), Some(c)) if c.touched_at.is_none() => {
                let minutes = target.minutes as i32;
                if c.breached_at.is_none() && (c.minutes != minutes || c.stage != stage.as_str()) {
                    let d = policy.deadlines(from_micros(c.started_at), target.minutes);
                    put.push(ClockRow {
                        stage: stage.as_str().into(),
                        target: target.name.clone(),
                        minutes,
                        warn_at: to_micros(d.warn_at),
                        due_at: to_micros(d.due_at),
                        // A deadline moved later may warn again.
                        warned_at: c.warned_at.filter(|_| to_micros(d.warn_at) <= c.warn_at),
                        ..c.clone()
                    });
                }
            }
            (Some(_), Some(c)) if c.stage == stage.as_str() => {}
            (Some(target), _) => {
                let d = policy.deadlines(t, target.minutes);
                put.push(ClockRow {
                    lead_id: id,
                    stage: stage.as_str().into(),
                    target: target.name.clone(),
                    minutes: target.minutes as i32,
                    started_at: to_micros(t),
                    warn_at: to_micros(d.warn_at),
                    due_at: to_micros(d.due_at),
                    touched_at: None,
                    warned_at: None,
                    breached_at: None,
                    reassigned: 0,
                });
            }
        }
    }
    store::put_clocks(tx.conn(), &put).await?;
    Ok(())
}

/// A person touched the lead: its running clock stops and its SLA and assignment alerts
/// are resolved.
pub(crate) async fn touch_in(tx: &mut DbTx, lead: Uuid, by: &str) -> AppResult<()> {
    let t = to_micros(now());
    store::touch(tx.conn(), lead, t).await?;
    store::resolve_sla_alerts(tx.conn(), lead, t, by).await?;
    Ok(())
}

/// Tells a lead's new owner it is theirs: an alert on their queue (resolved by their first
/// touch) and an email (sent by the mail worker, or kept in the outbox). The webhook event
/// `lead.assigned` goes with the owner change itself (`events::owner_changed_in`).
pub(crate) async fn notify_owner_in(
    tx: &mut DbTx,
    lead: &leadline_domain::Lead,
    owner: Uuid,
    why: &str,
) -> AppResult<()> {
    let name = lead.fields.display_name();
    let message: String = format!("New lead for you: {name} ({why})")
        .chars()
        .take(500)
        .collect();
    store::insert_alerts(
        tx.conn(),
        &[alert(
            "lead_assigned",
            Some(lead.id),
            Some(owner),
            lead.fields.team_id,
            message,
            to_micros(now()),
        )],
    )
    .await?;
    crate::mail::queue_owner_notification_in(tx, lead, owner, why).await
}

/// Sets (with a day) or clears a lead's re-engage time after a stage change: due at the
/// first business minute of that day in the SLA calendar.
pub(crate) async fn set_reengagement_in(
    tx: &mut DbTx,
    lead: Uuid,
    on: Option<chrono::NaiveDate>,
    by: &str,
) -> AppResult<()> {
    match on {
        None => store::drop_reengagement(tx.conn(), lead).await?,
        Some(day) => {
            let policy = policy_in(tx).await?;
            let due = policy.calendar.opening_on(day);
            store::put_reengagement(tx.conn(), lead, to_micros(due), by, to_micros(now())).await?;
        }
    }
    Ok(())
}

/// Raises an alert for the managers: a lead nobody could take (no rule, nobody available).
pub(crate) async fn alert_unrouted_in(
    tx: &mut DbTx,
    lead: &leadline_domain::Lead,
    team: Option<Uuid>,
    why: &str,
) -> AppResult<()> {
    let message: String = format!("{} waits for an owner: {why}", lead.fields.display_name())
        .chars()
        .take(500)
        .collect();
    store::insert_alerts(
        tx.conn(),
        &[alert(
            "unrouted",
            Some(lead.id),
            None,
            team,
            message,
            to_micros(now()),
        )],
    )
    .await?;
    Ok(())
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    /// Owners (or managers) warned of a deadline coming.
    pub warned: usize,
    /// Clocks past their deadline, each with an alert for the managers.
    pub breached: usize,
    /// Breached leads given to another rep.
    pub reassigned: usize,
    /// Task reminders sent.
    pub reminded: usize,
    /// Nurtured leads whose re-engage day came, back with sales as MQLs.
    pub reengaged: usize,
}

/// An alert.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: Uuid,
    /// `sla_warning`, `sla_breach`, `task_due`, `lead_assigned` or `unrouted`.
    pub kind: String,
    pub lead_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    /// Who it is for; none means the managers.
    pub user_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub message: String,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
}

impl From<AlertRow> for Alert {
    fn from(r: AlertRow) -> Self {
        Alert {
            id: r.id,
            kind: r.kind,
            lead_id: r.lead_id,
            task_id: r.task_id,
            user_id: r.user_id,
            team_id: r.team_id,
            message: r.message,
            created_at: from_micros(r.created_at),
            resolved_at: r.resolved_at.map(from_micros),
            resolved_by: r.resolved_by,
        }
    }
}

pub(crate) fn alert(
    kind: &str,
    lead: Option<Uuid>,
    user: Option<Uuid>,
    team: Option<Uuid>,
    message: String,
    at: Micros,
) -> AlertRow {
    AlertRow {
        id: Uuid::now_v7(),
        kind: kind.into(),
        lead_id: lead,
        task_id: None,
        user_id: user,
        team_id: team,
        message,
        created_at: at,
        resolved_at: None,
        resolved_by: None,
    }
}

fn lead_label(name: &str, id: Uuid) -> String {
    if name.trim().is_empty() {
        format!("lead {id}")
    } else {
        name.trim().to_owned()
    }
}

/// A line of a rep's queue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub lead_id: Uuid,
    pub name: String,
    pub company: Option<String>,
    pub stage: Stage,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub priority: Option<String>,
    /// The SLA target the running clock follows, if one runs.
    pub sla_target: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// `running`, `warning` or `breached` while a clock runs.
    pub sla_state: Option<String>,
    /// Seconds to the deadline (negative when past).
    pub seconds_left: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl QueueItem {
    fn from_row(r: store::QueueRow, t: DateTime<Utc>) -> Option<Self> {
        let clock = r.warn_at.zip(r.due_at).map(|(w, d)| Deadlines {
            warn_at: from_micros(w),
            due_at: from_micros(d),
        });
        Some(QueueItem {
            lead_id: r.lead_id,
            name: lead_label(&r.name, r.lead_id),
            company: r.company,
            stage: r.stage.parse().ok()?,
            owner_id: r.owner_id,
            team_id: r.team_id,
            priority: r.priority,
            sla_target: r.target,
            due_at: clock.map(|d| d.due_at),
            sla_state: clock.map(|d| ClockState::at(d, None, t).as_str().to_owned()),
            seconds_left: clock.map(|d| (d.due_at - t).num_seconds()),
            created_at: from_micros(r.created_at),
        })
    }
}

/// A lead's clock as the lead page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeadClock {
    pub stage: Stage,
    pub target: String,
    pub minutes: i32,
    pub started_at: DateTime<Utc>,
    pub warn_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub touched_at: Option<DateTime<Utc>>,
    /// `running`, `warning`, `breached`, `met` or `met_late`.
    pub state: String,
    pub reassigned: i32,
}

/// The SLA part of the manager's board.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaBoard {
    /// Untouched clocks before their warning time.
    pub running: i64,
    /// Untouched clocks inside the warning window.
    pub warning: i64,
    /// Untouched leads past their deadline.
    pub breached: i64,
    /// The longest overdue first (at most 100).
    pub past_due: Vec<QueueItem>,
    /// Open alerts for the managers, newest first (at most 100).
    pub alerts: Vec<Alert>,
}

fn require_manager(by: &Principal) -> AppResult<()> {
    crate::auth::require_manager(by, "the SLA policy and board")
}

impl App {
    /// The SLA policy in force.
    pub async fn sla_policy(&self) -> AppResult<SlaPolicy> {
        let mut tx = self.db.begin().await?;
        let p = policy_in(&mut tx).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Replaces the SLA policy (admins and managers). Clocks already running keep their
    /// deadlines until the lead's next event re-reads the policy.
    pub async fn set_sla_policy(&self, by: &Principal, policy: SlaPolicy) -> AppResult<SlaPolicy> {
        require_manager(by)?;
        policy.validate()?;
        let value = serde_json::to_value(&policy).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        settings::put(tx.conn(), POLICY_KEY, &value, to_micros(now())).await?;
        audit(&mut tx, by, "settings.sla_policy", "settings", None, value).await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// One sweep at `at`: warns owners whose deadline comes, raises an alert for the
    /// managers for every untouched lead past its deadline (and reassigns it when the
    /// policy says so), and sends due task reminders. Runs in batches, each in its own
    /// transaction, until nothing is left; safe to run from several processes at once
    /// (a clock is marked in the transaction that raises its alert).
    pub async fn sweep_sla(&self, at: DateTime<Utc>) -> AppResult<SweepReport> {
        let mut report = SweepReport::default();
        let t = to_micros(at);
        loop {
            let mut tx = self.db.begin().await?;
            let policy = policy_in(&mut tx).await?;
            let due = store::due_for_warning(tx.conn(), t, SWEEP_BATCH).await?;
            let mut alerts = Vec::with_capacity(due.len());
            // A clock already past its deadline gets the breach alert below, not a warning.
            for d in due.iter().filter(|d| d.due_at > t) {
                alerts.push(alert(
                    "sla_warning",
                    Some(d.lead_id),
                    d.owner_id,
                    d.team_id,
                    format!(
                        "{}: first touch due by {} ({} SLA)",
                        lead_label(&d.name, d.lead_id),
                        from_micros(d.due_at).format("%Y-%m-%d %H:%M UTC"),
                        d.target
                    ),
                    t,
                ));
            }
            let ids: Vec<Uuid> = due.iter().map(|d| d.lead_id).collect();
            store::mark(tx.conn(), &ids, false, t).await?;
            report.warned += due.iter().filter(|d| d.due_at > t).count();

            let breached = store::due_for_breach(tx.conn(), t, SWEEP_BATCH).await?;
            let ids: Vec<Uuid> = breached.iter().map(|d| d.lead_id).collect();
            store::mark(tx.conn(), &ids, true, t).await?;
            let mut restart = Vec::new();
            let events = breached
                .iter()
                .map(|d| {
                    let data = serde_json::json!({
                        "lead_id": d.lead_id, "owner_id": d.owner_id, "team_id": d.team_id,
                        "target": d.target, "due_at": from_micros(d.due_at),
                    });
                    crate::events::Event::lead("lead.sla_breached", d.lead_id, data, at)
                })
                .collect();
            crate::events::emit_in(&mut tx, events).await?;
            for d in &breached {
                let owner = match d.owner_id {
                    Some(_) => "its owner has not touched it",
                    None => "nobody owns it",
                };
                alerts.push(alert(
                    "sla_breach",
                    Some(d.lead_id),
                    None,
                    d.team_id,
                    format!(
                        "{}: first-touch SLA ({}) breached at {}; {owner}",
                        lead_label(&d.name, d.lead_id),
                        d.target,
                        from_micros(d.due_at).format("%Y-%m-%d %H:%M UTC"),
                    ),
                    t,
                ));
                if policy.reassign_on_breach
                    && d.reassigned == 0
                    && let (Some(owner), Some(team)) = (d.owner_id, d.team_id)
                    && crate::routing::reassign_breached_in(&mut tx, d.lead_id, team, owner)
                        .await?
                        .is_some()
                {
                    report.reassigned += 1;
                    restart.push(d.lead_id);
                }
            }
            report.breached += breached.len();
            // A reassigned lead's clock starts again for its new owner.
            let mut again = Vec::new();
            for c in store::clocks_of(tx.conn(), &restart).await? {
                let d = policy.deadlines(at, c.minutes.max(1) as u32);
                again.push(ClockRow {
                    started_at: t,
                    warn_at: to_micros(d.warn_at),
                    due_at: to_micros(d.due_at),
                    warned_at: None,
                    breached_at: None,
                    reassigned: c.reassigned + 1,
                    ..c
                });
            }
            store::put_clocks(tx.conn(), &again).await?;

            let reminders = store::due_reminders(tx.conn(), t, SWEEP_BATCH).await?;
            for r in &reminders {
                alerts.push(AlertRow {
                    task_id: Some(r.id),
                    ..alert(
                        "task_due",
                        Some(r.lead_id),
                        r.assignee_id,
                        None,
                        format!(
                            "{} due {}",
                            r.title,
                            from_micros(r.due_at).format("%Y-%m-%d %H:%M UTC")
                        ),
                        t,
                    )
                });
            }
            let ids: Vec<Uuid> = reminders.iter().map(|r| r.id).collect();
            store::mark_reminded(tx.conn(), &ids, t).await?;
            report.reminded += reminders.len();

            store::insert_alerts(tx.conn(), &alerts).await?;
            let back = store::due_reengagements(tx.conn(), t, SWEEP_BATCH).await?;
            for id in &back {
                store::drop_reengagement(tx.conn(), *id).await?;
                let Some(lead) = leadline_store::leads::get(tx.conn(), *id).await? else {
                    continue;
                };
                if lead.stage != Stage::Nurture {
                    continue;
                }
                crate::scoring::auto_transition(
                    &mut tx,
                    &lead,
                    Stage::Mql,
                    "re-engage day reached: back to sales",
                    "recycling",
                )
                .await?;
                follow_lead_in(&mut tx, lead.id).await?;
                if let Some(owner) = lead.fields.owner_id {
                    notify_owner_in(
                        &mut tx,
                        &lead,
                        owner,
                        "back from nurture on its re-engage day",
                    )
                    .await?;
                }
                report.reengaged += 1;
            }
            tx.commit().await?;
            let full = [due.len(), breached.len(), reminders.len(), back.len()]
                .iter()
                .any(|n| *n as i64 == SWEEP_BATCH);
            if !full {
                break;
            }
        }
        if report != SweepReport::default() {
            tracing::info!(
                warned = report.warned,
                breached = report.breached,
                reassigned = report.reassigned,
                reminded = report.reminded,
                reengaged = report.reengaged,
                "SLA sweep"
            );
        }
        Ok(report)
    }

    /// The principal's queue: open leads they own and unowned ones in their teams' queues;
    /// leads awaiting their first touch first, by priority then time left.
    pub async fn my_queue(&self, by: &Principal, limit: u32) -> AppResult<Vec<QueueItem>> {
        let Some(me) = by.user_id else {
            return Ok(Vec::new());
        };
        let mut c = self.db.acquire().await?;
        let my_teams: Vec<Uuid> = teams::list(c.conn())
            .await?
            .into_iter()
            .filter(|t| t.members.contains(&me))
            .map(|t| t.id)
            .collect();
        let t = now();
        Ok(
            store::queue(c.conn(), me, &my_teams, i64::from(limit.clamp(1, 500)))
                .await?
                .into_iter()
                .filter_map(|r| QueueItem::from_row(r, t))
                .collect(),
        )
    }

    /// Clock counts, the leads past their deadline and the managers' open alerts.
    pub async fn sla_board(&self, by: &Principal) -> AppResult<SlaBoard> {
        require_manager(by)?;
        let mut c = self.db.acquire().await?;
        let t = now();
        let (running, warning, breached) = store::clock_counts(c.conn(), to_micros(t)).await?;
        let past = store::past_due(c.conn(), to_micros(t), 100).await?;
        let ids: Vec<Uuid> = past.iter().map(|p| p.lead_id).collect();
        let priorities: HashMap<Uuid, String> = scoring::default_priorities(c.conn(), &ids)
            .await?
            .into_iter()
            .collect();
        let stages: HashMap<Uuid, String> = store::stages_of(c.conn(), &ids)
            .await?
            .into_iter()
            .collect();
        let past_due = past
            .into_iter()
            .filter_map(|p| {
                let due = from_micros(p.due_at);
                Some(QueueItem {
                    lead_id: p.lead_id,
                    name: lead_label(&p.name, p.lead_id),
                    company: None,
                    stage: stages.get(&p.lead_id)?.parse().ok()?,
                    owner_id: p.owner_id,
                    team_id: p.team_id,
                    priority: priorities.get(&p.lead_id).cloned(),
                    sla_target: Some(p.target),
                    due_at: Some(due),
                    sla_state: Some("breached".into()),
                    seconds_left: Some((due - t).num_seconds()),
                    created_at: from_micros(p.created_at),
                })
            })
            .collect();
        let alerts = store::open_alerts(c.conn(), None, true, 100)
            .await?
            .into_iter()
            .map(Alert::from)
            .collect();
        Ok(SlaBoard {
            running,
            warning,
            breached,
            past_due,
            alerts,
        })
    }

    /// Open alerts for the principal (and, for managers, the managers' ones).
    pub async fn my_alerts(&self, by: &Principal, limit: u32) -> AppResult<Vec<Alert>> {
        let managers = matches!(by.role, Role::Admin | Role::Manager);
        let mut c = self.db.acquire().await?;
        Ok(store::open_alerts(
            c.conn(),
            by.user_id,
            managers,
            i64::from(limit.clamp(1, 500)),
        )
        .await?
        .into_iter()
        .map(Alert::from)
        .collect())
    }

    /// A lead's alerts, newest first.
    pub async fn lead_alerts(&self, by: &Principal, lead: Uuid) -> AppResult<Vec<Alert>> {
        let mut c = self.db.acquire().await?;
        crate::leads::visible_lead(c.conn(), by, lead).await?;
        Ok(store::alerts_of_lead(c.conn(), lead)
            .await?
            .into_iter()
            .map(Alert::from)
            .collect())
    }

    /// When a nurtured lead comes back to sales, if a day was set.
    pub async fn lead_reengagement(
        &self,
        by: &Principal,
        lead: Uuid,
    ) -> AppResult<Option<DateTime<Utc>>> {
        let mut c = self.db.acquire().await?;
        crate::leads::visible_lead(c.conn(), by, lead).await?;
        Ok(store::reengagement(c.conn(), lead).await?.map(from_micros))
    }

    /// A lead's first-touch clock, if it has one.
    pub async fn lead_clock(&self, by: &Principal, lead: Uuid) -> AppResult<Option<LeadClock>> {
        let mut c = self.db.acquire().await?;
        crate::leads::visible_lead(c.conn(), by, lead).await?;
        let t = now();
        Ok(store::clocks_of(c.conn(), &[lead])
            .await?
            .into_iter()
            .next()
            .and_then(|r| {
                let d = deadlines(&r);
                Some(LeadClock {
                    stage: r.stage.parse().ok()?,
                    target: r.target,
                    minutes: r.minutes,
                    started_at: from_micros(r.started_at),
                    warn_at: d.warn_at,
                    due_at: d.due_at,
                    touched_at: r.touched_at.map(from_micros),
                    state: ClockState::at(d, r.touched_at.map(from_micros), t)
                        .as_str()
                        .into(),
                    reassigned: r.reassigned,
                })
            }))
    }

    /// Resolves an alert: its recipient, or any manager for the managers' alerts.
    pub async fn resolve_alert(&self, by: &Principal, id: Uuid) -> AppResult<Alert> {
        let mut tx = self.db.begin().await?;
        let a = store::alert(tx.conn(), id)
            .await?
            .ok_or(AppError::NotFound("alert"))?;
        let mine = a.user_id.is_some() && a.user_id == by.user_id;
        let managers = a.user_id.is_none() && matches!(by.role, Role::Admin | Role::Manager);
        if !(mine || managers || by.role == Role::Admin) {
            return Err(AppError::NotFound("alert"));
        }
        if !store::resolve_alert(tx.conn(), id, to_micros(now()), &by.label).await? {
            return Err(AppError::Conflict("the alert is already resolved".into()));
        }
        let a = store::alert(tx.conn(), id)
            .await?
            .ok_or(AppError::NotFound("alert"))?;
        tx.commit().await?;
        Ok(a.into())
    }
}
