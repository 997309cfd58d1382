//! Data subject rights and retention over the API: export a person's data (JSON or CSV),
//! erase a person, read and set the retention policy, run it now.

use super::ApiJson;
use super::imports::csv_attachment;
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use leadline_app::privacy::{Erasure, PersonExport, RetentionRun, export_csv};
use leadline_domain::privacy::RetentionPolicy;
use leadline_domain::time::now;
use uuid::Uuid;

/// Everything stored about the person behind a lead, table by table: the lead, its
/// activities, consents, messages, visits, tasks, history, scores, webhook events, audit
/// entries, and rejected submissions or failed import rows naming their address
/// (managers and admins; audited).
#[utoipa::path(get, path = "/leads/{id}/personal-data", tag = "privacy", params(("id" = Uuid, Path)),
    responses((status = 200, body = PersonExport), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn export_person(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<PersonExport>> {
    Ok(Json(s.app.export_person(&p, id).await?))
}

/// The same export as CSV: one line per stored value (`table,row,column,value`).
#[utoipa::path(get, path = "/leads/{id}/personal-data.csv", tag = "privacy", params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn export_person_csv(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let export = s.app.export_person(&p, id).await?;
    Ok(csv_attachment(
        export_csv(&export).into_bytes(),
        &format!("person-{id}.csv"),
    ))
}

/// Erase the person behind a lead (admins): names, addresses, free text, visits, message
/// bodies, webhook payloads and audit details are removed or anonymised; the lead stays as
/// an anonymous row (stage, source, owner, dates, amounts) so reports keep counting it.
/// Leads merged into it are erased too; the address stays suppressed as a one-way hash.
/// Audited, and sent to webhooks as `lead.erased`. Erased already → 409.
#[utoipa::path(post, path = "/leads/{id}/erase", tag = "privacy", params(("id" = Uuid, Path)),
    responses((status = 200, body = Erasure), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn erase_person(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Erasure>> {
    Ok(Json(s.app.erase_person(&p, id).await?))
}

/// The retention policy: how long leads, visits and rejected input are kept.
#[utoipa::path(get, path = "/settings/retention", tag = "privacy",
    responses((status = 200, body = RetentionPolicy), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_retention(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<RetentionPolicy>> {
    leadline_app::auth::require_admin(&p)?;
    Ok(Json(s.app.retention_policy().await?))
}

/// Set the retention policy (admins). Every period is optional; the job runs hourly in
/// `leadline serve`.
#[utoipa::path(put, path = "/settings/retention", tag = "privacy", request_body = RetentionPolicy,
    responses((status = 200, body = RetentionPolicy), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn put_retention(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<RetentionPolicy>,
) -> ApiResult<Json<RetentionPolicy>> {
    Ok(Json(s.app.set_retention_policy(&p, body).await?))
}

/// Run the retention policy now (admins) instead of waiting for the hourly run.
#[utoipa::path(post, path = "/retention/run", tag = "privacy",
    responses((status = 200, body = RetentionRun), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn run_retention(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<RetentionRun>> {
    leadline_app::auth::require_admin(&p)?;
    Ok(Json(s.app.run_retention(now()).await?))
}
