//! Inquiry filtering and data quality: normalised forms of what people typed, and the
//! verification that decides whether a lead is real and reachable.

pub mod enrich;
pub mod labelled;
pub mod matching;
pub mod normalize;
pub mod survivorship;
pub mod verify;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use verify::Policy;

/// What an admin configures for data quality (stored as one JSON document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// How a merge picks each field's value.
    pub survivorship: survivorship::Survivorship,
    /// Fill empty fields from the lead's own data (company and website from a company
    /// email domain, country from the phone prefix, time zone from country and state).
    pub enrich_from_fields: bool,
    /// An outside enrichment service (off when empty): Leadline POSTs each new lead's
    /// email, domain, name and company as JSON and fills empty fields from the JSON object
    /// it answers, keeping each value's provenance.
    pub enrichment_hook_url: Option<String>,
}

impl Default for QualitySettings {
    fn default() -> Self {
        QualitySettings {
            default_region: None,
            disposable_domains: Vec::new(),
            default_policy: Policy::default(),
            source_policies: BTreeMap::new(),
            survivorship: survivorship::Survivorship::default(),
            enrich_from_fields: true,
            enrichment_hook_url: None,
        }
    }
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
        self.enrichment_hook_url = self
            .enrichment_hook_url
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty());
        if let Some(u) = &self.enrichment_hook_url
            && !url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
        {
            e.add(
                "enrichment_hook_url",
                "invalid_url",
                "must be an http or https URL",
            );
        }
        if let survivorship::Survivorship::SourcePriority { sources } = &mut self.survivorship {
            sources.retain(|x| !x.trim().is_empty());
            for x in sources.iter_mut() {
                *x = x.trim().to_owned();
            }
            if sources.is_empty() {
                e.add(
                    "survivorship.sources",
                    "required",
                    "name at least one source in priority order",
                );
            }
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
