//! Health checks, Prometheus metrics and per-request accounting.

use crate::auth::ApiAuth;
use crate::state::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// The process-wide Prometheus recorder (installed once, shared by every server in the
/// process, which tests start several of).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed by an embedding program; then our
            // handle simply renders nothing.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<AppState>) -> Response {
    if s.app.db.ping().await {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
    }
}

/// Prometheus text format. Needs an admin or manager credential (configure the scraper
/// with `authorization: {credentials: ll_…}`): route names and volumes are not public.
async fn metrics_text(State(s): State<AppState>, ApiAuth(p): ApiAuth) -> Response {
    if !matches!(
        p.role,
        leadline_domain::Role::Admin | leadline_domain::Role::Manager
    ) {
        let e = leadline_app::AppError::Forbidden("metrics are for admins and managers".into());
        return crate::error::ApiError::from(e).into_response();
    }
    let content_type = [(
        axum::http::header::CONTENT_TYPE,
        "text/plain; version=0.0.4",
    )];
    (content_type, s.metrics.render()).into_response()
}

/// Gives every request an id (`x-request-id`, kept if the client sent one), logs each
/// request with it at debug level, and counts requests by route.
pub fn instrument(router: Router<AppState>) -> Router<AppState> {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    use tower_http::trace::TraceLayer;
    let header = axum::http::HeaderName::from_static("x-request-id");
    router
        .layer(axum::middleware::from_fn(track))
        .layer(PropagateRequestIdLayer::new(header.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            // Path only: query strings may carry personal data (search terms, emails).
            tracing::debug_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(header, MakeRequestUuid))
}

/// Counts requests and their durations by route pattern (never by raw path: ids would
/// explode the label space).
async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("leadline_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("leadline_http_request_duration_seconds", "method" => method, "route" => route).record(start.elapsed().as_secs_f64());
    res
}
