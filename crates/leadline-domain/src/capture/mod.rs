//! Capture: turning what arrives from the outside (Salesforce-style web-to-lead posts,
//! hosted forms, the capture API, imports, email) into lead fields, keeping everything that
//! does not map so nothing is lost, and folding a repeat submission into the existing lead.

pub mod body;
pub mod csv_file;
pub mod email;
pub mod form;
pub mod import;
mod merge;
mod settings;
pub mod signature;
mod web_to_lead;

pub use merge::merge_submission;
pub use settings::CaptureSettings;
pub use web_to_lead::{WebToLead, web_to_lead};

use crate::stage::UnknownValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::str::FromStr;
use uuid::Uuid;

/// The way a submission arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptureChannel {
    /// A Salesforce-style Web-to-Lead post.
    WebToLead,
    /// A hosted form (`/f/{slug}`).
    Form,
    /// The capture API.
    Api,
    /// A CSV import.
    Import,
    /// An inbound email.
    Email,
    /// The tracking endpoints.
    Tracking,
}

impl CaptureChannel {
    /// Every channel.
    pub const ALL: [CaptureChannel; 6] = [
        CaptureChannel::WebToLead,
        CaptureChannel::Form,
        CaptureChannel::Api,
        CaptureChannel::Import,
        CaptureChannel::Email,
        CaptureChannel::Tracking,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureChannel::WebToLead => "web_to_lead",
            CaptureChannel::Form => "form",
            CaptureChannel::Api => "api",
            CaptureChannel::Import => "import",
            CaptureChannel::Email => "email",
            CaptureChannel::Tracking => "tracking",
        }
    }

    /// The activity a submission on this channel leaves on the lead's timeline.
    pub fn activity_kind(self) -> &'static str {
        match self {
            CaptureChannel::WebToLead | CaptureChannel::Form => "form_submitted",
            CaptureChannel::Api => "api_capture",
            CaptureChannel::Import => "imported",
            CaptureChannel::Email => "email_received",
            CaptureChannel::Tracking => "identified",
        }
    }
}

impl FromStr for CaptureChannel {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaptureChannel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                UnknownValue::new("channel", s, CaptureChannel::ALL.iter().map(|c| c.as_str()))
            })
    }
}

/// A submission that did not become a lead, kept with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RejectedSubmission {
    pub id: Uuid,
    pub channel: CaptureChannel,
    /// Machine-readable reason, e.g. `invalid`, `honeypot`, `rate_limited`, `unparsable`.
    pub reason_code: String,
    /// The reason for people.
    pub reason: String,
    /// Everything that was submitted.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub remote_addr: Option<String>,
    pub received_at: DateTime<Utc>,
}
