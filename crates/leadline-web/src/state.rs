//! Shared state handed to every handler.

use leadline_app::App;
use metrics_exporter_prometheus::PrometheusHandle;

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
}

impl AppState {
    /// Wraps the application for serving. Installs the process-wide metrics recorder once.
    pub fn new(app: App, config: WebConfig) -> AppState {
        AppState {
            app,
            config,
            metrics: crate::observability::recorder(),
        }
    }
}
