//! Distribution over the API: routing rule versions (save, activate, roll back), testing a
//! lead and simulating a rule set on recent leads, reps' availability, and manual and bulk
//! reassignment.

use super::leads::with_etag;
use super::{ApiJson, if_match};
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use leadline_app::routing::{
    Board, BulkAssignment, RepRouting, Routed, RoutingVersion, Simulation,
};
use leadline_domain::routing::{RepSettings, RoutingRules};
use serde::Deserialize;
use uuid::Uuid;

/// Saved routing rule sets, newest first (admins and managers).
#[utoipa::path(get, path = "/routing/versions", tag = "routing",
    responses((status = 200, body = [RoutingVersion]), (status = 403, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn versions(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<RoutingVersion>>> {
    Ok(Json(s.app.routing_versions(&p).await?))
}

/// A rule set to save.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveInput {
    pub rules: RoutingRules,
    #[serde(default)]
    pub note: Option<String>,
    /// Put it in force at once.
    #[serde(default)]
    pub activate: bool,
}

/// Save a rule set as a new version (and with `activate`, put it in force). Rules are tried
/// in order; the first whose conditions all hold sends the lead to a rep or to a team,
/// which picks the rep by `round_robin`, `weighted`, `load_balanced` or `best_conversion`.
/// Unknown fields, users or teams → 422.
#[utoipa::path(post, path = "/routing/versions", tag = "routing", request_body = SaveInput,
    responses((status = 201, body = RoutingVersion), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn save(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<SaveInput>,
) -> ApiResult<(StatusCode, Json<RoutingVersion>)> {
    let v = s
        .app
        .save_routing_version(&p, input.rules, input.note, input.activate)
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// The rule set in force; 404 while none is (leads then stay where they were captured).
#[utoipa::path(get, path = "/routing", tag = "routing",
    responses((status = 200, body = RoutingVersion), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn in_force(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<RoutingVersion>> {
    s.app
        .routing_in_force(&p)
        .await?
        .map(Json)
        .ok_or_else(|| leadline_app::AppError::NotFound("routing rules in force").into())
}

/// Put a saved version in force (also to roll back to an older one).
#[utoipa::path(post, path = "/routing/versions/{version}/activate", tag = "routing", params(("version" = i32, Path)),
    responses((status = 200, body = RoutingVersion), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn activate(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(version): Path<i32>,
) -> ApiResult<Json<RoutingVersion>> {
    Ok(Json(s.app.put_routing_in_force(&p, version).await?))
}

/// A lead to test, against a draft rule set or the one in force.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    pub lead_id: Uuid,
    #[serde(default)]
    pub rules: Option<RoutingRules>,
}

/// Which rule would fire for a lead and which rep it would reach now, with why; nothing
/// is assigned and no team's turn is taken.
#[utoipa::path(post, path = "/routing/test", tag = "routing", request_body = TestInput,
    responses((status = 200, body = Routed), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn test(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<TestInput>,
) -> ApiResult<Json<Routed>> {
    Ok(Json(
        s.app.test_routing(&p, input.lead_id, input.rules).await?,
    ))
}

/// A draft rule set to simulate.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateInput {
    pub rules: RoutingRules,
    /// Leads created in the last this many days (1–365, default 30).
    #[serde(default = "thirty")]
    pub days: i64,
}

fn thirty() -> i64 {
    30
}

/// Who would have received what: each lead created in the last `days` days run through a
/// draft rule set, counted by rule, against the rule set in force.
#[utoipa::path(post, path = "/routing/simulate", tag = "routing", request_body = SimulateInput,
    responses((status = 200, body = Simulation), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn simulate(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<SimulateInput>,
) -> ApiResult<Json<Simulation>> {
    Ok(Json(
        s.app.simulate_routing(&p, input.rules, input.days).await?,
    ))
}

/// A rep's routing settings: time zone, working hours, absence, weight, capacity.
#[utoipa::path(get, path = "/users/{id}/routing", tag = "routing", params(("id" = Uuid, Path)),
    responses((status = 200, body = RepRouting), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get_rep(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RepRouting>> {
    Ok(Json(s.app.rep_routing(&p, id).await?))
}

/// Replace a rep's routing settings (a rep may set their own, e.g. an absence).
#[utoipa::path(put, path = "/users/{id}/routing", tag = "routing", params(("id" = Uuid, Path)), request_body = RepSettings,
    responses((status = 200, body = RepRouting), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn put_rep(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<RepSettings>,
) -> ApiResult<Json<RepRouting>> {
    Ok(Json(s.app.set_rep_routing(&p, id, input).await?))
}

/// A new owner.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// The new owner; `null` unassigns.
    pub owner_id: Option<Uuid>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Reassign a lead by hand (recorded in its owner history). With `If-Match`, a lead
/// changed meanwhile is refused (412); two reassignments at once: one wins, the other
/// gets 409.
#[utoipa::path(post, path = "/leads/{id}/assign", tag = "routing", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = AssignInput,
    responses((status = 200, body = leadline_domain::Lead), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn assign(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<AssignInput>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    let lead = s
        .app
        .assign_lead(&p, id, input.owner_id, version, input.note)
        .await?;
    Ok(with_etag(lead, StatusCode::OK))
}

/// Many leads to one owner.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    /// At most 1,000.
    pub lead_ids: Vec<Uuid>,
    pub owner_id: Option<Uuid>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Reassign many leads; each is done on its own, and the ones refused say why.
#[utoipa::path(post, path = "/leads/assign", tag = "routing", request_body = BulkInput,
    responses((status = 200, body = BulkAssignment), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn assign_many(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<BulkInput>,
) -> ApiResult<Json<BulkAssignment>> {
    Ok(Json(
        s.app
            .assign_leads(&p, &input.lead_ids, input.owner_id, input.note)
            .await?,
    ))
}

/// The manager's board: open leads nobody owns (unassigned, and waiting in each team's
/// queue) and every rep's open leads, capacity and availability now.
#[utoipa::path(get, path = "/routing/board", tag = "routing",
    responses((status = 200, body = Board), (status = 403, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn board(State(s): State<AppState>, ApiAuth(p): ApiAuth) -> ApiResult<Json<Board>> {
    Ok(Json(s.app.routing_board(&p).await?))
}
