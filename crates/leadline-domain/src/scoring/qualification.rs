//! What sales must have confirmed before a lead becomes sales-qualified (`sql`): the BANT
//! fields an admin marks as required.

use crate::lead::LeadFields;
use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};

/// A BANT field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bant {
    Budget,
    Authority,
    Need,
    Timeline,
}

impl Bant {
    /// Every BANT field, in the acronym's order.
    pub const ALL: [Bant; 4] = [Bant::Budget, Bant::Authority, Bant::Need, Bant::Timeline];

    /// The lead field's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Bant::Budget => "budget",
            Bant::Authority => "authority",
            Bant::Need => "need",
            Bant::Timeline => "timeline",
        }
    }

    fn is_set(self, f: &LeadFields) -> bool {
        match self {
            Bant::Budget => f.budget.is_some(),
            Bant::Authority => f.authority.is_some(),
            Bant::Need => f.need.as_deref().is_some_and(|n| !n.trim().is_empty()),
            Bant::Timeline => f.timeline.is_some(),
        }
    }
}

/// The admin's qualification settings.
/// Nothing is required until an admin says so.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct QualificationSettings {
    /// BANT fields a lead must have before it may move to `sql`.
    pub sql_requires: Vec<Bant>,
    /// Days without activity after which an open lead is stale, per stage.
    pub stale_after: crate::aging::StaleAfter,
}

impl QualificationSettings {
    /// Refuses a move to `sql` while a required BANT field is empty, naming each.
    pub fn check_sql(&self, f: &LeadFields) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        for b in &self.sql_requires {
            if !b.is_set(f) {
                e.add(
                    b.as_str(),
                    "required_for_sql",
                    format!(
                        "confirm the {} before the lead becomes sales-qualified",
                        b.as_str()
                    ),
                );
            }
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_bant_fields_are_named() {
        let s = QualificationSettings {
            sql_requires: Bant::ALL.to_vec(),
            ..QualificationSettings::default()
        };
        let f = LeadFields {
            budget: Some(500_000),
            need: Some("  ".into()),
            ..LeadFields::default()
        };
        let e = s.check_sql(&f).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["authority", "need", "timeline"]);
        assert!(QualificationSettings::default().check_sql(&f).is_ok());
    }
}
