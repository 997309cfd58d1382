//! Hosted forms: what a form asks, how a submission maps onto a lead, and the checks a
//! public submission must pass (required fields, consent).

use super::import::{ColumnMapping, ImportOptions, RowMapper, target_names};
use crate::custom_field::{CustomFieldDef, CustomFieldKind};
use crate::lead::LeadFields;
use crate::validation::ValidationErrors;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// UTM parameters a form carries as hidden fields (filled from the page's address).
pub const UTM_FIELDS: [&str; 3] = ["utm_source", "utm_medium", "utm_campaign"];

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// What it fills: a lead field (`email`, `company`, `full_name`…) or `custom.<key>`.
    pub target: String,
    /// The label people see (defaults to a readable form of the target).
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub required: bool,
    /// A hidden field sends `value` without showing it (e.g. a product line).
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub value: Option<String>,
}

/// What a form asks and what happens after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FormDefinition {
    pub fields: Vec<FormField>,
    /// The consent text shown next to a checkbox; stored with each submission.
    pub consent_text: Option<String>,
    /// A submission without the box ticked is refused.
    pub consent_required: bool,
    pub submit_label: String,
    /// Shown after a submission when no redirect is set.
    pub thank_you_message: String,
    /// Where to send the person after a submission (http or https).
    pub redirect_url: Option<String>,
    /// The source of submissions that arrive without `utm_source`.
    pub source: Option<String>,
}

impl Default for FormDefinition {
    fn default() -> Self {
        FormDefinition {
            fields: vec![
                FormField {
                    target: "first_name".into(),
                    label: "First name".into(),
                    required: false,
                    hidden: false,
                    value: None,
                },
                FormField {
                    target: "last_name".into(),
                    label: "Last name".into(),
                    required: true,
                    hidden: false,
                    value: None,
                },
                FormField {
                    target: "email".into(),
                    label: "Email".into(),
                    required: true,
                    hidden: false,
                    value: None,
                },
                FormField {
                    target: "company".into(),
                    label: "Company".into(),
                    required: false,
                    hidden: false,
                    value: None,
                },
            ],
            consent_text: None,
            consent_required: false,
            submit_label: "Send".into(),
            thank_you_message: "Thank you! We will be in touch soon.".into(),
            redirect_url: None,
            source: None,
        }
    }
}

/// A hosted form.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Form {
    pub id: Uuid,
    /// The public address is `/f/{slug}`.
    pub slug: String,
    pub name: String,
    pub definition: FormDefinition,
    /// An inactive form answers 404 and takes no submissions.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The input to create or change a form.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormInput {
    /// Lower-case letters, digits and `-` (at most 64).
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub definition: FormDefinition,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A readable label for a target: `postal_code` → `Postal code`.
pub fn default_label(target: &str, defs: &[CustomFieldDef]) -> String {
    if let Some(key) = target.strip_prefix("custom.")
        && let Some(d) = defs.iter().find(|d| d.key == key)
    {
        return d.label.clone();
    }
    let t = target
        .strip_prefix("custom.")
        .unwrap_or(target)
        .replace('_', " ");
    let mut c = t.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// How a field is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Text,
    Email,
    Tel,
    Url,
    Number,
    Date,
    Area,
    Check,
    Select,
}

/// The input a target needs.
pub fn input_kind(target: &str, defs: &[CustomFieldDef]) -> InputKind {
    if let Some(key) = target.strip_prefix("custom.") {
        return match defs.iter().find(|d| d.key == key).map(|d| d.kind) {
            Some(CustomFieldKind::Number) => InputKind::Number,
            Some(CustomFieldKind::Boolean) => InputKind::Check,
            Some(CustomFieldKind::Date) => InputKind::Date,
            Some(CustomFieldKind::Choice) => InputKind::Select,
            _ => InputKind::Text,
        };
    }
    match target {
        "email" => InputKind::Email,
        "phone" | "mobile" => InputKind::Tel,
        "website" => InputKind::Url,
        "employees" => InputKind::Number,
        "description" | "need" => InputKind::Area,
        "email_opt_out" => InputKind::Check,
        _ => InputKind::Text,
    }
}

impl FormInput {
    /// Checks the slug, name and definition against the custom fields that exist.
    pub fn clean(mut self, defs: &[CustomFieldDef]) -> Result<FormInput, ValidationErrors> {
        let mut e = ValidationErrors::default();
        self.slug = self.slug.trim().to_ascii_lowercase();
        self.name = self.name.trim().to_owned();
        let slug_ok = !self.slug.is_empty()
            && self.slug.len() <= 64
            && self
                .slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !slug_ok {
            e.add("slug", "invalid_slug", "use 1-64 of a-z, 0-9 and -");
        }
        if self.name.is_empty() || self.name.chars().count() > 100 {
            e.add("name", "invalid_name", "must be 1 to 100 characters");
        }
        let d = &mut self.definition;
        if d.fields.is_empty() {
            e.add(
                "definition.fields",
                "empty",
                "a form needs at least one field",
            );
        }
        if d.fields.len() > 50 {
            e.add(
                "definition.fields",
                "too_many",
                "a form has at most 50 fields",
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, f) in d.fields.iter_mut().enumerate() {
            f.target = f.target.trim().to_owned();
            f.label = f.label.trim().to_owned();
            let known = target_names().any(|t| t == f.target && !matches!(t, "outcome" | "ignore"))
                || f.target
                    .strip_prefix("custom.")
                    .is_some_and(|k| defs.iter().any(|d| d.key == k));
            if !known {
                e.add(
                    format!("definition.fields[{i}].target"),
                    "unknown_target",
                    "is not a lead field or a defined custom field",
                );
            }
            if !seen.insert(f.target.clone()) {
                e.add(
                    format!("definition.fields[{i}].target"),
                    "duplicate",
                    "each field may appear once",
                );
            }
            if f.label.is_empty() {
                f.label = default_label(&f.target, defs);
            }
            if f.label.chars().count() > 200 {
                e.add(
                    format!("definition.fields[{i}].label"),
                    "too_long",
                    "at most 200 characters",
                );
            }
            if f.hidden && f.value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                e.add(
                    format!("definition.fields[{i}].value"),
                    "required",
                    "a hidden field needs a value",
                );
            }
        }
        if d.consent_required
            && d.consent_text
                .as_deref()
                .is_none_or(|t| t.trim().is_empty())
        {
            e.add(
                "definition.consent_text",
                "required",
                "required consent needs its text",
            );
        }
        if d.consent_text
            .as_deref()
            .is_some_and(|t| t.chars().count() > 2000)
        {
            e.add(
                "definition.consent_text",
                "too_long",
                "at most 2000 characters",
            );
        }
        if let Some(u) = d
            .redirect_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            let ok = url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https"));
            if !ok {
                e.add(
                    "definition.redirect_url",
                    "invalid_url",
                    "must be an http(s) address",
                );
            }
            d.redirect_url = Some(u.to_owned());
        } else {
            d.redirect_url = None;
        }
        if d.submit_label.trim().is_empty() {
            d.submit_label = "Send".into();
        }
        if d.thank_you_message.trim().is_empty() {
            d.thank_you_message = FormDefinition::default().thank_you_message;
        }
        e.into_result().map(|()| self)
    }
}

/// A form submission, mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct FormSubmission {
    pub fields: LeadFields,
    /// `Some(true)` when the consent box was ticked, `Some(false)` when shown and not
    /// ticked, `None` when the form asks no consent.
    pub consent: Option<bool>,
}

/// Maps a submission (`pairs` as posted) onto lead fields: required fields present, the
/// consent box ticked when required, values valid. Errors name the form's fields.
pub fn map_submission(
    def: &FormDefinition,
    pairs: &[(String, String)],
    defs: &[CustomFieldDef],
) -> Result<FormSubmission, ValidationErrors> {
    let get = |name: &str| {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    };
    let mut e = ValidationErrors::default();
    let mut headers = Vec::new();
    let mut values = Vec::new();
    let mut mapping = Vec::new();
    for f in &def.fields {
        let v = if f.hidden {
            f.value.clone()
        } else {
            get(&f.target).map(str::to_owned)
        };
        if f.required && v.is_none() {
            e.add(&f.target, "required", format!("{} is required", f.label));
        }
        headers.push(f.target.clone());
        values.push(v.unwrap_or_default());
        mapping.push(ColumnMapping {
            column: f.target.clone(),
            target: f.target.clone(),
        });
    }
    for (utm, target) in UTM_FIELDS.iter().zip(["source", "medium", "campaign"]) {
        if let Some(v) = get(utm) {
            headers.push((*utm).into());
            values.push(v.chars().take(255).collect());
            mapping.push(ColumnMapping {
                column: (*utm).into(),
                target: target.into(),
            });
        }
    }
    let consent = def.consent_text.as_ref().map(|_| get("consent").is_some());
    if def.consent_required && consent != Some(true) {
        e.add(
            "consent",
            "required",
            "please give your consent to send the form",
        );
    }
    e.clone().into_result()?;
    let options = ImportOptions {
        mapping,
        source: def.source.clone(),
        empty_values: Vec::new(),
        ..ImportOptions::default()
    };
    let mapper = RowMapper::new(&headers, &options, defs)?;
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    match mapper.row(&refs) {
        Ok(row) => Ok(FormSubmission {
            fields: row.fields,
            consent,
        }),
        Err(errs) => {
            for fe in errs {
                e.add(fe.field, &fe.code, fe.message);
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn def() -> FormDefinition {
        let mut d = FormDefinition::default();
        d.fields.push(FormField {
            target: "employees".into(),
            label: "Team size".into(),
            required: false,
            hidden: false,
            value: None,
        });
        d.fields.push(FormField {
            target: "industry".into(),
            label: String::new(),
            required: false,
            hidden: true,
            value: Some("Logistics".into()),
        });
        d.consent_text = Some("You may email me about products.".into());
        d.consent_required = true;
        d.source = Some("website".into());
        d
    }

    #[test]
    fn a_good_submission_maps_with_utm_and_hidden_values() {
        let s = map_submission(
            &def(),
            &pairs(&[
                ("last_name", "Lima"),
                ("email", "ana@acme.example"),
                ("employees", "40"),
                ("industry", "ignored: hidden fields come from the form"),
                ("utm_source", "linkedin"),
                ("utm_campaign", "spring"),
                ("consent", "on"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(s.fields.employees, Some(40));
        assert_eq!(s.fields.industry.as_deref(), Some("Logistics"));
        assert_eq!(s.fields.first_touch.source.as_deref(), Some("linkedin"));
        assert_eq!(s.fields.first_touch.campaign.as_deref(), Some("spring"));
        assert_eq!(s.consent, Some(true));
        let no_utm = map_submission(
            &def(),
            &pairs(&[
                ("last_name", "L"),
                ("email", "l@x.example"),
                ("consent", "1"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(no_utm.fields.first_touch.source.as_deref(), Some("website"));
    }

    #[test]
    fn missing_required_fields_and_consent_are_named() {
        let e = map_submission(&def(), &pairs(&[("email", "x@y.example")]), &[]).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["last_name", "consent"]);
        let e = map_submission(
            &def(),
            &pairs(&[
                ("last_name", "L"),
                ("email", "bad"),
                ("employees", "many"),
                ("consent", "on"),
            ]),
            &[],
        )
        .unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            ["employees"],
            "value errors first, then the lead's own checks"
        );
    }

    #[test]
    fn definitions_are_checked() {
        let input = FormInput {
            slug: "Contact Us".into(),
            name: " ".into(),
            definition: FormDefinition {
                fields: vec![
                    FormField {
                        target: "emial".into(),
                        label: String::new(),
                        required: true,
                        hidden: false,
                        value: None,
                    },
                    FormField {
                        target: "city".into(),
                        label: String::new(),
                        required: false,
                        hidden: true,
                        value: None,
                    },
                ],
                consent_required: true,
                redirect_url: Some("javascript:alert(1)".into()),
                ..FormDefinition::default()
            },
            active: true,
        };
        let e = input.clean(&[]).unwrap_err();
        assert_eq!(e.0.len(), 6, "{e}");
        let ok = FormInput {
            slug: "contact".into(),
            name: "Contact".into(),
            definition: FormDefinition::default(),
            active: true,
        }
        .clean(&[])
        .unwrap();
        assert_eq!(ok.definition.fields[0].label, "First name");
        assert_eq!(default_label("postal_code", &[]), "Postal code");
    }
}
