//! Web tracking: page views and custom events from the snippet, bot filtering, UTM
//! parameters, and the first-party visitor id.

use crate::lead::Touch;
use crate::validation::ValidationErrors;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Largest accepted size of an event's properties, as JSON.
pub const MAX_EVENT_BYTES: usize = 8 * 1024;

/// Substrings of user agents that belong to crawlers, monitors and link previewers.
/// Matched case-insensitively. Headless browsers are not listed: people automate real
/// browsers for testing, and a bot that pretends to be a browser is not caught by this.
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "mediapartners",
    "facebookexternalhit",
    "embedly",
    "preview",
    "monitor",
    "pingdom",
    "uptime",
    "lighthouse",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww",
    "httpclient",
    "scrapy",
    "phantomjs",
];

/// True when the user agent is a known bot (or missing: browsers always send one).
pub fn is_bot(user_agent: Option<&str>) -> bool {
    match user_agent.map(str::trim) {
        None | Some("") => true,
        Some(ua) => {
            let ua = ua.to_ascii_lowercase();
            BOT_MARKERS.iter().any(|m| ua.contains(m))
        }
    }
}

/// Checks a visitor id: 8-64 of `A-Z a-z 0-9 _ -` (what the snippet generates).
pub fn valid_visitor_id(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The touch a page URL and its referrer describe: UTM parameters, referrer, landing page.
/// Without `utm_source`, a referrer's host becomes the source (medium `referral`).
pub fn touch_from_page(url: Option<&str>, referrer: Option<&str>) -> Touch {
    let mut t = Touch::default();
    let parsed = url.and_then(|u| url::Url::parse(u).ok());
    if let Some(u) = &parsed {
        for (k, v) in u.query_pairs() {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let v = Some(v.chars().take(255).collect::<String>());
            match k.as_ref() {
                "utm_source" => t.source = v,
                "utm_medium" => t.medium = v,
                "utm_campaign" => t.campaign = v,
                _ => {}
            }
        }
        let mut landing = u.clone();
        landing.set_query(None);
        landing.set_fragment(None);
        t.landing_page = Some(landing.to_string());
    }
    let referrer = referrer.map(str::trim).filter(|r| !r.is_empty());
    if let Some(r) = referrer {
        t.referrer = Some(r.chars().take(2048).collect());
        let same_site = parsed
            .as_ref()
            .and_then(|u| u.host_str())
            .zip(
                url::Url::parse(r)
                    .ok()
                    .as_ref()
                    .and_then(|x| x.host_str().map(str::to_owned)),
            )
            .is_some_and(|(a, b)| a == b);
        if t.source.is_none()
            && !same_site
            && let Some(host) = url::Url::parse(r)
                .ok()
                .and_then(|x| x.host_str().map(str::to_owned))
        {
            t.source = Some(host);
            t.medium.get_or_insert_with(|| "referral".into());
        }
    }
    t
}

/// An event sent by the snippet (`POST /t/e`) or the pixel (`/t/p.gif`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TrackedEvent {
    /// The first-party visitor id the snippet keeps in a cookie.
    pub visitor_id: String,
    /// `page_view` or a custom event such as `webinar_attended`, `whitepaper_downloaded`,
    /// `demo_requested` (lower-case letters, digits, `_` and `.`).
    pub kind: String,
    pub url: Option<String>,
    pub title: Option<String>,
    pub referrer: Option<String>,
    /// Whether the visitor consented to tracking (sites with a consent banner send it).
    pub consent: Option<bool>,
    /// The token of a tracked link that brought the visitor (`ll_t` in the page URL):
    /// identifies the visitor as that link's lead.
    pub link: Option<String>,
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
}

impl TrackedEvent {
    /// Checks the id, the kind and the sizes; trims the texts.
    pub fn clean(mut self) -> Result<TrackedEvent, ValidationErrors> {
        let mut e = ValidationErrors::default();
        if !valid_visitor_id(&self.visitor_id) {
            e.add(
                "visitor_id",
                "invalid_visitor_id",
                "must be 8-64 of A-Z, a-z, 0-9, _ and -",
            );
        }
        if self.kind.is_empty() {
            self.kind = "page_view".into();
        }
        let k = &self.kind;
        if k.len() > 64
            || !k.starts_with(|c: char| c.is_ascii_lowercase())
            || !k
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        {
            e.add(
                "kind",
                "invalid_kind",
                "must be 1-64 of a-z, 0-9, _ and ., starting with a letter",
            );
        }
        for (name, v, max) in [
            ("url", &mut self.url, 2048),
            ("title", &mut self.title, 512),
            ("referrer", &mut self.referrer, 2048),
            ("link", &mut self.link, 64),
        ] {
            if let Some(s) = v {
                let t = s.trim();
                if t.chars().count() > max {
                    e.add(
                        name,
                        "too_long",
                        format!("must be at most {max} characters"),
                    );
                }
                *v = (!t.is_empty()).then(|| t.to_owned());
            }
        }
        if serde_json::to_vec(&self.properties).map_or(0, |v| v.len()) > MAX_EVENT_BYTES {
            e.add(
                "properties",
                "too_large",
                format!("must be at most {MAX_EVENT_BYTES} bytes as JSON"),
            );
        }
        e.into_result().map(|()| self)
    }

    /// The properties an activity for this event carries.
    pub fn activity_properties(&self) -> Map<String, Value> {
        let mut p = self.properties.clone();
        for (k, v) in [
            ("url", &self.url),
            ("title", &self.title),
            ("referrer", &self.referrer),
        ] {
            if let Some(v) = v {
                p.insert(k.into(), Value::String(v.clone()));
            }
        }
        let t = touch_from_page(self.url.as_deref(), self.referrer.as_deref());
        for (k, v) in [
            ("utm_source", &t.source),
            ("utm_medium", &t.medium),
            ("utm_campaign", &t.campaign),
        ] {
            if let Some(v) = v {
                p.entry(k.to_owned())
                    .or_insert_with(|| Value::String(v.clone()));
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bots_are_recognised() {
        assert!(is_bot(Some(
            "Googlebot/2.1 (+http://www.google.com/bot.html)"
        )));
        assert!(is_bot(Some("curl/8.5.0")));
        assert!(is_bot(None));
        assert!(!is_bot(Some(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
        )));
    }

    #[test]
    fn utm_parameters_and_referrers_make_a_touch() {
        let t = touch_from_page(
            Some(
                "https://www.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring#top",
            ),
            Some("https://www.google.com/"),
        );
        assert_eq!(t.source.as_deref(), Some("google"));
        assert_eq!(t.medium.as_deref(), Some("cpc"));
        assert_eq!(t.campaign.as_deref(), Some("spring"));
        assert_eq!(
            t.landing_page.as_deref(),
            Some("https://www.example.com/pricing")
        );
        let r = touch_from_page(
            Some("https://www.example.com/"),
            Some("https://news.example.org/a"),
        );
        assert_eq!(r.source.as_deref(), Some("news.example.org"));
        assert_eq!(r.medium.as_deref(), Some("referral"));
        let internal = touch_from_page(
            Some("https://www.example.com/b"),
            Some("https://www.example.com/a"),
        );
        assert_eq!(
            internal.source, None,
            "a link inside the site is not a referral"
        );
    }

    #[test]
    fn events_are_checked() {
        let ok = TrackedEvent {
            visitor_id: "abcdefgh1234".into(),
            url: Some(" https://x.example/ ".into()),
            ..TrackedEvent::default()
        }
        .clean()
        .unwrap();
        assert_eq!(ok.kind, "page_view");
        assert_eq!(ok.url.as_deref(), Some("https://x.example/"));
        let bad = TrackedEvent {
            visitor_id: "x".into(),
            kind: "Drop Table".into(),
            ..TrackedEvent::default()
        }
        .clean()
        .unwrap_err();
        assert_eq!(bad.0.len(), 2);
    }

    proptest! {
        #[test]
        fn any_page_parses_without_panicking(u in ".{0,80}", r in ".{0,80}") {
            let _ = touch_from_page(Some(&u), Some(&r));
        }
    }
}
