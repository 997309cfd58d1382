//! Structured logs: human-readable by default, JSON with `--log-format json`.
//! The level comes from `LEADLINE_LOG` (e.g. `debug`, `info,sqlx=warn`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_env("LEADLINE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}
