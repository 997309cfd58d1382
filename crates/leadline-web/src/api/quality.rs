//! Data quality over the API: settings (policies per source), the review queue, decisions.

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use leadline_app::quality::{ReviewInput, ReviewItem};
use leadline_domain::quality::QualitySettings;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The data-quality settings: default phone region, extra disposable domains, the default
/// policy and policies per source (`flagged`/`suspect`/`invalid` → `accept`, `review`,
/// `quarantine` or `reject`).
#[utoipa::path(get, path = "/quality/settings", tag = "quality", responses((status = 200, body = QualitySettings)), security(("bearer" = [])))]
pub async fn get_settings(
    State(s): State<AppState>,
    ApiAuth(_p): ApiAuth,
) -> ApiResult<Json<QualitySettings>> {
    Ok(Json(s.app.quality_settings().await?))
}

/// Replace the data-quality settings (admins).
#[utoipa::path(put, path = "/quality/settings", tag = "quality", request_body = QualitySettings,
    responses((status = 200, body = QualitySettings), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn put_settings(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(q): ApiJson<QualitySettings>,
) -> ApiResult<Json<QualitySettings>> {
    Ok(Json(s.app.set_quality_settings(&p, q).await?))
}

/// Paging through the review queue.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct QueueQuery {
    /// The last lead of the previous page.
    pub after: Option<Uuid>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// Leads waiting for a person: put up for review or quarantined by their source's policy,
/// oldest first, each with its findings.
#[utoipa::path(get, path = "/review-queue", tag = "quality", params(QueueQuery),
    responses((status = 200, body = Vec<ReviewItem>)), security(("bearer" = [])))]
pub async fn queue(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<QueueQuery>,
) -> ApiResult<Json<Vec<ReviewItem>>> {
    Ok(Json(
        s.app
            .review_queue(&p, q.after, q.limit.unwrap_or(50))
            .await?,
    ))
}

/// How many leads a decision applied to.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Reviewed {
    pub reviewed: usize,
}

/// Approve or reject leads in the review queue, one or many (up to 500). Rejected leads are
/// disqualified as spam; leads not waiting for review are left alone.
#[utoipa::path(post, path = "/review", tag = "quality", request_body = ReviewInput,
    responses((status = 200, body = Reviewed), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn review(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(r): ApiJson<ReviewInput>,
) -> ApiResult<Json<Reviewed>> {
    Ok(Json(Reviewed {
        reviewed: s.app.review(&p, r).await?,
    }))
}

/// The data-quality overview: verification status by source, field completeness, and how
/// many leads wait for review.
#[utoipa::path(get, path = "/quality/overview", tag = "quality",
    responses((status = 200, body = leadline_app::quality::QualityOverview)), security(("bearer" = [])))]
pub async fn overview(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<leadline_app::quality::QualityOverview>> {
    Ok(Json(s.app.quality_overview(&p).await?))
}
