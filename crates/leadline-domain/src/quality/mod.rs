//! Inquiry filtering and data quality: normalised forms of what people typed, and the
//! verification that decides whether a lead is real and reachable.

pub mod matching;
pub mod normalize;
pub mod verify;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use verify::Policy;

/// What an admin configures for data quality (stored as one JSON document).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct QualitySettings {
    /// Region (ISO 3166 alpha-2) for phone numbers without a country code, when the lead's
    /// own country is unknown.
    pub default_region: Option<String>,
    /// Disposable mail domains beyond the bundled list (updatable without a release).
    pub disposable_domains: Vec<String>,
    /// What to do with flagged, suspect and invalid leads by default.
    pub default_policy: Policy,
    /// Policies for particular sources (by the first-touch source key).
    pub source_policies: BTreeMap<String, Policy>,
}

impl QualitySettings {
    /// Normalises the lists and checks the region.
    pub fn clean(mut self) -> Result<QualitySettings, crate::ValidationErrors> {
        let mut e = crate::ValidationErrors::default();
        self.default_region = self
            .default_region
            .map(|r| r.trim().to_ascii_uppercase())
            .filter(|r| !r.is_empty());
        if let Some(r) = &self.default_region
            && normalize::country_code(r) != Some(r.as_str())
        {
            e.add(
                "default_region",
                "invalid_region",
                "must be an ISO 3166 alpha-2 code such as DE",
            );
        }
        self.disposable_domains = self
            .disposable_domains
            .iter()
            .map(|d| d.trim().trim_start_matches('@').to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        self.disposable_domains.sort();
        self.disposable_domains.dedup();
        if self
            .disposable_domains
            .iter()
            .any(|d| !d.contains('.') || d.contains(' '))
        {
            e.add(
                "disposable_domains",
                "invalid_domain",
                "each entry must be a domain such as throwaway.example",
            );
        }
        e.into_result().map(|()| self)
    }

    /// The policy for leads from `source`.
    pub fn policy_for(&self, source: Option<&str>) -> Policy {
        source
            .and_then(|s| self.source_policies.get(s))
            .copied()
            .unwrap_or(self.default_policy)
    }
}
