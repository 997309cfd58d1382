//! Webhooks (admins): endpoints with their event filters, secrets, test events and
//! delivery logs; each delivery's body and attempts with a replay button.

use super::{Frame, error_page, notice};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use leadline_app::AppError;
use leadline_app::webhooks::{Delivery, DeliveryDetail, Endpoint, WebhookSettings};
use leadline_domain::webhook::{EVENT_TYPES, EndpointInput};
use serde::Deserialize;
use uuid::Uuid;

/// Event groups and types offered as subscriptions (the test event goes to one endpoint
/// by hand).
fn choices() -> Vec<(&'static str, &'static str)> {
    let groups = [
        ("lead.*", "Every lead event, also ones added later."),
        ("email.*", "Every email event, also ones added later."),
    ];
    groups
        .into_iter()
        .chain(
            EVENT_TYPES
                .iter()
                .copied()
                .filter(|(t, _)| *t != "webhook.test"),
        )
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "webhooks.html")]
struct ListPage {
    frame: Frame,
    notice: Option<&'static str>,
    error: Option<String>,
    endpoints: Vec<Endpoint>,
    choices: Vec<(&'static str, &'static str)>,
    allowed_hosts: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "webhook.html")]
struct EndpointPage {
    frame: Frame,
    notice: Option<&'static str>,
    error: Option<String>,
    e: Endpoint,
    choices: Vec<(&'static str, &'static str)>,
    deliveries: Vec<Delivery>,
    status: String,
}

impl EndpointPage {
    fn subscribed(&self, t: &str) -> bool {
        self.e.events.iter().any(|x| x == t)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "webhook_delivery.html")]
struct DeliveryPage {
    frame: Frame,
    notice: Option<&'static str>,
    d: DeliveryDetail,
    pretty_body: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    done: Option<String>,
    status: Option<String>,
}

async fn render_list(
    s: &AppState,
    auth: &UiAuth,
    done: Option<&str>,
    error: Option<String>,
) -> Response {
    let data = tokio::try_join!(
        s.app.webhook_endpoints(&auth.principal),
        s.app.webhook_settings(&auth.principal)
    );
    let (endpoints, settings) = match data {
        Ok(d) => d,
        Err(e) => return error_page(e),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        frame: Frame::new(&auth.user, "settings"),
        notice: notice(done),
        error,
        endpoints,
        choices: choices(),
        allowed_hosts: settings.allowed_private_hosts.join("\n"),
    };
    (status, page).into_response()
}

pub async fn list(State(s): State<AppState>, auth: UiAuth, Query(q): Query<ListQuery>) -> Response {
    render_list(&s, &auth, q.done.as_deref(), None).await
}

/// The endpoint form: repeated `events` checkboxes, so it is read as pairs.
fn endpoint_input(pairs: &[(String, String)]) -> EndpointInput {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    EndpointInput {
        url: get("url").unwrap_or_default(),
        description: get("description"),
        events: pairs
            .iter()
            .filter(|(n, _)| n == "events")
            .map(|(_, v)| v.clone())
            .collect(),
        enabled: Some(get("enabled").is_some() || get("new").is_some()),
        secret: get("secret").filter(|s| !s.trim().is_empty()),
    }
}

pub async fn create(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    match s
        .app
        .create_webhook_endpoint(&auth.principal, endpoint_input(&pairs))
        .await
    {
        Ok(e) => Redirect::to(&format!("/settings/webhooks/{}?done=created", e.id)).into_response(),
        Err(AppError::Validation(e)) => render_list(&s, &auth, None, Some(e.to_string())).await,
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
pub struct HostsForm {
    hosts: String,
}

pub async fn save_settings(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(f): Form<HostsForm>,
) -> Response {
    let settings = WebhookSettings {
        allowed_private_hosts: f
            .hosts
            .split([',', '\n'])
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    match s.app.set_webhook_settings(&auth.principal, settings).await {
        Ok(_) => Redirect::to("/settings/webhooks?done=saved").into_response(),
        Err(AppError::Validation(e)) => render_list(&s, &auth, None, Some(e.to_string())).await,
        Err(e) => error_page(e),
    }
}

async fn render_endpoint(
    s: &AppState,
    auth: &UiAuth,
    id: Uuid,
    done: Option<&str>,
    status: Option<String>,
    error: Option<String>,
) -> Response {
    let status = status.filter(|s| !s.is_empty());
    let data = tokio::try_join!(
        s.app.webhook_endpoint(&auth.principal, id),
        s.app
            .webhook_deliveries(&auth.principal, id, status.as_deref(), 100)
    );
    let (e, deliveries) = match data {
        Ok(d) => d,
        Err(e) => return error_page(e),
    };
    let code = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = EndpointPage {
        frame: Frame::new(&auth.user, "settings"),
        notice: notice(done),
        error,
        e,
        choices: choices(),
        deliveries,
        status: status.unwrap_or_default(),
    };
    (code, page).into_response()
}

pub async fn endpoint(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<ListQuery>,
) -> Response {
    render_endpoint(&s, &auth, id, q.done.as_deref(), q.status, None).await
}

pub async fn update(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    match s
        .app
        .update_webhook_endpoint(&auth.principal, id, endpoint_input(&pairs))
        .await
    {
        Ok(_) => Redirect::to(&format!("/settings/webhooks/{id}?done=saved")).into_response(),
        Err(AppError::Validation(e)) => {
            render_endpoint(&s, &auth, id, None, None, Some(e.to_string())).await
        }
        Err(e) => error_page(e),
    }
}

pub async fn rotate(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.rotate_webhook_secret(&auth.principal, id).await {
        Ok(_) => Redirect::to(&format!("/settings/webhooks/{id}?done=rotated")).into_response(),
        Err(e) => error_page(e),
    }
}

pub async fn test(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.send_test_webhook(&auth.principal, id).await {
        Ok(_) => Redirect::to(&format!("/settings/webhooks/{id}?done=test_sent")).into_response(),
        Err(e) => error_page(e),
    }
}

pub async fn delete(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.delete_webhook_endpoint(&auth.principal, id).await {
        Ok(()) => Redirect::to("/settings/webhooks?done=deleted").into_response(),
        Err(e) => error_page(e),
    }
}

pub async fn delivery(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<ListQuery>,
) -> Response {
    match s.app.webhook_delivery(&auth.principal, id).await {
        Ok(d) => {
            let pretty_body = serde_json::from_str::<serde_json::Value>(&d.body)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| d.body.clone());
            DeliveryPage {
                frame: Frame::new(&auth.user, "settings"),
                notice: notice(q.done.as_deref()),
                d,
                pretty_body,
            }
            .into_response()
        }
        Err(e) => error_page(e),
    }
}

pub async fn replay(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.replay_webhook_delivery(&auth.principal, id).await {
        Ok(d) => Redirect::to(&format!(
            "/settings/webhooks/deliveries/{}?done=replayed",
            d.id
        ))
        .into_response(),
        Err(e) => error_page(e),
    }
}
