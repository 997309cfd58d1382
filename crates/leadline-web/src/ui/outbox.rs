//! The email outbox (admins): every message, its state and body.

use super::{Frame, error_page};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use leadline_app::mail::OutboundMessage;
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "outbox.html")]
struct OutboxPage {
    frame: Frame,
    messages: Vec<OutboundMessage>,
    status: String,
}

#[derive(Deserialize)]
pub struct OutboxQuery {
    status: Option<String>,
}

pub async fn page(
    State(s): State<AppState>,
    auth: UiAuth,
    Query(q): Query<OutboxQuery>,
) -> Response {
    let status = q.status.filter(|s| !s.is_empty());
    match s
        .app
        .outbox(&auth.principal, status.as_deref(), None, 200)
        .await
    {
        Ok(messages) => OutboxPage {
            frame: Frame::new(&auth.user, "settings"),
            messages,
            status: status.unwrap_or_default(),
        }
        .into_response(),
        Err(e) => error_page(e),
    }
}
