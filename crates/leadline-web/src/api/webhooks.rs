//! Webhooks over the API (admins): endpoints, secret rotation, test events, the delivery
//! log and replays, and the event types with their payloads (the OpenAPI `webhooks`
//! section, built in [`describe_events`]).

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use leadline_app::webhooks::{Delivery, DeliveryDetail, Endpoint, WebhookSettings};
use leadline_domain::webhook::{EVENT_TYPES, EndpointInput};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

/// An event type and what it means.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventType {
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub description: &'static str,
}

/// The event types an endpoint can subscribe to (`lead.*` subscribes to a group).
#[utoipa::path(get, path = "/webhooks/event-types", tag = "webhooks",
    responses((status = 200, body = [EventType])), security(("bearer" = [])))]
pub async fn event_types(ApiAuth(_p): ApiAuth) -> Json<Vec<EventType>> {
    Json(
        EVENT_TYPES
            .iter()
            .map(|(t, d)| EventType {
                event_type: t,
                description: d,
            })
            .collect(),
    )
}

/// Every endpoint with its delivery counts (admins).
#[utoipa::path(get, path = "/webhooks/endpoints", tag = "webhooks",
    responses((status = 200, body = [Endpoint]), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<Endpoint>>> {
    Ok(Json(s.app.webhook_endpoints(&p).await?))
}

/// Add an endpoint (admins). The answer holds its `whsec_…` signing secret. URLs with
/// credentials, unknown event types and malformed secrets → 422 with the field.
#[utoipa::path(post, path = "/webhooks/endpoints", tag = "webhooks", request_body = EndpointInput,
    responses((status = 201, body = Endpoint), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<EndpointInput>,
) -> ApiResult<(StatusCode, Json<Endpoint>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_webhook_endpoint(&p, input).await?),
    ))
}

/// One endpoint (admins).
#[utoipa::path(get, path = "/webhooks/endpoints/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = Endpoint), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Endpoint>> {
    Ok(Json(s.app.webhook_endpoint(&p, id).await?))
}

/// Replace an endpoint's URL, description, events and enabled flag (admins). Switching a
/// disabled endpoint back on sends what waited at once.
#[utoipa::path(put, path = "/webhooks/endpoints/{id}", tag = "webhooks", params(("id" = Uuid, Path)), request_body = EndpointInput,
    responses((status = 200, body = Endpoint), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn update(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<EndpointInput>,
) -> ApiResult<Json<Endpoint>> {
    Ok(Json(s.app.update_webhook_endpoint(&p, id, input).await?))
}

/// Delete an endpoint with its deliveries and log (admins).
#[utoipa::path(delete, path = "/webhooks/endpoints/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_webhook_endpoint(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret (admins); the previous one keeps signing next to it for 24 hours.
#[utoipa::path(post, path = "/webhooks/endpoints/{id}/rotate-secret", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = Endpoint), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn rotate(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Endpoint>> {
    Ok(Json(s.app.rotate_webhook_secret(&p, id).await?))
}

/// Send a `webhook.test` event to this endpoint (admins); it is delivered, logged and
/// retried like any event.
#[utoipa::path(post, path = "/webhooks/endpoints/{id}/test", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 202, body = Delivery), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn test(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.app.send_test_webhook(&p, id).await?),
    ))
}

/// Filters for the delivery log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// At most this many (1–500, default 100).
    pub limit: Option<u32>,
}

/// An endpoint's deliveries, newest first (admins).
#[utoipa::path(get, path = "/webhooks/endpoints/{id}/deliveries", tag = "webhooks", params(("id" = Uuid, Path), DeliveryQuery),
    responses((status = 200, body = [Delivery]), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn deliveries(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Vec<Delivery>>> {
    Ok(Json(
        s.app
            .webhook_deliveries(&p, id, q.status.as_deref(), q.limit.unwrap_or(100))
            .await?,
    ))
}

/// One delivery: the exact body sent and every attempt with its request headers, response
/// status, first KiB of the response and timing (admins).
#[utoipa::path(get, path = "/webhooks/deliveries/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delivery(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<DeliveryDetail>> {
    Ok(Json(s.app.webhook_delivery(&p, id).await?))
}

/// Send a delivery's event again (admins): a new delivery with the same `webhook-id`.
#[utoipa::path(post, path = "/webhooks/deliveries/{id}/replay", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 202, body = Delivery), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn replay(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.app.replay_webhook_delivery(&p, id).await?),
    ))
}

/// Server-wide webhook settings (admins).
#[utoipa::path(get, path = "/webhooks/settings", tag = "webhooks",
    responses((status = 200, body = WebhookSettings)), security(("bearer" = [])))]
pub async fn get_settings(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<WebhookSettings>> {
    Ok(Json(s.app.webhook_settings(&p).await?))
}

/// Replace the webhook settings (admins): `allowed_private_hosts` lets listed hosts receive
/// webhooks and enrichment lookups although they are loopback or private addresses.
#[utoipa::path(put, path = "/webhooks/settings", tag = "webhooks", request_body = WebhookSettings,
    responses((status = 200, body = WebhookSettings), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_settings(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<WebhookSettings>,
) -> ApiResult<Json<WebhookSettings>> {
    Ok(Json(s.app.set_webhook_settings(&p, body).await?))
}

/// An example of each event's `data`, for the API description.
fn example_data(event_type: &str) -> Value {
    let lead_id = "0193a5b2-7c1e-7d40-9a3b-2f6c1d0e4a11";
    let lead = json!({"id": lead_id, "first_name": "Ada", "last_name": "Lovelace",
        "email": "ada@example.com", "company": "Analytical Engines", "stage": "new",
        "score": 0, "grade": null, "owner_id": null, "version": 1, "custom": {}});
    let change = json!({"id": "0193a5b2-9d00-7000-8000-000000000001", "lead_id": lead_id,
        "from_stage": "new", "to_stage": "mql", "reason": null,
        "note": "score 62 reached the MQL threshold", "actor": "scoring", "at": "2026-11-26T09:30:00Z"});
    match event_type {
        "lead.created" => json!({ "lead": lead }),
        "lead.updated" => {
            json!({ "lead": lead, "changes": [{"field": "title", "old": null, "new": "CTO"}] })
        }
        "lead.merged" => {
            json!({ "merge_id": "0193a5b2-aaaa-7000-8000-000000000002", "survivor": lead,
            "merged_ids": ["0193a5b2-bbbb-7000-8000-000000000003"] })
        }
        "lead.stage_changed" | "lead.qualified" => change,
        "lead.assigned" => json!({"id": "0193a5b2-cccc-7000-8000-000000000004", "lead_id": lead_id,
            "from_owner": null, "to_owner": "0193a5b2-dddd-7000-8000-000000000005",
            "reason": "round robin in team EMEA; Ana skipped: out of office", "actor": "routing",
            "at": "2026-11-26T09:30:00Z", "team_id": "0193a5b2-eeee-7000-8000-000000000006",
            "rule_id": "emea", "method": "round_robin", "routing_version": 3}),
        "lead.converted" => {
            json!({ "lead": lead, "contact_id": "0193a5b2-ffff-7000-8000-000000000007",
            "account_id": null, "opportunity": null })
        }
        "lead.sla_breached" => json!({ "lead_id": lead_id, "owner_id": null, "team_id": null,
            "target": "mql A*: 30 business minutes", "due_at": "2026-11-26T10:00:00Z" }),
        "import.finished" => json!({ "import": {"id": "0193a5b2-1111-7000-8000-000000000008",
            "file_name": "leads.csv", "status": "done", "total_rows": 1200, "processed_rows": 1200,
            "created": 1100, "updated": 80, "skipped": 12, "failed": 8} }),
        "webhook.test" => json!({ "endpoint_id": "0193a5b2-2222-7000-8000-000000000009",
            "message": "A test event from Leadline.", "sent_by": "admin@example.com" }),
        "email.sent" => {
            json!({ "lead_id": lead_id, "message_id": "<0193a5b23333700080000000000000aa@leadline>",
            "enrollment_id": "0193a5b2-4444-7000-8000-00000000000b", "subject": "Welcome, Ada", "step": "sequence:1" })
        }
        "email.bounced" => {
            json!({ "lead_id": lead_id, "message_id": "<0193a5b23333700080000000000000aa@leadline>",
            "enrollment_id": "0193a5b2-4444-7000-8000-00000000000b", "reason": "permanent error (550): 5.1.1 no such user" })
        }
        "sequence.event" => {
            json!({ "lead_id": lead_id, "name": "asked for a demo",
            "sequence_id": "0193a5b2-5555-7000-8000-00000000000c",
            "enrollment_id": "0193a5b2-4444-7000-8000-00000000000b", "step": 4 })
        }
        "email.opened" | "email.clicked" | "email.replied" => {
            json!({ "lead_id": lead_id, "message_id": "<0193a5b23333700080000000000000aa@leadline>",
            "enrollment_id": "0193a5b2-4444-7000-8000-00000000000b", "step": "sequence:1",
            "url": if event_type == "email.clicked" { json!("https://www.example.com/pricing") } else { json!(null) } })
        }
        _ => {
            json!({ "lead_id": lead_id, "message_id": "<0193a5b23333700080000000000000aa@leadline>" })
        }
    }
}

/// The OpenAPI `webhooks` section: one entry per event type with its payload example and
/// how messages are signed.
pub fn describe_events(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let mut paths = PathsBuilder::new();
    for (t, what) in EVENT_TYPES {
        let example =
            json!({ "type": t, "timestamp": "2026-11-26T09:30:00Z", "data": example_data(t) });
        let op = OperationBuilder::new()
            .summary(Some(*what))
            .description(Some(format!(
                "POSTed to every enabled endpoint subscribed to `{t}`. Headers per Standard \
                 Webhooks: `webhook-id` (the event's id; the same on retries and replays), \
                 `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` + base64 \
                 HMAC-SHA256 of `id.timestamp.body` with the endpoint's secret; two \
                 signatures during a rotation). Answer 2xx within 10 seconds; anything else \
                 is retried with backoff over about a day."
            )))
            .operation_id(Some(t.replace('.', "_")))
            .tag("webhooks")
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Envelope")))
                            .example(Some(example))
                            .build(),
                    )
                    .build(),
            ))
            .response(
                "2XX",
                ResponseBuilder::new().description("Received.").build(),
            )
            .build();
        paths = paths.path(*t, PathItem::new(HttpMethod::Post, op));
    }
    doc.webhooks = Some(paths.build());
}
