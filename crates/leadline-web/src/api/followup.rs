//! Follow-up over the API: the SLA policy, the rep's queue, the manager's SLA board,
//! alerts, a lead's clock, and tasks with one-call outcomes.

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use leadline_app::sla::{Alert, LeadClock, QueueItem, SlaBoard, SweepReport};
use leadline_app::tasks::{LogOutcome, OutcomeLogged, Task};
use leadline_domain::sla::{NewTask, SlaPolicy};
use serde::Deserialize;
use uuid::Uuid;

/// The SLA policy in force: business calendar, first-touch targets by stage and priority,
/// the warning window, reassignment on breach and the attempt cadence.
#[utoipa::path(get, path = "/sla/policy", tag = "follow-up",
    responses((status = 200, body = SlaPolicy)), security(("bearer" = [])))]
pub async fn get_policy(
    State(s): State<AppState>,
    ApiAuth(_p): ApiAuth,
) -> ApiResult<Json<SlaPolicy>> {
    Ok(Json(s.app.sla_policy().await?))
}

/// Replace the SLA policy (admins and managers). Targets are tried in order; the first
/// whose stages and priority patterns (`A1`, `A*`, `*1`) match sets the lead's deadline
/// in business minutes. Invalid calendars, targets or cadences → 422 with the field.
#[utoipa::path(put, path = "/sla/policy", tag = "follow-up", request_body = SlaPolicy,
    responses((status = 200, body = SlaPolicy), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn put_policy(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(policy): ApiJson<SlaPolicy>,
) -> ApiResult<Json<SlaPolicy>> {
    Ok(Json(s.app.set_sla_policy(&p, policy).await?))
}

/// Paging for the queue and alert lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Limit {
    /// At most this many (1–500, default 100).
    pub limit: Option<u32>,
}

/// My queue: open leads I own and unowned ones waiting in my teams' queues, by priority
/// then SLA time left.
#[utoipa::path(get, path = "/queue", tag = "follow-up", params(Limit),
    responses((status = 200, body = [QueueItem])), security(("bearer" = [])))]
pub async fn queue(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<Limit>,
) -> ApiResult<Json<Vec<QueueItem>>> {
    Ok(Json(s.app.my_queue(&p, q.limit.unwrap_or(100)).await?))
}

/// The SLA board (admins and managers): clocks running, in their warning window and past
/// their deadline, the leads past it, and the managers' open alerts.
#[utoipa::path(get, path = "/sla/board", tag = "follow-up",
    responses((status = 200, body = SlaBoard), (status = 403, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn board(State(s): State<AppState>, ApiAuth(p): ApiAuth) -> ApiResult<Json<SlaBoard>> {
    Ok(Json(s.app.sla_board(&p).await?))
}

/// Run the SLA sweep now (admins and managers; the server also runs it every 30 seconds).
#[utoipa::path(post, path = "/sla/sweep", tag = "follow-up",
    responses((status = 200, body = SweepReport), (status = 403, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn sweep(State(s): State<AppState>, ApiAuth(p): ApiAuth) -> ApiResult<Json<SweepReport>> {
    leadline_app::auth::require_manager(&p, "the SLA sweep")?;
    Ok(Json(s.app.sweep_sla(leadline_domain::time::now()).await?))
}

/// My open alerts (managers also see the managers' ones), newest first.
#[utoipa::path(get, path = "/alerts", tag = "follow-up", params(Limit),
    responses((status = 200, body = [Alert])), security(("bearer" = [])))]
pub async fn alerts(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<Limit>,
) -> ApiResult<Json<Vec<Alert>>> {
    Ok(Json(s.app.my_alerts(&p, q.limit.unwrap_or(100)).await?))
}

/// Resolve an alert. Already resolved → 409.
#[utoipa::path(post, path = "/alerts/{id}/resolve", tag = "follow-up", params(("id" = Uuid, Path)),
    responses((status = 200, body = Alert), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn resolve(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Alert>> {
    Ok(Json(s.app.resolve_alert(&p, id).await?))
}

/// A lead's first-touch clock and its alerts.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LeadSla {
    /// None when no target covers the lead's stage.
    pub clock: Option<LeadClock>,
    pub alerts: Vec<Alert>,
    /// For a nurtured lead: when it comes back to sales.
    pub reengage_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A lead's SLA clock (running, warning, breached, met or met late), its alerts, and for a
/// nurtured lead its re-engage time.
#[utoipa::path(get, path = "/leads/{id}/sla", tag = "follow-up", params(("id" = Uuid, Path)),
    responses((status = 200, body = LeadSla), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn lead_sla(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<LeadSla>> {
    Ok(Json(LeadSla {
        clock: s.app.lead_clock(&p, id).await?,
        alerts: s.app.lead_alerts(&p, id).await?,
        reengage_at: s.app.lead_reengagement(&p, id).await?,
    }))
}

/// A lead's tasks: open ones by due time, then done ones.
#[utoipa::path(get, path = "/leads/{id}/tasks", tag = "follow-up", params(("id" = Uuid, Path)),
    responses((status = 200, body = [Task]), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn lead_tasks(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Task>>> {
    Ok(Json(s.app.lead_tasks(&p, id).await?))
}

/// Create a task (call, email, meeting) on a lead. The assignee defaults to the lead's
/// owner; the reminder to 15 minutes before the due time. A closed lead → 409.
#[utoipa::path(post, path = "/leads/{id}/tasks", tag = "follow-up", params(("id" = Uuid, Path)), request_body = NewTask,
    responses((status = 201, body = Task), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn create_task(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<NewTask>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_task(&p, id, input).await?),
    ))
}

/// My open tasks by due time.
#[utoipa::path(get, path = "/tasks", tag = "follow-up", params(Limit),
    responses((status = 200, body = [Task])), security(("bearer" = [])))]
pub async fn my_tasks(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<Limit>,
) -> ApiResult<Json<Vec<Task>>> {
    Ok(Json(s.app.my_tasks(&p, q.limit.unwrap_or(100)).await?))
}

/// Log how a task ended: `connected`, `voicemail`, `no_answer`, `bad_number` (calls),
/// `sent`, `replied` (emails), `held`, `no_show` (meetings). It becomes an activity, stops
/// the lead's SLA clock, and after a call that did not connect schedules the next attempt
/// — or, after the cadence's last, sends the lead back to marketing (`nurture`). An
/// outcome of another kind → 422; a task already done → 409.
#[utoipa::path(post, path = "/tasks/{id}/outcome", tag = "follow-up", params(("id" = Uuid, Path)), request_body = LogOutcome,
    responses((status = 200, body = OutcomeLogged), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn outcome(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<LogOutcome>,
) -> ApiResult<Json<OutcomeLogged>> {
    Ok(Json(s.app.log_outcome(&p, id, input).await?))
}
