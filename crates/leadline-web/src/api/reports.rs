//! Reports over the API (admins, managers, marketers).

use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use leadline_app::analytics::{FunnelReport, ReportQuery};

/// The lead funnel (lead → MQL → SAL → SQL → converted → won) for leads created in a period,
/// by first-touch source, medium or campaign, as of any day (recomputed from the stage
/// history; historical outcomes marked won count as converted and won). Dates are UTC days.
#[utoipa::path(get, path = "/reports/funnel", tag = "reports", params(ReportQuery),
    responses((status = 200, body = FunnelReport), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn funnel(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<FunnelReport>> {
    Ok(Json(s.app.funnel_report(&p, &q).await?))
}
