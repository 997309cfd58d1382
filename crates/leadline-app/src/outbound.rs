//! Outgoing HTTP (the enrichment hook; webhooks build their own guarded client in
//! `webhooks::delivery`): TLS by rustls and ring, short timeouts, and no redirects, so a
//! configured URL cannot bounce a request somewhere else.

use std::sync::Once;
use std::time::Duration;

static PROVIDER: Once = Once::new();

/// Makes ring the process's TLS crypto provider (reqwest is built without one, to avoid
/// compiling aws-lc). Call before building any reqwest client; repeated calls do nothing.
pub fn install_tls() {
    PROVIDER.call_once(|| {
        // Fails only when another provider was installed first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for calls to configured outside services.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    install_tls();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Leadline/", env!("CARGO_PKG_VERSION")))
        .build()
}
