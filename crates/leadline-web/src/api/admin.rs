//! Administration: the caller, users, teams, API keys, custom field definitions.

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use leadline_app::admin::{CustomFieldUpdate, NewUser, TeamInput, UserUpdate};
use leadline_domain::account::{ApiKey, Team, User};
use leadline_domain::custom_field::NewCustomField;
use leadline_domain::{CustomFieldDef, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The authenticated caller.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub role: Role,
    pub label: String,
}

/// Who am I?
#[utoipa::path(get, path = "/me", tag = "admin", responses((status = 200, body = Me), (status = 401, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn me(ApiAuth(p): ApiAuth) -> Json<Me> {
    Json(Me {
        user_id: p.user_id,
        api_key_id: p.api_key_id,
        role: p.role,
        label: p.label,
    })
}

/// Every user.
#[utoipa::path(get, path = "/users", tag = "admin", responses((status = 200, body = Vec<User>)), security(("bearer" = [])))]
pub async fn list_users(
    State(s): State<AppState>,
    ApiAuth(_caller): ApiAuth,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(s.app.list_users().await?))
}

/// Create a user (admins).
#[utoipa::path(post, path = "/users", tag = "admin", request_body = NewUser,
    responses((status = 201, body = User), (status = 403, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn create_user(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(u): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_user(&p, u).await?)))
}

/// Change a user (admins). Deactivating or setting a password ends their sessions.
#[utoipa::path(patch, path = "/users/{id}", tag = "admin", params(("id" = Uuid, Path)), request_body = UserUpdate,
    responses((status = 200, body = User)), security(("bearer" = [])))]
pub async fn update_user(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(u): ApiJson<UserUpdate>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.app.update_user(&p, id, u).await?))
}

/// Every team.
#[utoipa::path(get, path = "/teams", tag = "admin", responses((status = 200, body = Vec<Team>)), security(("bearer" = [])))]
pub async fn list_teams(
    State(s): State<AppState>,
    ApiAuth(_caller): ApiAuth,
) -> ApiResult<Json<Vec<Team>>> {
    Ok(Json(s.app.list_teams().await?))
}

/// Create a team (admins).
#[utoipa::path(post, path = "/teams", tag = "admin", request_body = TeamInput, responses((status = 201, body = Team)), security(("bearer" = [])))]
pub async fn create_team(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(t): ApiJson<TeamInput>,
) -> ApiResult<(StatusCode, Json<Team>)> {
    Ok((StatusCode::CREATED, Json(s.app.create_team(&p, t).await?)))
}

/// Rename a team and replace its members (admins).
#[utoipa::path(put, path = "/teams/{id}", tag = "admin", params(("id" = Uuid, Path)), request_body = TeamInput, responses((status = 200, body = Team)), security(("bearer" = [])))]
pub async fn update_team(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(t): ApiJson<TeamInput>,
) -> ApiResult<Json<Team>> {
    Ok(Json(s.app.update_team(&p, id, t).await?))
}

/// Delete a team (admins).
#[utoipa::path(delete, path = "/teams/{id}", tag = "admin", params(("id" = Uuid, Path)), responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_team(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_team(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every API key (admins). Secrets are never returned after creation.
#[utoipa::path(get, path = "/api-keys", tag = "admin", responses((status = 200, body = Vec<ApiKey>)), security(("bearer" = [])))]
pub async fn list_keys(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<ApiKey>>> {
    Ok(Json(s.app.list_api_keys(&p).await?))
}

/// Input to create an API key.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
    /// The user the key acts for (needed for a rep's key to see that rep's leads).
    #[serde(default)]
    pub user_id: Option<Uuid>,
}

/// A new key with its secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret: send as `Authorization: Bearer <secret>`. Not retrievable later.
    pub secret: String,
}

/// Create an API key (admins).
#[utoipa::path(post, path = "/api-keys", tag = "admin", request_body = NewApiKey, responses((status = 201, body = CreatedApiKey)), security(("bearer" = [])))]
pub async fn create_key(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(k): ApiJson<NewApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let (key, secret) = s.app.create_api_key(&p, &k.name, k.role, k.user_id).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key, secret })))
}

/// Revoke an API key at once (admins).
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "admin", params(("id" = Uuid, Path)), responses((status = 204)), security(("bearer" = [])))]
pub async fn revoke_key(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.revoke_api_key(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every custom field definition.
#[utoipa::path(get, path = "/custom-fields", tag = "admin", responses((status = 200, body = Vec<CustomFieldDef>)), security(("bearer" = [])))]
pub async fn list_fields(
    State(s): State<AppState>,
    ApiAuth(_caller): ApiAuth,
) -> ApiResult<Json<Vec<CustomFieldDef>>> {
    Ok(Json(s.app.custom_fields().await?))
}

/// Define a custom field (admins).
#[utoipa::path(post, path = "/custom-fields", tag = "admin", request_body = NewCustomField, responses((status = 201, body = CustomFieldDef)), security(("bearer" = [])))]
pub async fn create_field(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(f): ApiJson<NewCustomField>,
) -> ApiResult<(StatusCode, Json<CustomFieldDef>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_custom_field(&p, f).await?),
    ))
}

/// Change a custom field's label or options (admins); the key and type are fixed.
#[utoipa::path(patch, path = "/custom-fields/{id}", tag = "admin", params(("id" = Uuid, Path)), request_body = CustomFieldUpdate, responses((status = 200, body = CustomFieldDef)), security(("bearer" = [])))]
pub async fn update_field(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    ApiJson(f): ApiJson<CustomFieldUpdate>,
) -> ApiResult<Json<CustomFieldDef>> {
    Ok(Json(s.app.update_custom_field(&p, id, f).await?))
}

/// Delete a custom field definition (admins).
#[utoipa::path(delete, path = "/custom-fields/{id}", tag = "admin", params(("id" = Uuid, Path)), responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_field(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    s.app.delete_custom_field(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
