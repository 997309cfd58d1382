//! The lead record: the person, their company, BANT qualification, where they came from,
//! and the custom fields an admin defined.

use crate::custom_field::CustomFieldDef;
use crate::stage::{DisqualifyReason, Stage, UnknownValue};
use crate::validation::{ValidationErrors, clean_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::str::FromStr;
use uuid::Uuid;

/// BANT authority: the person's role in the buying decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    DecisionMaker,
    Influencer,
    EndUser,
    None,
}

/// BANT timeline: when the lead expects to buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Timeline {
    Within1Month,
    Within3Months,
    Within6Months,
    Within12Months,
    Later,
}

/// Fit grade, A (best) to F, kept apart from the engagement score.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Grade {
    A,
    B,
    C,
    D,
    F,
}

impl Grade {
    /// Every grade, best first.
    pub const ALL: [Grade; 5] = [Grade::A, Grade::B, Grade::C, Grade::D, Grade::F];

    /// The stable one-letter name.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
            Grade::F => "F",
        }
    }
}

impl FromStr for Grade {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Grade::ALL
            .into_iter()
            .find(|g| g.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownValue::new("grade", s, Grade::ALL.iter().map(|g| g.as_str())))
    }
}

/// One marketing touch: where a visit or submission came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Touch {
    /// Lead source, e.g. `google`, `linkedin`, `trade-show`.
    pub source: Option<String>,
    /// Medium, e.g. `cpc`, `email`, `organic`.
    pub medium: Option<String>,
    /// Campaign name or id.
    pub campaign: Option<String>,
    /// Referring URL.
    pub referrer: Option<String>,
    /// First page of the visit.
    pub landing_page: Option<String>,
}

impl Touch {
    fn clean(self, e: &mut ValidationErrors, prefix: &str) -> Touch {
        let f = |name: &str| format!("{prefix}.{name}");
        Touch {
            source: clean_text(e, &f("source"), self.source.as_deref(), 255),
            medium: clean_text(e, &f("medium"), self.medium.as_deref(), 255),
            campaign: clean_text(e, &f("campaign"), self.campaign.as_deref(), 255),
            referrer: clean_text(e, &f("referrer"), self.referrer.as_deref(), 2048),
            landing_page: clean_text(e, &f("landing_page"), self.landing_page.as_deref(), 2048),
        }
    }

    /// True when no part of the touch is known.
    pub fn is_empty(&self) -> bool {
        self == &Touch::default()
    }
}

/// Every field of a lead a person or an integration may write. Used as the create body,
/// and as the shape a JSON merge patch (RFC 7396) is applied to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LeadFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    /// Job title.
    pub title: Option<String>,
    pub company: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    /// Number of employees of the company.
    pub employees: Option<i32>,
    /// Company annual revenue in minor units of `currency` (cents for USD).
    pub annual_revenue: Option<i64>,
    /// ISO 4217 code for `annual_revenue` and `budget`, e.g. `USD`.
    pub currency: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: Option<String>,
    /// Free text: the inquiry itself, notes.
    pub description: Option<String>,
    /// BANT budget in minor units of `currency`.
    pub budget: Option<i64>,
    /// BANT authority.
    pub authority: Option<Authority>,
    /// BANT need.
    pub need: Option<String>,
    /// BANT timeline.
    pub timeline: Option<Timeline>,
    /// The person asked not to receive email.
    pub email_opt_out: bool,
    /// The first recorded touch (first-touch attribution).
    pub first_touch: Touch,
    /// The most recent touch (last-touch attribution).
    pub last_touch: Touch,
    /// The owning user.
    pub owner_id: Option<Uuid>,
    /// The team queue the lead belongs to.
    pub team_id: Option<Uuid>,
    /// The lead's id in another system (a Salesforce External ID, an import's record id).
    /// Unique among live leads; re-imports and captures match on it first.
    pub external_id: Option<String>,
    /// Values of custom fields, by field key.
    #[schema(value_type = Object)]
    pub custom: Map<String, Value>,
}

impl LeadFields {
    /// The JSON names of all fields, for reporting unknown ones precisely.
    pub const NAMES: [&'static str; 30] = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "mobile",
        "title",
        "company",
        "website",
        "industry",
        "employees",
        "annual_revenue",
        "currency",
        "street",
        "city",
        "state",
        "postal_code",
        "country",
        "time_zone",
        "description",
        "budget",
        "authority",
        "need",
        "timeline",
        "email_opt_out",
        "first_touch",
        "last_touch",
        "owner_id",
        "team_id",
        "external_id",
        "custom",
    ];

    /// Parses a JSON object into fields, reporting unknown names and wrong types per field.
    pub fn from_json(value: Value) -> Result<LeadFields, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let Value::Object(map) = &value else {
            errors.add("", "invalid_type", "the body must be a JSON object");
            return Err(errors);
        };
        for key in map.keys() {
            if !Self::NAMES.contains(&key.as_str()) {
                errors.add(key.clone(), "unknown_field", "is not a lead field");
            }
        }
        for touch in ["first_touch", "last_touch"] {
            if let Some(Value::Object(t)) = map.get(touch) {
                for key in t.keys() {
                    if !["source", "medium", "campaign", "referrer", "landing_page"]
                        .contains(&key.as_str())
                    {
                        errors.add(
                            format!("{touch}.{key}"),
                            "unknown_field",
                            "is not a touch field",
                        );
                    }
                }
            }
        }
        errors.clone().into_result()?;
        serde_path_to_error::deserialize::<_, LeadFields>(value).map_err(|err| {
            let path = err.path().to_string();
            let message = err.inner().to_string();
            errors.add(
                if path == "." { String::new() } else { path },
                "invalid_type",
                message,
            );
            errors
        })
    }

    /// Applies a JSON merge patch (RFC 7396): absent keys stay, `null` clears, values replace;
    /// `custom`, `first_touch` and `last_touch` merge key by key.
    pub fn merge_patch(&self, patch: &Value) -> Result<LeadFields, ValidationErrors> {
        let mut current = serde_json::to_value(self).unwrap_or(Value::Null);
        if !patch.is_object() {
            let mut e = ValidationErrors::default();
            e.add("", "invalid_type", "the patch must be a JSON object");
            return Err(e);
        }
        merge(&mut current, patch);
        // Clearing a non-optional field means its default.
        if let Value::Object(m) = &mut current {
            for key in ["email_opt_out", "custom", "first_touch", "last_touch"] {
                if m.get(key).is_none_or(Value::is_null) {
                    m.remove(key);
                }
            }
        }
        LeadFields::from_json(current)
    }

    /// Trims and checks every field against its limits and the custom field definitions.
    pub fn clean(self, defs: &[CustomFieldDef]) -> Result<LeadFields, ValidationErrors> {
        self.clean_update(defs, None)
    }

    /// Like [`LeadFields::clean`] for an update of `previous`: custom values the lead already
    /// holds for fields no longer defined are kept as they are (an admin deleting a
    /// definition must not make every such lead uneditable); new ones are refused.
    pub fn clean_update(
        self,
        defs: &[CustomFieldDef],
        previous: Option<&LeadFields>,
    ) -> Result<LeadFields, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let t = |e: &mut ValidationErrors, name: &str, v: &Option<String>, max| {
            clean_text(e, name, v.as_deref(), max)
        };
        let email = t(&mut e, "email", &self.email, 254);
        if let Some(addr) = &email
            && !email_address::EmailAddress::is_valid(addr)
        {
            e.add("email", "invalid_email", "is not a valid email address");
        }
        let currency = t(&mut e, "currency", &self.currency, 3).map(|c| c.to_ascii_uppercase());
        if let Some(c) = &currency
            && (c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_alphabetic()))
        {
            e.add(
                "currency",
                "invalid_currency",
                "must be a three-letter ISO 4217 code",
            );
        }
        if self.employees.is_some_and(|n| n < 0) {
            e.add("employees", "out_of_range", "must not be negative");
        }
        if self.annual_revenue.is_some_and(|n| n < 0) {
            e.add("annual_revenue", "out_of_range", "must not be negative");
        }
        if self.budget.is_some_and(|n| n < 0) {
            e.add("budget", "out_of_range", "must not be negative");
        }
        let time_zone = t(&mut e, "time_zone", &self.time_zone, 64);
        if let Some(tz) = &time_zone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            e.add(
                "time_zone",
                "invalid_time_zone",
                "must be an IANA time zone such as Europe/Berlin",
            );
        }
        let custom = clean_custom(&mut e, self.custom, defs, previous.map(|p| &p.custom));
        let cleaned = LeadFields {
            first_name: t(&mut e, "first_name", &self.first_name, 100),
            last_name: t(&mut e, "last_name", &self.last_name, 100),
            email,
            phone: t(&mut e, "phone", &self.phone, 40),
            mobile: t(&mut e, "mobile", &self.mobile, 40),
            title: t(&mut e, "title", &self.title, 128),
            company: t(&mut e, "company", &self.company, 255),
            website: t(&mut e, "website", &self.website, 2048),
            industry: t(&mut e, "industry", &self.industry, 100),
            employees: self.employees,
            annual_revenue: self.annual_revenue,
            currency,
            street: t(&mut e, "street", &self.street, 255),
            city: t(&mut e, "city", &self.city, 100),
            state: t(&mut e, "state", &self.state, 100),
            postal_code: t(&mut e, "postal_code", &self.postal_code, 20),
            country: t(&mut e, "country", &self.country, 100),
            time_zone,
            description: t(&mut e, "description", &self.description, 32_000),
            budget: self.budget,
            authority: self.authority,
            need: t(&mut e, "need", &self.need, 2000),
            timeline: self.timeline,
            email_opt_out: self.email_opt_out,
            first_touch: self.first_touch.clean(&mut e, "first_touch"),
            last_touch: self.last_touch.clean(&mut e, "last_touch"),
            owner_id: self.owner_id,
            team_id: self.team_id,
            external_id: t(&mut e, "external_id", &self.external_id, 255),
            custom,
        };
        if e.is_empty()
            && cleaned.email.is_none()
            && cleaned.phone.is_none()
            && cleaned.mobile.is_none()
            && cleaned.first_name.is_none()
            && cleaned.last_name.is_none()
            && cleaned.company.is_none()
            && cleaned.external_id.is_none()
        {
            e.add(
                "",
                "empty_lead",
                "a lead needs at least an email, a phone, a name, a company or an external id",
            );
        }
        e.into_result().map(|()| cleaned)
    }

    /// "First Last", or the email, or the company: the best short name for a person.
    pub fn display_name(&self) -> String {
        let name = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            return name;
        }
        self.email
            .clone()
            .or_else(|| self.company.clone())
            .or_else(|| self.external_id.as_ref().map(|x| format!("#{x}")))
            .unwrap_or_else(|| "(no name)".into())
    }
}

fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn clean_custom(
    e: &mut ValidationErrors,
    custom: Map<String, Value>,
    defs: &[CustomFieldDef],
    previous: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in custom {
        let field = format!("custom.{key}");
        if value.is_null() {
            continue;
        }
        match defs.iter().find(|d| d.key == key) {
            None if previous.and_then(|p| p.get(&key)) == Some(&value) => {
                out.insert(key, value);
            }
            None => e.add(
                field,
                "unknown_field",
                "no custom field with this key is defined",
            ),
            Some(def) => match def.check_value(&value) {
                Ok(Some(v)) => {
                    out.insert(key, v);
                }
                Ok(None) => {}
                Err(msg) => e.add(field, "invalid_value", msg),
            },
        }
    }
    out
}

/// One field's change, for the audit log and `lead.updated` events.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// Field name; custom and touch fields as `custom.key`, `first_touch.source`.
    pub field: String,
    /// The value before (`null` when empty).
    pub old: Value,
    /// The value after (`null` when empty).
    pub new: Value,
}

/// Lists what differs between two versions of a lead's fields.
pub fn diff(old: &LeadFields, new: &LeadFields) -> Vec<FieldChange> {
    let flat = |f: &LeadFields| -> Vec<(String, Value)> {
        let mut out = Vec::new();
        if let Ok(Value::Object(m)) = serde_json::to_value(f) {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("custom" | "first_touch" | "last_touch", Value::Object(inner)) => {
                        for (ik, iv) in inner {
                            out.push((format!("{k}.{ik}"), iv));
                        }
                    }
                    (_, v) => out.push((k, v)),
                }
            }
        }
        out
    };
    let a: std::collections::BTreeMap<_, _> = flat(old).into_iter().collect();
    let b: std::collections::BTreeMap<_, _> = flat(new).into_iter().collect();
    let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).cloned().collect();
    keys.into_iter()
        .filter_map(|k| {
            let o = a.get(&k).cloned().unwrap_or(Value::Null);
            let n = b.get(&k).cloned().unwrap_or(Value::Null);
            (o != n).then_some(FieldChange {
                field: k,
                old: o,
                new: n,
            })
        })
        .collect()
}

/// A known historical result of a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Won,
    Lost,
}

impl Outcome {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Won => "won",
            Outcome::Lost => "lost",
        }
    }
}

/// A stored lead: its fields plus what the system maintains.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Lead {
    pub id: Uuid,
    #[serde(flatten)]
    pub fields: LeadFields,
    pub stage: Stage,
    /// Set while the lead is disqualified.
    pub disqualify_reason: Option<DisqualifyReason>,
    /// Engagement score.
    pub score: i32,
    /// Fit grade.
    pub grade: Option<Grade>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases with every change; the lead's ETag.
    pub version: i64,
}

impl Lead {
    /// The ETag for this version of the lead (strong validator).
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_list_matches_the_struct() {
        let v = serde_json::to_value(LeadFields::default()).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        let mut names = LeadFields::NAMES.to_vec();
        names.sort();
        assert_eq!(keys, names);
    }

    #[test]
    fn unknown_and_mistyped_fields_are_reported_by_name() {
        let err = LeadFields::from_json(json!({"emial": "a@b.co", "first_touch": {"sauce": 1}}))
            .unwrap_err();
        let fields: Vec<_> = err
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("emial", "unknown_field"),
                ("first_touch.sauce", "unknown_field")
            ]
        );
        let err = LeadFields::from_json(json!({"employees": "many"})).unwrap_err();
        assert_eq!(err.0[0].field, "employees");
        assert_eq!(err.0[0].code, "invalid_type");
        let err = LeadFields::from_json(json!({"authority": "king"})).unwrap_err();
        assert_eq!(err.0[0].field, "authority");
    }

    #[test]
    fn clean_trims_checks_and_requires_something() {
        let f = LeadFields {
            email: Some("  ana@example.com ".into()),
            currency: Some("eur".into()),
            ..Default::default()
        };
        let c = f.clean(&[]).unwrap();
        assert_eq!(c.email.as_deref(), Some("ana@example.com"));
        assert_eq!(c.currency.as_deref(), Some("EUR"));

        let err = LeadFields {
            email: Some("not-an-email".into()),
            ..Default::default()
        }
        .clean(&[])
        .unwrap_err();
        assert_eq!(err.0[0].code, "invalid_email");
        let err = LeadFields {
            first_name: Some("   ".into()),
            ..Default::default()
        }
        .clean(&[])
        .unwrap_err();
        assert_eq!(err.0[0].code, "empty_lead");
        let err = LeadFields {
            last_name: Some("x".repeat(101)),
            ..Default::default()
        }
        .clean(&[])
        .unwrap_err();
        assert_eq!(
            (err.0[0].field.as_str(), err.0[0].code.as_str()),
            ("last_name", "too_long")
        );
        let err = LeadFields {
            company: Some("a\u{0}b".into()),
            ..Default::default()
        }
        .clean(&[])
        .unwrap_err();
        assert_eq!(err.0[0].code, "invalid_characters");
    }

    #[test]
    fn merge_patch_sets_clears_and_merges_nested() {
        let mut custom = Map::new();
        custom.insert("a".into(), json!(1));
        custom.insert("b".into(), json!(2));
        let base = LeadFields {
            email: Some("x@y.co".into()),
            title: Some("CTO".into()),
            custom,
            first_touch: Touch {
                source: Some("google".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let out = base
            .merge_patch(&json!({"title": null, "company": "Acme", "custom": {"a": null, "c": 3}, "first_touch": {"medium": "cpc"}}))
            .unwrap();
        assert_eq!(out.title, None);
        assert_eq!(out.company.as_deref(), Some("Acme"));
        assert_eq!(out.custom.get("a"), None);
        assert_eq!(out.custom.get("c"), Some(&json!(3)));
        assert_eq!(out.first_touch.source.as_deref(), Some("google"));
        assert_eq!(out.first_touch.medium.as_deref(), Some("cpc"));
        assert!(
            !base
                .merge_patch(&json!({"email_opt_out": null}))
                .unwrap()
                .email_opt_out
        );
        let changes = diff(&base, &out);
        let names: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "company",
                "custom.a",
                "custom.c",
                "first_touch.medium",
                "title"
            ]
        );
    }

    #[test]
    fn values_of_deleted_custom_fields_survive_edits_but_new_ones_are_refused() {
        let mut custom = Map::new();
        custom.insert("legacy".into(), json!("x"));
        let base = LeadFields {
            last_name: Some("L".into()),
            custom,
            ..Default::default()
        };
        let edited = base
            .merge_patch(&json!({"title": "CTO"}))
            .unwrap()
            .clean_update(&[], Some(&base))
            .unwrap();
        assert_eq!(edited.custom.get("legacy"), Some(&json!("x")));
        let err = base
            .merge_patch(&json!({"custom": {"legacy": "y"}}))
            .unwrap()
            .clean_update(&[], Some(&base))
            .unwrap_err();
        assert_eq!(err.0[0].field, "custom.legacy");
    }
}
