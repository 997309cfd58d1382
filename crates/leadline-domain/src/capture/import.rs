//! CSV import: which lead field each column fills (suggested from the headers Salesforce,
//! HubSpot and Mautic exports use), placeholder values, the historical outcome column, and
//! turning one row into lead fields with every problem it has.

use crate::custom_field::{CustomFieldDef, CustomFieldKind};
use crate::lead::{LeadFields, Outcome};
use crate::money;
use crate::validation::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most rows one import accepts.
pub const MAX_ROWS: usize = 2_000_000;

/// What to do with a row whose lead exists already (same external id or email).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// Leave the existing lead alone (the default).
    #[default]
    Skip,
    /// Fill the existing lead's empty fields from the row and move its last touch.
    Update,
    /// Make a new lead anyway (an identical row imported before is still skipped).
    Create,
}

/// What to do with columns that match no lead field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownColumns {
    /// Keep their values on the lead's `imported` timeline entry.
    #[default]
    Keep,
    /// Create a custom field for each (kind inferred from the values) and fill it.
    Auto,
}

/// One column → one target. Targets: a lead field name (`email`, `company`…),
/// `full_name` (split into first and last), `source`, `medium`, `campaign`, `referrer`,
/// `landing_page` (both touches), `custom.<key>`, `outcome`, or `ignore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ColumnMapping {
    pub column: String,
    pub target: String,
}

/// How to import a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ImportOptions {
    /// Column mapping; columns not listed use the suggestion from their header.
    pub mapping: Vec<ColumnMapping>,
    pub unknown_columns: UnknownColumns,
    /// A column holding the known result of historical leads (`1`/`yes`/`won`/`converted`
    /// → won, `0`/`no`/`lost` → lost).
    pub outcome_column: Option<String>,
    pub duplicates: DuplicatePolicy,
    /// The source of rows that name none (an event, a trade show, a bought list).
    pub source: Option<String>,
    /// Values that mean "nothing chosen" and are read as empty (case-insensitive).
    pub empty_values: Vec<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            mapping: Vec::new(),
            unknown_columns: UnknownColumns::Keep,
            outcome_column: None,
            duplicates: DuplicatePolicy::Skip,
            source: None,
            empty_values: vec!["Select".into()],
        }
    }
}

/// Where an import job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Uploaded in the UI; the mapping is being reviewed and nothing runs yet.
    Draft,
    /// Created, not started (or waiting to resume after a restart).
    Pending,
    Running,
    /// Every row was handled (created, updated, skipped or reported as failed).
    Done,
    /// Stopped by an error that is not a row's fault; can be resumed.
    Failed,
}

impl ImportStatus {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Draft => "draft",
            ImportStatus::Pending => "pending",
            ImportStatus::Running => "running",
            ImportStatus::Done => "done",
            ImportStatus::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<ImportStatus> {
        [
            ImportStatus::Draft,
            ImportStatus::Pending,
            ImportStatus::Running,
            ImportStatus::Done,
            ImportStatus::Failed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A CSV import job and its progress.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: uuid::Uuid,
    pub file_name: String,
    /// SHA-256 of the file: the CLI resumes an unfinished import of the same file.
    pub file_sha256: String,
    pub options: ImportOptions,
    pub status: ImportStatus,
    /// Data rows in the file (the header not counted).
    pub total_rows: i64,
    /// Rows handled so far; a resumed import continues here.
    pub processed_rows: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A problem with one cell or row of an import.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportRowError {
    /// The data row, from 1 (the header is row 0).
    pub row: i64,
    /// The column (empty when the whole row is at fault).
    pub column: String,
    pub code: String,
    pub message: String,
    /// The row as it was in the file.
    pub raw: String,
}

/// Targets that are plain text lead fields.
const TEXT_TARGETS: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "title",
    "company",
    "website",
    "industry",
    "currency",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
    "time_zone",
    "description",
    "need",
    "external_id",
];

/// Other targets that are not custom fields.
const OTHER_TARGETS: &[&str] = &[
    "full_name",
    "employees",
    "annual_revenue",
    "budget",
    "email_opt_out",
    "source",
    "medium",
    "campaign",
    "referrer",
    "landing_page",
    "outcome",
    "ignore",
];

/// Header spellings of the common CRM and marketing exports, normalised (lower-case
/// letters and digits only), with the target each means.
const HEADER_ALIASES: &[(&str, &str)] = &[
    // Leadline's own export and plain names.
    ("firstname", "first_name"),
    ("givenname", "first_name"),
    ("lastname", "last_name"),
    ("surname", "last_name"),
    ("familyname", "last_name"),
    ("name", "full_name"),
    ("fullname", "full_name"),
    ("contactname", "full_name"),
    ("email", "email"),
    ("emailaddress", "email"),
    ("email1", "email"),
    ("phone", "phone"),
    ("phonenumber", "phone"),
    ("telephone", "phone"),
    ("businessphone", "phone"),
    ("mobile", "mobile"),
    ("mobilephone", "mobile"),
    ("mobilephonenumber", "mobile"),
    ("cellphone", "mobile"),
    ("title", "title"),
    ("jobtitle", "title"),
    ("position", "title"),
    ("company", "company"),
    ("companyname", "company"),
    ("organization", "company"),
    ("organisation", "company"),
    ("account", "company"),
    ("accountname", "company"),
    ("website", "website"),
    ("websiteurl", "website"),
    ("url", "website"),
    ("industry", "industry"),
    ("employees", "employees"),
    ("numberofemployees", "employees"),
    ("noofemployees", "employees"),
    ("companysize", "employees"),
    ("annualrevenue", "annual_revenue"),
    ("revenue", "annual_revenue"),
    ("currency", "currency"),
    ("currencyisocode", "currency"),
    ("street", "street"),
    ("streetaddress", "street"),
    ("address", "street"),
    ("address1", "street"),
    ("city", "city"),
    ("state", "state"),
    ("stateprovince", "state"),
    ("stateregion", "state"),
    ("region", "state"),
    ("zip", "postal_code"),
    ("zipcode", "postal_code"),
    ("postalcode", "postal_code"),
    ("zippostalcode", "postal_code"),
    ("postcode", "postal_code"),
    ("country", "country"),
    ("countryregion", "country"),
    ("timezone", "time_zone"),
    ("description", "description"),
    ("notes", "description"),
    ("message", "description"),
    ("emailoptout", "email_opt_out"),
    ("donotemail", "email_opt_out"),
    ("unsubscribedfromallemail", "email_opt_out"),
    ("unsubscribed", "email_opt_out"),
    ("leadsource", "source"),
    ("source", "source"),
    ("originalsource", "source"),
    ("firstsource", "source"),
    ("utmsource", "source"),
    ("medium", "medium"),
    ("utmmedium", "medium"),
    ("campaign", "campaign"),
    ("campaignid", "campaign"),
    ("utmcampaign", "campaign"),
    ("referrer", "referrer"),
    ("landingpage", "landing_page"),
    ("externalid", "external_id"),
    ("leadid", "external_id"),
    ("recordid", "external_id"),
    ("prospectid", "external_id"),
    ("contactid", "external_id"),
    ("id", "external_id"),
];

fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The target a header most likely means, if it is a known one.
pub fn suggest_target(header: &str) -> Option<&'static str> {
    let n = normalise(header);
    HEADER_ALIASES
        .iter()
        .find(|(alias, _)| *alias == n)
        .map(|(_, t)| *t)
}

/// A custom field key for a header: `What is your current occupation` →
/// `what_is_your_current_occupation` (at most 63 characters, starting with a letter).
pub fn custom_key(header: &str) -> String {
    let mut key = String::new();
    for c in header.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    let mut key = key.trim_end_matches('_').to_owned();
    if !key.starts_with(|c: char| c.is_ascii_lowercase()) {
        key.insert_str(0, "f_");
    }
    key.truncate(63);
    key.trim_end_matches('_').to_owned()
}

/// The kind of custom field that holds every value seen: numbers, yes/no, or text.
pub fn infer_kind<'a>(values: impl Iterator<Item = &'a str>) -> CustomFieldKind {
    let (mut numbers, mut booleans, mut any) = (true, true, false);
    for v in values.map(str::trim).filter(|v| !v.is_empty()) {
        any = true;
        numbers &= v.parse::<f64>().is_ok_and(f64::is_finite);
        booleans &= matches!(
            v.to_ascii_lowercase().as_str(),
            "yes" | "no" | "true" | "false"
        );
        if !numbers && !booleans {
            break;
        }
    }
    match (any, numbers, booleans) {
        (true, true, _) => CustomFieldKind::Number,
        (true, _, true) => CustomFieldKind::Boolean,
        _ => CustomFieldKind::Text,
    }
}

fn parse_outcome(v: &str) -> Option<Outcome> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "won" | "converted" | "closed won" => Some(Outcome::Won),
        "0" | "no" | "false" | "lost" | "closed lost" => Some(Outcome::Lost),
        _ => None,
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "on" | "x" => Some(true),
        "0" | "no" | "n" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// One column's resolved target.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Text(&'static str),
    FullName,
    Employees,
    Money(&'static str),
    OptOut,
    Touch(&'static str),
    Custom(usize),
    Outcome,
    Unknown(String),
    Ignore,
}

/// A row turned into lead fields.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedRow {
    /// Cleaned and validated.
    pub fields: LeadFields,
    pub outcome: Option<Outcome>,
    /// Values of columns that match no field (with [`UnknownColumns::Keep`]).
    pub unmapped: Map<String, Value>,
}

/// Maps the rows of one file, built once from its headers.
#[derive(Debug, Clone)]
pub struct RowMapper {
    slots: Vec<Slot>,
    headers: Vec<String>,
    defs: Vec<CustomFieldDef>,
    empty_values: Vec<String>,
    source: Option<String>,
}

/// The mapping an import would use for `headers`: the given one where a column is listed,
/// else the suggestion; unknown columns become `custom.<key>` (with
/// [`UnknownColumns::Auto`]) or stay unmapped (target empty).
pub fn resolve_mapping(headers: &[String], options: &ImportOptions) -> Vec<ColumnMapping> {
    headers
        .iter()
        .map(|h| {
            let given = options.mapping.iter().find(|m| m.column == *h);
            let target = match given {
                Some(m) => m.target.clone(),
                None if options.outcome_column.as_deref() == Some(h.as_str()) => "outcome".into(),
                None => match suggest_target(h) {
                    Some(t) => t.to_owned(),
                    None if options.unknown_columns == UnknownColumns::Auto => {
                        format!("custom.{}", custom_key(h))
                    }
                    None => String::new(),
                },
            };
            ColumnMapping {
                column: h.clone(),
                target,
            }
        })
        .collect()
}

impl RowMapper {
    /// Resolves the mapping against the file's headers and the custom field definitions
    /// (which must already include any created for [`UnknownColumns::Auto`]).
    pub fn new(
        headers: &[String],
        options: &ImportOptions,
        defs: &[CustomFieldDef],
    ) -> Result<RowMapper, ValidationErrors> {
        let mut e = ValidationErrors::default();
        for m in &options.mapping {
            if !headers.contains(&m.column) {
                e.add(
                    format!("mapping.{}", m.column),
                    "unknown_column",
                    "the file has no such column",
                );
            }
        }
        if let Some(c) = &options.outcome_column
            && !headers.contains(c)
        {
            e.add(
                "outcome_column",
                "unknown_column",
                "the file has no such column",
            );
        }
        let mut seen_dupe_headers = std::collections::HashSet::new();
        for h in headers {
            if !seen_dupe_headers.insert(h) {
                e.add(
                    format!("column.{h}"),
                    "duplicate_column",
                    "two columns have this header",
                );
            }
        }
        let mapping = resolve_mapping(headers, options);
        let mut slots = Vec::with_capacity(headers.len());
        for m in &mapping {
            let t = m.target.as_str();
            let slot = if t.is_empty() {
                Slot::Unknown(m.column.clone())
            } else if let Some(name) = TEXT_TARGETS.iter().find(|n| **n == t) {
                Slot::Text(name)
            } else if let Some(key) = t.strip_prefix("custom.") {
                match defs.iter().position(|d| d.key == key) {
                    Some(i) => Slot::Custom(i),
                    None => {
                        e.add(
                            format!("mapping.{}", m.column),
                            "unknown_custom_field",
                            format!("no custom field with key '{key}'"),
                        );
                        Slot::Ignore
                    }
                }
            } else {
                match t {
                    "full_name" => Slot::FullName,
                    "employees" => Slot::Employees,
                    "annual_revenue" => Slot::Money("annual_revenue"),
                    "budget" => Slot::Money("budget"),
                    "email_opt_out" => Slot::OptOut,
                    "source" => Slot::Touch("source"),
                    "medium" => Slot::Touch("medium"),
                    "campaign" => Slot::Touch("campaign"),
                    "referrer" => Slot::Touch("referrer"),
                    "landing_page" => Slot::Touch("landing_page"),
                    "outcome" => Slot::Outcome,
                    "ignore" => Slot::Ignore,
                    other => {
                        e.add(
                            format!("mapping.{}", m.column),
                            "unknown_target",
                            format!(
                                "'{other}' is not a target; use a lead field, custom.<key>, outcome or ignore"
                            ),
                        );
                        Slot::Ignore
                    }
                }
            };
            slots.push(slot);
        }
        e.into_result()?;
        Ok(RowMapper {
            slots,
            headers: headers.to_vec(),
            defs: defs.to_vec(),
            empty_values: options
                .empty_values
                .iter()
                .map(|v| v.to_lowercase())
                .collect(),
            source: options.source.clone(),
        })
    }

    /// The targets every column resolved to (for previews).
    pub fn mapping(&self) -> Vec<ColumnMapping> {
        self.headers
            .iter()
            .zip(&self.slots)
            .map(|(h, s)| ColumnMapping {
                column: h.clone(),
                target: match s {
                    Slot::Text(n) | Slot::Money(n) | Slot::Touch(n) => (*n).to_owned(),
                    Slot::FullName => "full_name".into(),
                    Slot::Employees => "employees".into(),
                    Slot::OptOut => "email_opt_out".into(),
                    Slot::Custom(i) => format!("custom.{}", self.defs[*i].key),
                    Slot::Outcome => "outcome".into(),
                    Slot::Unknown(_) => String::new(),
                    Slot::Ignore => "ignore".into(),
                },
            })
            .collect()
    }

    /// Maps one row: every problem is reported (by column), nothing panics.
    pub fn row(&self, values: &[&str]) -> Result<MappedRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        if values.len() != self.headers.len() {
            errors.push(FieldError {
                field: String::new(),
                code: "wrong_column_count".into(),
                message: format!(
                    "the row has {} columns; the header has {}",
                    values.len(),
                    self.headers.len()
                ),
            });
            return Err(errors);
        }
        let mut f = LeadFields::default();
        let mut outcome = None;
        let mut unmapped = Map::new();
        let mut revenue: Vec<(&'static str, &str, &str)> = Vec::new();
        for ((slot, header), raw) in self.slots.iter().zip(&self.headers).zip(values) {
            let v = raw.trim();
            if v.is_empty() || self.empty_values.iter().any(|e| e.eq_ignore_ascii_case(v)) {
                continue;
            }
            let mut bad = |code: &str, message: String| {
                errors.push(FieldError {
                    field: header.clone(),
                    code: code.into(),
                    message,
                })
            };
            let text = Some(v.to_owned());
            match slot {
                Slot::Text(name) => set_text(&mut f, name, text),
                Slot::FullName => {
                    let mut parts = v.rsplitn(2, ' ');
                    let last = parts.next().map(str::to_owned);
                    let first = parts
                        .next()
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty());
                    f.last_name = f.last_name.take().or(last);
                    f.first_name = f.first_name.take().or(first);
                }
                Slot::Employees => match v.replace([',', ' ', '.'], "").parse::<i32>() {
                    Ok(n) => f.employees = Some(n),
                    Err(_) => bad("invalid_number", format!("'{v}' is not a whole number")),
                },
                Slot::Money(name) => revenue.push((name, header, v)),
                Slot::OptOut => match parse_bool(v) {
                    Some(b) => f.email_opt_out = b,
                    None => bad("invalid_boolean", format!("'{v}' is not yes or no")),
                },
                Slot::Touch(part) => {
                    for t in [&mut f.first_touch, &mut f.last_touch] {
                        let slot = match *part {
                            "source" => &mut t.source,
                            "medium" => &mut t.medium,
                            "campaign" => &mut t.campaign,
                            "referrer" => &mut t.referrer,
                            _ => &mut t.landing_page,
                        };
                        *slot = text.clone();
                    }
                }
                Slot::Custom(i) => match self.defs[*i].parse_text(v) {
                    Ok(Some(val)) => {
                        f.custom.insert(self.defs[*i].key.clone(), val);
                    }
                    Ok(None) => {}
                    Err(msg) => bad("invalid_value", format!("'{v}' {msg}")),
                },
                Slot::Outcome => match parse_outcome(v) {
                    Some(o) => outcome = Some(o),
                    None => bad(
                        "invalid_outcome",
                        format!("'{v}' is not an outcome (1/0, yes/no, won/lost)"),
                    ),
                },
                Slot::Unknown(col) => {
                    unmapped.insert(col.clone(), Value::String(v.to_owned()));
                }
                Slot::Ignore => {}
            }
        }
        for (name, header, v) in revenue {
            let cleaned = v.replace(['$', '€', '£'], "");
            match money::parse_major(&cleaned, f.currency.as_deref()) {
                Some(minor) if name == "budget" => f.budget = Some(minor),
                Some(minor) => f.annual_revenue = Some(minor),
                None => errors.push(FieldError {
                    field: header.to_owned(),
                    code: "invalid_amount".into(),
                    message: format!("'{v}' is not an amount"),
                }),
            }
        }
        if f.first_touch.source.is_none()
            && let Some(s) = &self.source
        {
            f.first_touch.source = Some(s.clone());
            f.last_touch.source = Some(s.clone());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        match f.clean(&self.defs) {
            Ok(fields) => Ok(MappedRow {
                fields,
                outcome,
                unmapped,
            }),
            Err(e) => Err(e
                .0
                .into_iter()
                .map(|mut fe| {
                    if let Some(col) = self.column_of(&fe.field) {
                        fe.field = col;
                    }
                    fe
                })
                .collect()),
        }
    }

    /// The column that fills a lead field, for error reports people can act on.
    fn column_of(&self, field: &str) -> Option<String> {
        let target = field.split('.').next_back().unwrap_or(field);
        self.mapping()
            .into_iter()
            .find(|m| m.target == field || m.target == target)
            .map(|m| m.column)
    }
}

fn set_text(f: &mut LeadFields, name: &str, v: Option<String>) {
    let slot = match name {
        "first_name" => &mut f.first_name,
        "last_name" => &mut f.last_name,
        "email" => &mut f.email,
        "phone" => &mut f.phone,
        "mobile" => &mut f.mobile,
        "title" => &mut f.title,
        "company" => &mut f.company,
        "website" => &mut f.website,
        "industry" => &mut f.industry,
        "currency" => &mut f.currency,
        "street" => &mut f.street,
        "city" => &mut f.city,
        "state" => &mut f.state,
        "postal_code" => &mut f.postal_code,
        "country" => &mut f.country,
        "time_zone" => &mut f.time_zone,
        "description" => &mut f.description,
        "need" => &mut f.need,
        _ => &mut f.external_id,
    };
    *slot = v;
}

/// Every target name a mapping may use besides `custom.<key>`.
pub fn target_names() -> impl Iterator<Item = &'static str> {
    TEXT_TARGETS.iter().chain(OTHER_TARGETS).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_of_common_exports_are_recognised() {
        for (h, t) in [
            ("First Name", "first_name"),
            ("Email Address", "email"),
            ("Zip/Postal Code", "postal_code"),
            ("Lead Source", "source"),
            ("Record ID", "external_id"),
            ("Prospect ID", "external_id"),
            ("Job Title", "title"),
            ("No. of Employees", "employees"),
            ("Country/Region", "country"),
            ("Do Not Email", "email_opt_out"),
            ("firstname", "first_name"),
            ("address1", "street"),
            ("zipcode", "postal_code"),
        ] {
            assert_eq!(suggest_target(h), Some(t), "{h}");
        }
        assert_eq!(suggest_target("What matters most to you"), None);
        assert_eq!(
            custom_key("What matters most to you in choosing a course"),
            "what_matters_most_to_you_in_choosing_a_course"
        );
        assert_eq!(custom_key("2nd choice!"), "f_2nd_choice");
    }

    #[test]
    fn kinds_are_inferred_from_values() {
        assert_eq!(
            infer_kind(["1", "2.5", ""].into_iter()),
            CustomFieldKind::Number
        );
        assert_eq!(
            infer_kind(["Yes", "no"].into_iter()),
            CustomFieldKind::Boolean
        );
        assert_eq!(
            infer_kind(["Yes", "maybe"].into_iter()),
            CustomFieldKind::Text
        );
        assert_eq!(infer_kind(["", " "].into_iter()), CustomFieldKind::Text);
    }

    #[test]
    fn a_row_maps_with_placeholders_outcome_and_unknown_columns() {
        let h = headers(&[
            "Prospect ID",
            "Lead Source",
            "Do Not Email",
            "Converted",
            "City",
            "Specialization",
            "Full Name",
        ]);
        let options = ImportOptions {
            outcome_column: Some("Converted".into()),
            ..ImportOptions::default()
        };
        let m = RowMapper::new(&h, &options, &[]).unwrap();
        let r = m
            .row(&[
                "p-1",
                "Google",
                "No",
                "1",
                "Select",
                "Finance",
                "Ana de Lima",
            ])
            .unwrap();
        assert_eq!(r.fields.external_id.as_deref(), Some("p-1"));
        assert_eq!(r.fields.first_touch.source.as_deref(), Some("Google"));
        assert_eq!(r.fields.last_touch.source.as_deref(), Some("Google"));
        assert!(!r.fields.email_opt_out);
        assert_eq!(r.outcome, Some(Outcome::Won));
        assert_eq!(r.fields.city, None, "Select means empty");
        assert_eq!(r.unmapped["Specialization"], "Finance");
        assert_eq!(r.fields.first_name.as_deref(), Some("Ana de"));
        assert_eq!(r.fields.last_name.as_deref(), Some("Lima"));
    }

    #[test]
    fn every_problem_of_a_row_is_reported_by_column() {
        let h = headers(&["Email", "Employees", "Converted", "Annual Revenue"]);
        let options = ImportOptions {
            outcome_column: Some("Converted".into()),
            ..ImportOptions::default()
        };
        let m = RowMapper::new(&h, &options, &[]).unwrap();
        let e = m
            .row(&["x@y.example", "lots", "maybe", "a lot"])
            .unwrap_err();
        let cols: Vec<&str> = e.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(cols, ["Employees", "Converted", "Annual Revenue"]);
        let e = m.row(&["not-an-email", "", "", ""]).unwrap_err();
        assert_eq!(e[0].field, "Email");
        assert_eq!(e[0].code, "invalid_email");
        let e = m.row(&["only one"]).unwrap_err();
        assert_eq!(e[0].code, "wrong_column_count");
    }

    #[test]
    fn a_bad_mapping_is_refused_before_any_row() {
        let h = headers(&["Email"]);
        let options = ImportOptions {
            mapping: vec![
                ColumnMapping {
                    column: "Email".into(),
                    target: "emial".into(),
                },
                ColumnMapping {
                    column: "Nope".into(),
                    target: "email".into(),
                },
            ],
            ..ImportOptions::default()
        };
        let e = RowMapper::new(&h, &options, &[]).unwrap_err();
        assert_eq!(e.0.len(), 2);
    }

    proptest! {
        #[test]
        fn any_row_maps_or_fails_cleanly(values in prop::collection::vec(".{0,20}", 0..6)) {
            let h = headers(&["Email", "Employees", "Name", "Lead Source", "X"]);
            let m = RowMapper::new(&h, &ImportOptions::default(), &[]).unwrap();
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let _ = m.row(&refs);
        }
    }
}
