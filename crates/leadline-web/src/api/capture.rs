//! Capture over the API: submissions (with `Idempotency-Key`), custom events, tracked
//! links, sources, campaigns and their costs, capture settings, rejected submissions.

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use leadline_app::capture::email::Received;
use leadline_app::capture::{CaptureItemResult, CaptureRequest};
use leadline_app::tracking::{EventRecorded, NewEvent, NewLink, TrackedLink};
use leadline_domain::capture::{CaptureChannel, CaptureSettings, RejectedSubmission};
use leadline_domain::source::{Campaign, CampaignCost, NewSource, Source};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The answer to a batch capture.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CaptureBatchResult {
    pub results: Vec<CaptureItemResult>,
}

/// Capture one submission or a batch.
///
/// The body is one submission object, or an array of at most 500. A submission whose email
/// or external id matches a live lead updates that lead (empty fields filled, last touch
/// moved) and adds a `api_capture` activity; otherwise a lead is created. Send an
/// `Idempotency-Key` header (any unique string up to 255 characters) to make retries safe:
/// a repeat with the same key and body gets the first answer again (with
/// `Idempotent-Replayed: true`) and captures nothing; the same key with a different body
/// is a `409`. Keys are remembered for 24 hours per credential.
/// A single submission answers `201` (created) or `200` (updated) with the lead; a batch
/// answers `200` with a result per item (`created`, `updated` or `invalid` with errors).
#[utoipa::path(post, path = "/capture", tag = "capture", request_body = CaptureRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 201, description = "Created: `{outcome, lead_id, lead}`"), (status = 200, body = CaptureBatchResult),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn capture(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::bad_request(
                "invalid-idempotency-key",
                "Idempotency-Key is not readable text",
            )
        })?),
        None => None,
    };
    let r = s.app.capture_api(&p, key, body).await?;
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    let mut res = (status, Json(r.body)).into_response();
    if r.replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// Record a custom event (webinar attended, whitepaper downloaded, demo requested…) for a
/// lead (by `lead_id`, `email` or `external_id`) or an anonymous visitor (`visitor_id`;
/// it joins the lead's timeline when the visitor identifies themselves).
#[utoipa::path(post, path = "/events", tag = "capture", request_body = NewEvent,
    responses((status = 201, body = EventRecorded), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn record_event(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(e): ApiJson<NewEvent>,
) -> ApiResult<(StatusCode, Json<EventRecorded>)> {
    Ok((StatusCode::CREATED, Json(s.app.record_event(&p, e).await?)))
}

/// Create a tracked redirect link: publish `/r/{token}`; each click by a person (not a
/// bot) becomes a `link_clicked` activity of the link's lead.
#[utoipa::path(post, path = "/links", tag = "capture", request_body = NewLink,
    responses((status = 201, body = TrackedLink), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_link(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(l): ApiJson<NewLink>,
) -> ApiResult<(StatusCode, Json<TrackedLink>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_link(&p, l).await?)))
}

/// A tracked link with how often people clicked it.
#[utoipa::path(get, path = "/links/{token}", tag = "capture", params(("token" = String, Path)),
    responses((status = 200, body = TrackedLink), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_link(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(token): Path<String>,
) -> ApiResult<Json<TrackedLink>> {
    Ok(Json(s.app.link(&p, &token).await?))
}

/// Every lead source.
#[utoipa::path(get, path = "/sources", tag = "capture", responses((status = 200, body = Vec<Source>)), security(("bearer" = [])))]
pub async fn list_sources(
    State(s): State<AppState>,
    ApiAuth(_p): ApiAuth,
) -> ApiResult<Json<Vec<Source>>> {
    Ok(Json(s.app.sources().await?))
}

/// Add a lead source (admins, managers, marketers). Leads name it by `key`.
#[utoipa::path(post, path = "/sources", tag = "capture", request_body = NewSource,
    responses((status = 201, body = Source), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn create_source(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(n): ApiJson<NewSource>,
) -> ApiResult<(StatusCode, Json<Source>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_source(&p, n).await?)))
}

/// Delete a lead source (leads keep their source text).
#[utoipa::path(delete, path = "/sources/{id}", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn delete_source(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_source(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every campaign.
#[utoipa::path(get, path = "/campaigns", tag = "capture", responses((status = 200, body = Vec<Campaign>)), security(("bearer" = [])))]
pub async fn list_campaigns(
    State(s): State<AppState>,
    ApiAuth(_p): ApiAuth,
) -> ApiResult<Json<Vec<Campaign>>> {
    Ok(Json(s.app.campaigns().await?))
}

/// Add a campaign. Leads name it by `key` (`utm_campaign`, Salesforce `Campaign_ID`).
#[utoipa::path(post, path = "/campaigns", tag = "capture", request_body = NewSource,
    responses((status = 201, body = Campaign), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn create_campaign(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(n): ApiJson<NewSource>,
) -> ApiResult<(StatusCode, Json<Campaign>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_campaign(&p, n).await?),
    ))
}

/// Delete a campaign and its costs.
#[utoipa::path(delete, path = "/campaigns/{id}", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn delete_campaign(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_campaign(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A campaign's costs by period.
#[utoipa::path(get, path = "/campaigns/{id}/costs", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<CampaignCost>)), security(("bearer" = [])))]
pub async fn list_costs(
    State(s): State<AppState>,
    ApiAuth(_p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<CampaignCost>>> {
    Ok(Json(s.app.campaign_costs(id).await?))
}

/// Record what a campaign cost in a period (`amount` in minor units).
#[utoipa::path(post, path = "/campaigns/{id}/costs", tag = "capture", params(("id" = Uuid, Path)), request_body = CampaignCost,
    responses((status = 201, body = CampaignCost), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn add_cost(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(c): ApiJson<CampaignCost>,
) -> ApiResult<(StatusCode, Json<CampaignCost>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.add_campaign_cost(&p, id, c).await?),
    ))
}

/// Remove one cost entry of a campaign.
#[utoipa::path(delete, path = "/campaigns/{id}/costs/{cost_id}", tag = "capture", params(("id" = Uuid, Path), ("cost_id" = Uuid, Path)),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_cost(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((id, cost_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    s.app.delete_campaign_cost(&p, id, cost_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The capture settings: allowed redirect hosts, Web-to-Lead field aliases, CORS origins,
/// tracking consent rules, rate limits.
#[utoipa::path(get, path = "/capture/settings", tag = "capture", responses((status = 200, body = CaptureSettings)), security(("bearer" = [])))]
pub async fn get_settings(
    State(s): State<AppState>,
    ApiAuth(_p): ApiAuth,
) -> ApiResult<Json<CaptureSettings>> {
    Ok(Json(s.app.capture_settings().await?))
}

/// Replace the capture settings (admins).
#[utoipa::path(put, path = "/capture/settings", tag = "capture", request_body = CaptureSettings,
    responses((status = 200, body = CaptureSettings), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn put_settings(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(c): ApiJson<CaptureSettings>,
) -> ApiResult<Json<CaptureSettings>> {
    Ok(Json(s.app.set_capture_settings(&p, c).await?))
}

/// Paging through rejected submissions.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct RejectedQuery {
    /// Only this channel (`web_to_lead`, `form`, `api`, `import`, `email`, `tracking`).
    pub channel: Option<String>,
    /// The id of the last item of the previous page.
    pub after: Option<Uuid>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// Submissions that could not become leads (invalid, spam, rate limited, unreadable), with
/// the reason and everything submitted, newest first (admins).
#[utoipa::path(get, path = "/rejected-submissions", tag = "capture", params(RejectedQuery),
    responses((status = 200, body = Vec<RejectedSubmission>)), security(("bearer" = [])))]
pub async fn list_rejected(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<RejectedQuery>,
) -> ApiResult<Json<Vec<RejectedSubmission>>> {
    let channel = match q.channel.as_deref() {
        None | Some("") => None,
        Some(c) => Some(c.parse::<CaptureChannel>().map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
                e.to_string(),
            )
        })?),
    };
    Ok(Json(
        s.app
            .rejected_submissions(&p, channel, q.after, q.limit.unwrap_or(50))
            .await?,
    ))
}

/// One rejected submission (admins).
#[utoipa::path(get, path = "/rejected-submissions/{id}", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 200, body = RejectedSubmission), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get_rejected(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RejectedSubmission>> {
    Ok(Json(s.app.rejected_submission(&p, id).await?))
}

/// Discard a rejected submission (admins).
#[utoipa::path(delete, path = "/rejected-submissions/{id}", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn discard_rejected(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.discard_rejected(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What became of an inbound email.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EmailCaptured {
    /// `created` (a new sender) or `updated` (a known lead; an `email_received` activity);
    /// for mail about a message Leadline sent: `replied`, `auto_replied`, `bounced`
    /// (permanent; the address is suppressed), `soft_bounced`, or `unmatched_bounce` (kept
    /// for review).
    pub outcome: String,
    /// Absent for an unmatched bounce or a lead since deleted.
    pub lead_id: Option<Uuid>,
    /// The sent message a reply or bounce is about.
    pub message_id: Option<Uuid>,
}

/// Email-to-lead from a raw message (`message/rfc822`, up to 10 MiB): for mail services'
/// inbound webhooks and mail-server pipes. A new sender becomes a lead; a known one gets an
/// `email_received` activity. Replies to sequence mail (`In-Reply-To`/`References`) and
/// bounce reports (RFC 3464 or a server's notice quoting the message) are recorded on the
/// message they are about instead (`200`). A message that cannot become a lead is kept
/// for review and answered with a `422` problem.
#[utoipa::path(post, path = "/inbound/email", tag = "capture",
    request_body(content = String, content_type = "message/rfc822"),
    responses((status = 201, body = EmailCaptured), (status = 200, body = EmailCaptured),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn inbound_email(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<EmailCaptured>)> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(ct.starts_with("message/rfc822")
        || ct.starts_with("application/octet-stream")
        || ct.starts_with("text/plain"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the raw message as message/rfc822",
        ));
    }
    Ok(match s.app.capture_email(&p, &body, None).await? {
        Received::Lead(c) => (
            if c.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(EmailCaptured {
                outcome: if c.created { "created" } else { "updated" }.into(),
                lead_id: Some(c.lead.id),
                message_id: None,
            }),
        ),
        Received::Returned(r) => (
            StatusCode::OK,
            Json(EmailCaptured {
                outcome: r.outcome,
                lead_id: r.lead_id,
                message_id: r.message_id,
            }),
        ),
    })
}

/// Every hosted form.
#[utoipa::path(get, path = "/forms", tag = "capture", responses((status = 200, body = Vec<leadline_domain::capture::form::Form>)), security(("bearer" = [])))]
pub async fn list_forms(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<leadline_domain::capture::form::Form>>> {
    Ok(Json(s.app.forms(&p).await?))
}

/// Create a hosted form. It is served at `/f/{slug}`; embed it with the snippet shown in
/// the UI (plain HTML form, or `<div data-leadline-form="slug">` and `/f.js`).
#[utoipa::path(post, path = "/forms", tag = "capture", request_body = leadline_domain::capture::form::FormInput,
    responses((status = 201, body = leadline_domain::capture::form::Form), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn create_form(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(f): ApiJson<leadline_domain::capture::form::FormInput>,
) -> ApiResult<(StatusCode, Json<leadline_domain::capture::form::Form>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_form(&p, f).await?)))
}

/// One hosted form.
#[utoipa::path(get, path = "/forms/{id}", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 200, body = leadline_domain::capture::form::Form), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get_form(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<leadline_domain::capture::form::Form>> {
    Ok(Json(s.app.form(&p, id).await?))
}

/// Replace a hosted form.
#[utoipa::path(put, path = "/forms/{id}", tag = "capture", params(("id" = Uuid, Path)), request_body = leadline_domain::capture::form::FormInput,
    responses((status = 200, body = leadline_domain::capture::form::Form), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn update_form(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(f): ApiJson<leadline_domain::capture::form::FormInput>,
) -> ApiResult<Json<leadline_domain::capture::form::Form>> {
    Ok(Json(s.app.update_form(&p, id, f).await?))
}

/// Delete a hosted form (its leads stay).
#[utoipa::path(delete, path = "/forms/{id}", tag = "capture", params(("id" = Uuid, Path)),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_form(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_form(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
