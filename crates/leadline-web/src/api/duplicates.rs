//! Duplicates over the API: the background scan, candidate pairs, merges and unmerges.

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use leadline_app::quality::{
    DuplicatePair, MergeInput, MergePreview, MergeRecord, ScanStatus, Unmerged,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Start a duplicate scan over every lead, in the background (one at a time). Pairs with a
/// confidence of 0.75 or more are saved as open pairs; a dismissed pair stays dismissed.
/// Follow the progress at `GET /duplicates/scan`.
#[utoipa::path(post, path = "/duplicates/scan", tag = "quality",
    responses((status = 202, body = ScanStatus), (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn start_scan(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<(StatusCode, Json<ScanStatus>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.app.start_duplicate_scan(&p).await?),
    ))
}

/// The last duplicate scan: running with its progress, done with its counts, or failed.
#[utoipa::path(get, path = "/duplicates/scan", tag = "quality",
    responses((status = 200, body = ScanStatus)), security(("bearer" = [])))]
pub async fn scan_status(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<ScanStatus>> {
    Ok(Json(s.app.duplicate_scan_status(&p).await?))
}

/// Paging through candidate pairs.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct PairsQuery {
    /// Only pairs at or above this confidence (0–1, default 0.75).
    pub min_confidence: Option<f64>,
    /// The last pair of the previous page as `confidence:id:id`.
    pub after: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
}

fn parse_after(s: &str) -> ApiResult<(f64, Uuid, Uuid)> {
    let bad = || {
        ApiError::bad_request(
            "invalid-cursor",
            "after must be confidence:id:id as given by the previous page",
        )
    };
    let mut it = s.split(':');
    let c: f64 = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let a: Uuid = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let b: Uuid = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    Ok((c, a.min(b), a.max(b)))
}

/// Open candidate pairs of live leads, most certain first. `a` is the older lead (the
/// default survivor).
#[utoipa::path(get, path = "/duplicates", tag = "quality", params(PairsQuery),
    responses((status = 200, body = Vec<DuplicatePair>)), security(("bearer" = [])))]
pub async fn pairs(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<PairsQuery>,
) -> ApiResult<Json<Vec<DuplicatePair>>> {
    let after = q.after.as_deref().map(parse_after).transpose()?;
    Ok(Json(
        s.app
            .duplicate_pairs(
                &p,
                q.min_confidence.unwrap_or(0.75),
                after,
                q.limit.unwrap_or(50),
            )
            .await?,
    ))
}

/// Two leads of a pair.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairInput {
    pub a: Uuid,
    pub b: Uuid,
}

/// Mark a pair as two different people: it leaves the list and later scans keep it out.
#[utoipa::path(post, path = "/duplicates/dismiss", tag = "quality", request_body = PairInput,
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn dismiss(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(i): ApiJson<PairInput>,
) -> ApiResult<StatusCode> {
    s.app.dismiss_duplicate(&p, i.a, i.b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Open candidate pairs involving one lead.
#[utoipa::path(get, path = "/leads/{id}/duplicates", tag = "quality", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<DuplicatePair>)), security(("bearer" = [])))]
pub async fn lead_duplicates(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<DuplicatePair>>> {
    Ok(Json(s.app.lead_duplicates(&p, id).await?))
}

/// What a merge would produce (fields and where each value comes from), without writing.
#[utoipa::path(post, path = "/merges/preview", tag = "quality", request_body = MergeInput,
    responses((status = 200, body = MergePreview), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn preview(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(i): ApiJson<MergeInput>,
) -> ApiResult<Json<MergePreview>> {
    Ok(Json(s.app.merge_preview(&p, &i).await?))
}

/// Merge leads into a survivor: fields by the survivorship rule (or per-field picks), the
/// merged leads' timeline, history, visitors and links moved to the survivor, the merged
/// leads deleted. Undo with `POST /merges/{id}/undo`.
#[utoipa::path(post, path = "/merges", tag = "quality", request_body = MergeInput,
    responses((status = 201, body = MergeRecord), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn merge(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(i): ApiJson<MergeInput>,
) -> ApiResult<(StatusCode, Json<MergeRecord>)> {
    Ok((StatusCode::CREATED, Json(s.app.merge_leads(&p, i).await?)))
}

/// A bulk merge request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkMergeInput {
    /// Merge every open pair at or above this confidence (0.9–1).
    pub min_confidence: f64,
}

/// How many merges a bulk merge made.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkMerged {
    pub merged: usize,
}

/// Merge every open pair at or above a confidence (at least 0.9), the older lead surviving.
#[utoipa::path(post, path = "/merges/bulk", tag = "quality", request_body = BulkMergeInput,
    responses((status = 200, body = BulkMerged), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn bulk(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(i): ApiJson<BulkMergeInput>,
) -> ApiResult<Json<BulkMerged>> {
    Ok(Json(BulkMerged {
        merged: s.app.merge_all(&p, i.min_confidence).await?,
    }))
}

/// Paging through merges.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct MergesQuery {
    /// Only merges this lead survived.
    pub lead: Option<Uuid>,
    /// The last merge of the previous page.
    pub before: Option<Uuid>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// Merges, newest first.
#[utoipa::path(get, path = "/merges", tag = "quality", params(MergesQuery),
    responses((status = 200, body = Vec<MergeRecord>)), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<MergesQuery>,
) -> ApiResult<Json<Vec<MergeRecord>>> {
    Ok(Json(
        s.app
            .merges(&p, q.lead, q.before, q.limit.unwrap_or(50))
            .await?,
    ))
}

/// One merge.
#[utoipa::path(get, path = "/merges/{id}", tag = "quality", params(("id" = Uuid, Path)),
    responses((status = 200, body = MergeRecord), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<MergeRecord>> {
    Ok(Json(s.app.merge_record(&p, id).await?))
}

/// Undo a merge: the merged leads come back with what was moved from them; the survivor's
/// fields return to their values before the merge except those changed since.
#[utoipa::path(post, path = "/merges/{id}/undo", tag = "quality", params(("id" = Uuid, Path)),
    responses((status = 200, body = Unmerged), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn undo(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Unmerged>> {
    Ok(Json(s.app.unmerge(&p, id).await?))
}
