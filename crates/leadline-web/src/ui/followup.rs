//! Follow-up screens: the rep's queue (leads by priority and SLA time left, open tasks with
//! one-click outcomes, alerts), and the task forms the lead page posts to.

use super::{Frame, error_page, invalid, notice};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use leadline_app::sla::{Alert, QueueItem};
use leadline_app::tasks::{LogOutcome, Task};
use leadline_domain::sla::{NewTask, Outcome, TaskKind};
use serde::Deserialize;
use uuid::Uuid;

/// The follow-up routes.
pub fn router() -> axum::Router<AppState> {
    Router::new()
        .route("/queue", get(page))
        .route("/tasks/{id}/outcome", post(outcome))
        .route("/leads/{id}/tasks", post(create_task))
        .route("/alerts/{id}/resolve", post(resolve))
}

/// "due in 1 h 5 min" / "overdue by 25 min".
pub fn countdown(seconds: i64) -> String {
    let m = seconds.abs() / 60;
    let text = match (m / 1440, (m % 1440) / 60, m % 60) {
        (0, 0, min) => format!("{min} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, min) => format!("{h} h {min} min"),
        (d, h, _) => format!("{d} d {h} h"),
    };
    if seconds >= 0 {
        format!("due in {text}")
    } else {
        format!("overdue by {text}")
    }
}

/// A task as a row, with its one-click outcome buttons.
pub struct TaskLine {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub title: String,
    pub due: String,
    pub overdue: bool,
    pub done: Option<String>,
    pub outcomes: Vec<(&'static str, &'static str)>,
}

impl TaskLine {
    /// The row for a task at `now`.
    pub fn new(t: &Task, now: DateTime<Utc>) -> TaskLine {
        TaskLine {
            id: t.id,
            lead_id: t.lead_id,
            title: t.title.clone(),
            due: t.due_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            overdue: t.done_at.is_none() && t.due_at < now,
            done: t.done_at.map(|d| {
                format!(
                    "{} {}",
                    t.outcome.as_deref().unwrap_or("done").replace('_', " "),
                    d.format("%Y-%m-%d %H:%M")
                )
            }),
            outcomes: t
                .kind
                .outcomes()
                .iter()
                .map(|o| (o.as_str(), o.label()))
                .collect(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "queue.html")]
struct QueuePage {
    frame: Frame,
    notice: Option<&'static str>,
    items: Vec<(QueueItem, String)>,
    tasks: Vec<TaskLine>,
    alerts: Vec<Alert>,
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn page(State(s): State<AppState>, auth: UiAuth, Query(q): Query<Done>) -> Response {
    let p = &auth.principal;
    let (items, tasks, alerts) = match tokio::try_join!(
        s.app.my_queue(p, 200),
        s.app.my_tasks(p, 100),
        s.app.my_alerts(p, 50)
    ) {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let now = leadline_domain::time::now();
    QueuePage {
        frame: Frame::new(&auth.user, "queue"),
        notice: notice(q.done.as_deref()),
        items: items
            .into_iter()
            .map(|i| {
                let timer = i.seconds_left.map(countdown).unwrap_or_default();
                (i, timer)
            })
            .collect(),
        tasks: tasks.iter().map(|t| TaskLine::new(t, now)).collect(),
        alerts,
    }
    .into_response()
}

/// Where a form goes back to: the queue or a lead page, nothing else (no open redirect).
fn back_to(back: Option<&str>) -> String {
    match back {
        Some(b) if b == "/queue" => b.to_owned(),
        Some(b)
            if b.strip_prefix("/leads/")
                .is_some_and(|id| id.parse::<Uuid>().is_ok()) =>
        {
            b.to_owned()
        }
        _ => "/queue".to_owned(),
    }
}

#[derive(Deserialize)]
struct OutcomeForm {
    outcome: String,
    note: Option<String>,
    back: Option<String>,
}

async fn outcome(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<OutcomeForm>,
) -> Response {
    let Ok(outcome) = f.outcome.parse::<Outcome>() else {
        return error_page(invalid("outcome", "unknown", "unknown outcome"));
    };
    match s
        .app
        .log_outcome(
            &auth.principal,
            id,
            LogOutcome {
                outcome,
                note: f.note,
            },
        )
        .await
    {
        Ok(r) => {
            let code = if r.recycled { "recycled" } else { "logged" };
            Redirect::to(&format!("{}?done={code}", back_to(f.back.as_deref()))).into_response()
        }
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct TaskForm {
    kind: String,
    title: Option<String>,
    /// `YYYY-MM-DDTHH:MM` (a `datetime-local` field), in UTC.
    due: String,
}

async fn create_task(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<TaskForm>,
) -> Response {
    let Ok(kind) = f.kind.parse::<TaskKind>() else {
        return error_page(invalid("kind", "unknown", "call, email or meeting"));
    };
    let Ok(due) = NaiveDateTime::parse_from_str(&f.due, "%Y-%m-%dT%H:%M") else {
        return error_page(invalid(
            "due",
            "invalid",
            "a date and time such as 2026-11-30T10:00",
        ));
    };
    let input = NewTask {
        kind,
        title: f.title,
        due_at: Utc.from_utc_datetime(&due),
        remind_at: None,
        assignee_id: None,
    };
    match s.app.create_task(&auth.principal, id, input).await {
        Ok(_) => Redirect::to(&format!("/leads/{id}?done=task")).into_response(),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct BackForm {
    back: Option<String>,
}

async fn resolve(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<BackForm>,
) -> Response {
    let back = match f.back.as_deref() {
        Some("/routing") => "/routing".to_owned(),
        other => back_to(other),
    };
    match s.app.resolve_alert(&auth.principal, id).await {
        Ok(_) => Redirect::to(&format!("{back}?done=resolved")).into_response(),
        Err(e) => error_page(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_like_people_say_them() {
        assert_eq!(countdown(25 * 60), "due in 25 min");
        assert_eq!(countdown(65 * 60 + 10), "due in 1 h 5 min");
        assert_eq!(countdown(-120 * 60), "overdue by 2 h");
        assert_eq!(countdown(-(26 * 3600)), "overdue by 1 d 2 h");
    }

    #[test]
    fn forms_only_go_back_to_the_queue_or_a_lead() {
        assert_eq!(back_to(Some("https://evil.example/")), "/queue");
        assert_eq!(back_to(Some("//evil.example/")), "/queue");
        let lead = format!("/leads/{}", Uuid::nil());
        assert_eq!(back_to(Some(&lead)), lead);
        assert_eq!(back_to(Some("/leads/x?y")), "/queue");
    }
}
