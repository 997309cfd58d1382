//! Cross-cutting HTTP protections: CSRF by Fetch Metadata, security headers, body limits,
//! timeouts, panic containment.

use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// Largest request body accepted anywhere (imports will get their own, larger limit).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The Content-Security-Policy of every page unless a handler sets its own.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

/// Cross-origin request protection for the signed-in UI and the API. The public capture
/// endpoints are posted to from other sites on purpose and stay outside it.
pub fn csrf(router: Router<AppState>) -> Router<AppState> {
    router.layer(CsrfLayer::new())
}

/// Wraps the whole application in the protective layers. The last layer added is the
/// outermost: a panic anywhere inside becomes a 500, never a dropped connection.
pub fn protect(router: Router<AppState>) -> Router<AppState> {
    router
        .layer(header("content-security-policy", CSP))
        .layer(header("x-frame-options", "DENY"))
        .layer(header("referrer-policy", "same-origin"))
        .layer(header("x-content-type-options", "nosniff"))
        // Applied by the body extractors, so an oversized body becomes a 413 problem.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
}
