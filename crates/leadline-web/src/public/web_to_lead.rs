//! `POST /servlet/servlet.WebToLead` (and `/w2l`): an existing Salesforce Web-to-Lead form
//! works by changing only its `action` URL.

use super::body::{BodyError, read_form};
use super::{MAX_FORM_BYTES, message};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use leadline_app::AppError;
use leadline_app::capture::Submission;
use leadline_domain::Principal;
use leadline_domain::capture::{CaptureChannel, web_to_lead};
use serde_json::{Map, Value, json};
use std::net::SocketAddr;

/// The hidden field the tracking snippet adds with the visitor id.
pub const VISITOR_FIELD: &str = "ll_vid";
/// A field people never see (hidden by CSS); bots fill it in.
pub const HONEYPOT_FIELD: &str = "ll_hp";

fn as_payload(pairs: &[(String, String)]) -> Value {
    Value::Array(pairs.iter().map(|(k, v)| json!([k, v])).collect())
}

/// Where to send the person back to after a problem: the page the form was on.
pub fn back_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .filter(|r| r.starts_with("http://") || r.starts_with("https://"))
        .map(str::to_owned)
}

/// Accepts a Web-to-Lead post.
pub async fn submit(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let query_encoding = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "encoding")
            .map(|(_, v)| v.into_owned())
    });
    let remote = Some(peer.ip().to_string());
    let back = back_link(&headers);
    let pairs = match read_form(req, query_encoding.as_deref(), MAX_FORM_BYTES).await {
        Ok(p) => p,
        Err(e) => {
            let status = match e {
                BodyError::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::Unreadable(_) => StatusCode::BAD_REQUEST,
            };
            let _ = s
                .app
                .keep_rejected(
                    CaptureChannel::WebToLead,
                    "unreadable",
                    &e.to_string(),
                    json!({ "content_type": headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) }),
                    remote,
                )
                .await;
            return message(
                status,
                "We could not read your submission",
                &e.to_string(),
                vec![],
                back,
            );
        }
    };
    let settings = match s.app.capture_settings().await {
        Ok(x) => x,
        Err(e) => return unavailable(e, back),
    };
    let payload = as_payload(&pairs);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    if get(HONEYPOT_FIELD).is_some_and(|v| !v.is_empty()) {
        let _ = s
            .app
            .keep_rejected(
                CaptureChannel::WebToLead,
                "honeypot",
                "the hidden honeypot field was filled in",
                payload,
                remote,
            )
            .await;
        // Answer as if it worked: a bot learns nothing.
        return thanks(&settings, get("retURL"));
    }
    if let Err(which) = s.limits.check(peer.ip(), "web_to_lead", &settings) {
        return super::rate_limited(&s, CaptureChannel::WebToLead, which, payload, remote, back)
            .await;
    }
    let visitor_id = get(VISITOR_FIELD).filter(|v| !v.is_empty());
    let clean: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != VISITOR_FIELD && k != HONEYPOT_FIELD)
        .cloned()
        .collect();
    let mapped = web_to_lead(&clean, &settings.alias_pairs());
    let mut extra = Map::new();
    if !mapped.unmapped.is_empty() {
        extra.insert("unmapped".into(), Value::Object(mapped.unmapped.clone()));
    }
    if let Some(r) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
        extra.insert("page".into(), Value::String(r.chars().take(2048).collect()));
    }
    let submission = Submission {
        extra,
        visitor_id,
        ..Submission::new(CaptureChannel::WebToLead, mapped.fields)
    };
    match s
        .app
        .capture(&Principal::system("web-to-lead"), submission)
        .await
    {
        Ok(_) => thanks(&settings, mapped.ret_url),
        Err(AppError::Validation(errs)) => {
            let problems: Vec<String> = errs
                .0
                .iter()
                .map(|e| {
                    if e.field.is_empty() {
                        e.message.clone()
                    } else {
                        format!("{}: {}", e.field, e.message)
                    }
                })
                .collect();
            let _ = s
                .app
                .keep_rejected(
                    CaptureChannel::WebToLead,
                    "invalid",
                    &problems.join("; "),
                    payload,
                    remote,
                )
                .await;
            message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Please check your details",
                "Some of what you entered could not be accepted:",
                problems,
                back,
            )
        }
        Err(e) => {
            let _ = s
                .app
                .keep_rejected(
                    CaptureChannel::WebToLead,
                    "error",
                    &e.to_string(),
                    payload,
                    remote,
                )
                .await;
            unavailable(e, back)
        }
    }
}

/// After a good submission: the form's `retURL` when its host is allowed, else a page.
pub fn thanks(
    settings: &leadline_domain::capture::CaptureSettings,
    ret_url: Option<String>,
) -> Response {
    match ret_url {
        Some(u) if settings.redirect_allowed(&u) => Redirect::to(&u).into_response(),
        _ => message(
            StatusCode::OK,
            "Thank you",
            "We received your details and will be in touch.",
            vec![],
            None,
        ),
    }
}

fn unavailable(e: AppError, back: Option<String>) -> Response {
    tracing::error!(error = %e, "public submission failed");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Something went wrong",
        "We could not save your submission just now. Please try again in a few minutes.",
        vec![],
        back,
    )
}
