//! Reports over the API (admins, managers, marketers): the catalogue, each report as JSON
//! and as CSV. The figures are defined in docs/reports.md.

use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use leadline_app::analytics::{REPORTS, Report, ReportInfo, ReportQuery, render};

/// The reports there are, with the groupings each accepts.
#[utoipa::path(get, path = "/reports", tag = "reports",
    responses((status = 200, body = Vec<ReportInfo>)), security(("bearer" = [])))]
pub async fn list(ApiAuth(_p): ApiAuth) -> Json<Vec<ReportInfo>> {
    Json(REPORTS.to_vec())
}

/// One report: `funnel`, `leads`, `cohorts`, `velocity`, `quality`, `response`, `stages`,
/// `sales`, `roi`, `attribution` or `forecast` (`aging` has its own `/reports/aging`; its
/// table form is `/reports/aging/csv`). Days are in `tz` (default UTC);
/// `as_of` recomputes the figures as they stood at the end of that day. Money is in minor
/// units of the row's `currency` and never added across currencies; rates over nothing
/// are `null`.
#[utoipa::path(get, path = "/reports/{name}", tag = "reports", params(("name" = String, Path), ReportQuery),
    responses((status = 200, body = Report), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<Report>> {
    Ok(Json(s.app.report(&p, &name, &q).await?))
}

/// One report as CSV: a header of column keys, the rows, the total row last; money in major
/// units of the row's currency.
#[utoipa::path(get, path = "/reports/{name}/csv", tag = "reports", params(("name" = String, Path), ReportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn csv(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let report = s.app.report(&p, &name, &q).await?;
    Ok(csv_response(&report))
}

/// A report as a CSV download named after it.
pub fn csv_response(report: &Report) -> Response {
    let body = render::to_csv(report).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"leadline-{}.csv\"", report.name),
            ),
        ],
        body,
    )
        .into_response()
}
