//! Shared state handed to every handler.

use crate::public::SubmissionLimits;
use leadline_app::App;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

/// Settings of the HTTP edge.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Mark the session cookie `Secure` (set when Leadline is served over HTTPS).
    pub secure_cookies: bool,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub config: WebConfig,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) limits: Arc<SubmissionLimits>,
}

impl AppState {
    /// Wraps the application for serving. Installs the process-wide metrics recorder once.
    pub fn new(app: App, config: WebConfig) -> AppState {
        AppState {
            app,
            config,
            metrics: crate::observability::recorder(),
            limits: Arc::default(),
        }
    }
}
