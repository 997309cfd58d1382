//! Custom field definitions: typed fields an admin adds to every lead.

use crate::stage::UnknownValue;
use crate::validation::ValidationErrors;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::str::FromStr;
use uuid::Uuid;

/// The type of a custom field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldKind {
    /// Free text up to 2,000 characters.
    Text,
    /// A JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One of the field's options.
    Choice,
    /// Any subset of the field's options, as an array.
    MultiChoice,
}

impl CustomFieldKind {
    /// Every kind.
    pub const ALL: [CustomFieldKind; 6] = [
        CustomFieldKind::Text,
        CustomFieldKind::Number,
        CustomFieldKind::Boolean,
        CustomFieldKind::Date,
        CustomFieldKind::Choice,
        CustomFieldKind::MultiChoice,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomFieldKind::Text => "text",
            CustomFieldKind::Number => "number",
            CustomFieldKind::Boolean => "boolean",
            CustomFieldKind::Date => "date",
            CustomFieldKind::Choice => "choice",
            CustomFieldKind::MultiChoice => "multi_choice",
        }
    }
}

impl FromStr for CustomFieldKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CustomFieldKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                UnknownValue::new(
                    "custom field kind",
                    s,
                    CustomFieldKind::ALL.iter().map(|k| k.as_str()),
                )
            })
    }
}

/// A custom field definition.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomFieldDef {
    pub id: Uuid,
    /// Stable key used in the API (`custom.<key>`), filters and templates.
    pub key: String,
    /// Label shown to people.
    pub label: String,
    pub kind: CustomFieldKind,
    /// The allowed values of `choice` and `multi_choice` fields.
    pub options: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// The input to define a custom field.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomField {
    pub key: String,
    pub label: String,
    pub kind: CustomFieldKind,
    #[serde(default)]
    pub options: Vec<String>,
}

impl NewCustomField {
    /// Checks the key's shape, the label and the options.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        let key_ok = self.key.len() <= 63
            && self.key.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            e.add(
                "key",
                "invalid_key",
                "must start with a-z and contain only a-z, 0-9 and _ (at most 63)",
            );
        }
        let label = self.label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            e.add("label", "invalid_label", "must be 1 to 100 characters");
        }
        let needs_options = matches!(
            self.kind,
            CustomFieldKind::Choice | CustomFieldKind::MultiChoice
        );
        if needs_options && self.options.is_empty() {
            e.add(
                "options",
                "required",
                "choice fields need at least one option",
            );
        }
        if !needs_options && !self.options.is_empty() {
            e.add("options", "not_allowed", "only choice fields have options");
        }
        if self
            .options
            .iter()
            .any(|o| o.trim().is_empty() || o.chars().count() > 100)
        {
            e.add(
                "options",
                "invalid_option",
                "options must be 1 to 100 characters",
            );
        }
        let mut seen = std::collections::HashSet::new();
        if !self.options.iter().all(|o| seen.insert(o)) {
            e.add("options", "duplicate_option", "options must be distinct");
        }
        e.into_result()
    }
}

impl CustomFieldDef {
    /// Checks one value against the field's kind; `Ok(None)` means "empty, store nothing".
    pub fn check_value(&self, value: &Value) -> Result<Option<Value>, String> {
        match (self.kind, value) {
            (_, Value::Null) => Ok(None),
            (CustomFieldKind::Text, Value::String(s)) => {
                let s = s.trim();
                if s.chars().count() > 2000 {
                    Err("must be at most 2000 characters".into())
                } else if s.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(Value::String(s.to_owned())))
                }
            }
            (CustomFieldKind::Number, Value::Number(n))
                if n.as_f64().is_some_and(f64::is_finite) =>
            {
                Ok(Some(value.clone()))
            }
            (CustomFieldKind::Boolean, Value::Bool(_)) => Ok(Some(value.clone())),
            (CustomFieldKind::Date, Value::String(s)) => {
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map(|d| Some(Value::String(d.to_string())))
                    .map_err(|_| "must be a date as YYYY-MM-DD".into())
            }
            (CustomFieldKind::Choice, Value::String(s)) => {
                if self.options.iter().any(|o| o == s) {
                    Ok(Some(value.clone()))
                } else {
                    Err(format!("must be one of: {}", self.options.join(", ")))
                }
            }
            (CustomFieldKind::MultiChoice, Value::Array(items)) => {
                let mut out: Vec<String> = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(s) if self.options.iter().any(|o| o == s) => {
                            if !out.iter().any(|x| x == s) {
                                out.push(s.to_owned());
                            }
                        }
                        _ => {
                            return Err(format!(
                                "each item must be one of: {}",
                                self.options.join(", ")
                            ));
                        }
                    }
                }
                Ok((!out.is_empty()).then(|| Value::from(out)))
            }
            (kind, _) => Err(format!(
                "must be a {} value",
                kind.as_str().replace('_', "-")
            )),
        }
    }

    /// Parses a value typed by a person in a form or a filter box.
    pub fn parse_text(&self, text: &str) -> Result<Option<Value>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let value = match self.kind {
            CustomFieldKind::Number => text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .and_then(serde_json::Number::from_f64)
                .map(|n| {
                    // Keep integers integral so they compare equal to what the API stored.
                    if n.as_f64()
                        .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    {
                        Value::from(n.as_f64().unwrap_or_default() as i64)
                    } else {
                        Value::Number(n)
                    }
                })
                .ok_or("must be a number")?,
            CustomFieldKind::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => Value::Bool(true),
                "false" | "no" | "0" | "off" => Value::Bool(false),
                _ => return Err("must be yes or no".into()),
            },
            CustomFieldKind::MultiChoice => Value::from(
                text.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>(),
            ),
            _ => Value::String(text.to_owned()),
        };
        self.check_value(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(kind: CustomFieldKind, options: &[&str]) -> CustomFieldDef {
        CustomFieldDef {
            id: Uuid::nil(),
            key: "f".into(),
            label: "F".into(),
            kind,
            options: options.iter().map(|s| s.to_string()).collect(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn values_are_checked_by_kind() {
        use CustomFieldKind::*;
        assert_eq!(
            def(Number, &[]).check_value(&json!(3.5)),
            Ok(Some(json!(3.5)))
        );
        assert!(def(Number, &[]).check_value(&json!("3")).is_err());
        assert_eq!(
            def(Boolean, &[]).check_value(&json!(true)),
            Ok(Some(json!(true)))
        );
        assert_eq!(
            def(Date, &[]).check_value(&json!("2026-02-28")),
            Ok(Some(json!("2026-02-28")))
        );
        assert!(def(Date, &[]).check_value(&json!("2026-02-30")).is_err());
        assert!(def(Choice, &["a", "b"]).check_value(&json!("c")).is_err());
        assert_eq!(
            def(MultiChoice, &["a", "b"]).check_value(&json!(["b", "a", "b"])),
            Ok(Some(json!(["b", "a"])))
        );
        assert_eq!(def(Text, &[]).check_value(&json!("  ")), Ok(None));
    }

    #[test]
    fn typed_text_is_parsed() {
        use CustomFieldKind::*;
        assert_eq!(def(Number, &[]).parse_text("42"), Ok(Some(json!(42))));
        assert_eq!(def(Number, &[]).parse_text("4.5"), Ok(Some(json!(4.5))));
        assert!(def(Number, &[]).parse_text("NaN").is_err());
        assert_eq!(def(Boolean, &[]).parse_text("Yes"), Ok(Some(json!(true))));
        assert_eq!(
            def(MultiChoice, &["a", "b"]).parse_text("a, b"),
            Ok(Some(json!(["a", "b"])))
        );
    }

    #[test]
    fn definitions_are_validated() {
        let ok = NewCustomField {
            key: "segment".into(),
            label: "Segment".into(),
            kind: CustomFieldKind::Choice,
            options: vec!["SMB".into()],
        };
        assert!(ok.validate().is_ok());
        let bad = NewCustomField {
            key: "Bad Key".into(),
            label: "".into(),
            kind: CustomFieldKind::Choice,
            options: vec![],
        };
        let codes: Vec<_> = bad
            .validate()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, vec!["invalid_key", "invalid_label", "required"]);
    }
}
