//! The predictive model over the API: training in the background, its status, the fields
//! kept out of it, and each lead's explained prediction.

use super::ApiJson;
use crate::auth::ApiAuth;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use leadline_app::scoring::{
    LeadPrediction, PredictionModel, PredictionSettings, PredictionStatus,
};
use serde::Deserialize;
use uuid::Uuid;

/// The model in force (held-out AUC, calibration, features that matter), how many leads it
/// has predicted, the newest training runs and the fields a model may learn from.
#[utoipa::path(get, path = "/prediction", tag = "prediction",
    responses((status = 200, body = PredictionStatus)), security(("bearer" = [])))]
pub async fn status(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> ApiResult<Json<PredictionStatus>> {
    Ok(Json(s.app.prediction_status(&p).await?))
}

/// What to leave out of one training run.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TrainInput {
    /// Fields to leave out on top of those marked "not for prediction" (names, custom
    /// field keys or labels).
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Train a conversion model on the leads with a known outcome, in the background. Follow
/// it at `/prediction/models/{id}`; once trained it replaces the model in force and every
/// lead is predicted again. A run without enough outcomes ends `failed` with the reason
/// and the model in force stays.
#[utoipa::path(post, path = "/prediction/train", tag = "prediction", request_body = TrainInput,
    responses((status = 202, body = PredictionModel), (status = 403, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn train(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<TrainInput>,
) -> ApiResult<(StatusCode, Json<PredictionModel>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.app.start_training(&p, &input.exclude).await?),
    ))
}

/// One training run with its progress and, once trained, its report.
#[utoipa::path(get, path = "/prediction/models/{id}", tag = "prediction", params(("id" = Uuid, Path)),
    responses((status = 200, body = PredictionModel), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn model(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<PredictionModel>> {
    Ok(Json(s.app.prediction_model(&p, id).await?))
}

/// The fields kept out of every model ("not for prediction").
#[utoipa::path(get, path = "/prediction/settings", tag = "prediction",
    responses((status = 200, body = PredictionSettings)), security(("bearer" = [])))]
pub async fn get_settings(
    State(s): State<AppState>,
    ApiAuth(_p): ApiAuth,
) -> ApiResult<Json<PredictionSettings>> {
    Ok(Json(s.app.prediction_settings().await?))
}

/// Mark the fields kept out of every model (admins): lead field names, custom field keys or
/// labels. Takes effect at the next training.
#[utoipa::path(put, path = "/prediction/settings", tag = "prediction", request_body = PredictionSettings,
    responses((status = 200, body = PredictionSettings), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn put_settings(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(input): ApiJson<PredictionSettings>,
) -> ApiResult<Json<PredictionSettings>> {
    Ok(Json(s.app.set_prediction_settings(&p, input).await?))
}

/// A lead's predicted conversion and the features that moved it most. 404 when no model
/// was trained yet.
#[utoipa::path(get, path = "/leads/{id}/prediction", tag = "prediction", params(("id" = Uuid, Path)),
    responses((status = 200, body = LeadPrediction), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn lead_prediction(
    State(s): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<LeadPrediction>> {
    s.app
        .lead_prediction(&p, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::from(leadline_app::AppError::NotFound("predictive model")))
}
