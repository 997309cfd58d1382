//! Leadline's HTTP edge: the `/api/v1` JSON API (OpenAPI at `/api/v1/openapi.json`), the
//! server-rendered UI, health checks and metrics. Handlers parse, call one app service and
//! render; no SQL and no business rules live here.

mod api;
mod auth;
mod error;
mod observability;
mod openapi;
mod public;
mod security;
pub mod smtp;
mod state;
mod ui;

pub use openapi::api_doc;
pub use state::{AppState, WebConfig};

use axum::Router;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api_router, api) = openapi::api_router().split_for_parts();
    let api = openapi::finish(api);
    let api_router = api_router.fallback(api::not_found);
    let app = Router::new()
        .nest("/api/v1", api_router)
        .merge(ui::router(api))
        .merge(observability::router());
    let app = security::csrf(app).merge(public::router());
    security::protect(observability::instrument(app)).with_state(state)
}

/// Serves until `shutdown` is cancelled; in-flight requests finish first.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
