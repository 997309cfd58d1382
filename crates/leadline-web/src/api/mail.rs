//! The email outbox over the API (admins).

use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use leadline_app::mail::OutboundMessage;
use serde::Deserialize;
use uuid::Uuid;

/// Filters for the outbox.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OutboxQuery {
    /// `queued`, `sent` or `failed`.
    pub status: Option<String>,
    /// Only the messages about this lead.
    pub lead_id: Option<Uuid>,
    /// At most this many (1–500, default 100).
    pub limit: Option<u32>,
}

/// Email Leadline sent or will send (admins), newest first: owner notifications so far.
/// With no SMTP relay configured, messages stay `queued` here — the outbox.
#[utoipa::path(get, path = "/outbox", tag = "admin", params(OutboxQuery),
    responses((status = 200, body = [OutboundMessage]), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn outbox(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<OutboxQuery>,
) -> ApiResult<Json<Vec<OutboundMessage>>> {
    Ok(Json(
        s.app
            .outbox(&p, q.status.as_deref(), q.lead_id, q.limit.unwrap_or(100))
            .await?,
    ))
}
