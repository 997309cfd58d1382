//! `/api/v1`: JSON in, JSON out, problems for errors.

pub mod accounts;
pub mod admin;
pub mod capture;
pub mod duplicates;
pub mod followup;
pub mod imports;
pub mod leads;
pub mod mail;
pub mod nurture;
pub mod pipeline;
pub mod prediction;
pub mod privacy;
pub mod quality;
pub mod reports;
pub mod routing;
pub mod scoring;
pub mod webhooks;

use crate::error::{ApiError, ApiResult};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};

/// A JSON body whose rejections (bad syntax, wrong type, too large, wrong media type) are
/// problem documents instead of plain text.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> ApiError {
    match rej {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
            "malformed-json",
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => {
            let mut a = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
                e.body_text(),
            );
            let text = e.body_text();
            let field = text
                .split(": ")
                .nth(1)
                .filter(|f| !f.contains(' '))
                .unwrap_or("")
                .to_owned();
            a.problem.errors.push(leadline_domain::FieldError {
                field,
                code: "invalid_type".into(),
                message: text,
            });
            a
        }
        JsonRejection::BytesRejection(e) => {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "Payload too large",
                    format!("the body exceeds {} bytes", crate::security::MAX_BODY_BYTES),
                )
            } else {
                ApiError::bad_request("unreadable-body", e.body_text())
            }
        }
        other => ApiError::bad_request("bad-request", other.body_text()),
    }
}

/// Fallback for unknown `/api/v1` routes.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such API route",
    )
}

/// Parses `If-Match: "<version>"`; `*` or absence means "any version".
pub fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid-if-match", "If-Match is not readable text"))?
        .trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid-if-match",
                "If-Match must be an ETag returned by this API, e.g. \"3\"",
            )
        })
}

/// The query string as decoded pairs, in order (repeated keys kept).
pub fn query_pairs(uri: &axum::http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(leadline_app::views::url_pairs)
        .unwrap_or_default()
}
