//! Conversion and opportunities over the API: convert a lead, the pipeline's stages and
//! reasons, opportunities (list, read, change, move through stages) and the board.

use super::{ApiJson, if_match};
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadline_app::pipeline::{
    BoardColumn, Conversion, MoveOpportunity, OpportunityDetail, OpportunityPatch,
};
use leadline_domain::pipeline::{ConvertInput, Opportunity, Pipeline};
use serde::Deserialize;
use uuid::Uuid;

/// A response with the opportunity's version as its `ETag` (`"3"`, like a lead's).
fn with_etag(version: i64, mut res: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// Convert a sales-qualified lead (`sql`) into a contact, an account and optionally an
/// opportunity. The account is the one given, else the one the lead is linked to or whose
/// domain its email or website has, else a new one named after the lead's company. Send
/// the lead's `ETag` as `If-Match` to refuse a stale conversion (412). Converting twice →
/// 409; a lead not yet `sql` → 409 (illegal stage transition); bad amount, currency or
/// stage → 422.
#[utoipa::path(post, path = "/leads/{id}/convert", tag = "pipeline", params(("id" = Uuid, Path)), request_body = ConvertInput,
    responses((status = 201, body = Conversion), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn convert(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ConvertInput>,
) -> ApiResult<(StatusCode, Json<Conversion>)> {
    let c = s
        .app
        .convert_lead(&p, id, input, if_match(&headers)?)
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// The pipeline: stages in board order (key, label, win probability, open/won/lost) and
/// the reasons offered when closing.
#[utoipa::path(get, path = "/pipeline", tag = "pipeline",
    responses((status = 200, body = Pipeline)), security(("bearer" = [])))]
pub async fn get_pipeline(
    State(s): State<AppState>,
    ApiAuth(_p): ApiAuth,
) -> ApiResult<Json<Pipeline>> {
    Ok(Json(s.app.pipeline().await?))
}

/// Replace the pipeline (admins and managers). Needs an open, a won and a lost stage;
/// a stage opportunities are still in cannot be removed (422).
#[utoipa::path(put, path = "/pipeline", tag = "pipeline", request_body = Pipeline,
    responses((status = 200, body = Pipeline), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn put_pipeline(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<Pipeline>,
) -> ApiResult<Json<Pipeline>> {
    Ok(Json(s.app.set_pipeline(&p, input).await?))
}

/// The pipeline board: per stage, the count, total and weighted amounts per currency, and
/// the newest opportunities.
#[utoipa::path(get, path = "/pipeline/board", tag = "pipeline",
    responses((status = 200, body = [BoardColumn])), security(("bearer" = [])))]
pub async fn board(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<BoardColumn>>> {
    Ok(Json(s.app.pipeline_board(&p).await?))
}

/// Filters for the opportunity list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// Only this owner's.
    pub owner: Option<Uuid>,
    /// Only those converted from this lead.
    pub lead: Option<Uuid>,
    /// At most this many (1–500, default 100).
    pub limit: Option<u32>,
}

/// Opportunities, newest first (reps: their own and unowned ones).
#[utoipa::path(get, path = "/opportunities", tag = "pipeline", params(ListParams),
    responses((status = 200, body = [Opportunity])), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<ListParams>,
) -> ApiResult<Json<Vec<Opportunity>>> {
    Ok(Json(
        s.app
            .opportunities(&p, q.owner, q.lead, q.limit.unwrap_or(100))
            .await?,
    ))
}

/// One opportunity with its account name, contact and stage history; its `ETag` is the
/// version for `If-Match`.
#[utoipa::path(get, path = "/opportunities/{id}", tag = "pipeline", params(("id" = Uuid, Path)),
    responses((status = 200, body = OpportunityDetail), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let d = s.app.opportunity(&p, id).await?;
    let v = d.opportunity.version;
    Ok(with_etag(v, Json(d).into_response()))
}

/// Change an opportunity's name, amount, currency, close date or owner (`If-Match` to
/// refuse stale writes).
#[utoipa::path(patch, path = "/opportunities/{id}", tag = "pipeline", params(("id" = Uuid, Path)), request_body = OpportunityPatch,
    responses((status = 200, body = Opportunity), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn update(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<OpportunityPatch>,
) -> ApiResult<Response> {
    let o = s
        .app
        .update_opportunity(&p, id, patch, if_match(&headers)?)
        .await?;
    let v = o.version;
    Ok(with_etag(v, Json(o).into_response()))
}

/// Move an opportunity to a stage. Won and lost need a `reason` from the pipeline's lists
/// and record the lead's outcome; moving a closed one to an open stage reopens it.
#[utoipa::path(post, path = "/opportunities/{id}/stage", tag = "pipeline", params(("id" = Uuid, Path)), request_body = MoveOpportunity,
    responses((status = 200, body = Opportunity), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn move_stage(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(m): ApiJson<MoveOpportunity>,
) -> ApiResult<Response> {
    let o = s
        .app
        .move_opportunity(&p, id, m, if_match(&headers)?)
        .await?;
    let v = o.version;
    Ok(with_etag(v, Json(o).into_response()))
}
