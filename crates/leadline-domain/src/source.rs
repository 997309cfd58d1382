//! Where leads come from: sources (with their marketing channel), campaigns with what they
//! cost per period, and referrals.

use crate::stage::UnknownValue;
use crate::validation::{ValidationErrors, clean_text};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

/// The marketing channel a source or campaign belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    PaidSearch,
    PaidSocial,
    Display,
    Referral,
    Event,
    Partner,
    Organic,
    Direct,
    Email,
    Other,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 10] = [
        Channel::PaidSearch,
        Channel::PaidSocial,
        Channel::Display,
        Channel::Referral,
        Channel::Event,
        Channel::Partner,
        Channel::Organic,
        Channel::Direct,
        Channel::Email,
        Channel::Other,
    ];

    /// The stable name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::PaidSearch => "paid_search",
            Channel::PaidSocial => "paid_social",
            Channel::Display => "display",
            Channel::Referral => "referral",
            Channel::Event => "event",
            Channel::Partner => "partner",
            Channel::Organic => "organic",
            Channel::Direct => "direct",
            Channel::Email => "email",
            Channel::Other => "other",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Channel::PaidSearch => "Paid search",
            Channel::PaidSocial => "Paid social",
            Channel::Display => "Display",
            Channel::Referral => "Referral",
            Channel::Event => "Event",
            Channel::Partner => "Partner",
            Channel::Organic => "Organic",
            Channel::Direct => "Direct",
            Channel::Email => "Email",
            Channel::Other => "Other",
        }
    }

    /// The UTM media (lowercase) that usually mean this channel (`cpc` → paid search…), as
    /// analytics tools group them by default.
    pub fn media(self) -> &'static [&'static str] {
        match self {
            Channel::PaidSearch => &["cpc", "ppc", "paidsearch", "paid_search", "sem"],
            Channel::PaidSocial => &["paid_social", "paidsocial", "social_paid", "paid-social"],
            Channel::Display => &["display", "banner", "cpm"],
            Channel::Referral => &["referral"],
            Channel::Event => &["event", "trade_show", "tradeshow", "webinar"],
            Channel::Partner => &["partner", "affiliate"],
            Channel::Organic => &["organic", "seo", "social"],
            Channel::Email => &["email", "newsletter"],
            Channel::Direct => &["direct", "(none)", "none"],
            Channel::Other => &[],
        }
    }

    /// The channel a UTM medium usually means (see [`Channel::media`]), trimmed and in any
    /// case.
    pub fn from_medium(medium: &str) -> Option<Channel> {
        let m = medium.trim().to_ascii_lowercase();
        Channel::ALL
            .into_iter()
            .find(|c| c.media().contains(&m.as_str()))
    }

    /// A lead's channel: its first source's configured channel, else its first medium's
    /// usual one, else `direct` when it has neither and `other` when they say nothing known.
    /// (The lead list's `channel` filter is the same rule in SQL.)
    pub fn of_lead(configured: Option<Channel>, source: &str, medium: &str) -> Channel {
        configured
            .or_else(|| Channel::from_medium(medium))
            .unwrap_or(if source.is_empty() && medium.is_empty() {
                Channel::Direct
            } else {
                Channel::Other
            })
    }
}

impl FromStr for Channel {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownValue::new("channel", s, Channel::ALL.iter().map(|c| c.as_str())))
    }
}

/// A lead source, e.g. `google-ads` in the paid-search channel. Leads name it by `key` in
/// their first and last touch.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Source {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub channel: Channel,
    pub created_at: DateTime<Utc>,
}

/// A campaign; leads name it by `key` in their touches (e.g. `utm_campaign`, Salesforce
/// `Campaign_ID`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub channel: Channel,
    /// The source the campaign runs on, by key.
    pub source_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The input to create a source or a campaign.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    /// What leads carry: letters, digits, `-`, `_`, `.`, space (at most 255).
    pub key: String,
    /// Defaults to the key.
    #[serde(default)]
    pub name: Option<String>,
    pub channel: Channel,
    /// Campaigns only: the source the campaign runs on.
    #[serde(default)]
    pub source_key: Option<String>,
}

impl NewSource {
    /// Trims and checks the key and name.
    pub fn clean(self) -> Result<NewSource, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let key = clean_text(&mut e, "key", Some(&self.key), 255);
        if key.is_none() && e.is_empty() {
            e.add("key", "required", "is required");
        }
        if let Some(k) = &key
            && k.chars().any(char::is_control)
        {
            e.add("key", "invalid_key", "must not contain control characters");
        }
        let name = clean_text(&mut e, "name", self.name.as_deref(), 255);
        let source_key = clean_text(&mut e, "source_key", self.source_key.as_deref(), 255);
        e.into_result().map(|()| {
            let key = key.unwrap_or_default();
            NewSource {
                name: Some(name.unwrap_or_else(|| key.clone())),
                key,
                channel: self.channel,
                source_key,
            }
        })
    }
}

/// What a campaign cost in a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CampaignCost {
    #[serde(default = "Uuid::nil")]
    pub id: Uuid,
    /// First day of the period (inclusive).
    pub period_start: NaiveDate,
    /// Last day of the period (inclusive).
    pub period_end: NaiveDate,
    /// In minor units of `currency`.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl CampaignCost {
    /// Checks the period, amount and currency.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        if self.period_end < self.period_start {
            e.add(
                "period_end",
                "out_of_range",
                "must not be before period_start",
            );
        }
        if self.amount < 0 {
            e.add("amount", "out_of_range", "must not be negative");
        }
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            e.add(
                "currency",
                "invalid_currency",
                "must be a three-letter upper-case ISO 4217 code",
            );
        }
        e.into_result()
    }
}

/// Who referred a lead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Referral {
    pub referrer_name: Option<String>,
    pub referrer_email: Option<String>,
    /// The referrer when they are a lead themselves.
    pub referrer_lead_id: Option<Uuid>,
    pub note: Option<String>,
}

impl Referral {
    /// True when nothing about the referrer is known.
    pub fn is_empty(&self) -> bool {
        self.referrer_name.is_none()
            && self.referrer_email.is_none()
            && self.referrer_lead_id.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip_and_media_map() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), c);
        }
        assert_eq!(Channel::from_medium("CPC"), Some(Channel::PaidSearch));
        assert_eq!(Channel::from_medium("email"), Some(Channel::Email));
        assert_eq!(Channel::from_medium("carrier-pigeon"), None);
        // Each medium means one channel.
        let all: Vec<_> = Channel::ALL.iter().flat_map(|c| c.media()).collect();
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
    }

    #[test]
    fn a_leads_channel_is_its_sources_then_its_mediums() {
        let of = Channel::of_lead;
        assert_eq!(of(Some(Channel::Partner), "p", "cpc"), Channel::Partner);
        assert_eq!(of(None, "google", " CPC"), Channel::PaidSearch);
        assert_eq!(of(None, "", ""), Channel::Direct);
        assert_eq!(of(None, "", "(none)"), Channel::Direct);
        assert_eq!(of(None, "x", ""), Channel::Other);
        assert_eq!(of(None, "", "carrier-pigeon"), Channel::Other);
    }

    #[test]
    fn costs_are_checked() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let mut c = CampaignCost {
            id: Uuid::nil(),
            period_start: d("2026-01-01"),
            period_end: d("2026-01-31"),
            amount: 10_000,
            currency: "EUR".into(),
        };
        assert!(c.validate().is_ok());
        c.period_end = d("2025-12-31");
        c.currency = "eur".into();
        let e = c.validate().unwrap_err();
        assert_eq!(e.0.len(), 2);
    }

    #[test]
    fn new_source_defaults_its_name() {
        let s = NewSource {
            key: " google-ads ".into(),
            name: None,
            channel: Channel::PaidSearch,
            source_key: None,
        }
        .clean()
        .unwrap();
        assert_eq!(s.key, "google-ads");
        assert_eq!(s.name.as_deref(), Some("google-ads"));
    }
}
