//! Webhooks: the events other systems can subscribe to, endpoint settings and their
//! checks, the message envelope, Standard Webhooks signing, the retry schedule and the
//! address policy. Delivery itself (outbox, HTTP) lives in the app layer.

pub mod address;
pub mod retry;
pub mod signature;

use crate::validation::ValidationErrors;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every event type Leadline emits, with what it means.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    (
        "lead.created",
        "A lead was created (any channel: API, UI, form, import, email).",
    ),
    (
        "lead.updated",
        "A lead's fields changed; `changed` lists which.",
    ),
    ("lead.merged", "Leads were merged into a survivor."),
    (
        "lead.erased",
        "A person's data was erased on request or by retention; erase your copies too.",
    ),
    (
        "lead.stage_changed",
        "A lead moved to another lifecycle stage.",
    ),
    (
        "lead.assigned",
        "A lead got a new owner or team queue (routing or by hand).",
    ),
    (
        "lead.qualified",
        "A lead became a marketing-qualified lead (MQL).",
    ),
    (
        "lead.converted",
        "A lead was converted into a contact, an account and maybe an opportunity.",
    ),
    (
        "lead.sla_breached",
        "A lead passed its first-touch deadline untouched.",
    ),
    (
        "email.sent",
        "A message to a lead was handed to the mail server.",
    ),
    ("email.opened", "A lead opened a message."),
    (
        "email.clicked",
        "A lead clicked a tracked link in a message.",
    ),
    (
        "email.replied",
        "A lead replied to a message (auto-replies do not count).",
    ),
    (
        "email.bounced",
        "A message bounced for good (the relay refused it, or a bounce report came back).",
    ),
    ("email.unsubscribed", "A lead unsubscribed."),
    (
        "sequence.event",
        "A lead reached an event step of a sequence; `name` says which.",
    ),
    (
        "import.finished",
        "A CSV import finished; its counts are in the payload.",
    ),
    (
        "webhook.test",
        "A test event sent from the endpoint's page (only to that endpoint).",
    ),
];

/// True for a known event type.
pub fn is_event_type(t: &str) -> bool {
    EVENT_TYPES.iter().any(|(name, _)| *name == t)
}

/// Which events an endpoint receives: exact types, group patterns (`lead.*`), or
/// everything when empty. `webhook.test` is never matched here: a test goes to one
/// endpoint by name.
pub fn filter_matches(filter: &[String], event_type: &str) -> bool {
    if event_type == "webhook.test" {
        return false;
    }
    filter.is_empty()
        || filter.iter().any(|f| {
            f == "*"
                || f == event_type
                || f.strip_suffix(".*").is_some_and(|group| {
                    event_type
                        .strip_prefix(group)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
        })
}

/// What an admin writes for an endpoint.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// Where events are POSTed (`https://…`; `http://` is allowed for testing).
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Event types or groups (`lead.*`); empty or missing means every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// Defaults to true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// A `whsec_…` secret to use instead of a generated one (e.g. when moving from
    /// another system).
    #[serde(default)]
    pub secret: Option<String>,
}

/// The longest URL accepted.
pub const MAX_URL: usize = 2000;

impl EndpointInput {
    /// Checks and normalises the input: an absolute http(s) URL without credentials,
    /// known event types, a short description, a well-formed secret.
    pub fn clean(mut self) -> Result<EndpointInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        self.url = self.url.trim().to_owned();
        match url::Url::parse(&self.url) {
            _ if self.url.len() > MAX_URL => {
                errors.add("url", "too_long", format!("at most {MAX_URL} characters"))
            }
            Err(e) => errors.add("url", "invalid_url", format!("not an absolute URL: {e}")),
            Ok(u) if !matches!(u.scheme(), "http" | "https") => errors.add(
                "url",
                "invalid_scheme",
                "must start with https:// or http://",
            ),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                errors.add("url", "invalid_url", "has no host")
            }
            Ok(u) if !u.username().is_empty() || u.password().is_some() => errors.add(
                "url",
                "credentials_in_url",
                "must not hold a user name or password (it would end up in logs); \
                 verify the signature instead",
            ),
            Ok(_) => {}
        }
        self.description = crate::validation::clean_text(
            &mut errors,
            "description",
            self.description.as_deref(),
            200,
        );
        let mut events = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            let e = e.trim();
            let known = e == "*"
                || (is_event_type(e) && e != "webhook.test")
                || e.strip_suffix(".*").is_some_and(|g| {
                    EVENT_TYPES
                        .iter()
                        .any(|(t, _)| t.strip_prefix(g).is_some_and(|r| r.starts_with('.')))
                });
            if !known {
                errors.add(
                    format!("events[{i}]"),
                    "unknown_event_type",
                    format!("\"{e}\" is not an event type or group (see /webhooks/event-types)"),
                );
            } else if !events.iter().any(|x: &String| x == e) {
                events.push(e.to_owned());
            }
        }
        self.events = events;
        if let Some(s) = self
            .secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if let Err(e) = signature::Secret::parse(s) {
                errors.add("secret", "invalid_secret", e.to_string());
            }
        } else {
            self.secret = None;
        }
        errors.into_result().map(|()| self)
    }
}

/// The JSON body of every webhook message (the Standard Webhooks payload shape).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Envelope<'a> {
    /// The event type, e.g. `lead.created`.
    #[serde(rename = "type")]
    pub event_type: &'a str,
    /// When the change happened (RFC 3339, UTC).
    pub timestamp: DateTime<Utc>,
    /// What changed; its shape depends on the type (see the webhooks section of the API
    /// description).
    #[schema(value_type = Object)]
    pub data: &'a Value,
}

impl Envelope<'_> {
    /// The exact bytes sent (and signed).
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str, events: &[&str]) -> EndpointInput {
        EndpointInput {
            url: url.into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn filters_match_types_groups_and_everything() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(filter_matches(&[], "lead.created"));
        assert!(filter_matches(&f(&["lead.*"]), "lead.assigned"));
        assert!(!filter_matches(&f(&["lead.*"]), "email.sent"));
        assert!(!filter_matches(&f(&["lea.*"]), "lead.created"));
        assert!(filter_matches(&f(&["import.finished"]), "import.finished"));
        assert!(!filter_matches(&f(&["lead.created"]), "lead.created_x"));
        assert!(!filter_matches(&[], "webhook.test"));
    }

    #[test]
    fn endpoint_input_is_checked() {
        assert!(
            input("https://example.com/hook", &["lead.*", "import.finished"])
                .clean()
                .is_ok()
        );
        for (url, code) in [
            ("example.com/hook", "invalid_url"),
            ("ftp://example.com/", "invalid_scheme"),
            ("https://user:pw@example.com/", "credentials_in_url"),
        ] {
            let e = input(url, &[]).clean().unwrap_err();
            assert_eq!(e.0[0].code, code, "{url}");
        }
        let e = input(
            "https://example.com",
            &["lead.created", "lead.nope", "webhook.test"],
        )
        .clean()
        .unwrap_err();
        assert_eq!(
            e.0.iter().map(|x| x.field.as_str()).collect::<Vec<_>>(),
            ["events[1]", "events[2]"]
        );
        let dup = input("https://example.com", &["lead.created", "lead.created"])
            .clean()
            .unwrap();
        assert_eq!(dup.events, ["lead.created"]);
    }

    #[test]
    fn the_envelope_has_type_timestamp_and_data() {
        let data = serde_json::json!({"lead_id": "x"});
        let body = Envelope {
            event_type: "lead.created",
            timestamp: DateTime::from_timestamp(0, 0).unwrap(),
            data: &data,
        }
        .to_body();
        assert_eq!(
            body,
            r#"{"type":"lead.created","timestamp":"1970-01-01T00:00:00Z","data":{"lead_id":"x"}}"#
        );
    }
}
