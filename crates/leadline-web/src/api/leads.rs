//! Leads, their stage transitions and their activities.

use super::{ApiJson, if_match, query_pairs};
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use leadline_app::leads::StageTransition;
use leadline_domain::history::{OwnerChange, StageChange};
use leadline_domain::source::Channel;
use leadline_domain::{Activity, Lead, LeadFields, NewActivity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// One page of leads.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LeadPage {
    pub data: Vec<Lead>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

pub(crate) fn with_etag(lead: Lead, status: StatusCode) -> Response {
    let etag = HeaderValue::from_str(&lead.etag()).ok();
    let mut res = (status, Json(lead)).into_response();
    if let Some(e) = etag {
        res.headers_mut().insert(header::ETAG, e);
    }
    res
}

/// List leads with filters, sorting and cursor pagination.
///
/// Filters: `stage` (repeatable or comma-separated), `owner` (user id, `me`, `none`), `team`,
/// `source`, `medium`, `campaign` (first touch), `channel` (as the reports group leads),
/// `reached` (a funnel step), `missing` (fields without a value: `source`, `medium`,
/// `campaign`, `team`), `score_min`, `score_max`, `grade` (e.g. `A,B`),
/// `created_from`/`created_to`/`updated_from`/`updated_to` (date or RFC 3339), `q` (text in
/// name, email or company), `custom.<key>` (custom field value). `sort` is one of
/// `created_at`, `updated_at`, `score`, `name`, `company`, prefixed with `-` for descending
/// (default `-created_at`). `limit` 1–200 (default 50).
#[utoipa::path(get, path = "/leads", tag = "leads",
    params(
        ("stage" = Option<String>, Query, description = "Stage(s), e.g. `mql,sal`"),
        ("owner" = Option<String>, Query, description = "User id, `me` or `none`"),
        ("team" = Option<Uuid>, Query, description = "Team id"),
        ("source" = Option<String>, Query, description = "First-touch source"),
        ("medium" = Option<String>, Query, description = "First-touch medium"),
        ("campaign" = Option<String>, Query, description = "First-touch campaign"),
        ("channel" = Option<Channel>, Query, description = "Marketing channel: the first source's configured channel, else the medium's usual one, else `direct` (neither) or `other`"),
        ("reached" = Option<String>, Query, description = "Funnel step reached, as the reports count it: `mql`, `sal`, `sql`, `converted` or `won`"),
        ("missing" = Option<String>, Query, description = "Fields the lead has no value in (a report's `(none)` row), e.g. `source,team`: `source`, `medium`, `campaign`, `team`"),
        ("score_min" = Option<i32>, Query), ("score_max" = Option<i32>, Query),
        ("grade" = Option<String>, Query, description = "Grades, e.g. `A,B`"),
        ("created_from" = Option<String>, Query), ("created_to" = Option<String>, Query),
        ("updated_from" = Option<String>, Query), ("updated_to" = Option<String>, Query),
        ("q" = Option<String>, Query, description = "Text in name, email or company"),
        ("sort" = Option<String>, Query, description = "e.g. `-score`"),
        ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = LeadPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_leads(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    uri: Uri,
) -> ApiResult<Json<LeadPage>> {
    let query = s.app.parse_lead_query(&query_pairs(&uri)).await?;
    let page = s.app.list_leads(&p, &query).await?;
    Ok(Json(LeadPage {
        data: page.leads,
        next_cursor: page.next_cursor,
    }))
}

/// Create a lead. Unknown fields are refused; a rep's new lead is theirs.
#[utoipa::path(post, path = "/leads", tag = "leads", request_body = LeadFields,
    responses((status = 201, body = Lead, headers(("ETag" = String))), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_lead(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let lead = s.app.create_lead(&p, body).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/leads/{}", lead.id)).ok();
    let mut res = with_etag(lead, StatusCode::CREATED);
    if let Some(l) = location {
        res.headers_mut().insert(header::LOCATION, l);
    }
    Ok(res)
}

/// Get one lead; its `ETag` is the version to send back in `If-Match`.
#[utoipa::path(get, path = "/leads/{id}", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = Lead, headers(("ETag" = String))), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_lead(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    Ok(with_etag(s.app.get_lead(&p, id).await?, StatusCode::OK))
}

/// Change a lead with a JSON merge patch (RFC 7396): absent fields stay, `null` clears.
/// Send `If-Match` with the lead's ETag to refuse the write if someone changed it first.
#[utoipa::path(patch, path = "/leads/{id}", tag = "leads", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = LeadFields, content_type = "application/json"),
    responses((status = 200, body = Lead), (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update_lead(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<Value>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    Ok(with_etag(
        s.app.update_lead(&p, id, patch, version).await?,
        StatusCode::OK,
    ))
}

/// Delete a lead (soft delete; managers and admins).
#[utoipa::path(delete, path = "/leads/{id}", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_lead(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_lead(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Move a lead to another stage. Allowed: new→mql/sal/nurture/disqualified,
/// mql→sal/nurture/disqualified, sal→sql/nurture/disqualified, sql→converted/nurture/disqualified,
/// nurture→mql/disqualified, disqualified→nurture. Disqualifying needs a `reason`.
#[utoipa::path(post, path = "/leads/{id}/stage", tag = "leads", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body = StageTransition,
    responses((status = 200, body = Lead), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn transition(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(t): ApiJson<StageTransition>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    Ok(with_etag(
        s.app.transition_lead(&p, id, t, version).await?,
        StatusCode::OK,
    ))
}

/// Paging of a lead's activities.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ActivityParams {
    /// At most this many (1–200, default 50).
    pub limit: Option<u32>,
}

/// A lead's activities, newest first.
#[utoipa::path(get, path = "/leads/{id}/activities", tag = "activities", params(("id" = Uuid, Path), ActivityParams),
    responses((status = 200, body = Vec<Activity>)), security(("bearer" = [])))]
pub async fn list_activities(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<ActivityParams>,
) -> ApiResult<Json<Vec<Activity>>> {
    Ok(Json(
        s.app.lead_activities(&p, id, q.limit.unwrap_or(50)).await?,
    ))
}

/// Append an activity to a lead's timeline.
#[utoipa::path(post, path = "/leads/{id}/activities", tag = "activities", params(("id" = Uuid, Path)), request_body = NewActivity,
    responses((status = 201, body = Activity), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn add_activity(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(a): ApiJson<NewActivity>,
) -> ApiResult<(StatusCode, Json<Activity>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.add_activity(&p, id, a).await?),
    ))
}

/// Where the lead came from: first and last touch, referral, external id, historical
/// outcome.
#[utoipa::path(get, path = "/leads/{id}/attribution", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = leadline_app::leads::Attribution), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn attribution(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<leadline_app::leads::Attribution>> {
    Ok(Json(s.app.lead_attribution(&p, id).await?))
}

/// The lead's verification: status (`verified`, `flagged`, `suspect`, `invalid`), each
/// finding with its reason, and when it was checked; `null` when never checked.
#[utoipa::path(get, path = "/leads/{id}/quality", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = Option<leadline_app::quality::LeadQuality>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn quality(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Option<leadline_app::quality::LeadQuality>>> {
    Ok(Json(s.app.lead_quality(&p, id).await?))
}

/// A lead's stage and owner history.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LeadHistory {
    pub stages: Vec<StageChange>,
    pub owners: Vec<OwnerChange>,
}

/// Who moved the lead to which stage and owner, when and why.
#[utoipa::path(get, path = "/leads/{id}/history", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = LeadHistory)), security(("bearer" = [])))]
pub async fn history(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<LeadHistory>> {
    let (stages, owners) = s.app.lead_history(&p, id).await?;
    Ok(Json(LeadHistory { stages, owners }))
}

/// A lead's ages in days — since creation, since its last activity, in its stage — and
/// whether it is stale (no activity for longer than its stage allows).
#[utoipa::path(get, path = "/leads/{id}/aging", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = leadline_domain::aging::Ages), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn aging(
    axum::extract::State(s): axum::extract::State<crate::state::AppState>,
    crate::auth::ApiAuth(p): crate::auth::ApiAuth,
    axum::extract::Path(id): axum::extract::Path<Uuid>,
) -> crate::error::ApiResult<axum::Json<leadline_domain::aging::Ages>> {
    Ok(axum::Json(s.app.lead_ages(&p, id).await?))
}

/// The aging report: leads by stage and owner, by days since their last activity, with the
/// stale ones counted (limits per stage in `/scoring/qualification`).
#[utoipa::path(get, path = "/reports/aging", tag = "leads",
    responses((status = 200, body = leadline_app::aging::AgingReport)), security(("bearer" = [])))]
pub async fn aging_report(
    axum::extract::State(s): axum::extract::State<crate::state::AppState>,
    crate::auth::ApiAuth(p): crate::auth::ApiAuth,
) -> crate::error::ApiResult<axum::Json<leadline_app::aging::AgingReport>> {
    Ok(axum::Json(s.app.aging_report(&p).await?))
}
