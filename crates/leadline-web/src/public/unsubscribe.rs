//! Unsubscribe links in marketing mail: a page with one button, and the RFC 8058 one-click
//! POST mail providers send on the reader's behalf. Both only ever unsubscribe.

use super::message;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use leadline_app::AppError;

#[derive(Template, WebTemplate)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    token: String,
    address: String,
}

fn gone() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Link not found",
        "This unsubscribe link is not known here. If you keep receiving mail, reply to it and ask to be removed.",
        Vec::new(),
        None,
    )
}

/// The confirmation page (a GET never unsubscribes: link scanners follow links).
pub async fn page(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    match s.app.unsubscribe_info(&token).await {
        Ok((_, true)) => message(
            StatusCode::OK,
            "You are unsubscribed",
            "You will not receive marketing email from us again.",
            Vec::new(),
            None,
        ),
        Ok((address, false)) => UnsubscribePage { token, address }.into_response(),
        Err(AppError::NotFound(_)) => gone(),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe page failed");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Please try again later.",
                Vec::new(),
                None,
            )
        }
    }
}

/// The button and the one-click POST (`List-Unsubscribe=One-Click`).
pub async fn confirm(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    match s.app.unsubscribe(&token).await {
        Ok(()) => message(
            StatusCode::OK,
            "You are unsubscribed",
            "You will not receive marketing email from us again.",
            Vec::new(),
            None,
        ),
        Err(AppError::NotFound(_)) => gone(),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe failed");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Please try again later.",
                Vec::new(),
                None,
            )
        }
    }
}
