//! Errors at the edge: every failure becomes an RFC 9457 problem (`application/problem+json`)
//! with a stable `type`, mapped once from [`AppError`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadline_app::AppError;
use leadline_domain::FieldError;
use serde::Serialize;

/// A problem details document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `urn:leadline:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Field-level problems (validation errors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An error response from the API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub problem: Problem,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// A problem of kind `name` (the last part of its `type`).
    pub fn new(status: StatusCode, name: &str, title: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            retry_after: None,
            problem: Problem {
                kind: format!("urn:leadline:problem:{name}"),
                title: title.into(),
                status: status.as_u16(),
                detail: detail.into(),
                errors: Vec::new(),
            },
        }
    }

    /// 400 for a request the server cannot read.
    pub fn bad_request(name: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, name, "Bad request", detail)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Validation(errs) => {
                let mut a = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation",
                    "Invalid input",
                    "one or more fields are invalid; see errors",
                );
                a.problem.errors = errs.0;
                a
            }
            AppError::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                format!("{what} not found"),
            ),
            AppError::Unauthenticated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "send a valid API key as 'Authorization: Bearer <key>' or sign in",
            ),
            AppError::Throttled { retry_after_secs } => {
                let mut a = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-attempts",
                    "Too many attempts",
                    format!("too many failed sign-ins; try again in {retry_after_secs} s"),
                );
                a.retry_after = Some(u32::try_from(retry_after_secs).unwrap_or(u32::MAX));
                a
            }
            AppError::Forbidden(why) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", why)
            }
            AppError::Conflict(why) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", why)
            }
            e @ AppError::VersionMismatch { .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "stale-version",
                "Precondition failed",
                e.to_string(),
            ),
            AppError::Stage(s) => ApiError::new(
                StatusCode::CONFLICT,
                "illegal-stage-transition",
                "Stage transition not allowed",
                s.to_string(),
            ),
            AppError::Store(err) => {
                tracing::error!(error = %err, "storage error");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage-unavailable",
                    "Storage unavailable",
                    "the database could not complete the request; try again",
                )
            }
            AppError::Upstream(why) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream",
                "Outside service failed",
                why,
            ),
            AppError::Internal(err) => {
                tracing::error!(error = %err, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "an unexpected error occurred",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.problem)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// API handler results.
pub type ApiResult<T> = Result<T, ApiError>;
