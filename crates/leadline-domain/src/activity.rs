//! Activities: the typed events on a lead's timeline (page visits, emails, calls, notes…).

use crate::validation::ValidationErrors;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Largest accepted serialized size of an activity's properties.
pub const MAX_PROPERTIES_BYTES: usize = 16 * 1024;

/// An activity on a lead's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub id: Uuid,
    pub lead_id: Uuid,
    /// The activity type, e.g. `page_view`, `email_opened`, `call`, `note`.
    pub kind: String,
    /// When it happened (may be before it was recorded).
    pub occurred_at: DateTime<Utc>,
    /// Type-specific details, e.g. `{"url": "..."}`.
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
    /// Who recorded it.
    pub recorded_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The input to append an activity.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivity {
    /// Lower-case letters, digits, `_` and `.`, starting with a letter (at most 64).
    pub kind: String,
    /// Defaults to now.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
}

impl NewActivity {
    /// Checks the kind, the size of the properties and that the time is not in the future.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        let k = &self.kind;
        let ok = !k.is_empty()
            && k.len() <= 64
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if !ok {
            e.add(
                "kind",
                "invalid_kind",
                "must be 1-64 of a-z, 0-9, _ and ., starting with a letter",
            );
        }
        if serde_json::to_vec(&self.properties).map_or(0, |v| v.len()) > MAX_PROPERTIES_BYTES {
            e.add(
                "properties",
                "too_large",
                format!("must be at most {MAX_PROPERTIES_BYTES} bytes as JSON"),
            );
        }
        if self
            .occurred_at
            .is_some_and(|t| t > now + Duration::minutes(5))
        {
            e.add("occurred_at", "in_future", "must not be in the future");
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_times_are_checked() {
        let now = Utc::now();
        let a = |kind: &str| NewActivity {
            kind: kind.into(),
            occurred_at: None,
            properties: Map::new(),
        };
        assert!(a("page_view").validate(now).is_ok());
        assert!(a("webinar.attended").validate(now).is_ok());
        assert!(a("Page View").validate(now).is_err());
        assert!(a("").validate(now).is_err());
        let future = NewActivity {
            occurred_at: Some(now + Duration::days(1)),
            ..a("note")
        };
        assert_eq!(future.validate(now).unwrap_err().0[0].code, "in_future");
    }
}
