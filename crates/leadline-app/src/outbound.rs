//! Outgoing HTTP to configured URLs (webhooks, the enrichment hook): TLS by rustls and
//! ring, short timeouts, no redirects and no proxy, so a configured URL cannot bounce a
//! request somewhere else; and a resolver that refuses internal addresses (loopback,
//! private, link-local where cloud metadata lives, …) after DNS resolution, so a host name
//! that resolves to 127.0.0.1 or 169.254.169.254 is refused as surely as the literal address.
//! Hosts an admin lists as allowed private hosts (webhook settings) are let through.

use leadline_domain::webhook::address::forbidden;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Once, RwLock};
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

/// Hosts allowed to resolve to internal addresses, shared with the client's resolver.
pub type AllowedHosts = Arc<RwLock<HashSet<String>>>;

/// The refusal a resolver returns; its text starts with "refused: ".
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

struct GuardedResolver {
    allowed: AllowedHosts,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let allowed = self
            .allowed
            .read()
            .map(|a| a.contains(&host))
            .unwrap_or(false);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allowed
                && let Some((ip, why)) = addrs
                    .iter()
                    .find_map(|a| forbidden(a.ip()).map(|w| (a.ip(), w)))
            {
                return Err(Box::new(Refused(format!(
                    "refused: {host} resolves to {ip}, a {why} (an admin can allow the host for testing)"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A client for calls to configured outside services, refusing internal addresses unless
/// their host is in `allowed`. URLs with a literal IP skip the resolver: check them with
/// [`literal_refused`] first.
pub fn guarded_client(
    timeout: Duration,
    user_agent: &'static str,
    allowed: AllowedHosts,
) -> reqwest::Result<reqwest::Client> {
    install_tls();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(user_agent)
        .dns_resolver(GuardedResolver { allowed })
        .build()
}

/// Why a URL whose host is a literal internal IP address may not be called, unless the
/// address is allowed; `None` for other URLs.
pub fn literal_refused(url: &str, allowed: &AllowedHosts) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let host = u
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let ip: IpAddr = host.parse().ok()?;
    if allowed.read().map(|a| a.contains(&host)).unwrap_or(false) {
        return None;
    }
    forbidden(ip)
        .map(|why| format!("refused: {ip} is a {why} (an admin can allow the host for testing)"))
}

/// An error with its causes, the refusal's words first when there is one.
pub fn describe(e: &reqwest::Error) -> String {
    let mut parts = vec![if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    }];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let text = s.to_string();
        if text.starts_with("refused: ") {
            return text;
        }
        if !parts.contains(&text) {
            parts.push(text);
        }
        src = s.source();
    }
    parts.join(": ")
}
