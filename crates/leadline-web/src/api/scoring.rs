//! Scoring over the API: models and versions, activation and roll-back, rule files,
//! re-score jobs, and each lead's explained score.

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadline_app::scoring::{LeadScore, ModelSummary, ScorePoint, ScoringJob, VersionSummary};
use leadline_domain::scoring::rules::ModelDefinition;
use serde::Deserialize;
use uuid::Uuid;

/// A lead's score under every model in force, computed now: each point with its rule, the
/// activity that earned it, its date and its value today after decay; and why the lead is
/// or is not an MQL.
#[utoipa::path(get, path = "/leads/{id}/score", tag = "scoring", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<LeadScore>), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn lead_score(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<LeadScore>>> {
    Ok(Json(s.app.lead_score(&p, id).await?))
}

/// Re-score one lead now and store the result.
#[utoipa::path(post, path = "/leads/{id}/score", tag = "scoring", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<LeadScore>)), security(("bearer" = [])))]
pub async fn rescore_lead(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<LeadScore>>> {
    Ok(Json(s.app.rescore_lead(&p, id).await?))
}

/// Which model's history.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// Model key (default `default`).
    pub model: Option<String>,
}

/// A lead's recorded score changes (each with its cause and the version that computed it).
#[utoipa::path(get, path = "/leads/{id}/score/history", tag = "scoring", params(("id" = Uuid, Path), HistoryQuery),
    responses((status = 200, body = Vec<ScorePoint>)), security(("bearer" = [])))]
pub async fn score_history(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<ScorePoint>>> {
    let model = q.model.unwrap_or_else(|| "default".into());
    Ok(Json(s.app.score_history(&p, id, &model).await?))
}

/// Every scoring model (a starter model exists from the first use).
#[utoipa::path(get, path = "/scoring/models", tag = "scoring",
    responses((status = 200, body = Vec<ModelSummary>)), security(("bearer" = [])))]
pub async fn models(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<ModelSummary>>> {
    Ok(Json(s.app.scoring_models(&p).await?))
}

/// A model's versions, newest first, with their rules.
#[utoipa::path(get, path = "/scoring/models/{key}/versions", tag = "scoring", params(("key" = String, Path)),
    responses((status = 200, body = Vec<VersionSummary>), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn versions(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(key): Path<String>,
) -> ApiResult<Json<Vec<VersionSummary>>> {
    Ok(Json(s.app.scoring_versions(&p, &key).await?))
}

/// A new version of a model's rules.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    pub definition: ModelDefinition,
    /// What changed and why.
    #[serde(default)]
    pub note: Option<String>,
}

/// Save a new version of a model (a new key creates the model). It is checked completely —
/// unknown fields, contradictory thresholds, unusable patterns, bad half-lives — and not in
/// force until activated.
#[utoipa::path(post, path = "/scoring/models/{key}/versions", tag = "scoring", params(("key" = String, Path)), request_body = NewVersion,
    responses((status = 201, body = VersionSummary), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn save_version(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(key): Path<String>,
    ApiJson(v): ApiJson<NewVersion>,
) -> ApiResult<(StatusCode, Json<VersionSummary>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .save_scoring_version(&p, &key, v.definition, v.note)
                .await?,
        ),
    ))
}

/// One version.
#[utoipa::path(get, path = "/scoring/models/{key}/versions/{version}", tag = "scoring", params(("key" = String, Path), ("version" = i32, Path)),
    responses((status = 200, body = VersionSummary), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn version(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((key, version)): Path<(String, i32)>,
) -> ApiResult<Json<VersionSummary>> {
    Ok(Json(s.app.scoring_version(&p, &key, version).await?))
}

/// Put a version in force — a newer one, or an older one to roll back — and re-score every
/// lead under it in the background.
#[utoipa::path(post, path = "/scoring/models/{key}/versions/{version}/activate", tag = "scoring", params(("key" = String, Path), ("version" = i32, Path)),
    responses((status = 202, body = ScoringJob), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn activate(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((key, version)): Path<(String, i32)>,
) -> ApiResult<(StatusCode, Json<ScoringJob>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.app.activate_scoring_version(&p, &key, version).await?),
    ))
}

/// Make a model the default: its score and grade show on leads and drive qualification.
#[utoipa::path(post, path = "/scoring/models/{key}/default", tag = "scoring", params(("key" = String, Path)),
    responses((status = 204), (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn make_default(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.set_default_scoring_model(&p, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-score every lead under a model in the background.
#[utoipa::path(post, path = "/scoring/models/{key}/rescore", tag = "scoring", params(("key" = String, Path)),
    responses((status = 202, body = ScoringJob)), security(("bearer" = [])))]
pub async fn rescore(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(key): Path<String>,
) -> ApiResult<(StatusCode, Json<ScoringJob>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.app.start_rescore(&p, &key).await?),
    ))
}

/// File format and version.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct FileQuery {
    /// `toml` (default) or `yaml`.
    pub format: Option<String>,
    /// A version; default the one in force.
    pub version: Option<i32>,
}

fn yaml(format: Option<&str>) -> ApiResult<bool> {
    match format.unwrap_or("toml") {
        "toml" => Ok(false),
        "yaml" | "yml" => Ok(true),
        other => Err(ApiError::bad_request(
            "invalid-format",
            format!("format must be toml or yaml, not {other}"),
        )),
    }
}

/// A model's rules as a TOML or YAML file, for version control.
#[utoipa::path(get, path = "/scoring/models/{key}/file", tag = "scoring", params(("key" = String, Path), FileQuery),
    responses((status = 200, content_type = "text/plain", body = String)), security(("bearer" = [])))]
pub async fn export(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(key): Path<String>,
    Query(q): Query<FileQuery>,
) -> ApiResult<Response> {
    let is_yaml = yaml(q.format.as_deref())?;
    let text = s
        .app
        .export_scoring_model(&p, &key, q.version, is_yaml)
        .await?;
    let ct = if is_yaml {
        "application/yaml; charset=utf-8"
    } else {
        "application/toml; charset=utf-8"
    };
    Ok(([(header::CONTENT_TYPE, ct)], text).into_response())
}

/// Read a TOML or YAML rules file (its `key` names the model) and save it as a new version,
/// not yet in force. The format follows `?format=` or the content type.
#[utoipa::path(post, path = "/scoring/import", tag = "scoring", params(FileQuery), request_body(content = String, content_type = "application/toml"),
    responses((status = 201, body = VersionSummary), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn import(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Query(q): Query<FileQuery>,
    headers: HeaderMap,
    body: String,
) -> ApiResult<(StatusCode, Json<VersionSummary>)> {
    let from_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("yaml"));
    let is_yaml = match q.format.as_deref() {
        Some(f) => yaml(Some(f))?,
        None => from_type,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.app.import_scoring_model(&p, &body, is_yaml, None).await?),
    ))
}

/// The newest re-score jobs.
#[utoipa::path(get, path = "/scoring/jobs", tag = "scoring",
    responses((status = 200, body = Vec<ScoringJob>)), security(("bearer" = [])))]
pub async fn jobs(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<Vec<ScoringJob>>> {
    Ok(Json(s.app.scoring_jobs(&p).await?))
}

/// One re-score job with its progress.
#[utoipa::path(get, path = "/scoring/jobs/{id}", tag = "scoring", params(("id" = Uuid, Path)),
    responses((status = 200, body = ScoringJob), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn job(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ScoringJob>> {
    Ok(Json(s.app.scoring_job(&p, id).await?))
}

/// Back-test a saved version on the database's own history: AUC and lift by decile of
/// converted against lost leads, the MQL threshold's effect, and how many open leads it
/// would move today. Nothing is written.
#[utoipa::path(post, path = "/scoring/models/{key}/versions/{version}/backtest", tag = "scoring", params(("key" = String, Path), ("version" = i32, Path)),
    responses((status = 200, body = leadline_app::scoring::BacktestReport)), security(("bearer" = [])))]
pub async fn backtest_version(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((key, version)): Path<(String, i32)>,
) -> ApiResult<Json<leadline_app::scoring::BacktestReport>> {
    Ok(Json(s.app.backtest_version(&p, &key, version).await?))
}

/// Back-test rules before saving them (the body is a model definition).
#[utoipa::path(post, path = "/scoring/backtest", tag = "scoring", request_body = ModelDefinition,
    responses((status = 200, body = leadline_app::scoring::BacktestReport), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn backtest_draft(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(def): ApiJson<ModelDefinition>,
) -> ApiResult<Json<leadline_app::scoring::BacktestReport>> {
    Ok(Json(s.app.backtest(&p, def).await?))
}

/// The two versions to compare.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct DiffQuery {
    pub from: i32,
    pub to: i32,
}

/// What changed between two versions, line by line of their TOML files.
#[utoipa::path(get, path = "/scoring/models/{key}/diff", tag = "scoring", params(("key" = String, Path), DiffQuery),
    responses((status = 200, body = Vec<leadline_app::scoring::DiffLine>)), security(("bearer" = [])))]
pub async fn diff(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(key): Path<String>,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Json<Vec<leadline_app::scoring::DiffLine>>> {
    Ok(Json(s.app.scoring_diff(&p, &key, q.from, q.to).await?))
}

/// The BANT fields a lead must have before it may become `sql`.
#[utoipa::path(get, path = "/scoring/qualification", tag = "scoring",
    responses((status = 200, body = leadline_domain::scoring::qualification::QualificationSettings)), security(("bearer" = [])))]
pub async fn get_qualification(
    State(s): State<AppState>,
    ApiAuth(_p): ApiAuth,
) -> ApiResult<Json<leadline_domain::scoring::qualification::QualificationSettings>> {
    Ok(Json(s.app.qualification_settings().await?))
}

/// Replace the BANT fields required for `sql` (admins and managers).
#[utoipa::path(put, path = "/scoring/qualification", tag = "scoring", request_body = leadline_domain::scoring::qualification::QualificationSettings,
    responses((status = 200, body = leadline_domain::scoring::qualification::QualificationSettings), (status = 403, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn put_qualification(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(q): ApiJson<leadline_domain::scoring::qualification::QualificationSettings>,
) -> ApiResult<Json<leadline_domain::scoring::qualification::QualificationSettings>> {
    Ok(Json(s.app.set_qualification_settings(&p, q).await?))
}
