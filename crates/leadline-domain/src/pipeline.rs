//! Conversion and the opportunity pipeline: a converted lead becomes a contact at an account
//! and, optionally, an opportunity that moves through configurable stages (each with a win
//! probability) until it is won or lost, with a reason.

use crate::ValidationErrors;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Whether a pipeline stage is still open, or closes the opportunity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Open,
    Won,
    Lost,
}

/// One stage of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineStage {
    /// Stable key (`a-z`, `0-9`, `_`), e.g. `proposal`.
    pub key: String,
    pub label: String,
    /// Win probability in percent (0–100); weighted pipeline = amount × probability.
    pub probability: u8,
    #[serde(default = "open")]
    pub kind: StageKind,
}

fn open() -> StageKind {
    StageKind::Open
}

/// The pipeline: stages in board order, and the reasons offered when closing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub stages: Vec<PipelineStage>,
    /// Reasons a deal is won (one is required to close as won).
    pub won_reasons: Vec<String>,
    /// Reasons a deal is lost (one is required to close as lost).
    pub lost_reasons: Vec<String>,
}

impl Default for Pipeline {
    /// A common B2B pipeline.
    fn default() -> Self {
        let s = |key: &str, label: &str, probability, kind| PipelineStage {
            key: key.into(),
            label: label.into(),
            probability,
            kind,
        };
        Pipeline {
            stages: vec![
                s("qualification", "Qualification", 10, StageKind::Open),
                s("discovery", "Discovery", 20, StageKind::Open),
                s("proposal", "Proposal", 50, StageKind::Open),
                s("negotiation", "Negotiation", 75, StageKind::Open),
                s("won", "Closed won", 100, StageKind::Won),
                s("lost", "Closed lost", 0, StageKind::Lost),
            ],
            won_reasons: ["price", "product fit", "relationship", "timing", "other"]
                .map(String::from)
                .to_vec(),
            lost_reasons: [
                "price",
                "competitor",
                "no decision",
                "timing",
                "missing features",
                "other",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Pipeline {
    /// A stage by key.
    pub fn stage(&self, key: &str) -> Option<&PipelineStage> {
        self.stages.iter().find(|s| s.key == key)
    }

    /// The first open stage (where new opportunities start by default).
    pub fn first_open(&self) -> Option<&PipelineStage> {
        self.stages.iter().find(|s| s.kind == StageKind::Open)
    }

    /// Checks the pipeline: unique keys, probabilities, one won and one lost stage at least,
    /// an open stage to start in, reasons to close with.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        if self.stages.is_empty() || self.stages.len() > 30 {
            e.add("stages", "out_of_range", "1 to 30 stages");
        }
        for (i, s) in self.stages.iter().enumerate() {
            let ok = !s.key.is_empty()
                && s.key.len() <= 40
                && s.key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                e.add(
                    format!("stages[{i}].key"),
                    "invalid_key",
                    "1-40 of a-z, 0-9 and _",
                );
            } else if self.stages[..i].iter().any(|o| o.key == s.key) {
                e.add(
                    format!("stages[{i}].key"),
                    "duplicate",
                    "each stage needs its own key",
                );
            }
            if s.label.trim().is_empty() || s.label.chars().count() > 60 {
                e.add(
                    format!("stages[{i}].label"),
                    "invalid",
                    "a label of 1 to 60 characters",
                );
            }
            if s.probability > 100 {
                e.add(
                    format!("stages[{i}].probability"),
                    "out_of_range",
                    "0 to 100 percent",
                );
            }
        }
        for (kind, name) in [
            (StageKind::Open, "open"),
            (StageKind::Won, "won"),
            (StageKind::Lost, "lost"),
        ] {
            if !self.stages.iter().any(|s| s.kind == kind) {
                e.add(
                    "stages",
                    "missing_kind",
                    format!("the pipeline needs a {name} stage"),
                );
            }
        }
        for (field, list) in [
            ("won_reasons", &self.won_reasons),
            ("lost_reasons", &self.lost_reasons),
        ] {
            if list.is_empty()
                || list
                    .iter()
                    .any(|r| r.trim().is_empty() || r.chars().count() > 60)
            {
                e.add(
                    field,
                    "invalid",
                    "at least one reason, each 1 to 60 characters",
                );
            }
        }
        e.into_result()
    }

    /// Checks a move of an opportunity to `to` with `reason`: the stage exists, a reason
    /// from the list closes it (won or lost), and open stages take none.
    pub fn check_move(
        &self,
        to: &str,
        reason: Option<&str>,
    ) -> Result<&PipelineStage, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let Some(stage) = self.stage(to) else {
            e.add(
                "stage",
                "unknown_stage",
                format!(
                    "one of: {}",
                    self.stages
                        .iter()
                        .map(|s| s.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            return Err(e);
        };
        let reasons = match stage.kind {
            StageKind::Won => Some(&self.won_reasons),
            StageKind::Lost => Some(&self.lost_reasons),
            StageKind::Open => None,
        };
        match (reasons, reason) {
            (Some(list), Some(r)) if list.iter().any(|x| x == r) => Ok(stage),
            (Some(list), _) => {
                e.add(
                    "reason",
                    "reason_required",
                    format!("closing needs one of: {}", list.join(", ")),
                );
                Err(e)
            }
            (None, Some(_)) => {
                e.add(
                    "reason",
                    "reason_not_allowed",
                    "a reason is only given when closing",
                );
                Err(e)
            }
            (None, None) => Ok(stage),
        }
    }
}

/// An opportunity: a deal being worked.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Opportunity {
    pub id: Uuid,
    pub name: String,
    pub account_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// The lead it was converted from (its source, attribution and history).
    pub lead_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
    /// In minor units of `currency`.
    pub amount: Option<i64>,
    pub currency: Option<String>,
    #[schema(value_type = Option<String>, example = "2027-03-31")]
    pub close_date: Option<NaiveDate>,
    /// A pipeline stage key.
    pub stage: String,
    /// Win probability in percent, from the stage.
    pub probability: u8,
    /// Why it was won or lost.
    pub reason: Option<String>,
    /// The lead's first-touch source and campaign, carried over for source ROI.
    pub source: Option<String>,
    pub campaign: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// The opportunity part of a conversion.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOpportunity {
    /// Defaults to "<company> – <lead name>".
    #[serde(default)]
    pub name: Option<String>,
    /// In major units as people write it ("12,500.00"), or a JSON number.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "12500.00")]
    pub amount: Option<serde_json::Value>,
    /// ISO 4217; defaults to the lead's currency, else the account's … else EUR.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2027-03-31")]
    pub close_date: Option<NaiveDate>,
    /// A pipeline stage key; defaults to the first open stage.
    #[serde(default)]
    pub stage: Option<String>,
}

/// Converting a lead.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertInput {
    /// An existing account to attach to; without it, the account matched by the lead's
    /// company domain, else a new account named after the lead's company.
    #[serde(default)]
    pub account_id: Option<Uuid>,
    /// Create an opportunity too.
    #[serde(default)]
    pub opportunity: Option<NewOpportunity>,
}

/// Parses an amount given as a JSON number or text in major units.
pub fn parse_amount(v: &serde_json::Value, currency: Option<&str>) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => crate::money::parse_major(&n.to_string(), currency),
        serde_json::Value::String(s) => crate::money::parse_major(s, currency),
        _ => None,
    }
    .filter(|a| *a >= 0)
}

/// A contact: the person a converted lead became.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub account_id: Option<Uuid>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_pipeline_is_valid_and_closing_needs_a_listed_reason() {
        let p = Pipeline::default();
        assert!(p.validate().is_ok());
        assert_eq!(p.first_open().unwrap().key, "qualification");
        assert!(p.check_move("proposal", None).is_ok());
        assert!(p.check_move("proposal", Some("price")).is_err());
        assert!(p.check_move("lost", None).is_err());
        assert!(p.check_move("lost", Some("weather")).is_err());
        assert_eq!(
            p.check_move("lost", Some("competitor")).unwrap().kind,
            StageKind::Lost
        );
        let e = p.check_move("nowhere", None).unwrap_err();
        assert!(e.to_string().contains("qualification"), "{e}");
    }

    #[test]
    fn broken_pipelines_name_the_field() {
        let mut p = Pipeline::default();
        p.stages[1].key = "qualification".into();
        p.stages[2].probability = 120;
        p.stages.retain(|s| s.kind != StageKind::Won);
        p.lost_reasons.clear();
        let e = p.validate().unwrap_err();
        let fields: Vec<_> =
            e.0.iter()
                .map(|f| (f.field.as_str(), f.code.as_str()))
                .collect();
        assert!(
            fields.contains(&("stages[1].key", "duplicate")),
            "{fields:?}"
        );
        assert!(fields.contains(&("stages[2].probability", "out_of_range")));
        assert!(fields.contains(&("stages", "missing_kind")));
        assert!(fields.contains(&("lost_reasons", "invalid")));
    }

    #[test]
    fn amounts_come_as_numbers_or_text() {
        assert_eq!(
            parse_amount(&serde_json::json!(12500), Some("EUR")),
            Some(1_250_000)
        );
        assert_eq!(
            parse_amount(&serde_json::json!("12,500.50"), Some("USD")),
            Some(1_250_050)
        );
        assert_eq!(parse_amount(&serde_json::json!("-5"), Some("USD")), None);
        assert_eq!(parse_amount(&serde_json::json!(true), Some("USD")), None);
    }
}
