//! Accounts and enrichment over the API.

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use leadline_app::accounts::{AccountSummary, LeadAccount};
use leadline_app::quality::LeadEnrichment;
use leadline_domain::customer_account::AccountInput;
use leadline_domain::quality::enrich::Enriched;
use serde::Deserialize;
use uuid::Uuid;

/// Paging through accounts.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct AccountsQuery {
    /// The last name of the previous page.
    pub after: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

/// Accounts by name, each with its number of live leads.
#[utoipa::path(get, path = "/accounts", tag = "accounts", params(AccountsQuery),
    responses((status = 200, body = Vec<AccountSummary>)), security(("bearer" = [])))]
pub async fn list(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<AccountsQuery>,
) -> ApiResult<Json<Vec<AccountSummary>>> {
    Ok(Json(
        s.app
            .accounts(&p, q.after.as_deref(), q.limit.unwrap_or(100))
            .await?,
    ))
}

/// Create an account; live leads with an email at its domain are linked to it.
#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = AccountInput,
    responses((status = 201, body = AccountSummary), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(i): ApiJson<AccountInput>,
) -> ApiResult<(StatusCode, Json<AccountSummary>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_account(&p, i).await?),
    ))
}

/// One account.
#[utoipa::path(get, path = "/accounts/{id}", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccountSummary), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AccountSummary>> {
    Ok(Json(s.app.account(&p, id).await?))
}

/// Replace an account's name, domain, industry and owner.
#[utoipa::path(put, path = "/accounts/{id}", tag = "accounts", params(("id" = Uuid, Path)), request_body = AccountInput,
    responses((status = 200, body = AccountSummary), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn update(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(i): ApiJson<AccountInput>,
) -> ApiResult<Json<AccountSummary>> {
    Ok(Json(s.app.update_account(&p, id, i).await?))
}

/// Delete an account; its leads stay, unlinked.
#[utoipa::path(delete, path = "/accounts/{id}", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_account(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account a lead belongs to (`null` when none).
#[utoipa::path(get, path = "/leads/{id}/account", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Option<LeadAccount>)), security(("bearer" = [])))]
pub async fn lead_account(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Option<LeadAccount>>> {
    Ok(Json(s.app.lead_account(&p, id).await?))
}

/// Which account a lead belongs to.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadAccountInput {
    /// `null` unlinks the lead.
    pub account_id: Option<Uuid>,
}

/// Link a lead to an account by hand, or unlink it.
#[utoipa::path(put, path = "/leads/{id}/account", tag = "accounts", params(("id" = Uuid, Path)), request_body = LeadAccountInput,
    responses((status = 200, body = Option<LeadAccount>), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn set_lead_account(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(i): ApiJson<LeadAccountInput>,
) -> ApiResult<Json<Option<LeadAccount>>> {
    Ok(Json(s.app.set_lead_account(&p, id, i.account_id).await?))
}

/// A lead's enriched values with their provenance (`email_domain`, `phone_prefix`,
/// `country` or `hook`) and whether each went into the lead.
#[utoipa::path(get, path = "/leads/{id}/enrichment", tag = "quality", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<LeadEnrichment>)), security(("bearer" = [])))]
pub async fn lead_enrichment(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<LeadEnrichment>>> {
    Ok(Json(s.app.lead_enrichment(&p, id).await?))
}

/// Ask the configured enrichment service about a lead now; returns the values applied to
/// empty fields. 502 when the service fails.
#[utoipa::path(post, path = "/leads/{id}/enrich", tag = "quality", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<Enriched>), (status = 502, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn enrich(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Enriched>>> {
    let lead = s.app.get_lead(&p, id).await?;
    if !p.can_edit_lead(lead.fields.owner_id) {
        return Err(
            leadline_app::AppError::Forbidden("you may not change this lead".into()).into(),
        );
    }
    Ok(Json(s.app.enrich_from_hook(id).await?))
}
