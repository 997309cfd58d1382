//! What an admin configures for the public capture endpoints.

use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Capture settings (stored as one JSON document, edited in Settings → Capture).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureSettings {
    /// Hosts a form's `retURL` or redirect may send the browser to: `www.example.com`, or
    /// `*.example.com` for the domain and its subdomains. Anything else is not followed.
    pub allowed_redirect_hosts: Vec<String>,
    /// Web-to-Lead custom field ids (e.g. `00N5e00000XXXXX`) → custom field keys.
    pub field_aliases: BTreeMap<String, String>,
    /// Origins (`https://www.example.com`) whose pages may post to forms and tracking
    /// endpoints from script (CORS).
    pub cors_origins: Vec<String>,
    /// Ignore tracking calls from browsers that send `DNT: 1` or `Sec-GPC: 1`.
    pub honour_do_not_track: bool,
    /// Record page views only for visitors whose tracking call says consent was given.
    pub tracking_requires_consent: bool,
    /// Public submissions accepted per client address per minute (forms, web-to-lead).
    pub submissions_per_ip_per_minute: u32,
    /// Public submissions accepted per form per minute, from all addresses.
    pub submissions_per_form_per_minute: u32,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            allowed_redirect_hosts: Vec::new(),
            field_aliases: BTreeMap::new(),
            cors_origins: Vec::new(),
            honour_do_not_track: true,
            tracking_requires_consent: false,
            submissions_per_ip_per_minute: 20,
            submissions_per_form_per_minute: 600,
        }
    }
}

impl CaptureSettings {
    /// Normalises the lists (trimmed, lower-case hosts and origins) and checks them.
    pub fn clean(mut self) -> Result<CaptureSettings, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let norm = |v: &mut Vec<String>| {
            *v = v
                .iter()
                .map(|s| s.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            v.sort();
            v.dedup();
        };
        norm(&mut self.allowed_redirect_hosts);
        norm(&mut self.cors_origins);
        for (i, h) in self.allowed_redirect_hosts.iter().enumerate() {
            let bare = h.strip_prefix("*.").unwrap_or(h);
            if bare.is_empty()
                || !bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
            {
                e.add(
                    format!("allowed_redirect_hosts[{i}]"),
                    "invalid_host",
                    "must be a host name such as www.example.com or *.example.com",
                );
            }
        }
        for (i, o) in self.cors_origins.iter().enumerate() {
            let ok = url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.path() == "/"
            });
            if !ok {
                e.add(
                    format!("cors_origins[{i}]"),
                    "invalid_origin",
                    "must be an origin such as https://www.example.com",
                );
            }
        }
        for (id, key) in &self.field_aliases {
            if id.trim().is_empty() || key.trim().is_empty() {
                e.add(
                    "field_aliases",
                    "invalid_alias",
                    "ids and keys must not be empty",
                );
            }
        }
        if self.submissions_per_ip_per_minute == 0 || self.submissions_per_form_per_minute == 0 {
            e.add(
                "submissions_per_ip_per_minute",
                "out_of_range",
                "limits must be at least 1",
            );
        }
        e.into_result().map(|()| self)
    }

    /// Whether the browser may be sent to `target` after a submission: an absolute http(s)
    /// URL on an allowed host.
    pub fn redirect_allowed(&self, target: &str) -> bool {
        let Ok(u) = url::Url::parse(target) else {
            return false;
        };
        if !matches!(u.scheme(), "http" | "https") || !u.username().is_empty() {
            return false;
        }
        let Some(host) = u.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        self.allowed_redirect_hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
                None => host == *allowed,
            })
    }

    /// Whether a page on `origin` may call the public endpoints from script.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let o = origin.trim_end_matches('/').to_ascii_lowercase();
        self.cors_origins.contains(&o)
    }

    /// The alias list in the shape [`super::web_to_lead`] takes.
    pub fn alias_pairs(&self) -> Vec<(String, String)> {
        self.field_aliases
            .iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hosts: &[&str]) -> CaptureSettings {
        CaptureSettings {
            allowed_redirect_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            ..CaptureSettings::default()
        }
        .clean()
        .unwrap()
    }

    #[test]
    fn redirects_only_to_allowed_hosts() {
        let s = settings(&["WWW.Example.com", "*.acme.example"]);
        assert!(s.redirect_allowed("https://www.example.com/thanks?x=1"));
        assert!(s.redirect_allowed("http://acme.example/"));
        assert!(s.redirect_allowed("https://shop.acme.example/ok"));
        assert!(!s.redirect_allowed("https://evil.example/"));
        assert!(!s.redirect_allowed("https://www.example.com.evil.example/"));
        assert!(!s.redirect_allowed("https://notacme.example/"));
        assert!(!s.redirect_allowed("javascript:alert(1)"));
        assert!(!s.redirect_allowed("//www.example.com/"));
        assert!(!s.redirect_allowed("https://user@www.example.com/"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let e = CaptureSettings {
            allowed_redirect_hosts: vec!["https://x/".into()],
            cors_origins: vec!["not a url".into()],
            ..CaptureSettings::default()
        }
        .clean()
        .unwrap_err();
        assert_eq!(e.0.len(), 2);
        let ok = CaptureSettings {
            cors_origins: vec!["https://www.example.com/".into()],
            ..CaptureSettings::default()
        }
        .clean()
        .unwrap();
        assert!(ok.origin_allowed("https://WWW.example.com"));
        assert!(!ok.origin_allowed("https://evil.example"));
    }
}
