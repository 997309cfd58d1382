//! Scoring rule sets as people write them (in the UI, the API, or a TOML/YAML file kept in
//! version control), and their validation.

use crate::custom_field::CustomFieldDef;
use crate::lead::Grade;
use crate::quality::normalize::{Function, Seniority};
use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest number of points one rule may give or take.
pub const MAX_POINTS: i32 = 1_000;

/// Largest number of rules in one model.
pub const MAX_RULES: usize = 200;

/// Longest regular expression a rule may hold, and the most memory it may compile to.
const MAX_PATTERN_CHARS: usize = 500;
pub(crate) const MAX_REGEX_BYTES: usize = 256 * 1024;

/// A scoring model: fit rules that make the grade, behaviour rules that make the score,
/// and the thresholds that qualify a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Behaviour points lose half their value every this many days (rules may set their
    /// own); none: points keep their value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_life_days: Option<f64>,
    /// Fit points a lead needs for each grade; below `d` it is `F`.
    pub grades: GradeScale,
    /// Score a lead needs for priority 1, 2 and 3 (below the last: 4), e.g. `[60, 30, 10]`.
    pub priority: Vec<i32>,
    pub qualification: Qualification,
    #[serde(default)]
    pub fit: Vec<FitRule>,
    #[serde(default)]
    pub behaviour: Vec<BehaviourRule>,
}

/// Fit points needed per grade.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeScale {
    pub a: i32,
    pub b: i32,
    pub c: i32,
    pub d: i32,
}

impl GradeScale {
    /// The grade of a fit total.
    pub fn grade(&self, fit: i32) -> Grade {
        if fit >= self.a {
            Grade::A
        } else if fit >= self.b {
            Grade::B
        } else if fit >= self.c {
            Grade::C
        } else if fit >= self.d {
            Grade::D
        } else {
            Grade::F
        }
    }
}

/// When a lead becomes a marketing-qualified lead, and when it goes back to nurturing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Qualification {
    /// Score at or above which (with the grade) a new or nurtured lead becomes `mql`.
    pub mql_score: i32,
    /// The grade it needs at least (`B`: A or B).
    pub mql_grade: Grade,
    /// An `mql` whose score decays below this goes to `nurture`; none: it stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nurture_below: Option<i32>,
}

/// A condition on a value: a lead field, or an activity property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Test {
    /// Equal, ignoring case for text.
    Equals { value: Value },
    /// Equal to one of the values.
    In { values: Vec<Value> },
    /// Text containing this, ignoring case.
    Contains { text: String },
    /// A number within the bounds (inclusive; either may be left out).
    Range {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// Has a value.
    Exists,
    /// Has no value.
    Missing,
    /// Text matching a regular expression (size-limited, no backtracking blow-ups).
    Matches { pattern: String },
    /// A job title of one of these seniorities (on the `title` field).
    Seniority { levels: Vec<Seniority> },
    /// A job title in one of these functions (on the `title` field).
    Function { functions: Vec<Function> },
}

/// Points for who the lead is (explicit, fit).
// No `deny_unknown_fields`: serde cannot combine it with the flattened test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FitRule {
    /// Stable id, unique in the model (explanations and history refer to it).
    pub id: String,
    pub name: String,
    /// A lead field (`country`, `employees`, `budget`…) or `custom.<key>`.
    pub field: String,
    #[serde(flatten)]
    pub test: Test,
    pub points: i32,
}

/// A condition on one property of an activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PropertyFilter {
    /// e.g. `url` of a `page_view`.
    pub property: String,
    #[serde(flatten)]
    pub test: Test,
}

/// At most `points` from one rule within any `days` days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    pub points: i32,
    pub days: f64,
}

/// Points only when `count` matching activities happened within `days` days (each time
/// the count is reached; then counting starts again).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Frequency {
    pub count: u32,
    pub days: f64,
}

/// Points for what the lead does (implicit, behaviour).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BehaviourRule {
    pub id: String,
    pub name: String,
    /// The activity kind, e.g. `page_view`, `email_clicked`, `form_submitted`.
    pub activity: String,
    /// Conditions on the activity's properties, all of which must hold.
    #[serde(default)]
    pub filters: Vec<PropertyFilter>,
    pub points: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<Cap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<Frequency>,
    /// Only activities of the last this many days count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<f64>,
    /// This rule's own half-life (else the model's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_life_days: Option<f64>,
}

/// Lead fields fit rules can test (besides `custom.<key>`).
pub const FIT_FIELDS: [&str; 23] = [
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
    "city",
    "state",
    "postal_code",
    "country",
    "time_zone",
    "budget",
    "authority",
    "need",
    "timeline",
    "first_touch.source",
    "first_touch.medium",
];

fn positive_days(e: &mut ValidationErrors, field: &str, v: f64) {
    if !v.is_finite() || v <= 0.0 || v > 36_500.0 {
        e.add(
            field,
            "invalid_days",
            "must be a number of days above 0 (at most 36,500)",
        );
    }
}

fn check_points(e: &mut ValidationErrors, field: &str, p: i32) {
    // `unsigned_abs`: i32::MIN has no positive counterpart (found by schemathesis).
    if p.unsigned_abs() > MAX_POINTS.unsigned_abs() {
        e.add(
            field,
            "out_of_range",
            format!("points must be between -{MAX_POINTS} and {MAX_POINTS}"),
        );
    }
}

/// A rule id: 1-64 letters, digits, `-` and `_` (explanations and history refer to it).
pub(crate) fn valid_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A lead field rules may test, or a defined custom field (`custom.KEY`).
pub(crate) fn known_field(field: &str, defs: &[CustomFieldDef]) -> bool {
    FIT_FIELDS.contains(&field)
        || field
            .strip_prefix("custom.")
            .is_some_and(|k| defs.iter().any(|d| d.key == k))
}

pub(crate) fn check_test(e: &mut ValidationErrors, field: &str, test: &Test, on_title: bool) {
    match test {
        Test::Range { min, max } => {
            if min.is_none() && max.is_none() {
                e.add(field, "empty_range", "give min, max or both");
            }
            if [min, max].iter().any(|v| v.is_some_and(|x| !x.is_finite())) {
                e.add(field, "invalid_number", "bounds must be finite numbers");
            }
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                e.add(field, "contradictory_range", "min is above max");
            }
        }
        Test::In { values } if values.is_empty() => {
            e.add(field, "empty_list", "give at least one value");
        }
        Test::Contains { text } if text.trim().is_empty() => {
            e.add(field, "empty_text", "give the text to look for");
        }
        Test::Matches { pattern } => {
            if pattern.chars().count() > MAX_PATTERN_CHARS {
                e.add(
                    field,
                    "pattern_too_long",
                    format!("a pattern may have at most {MAX_PATTERN_CHARS} characters"),
                );
            } else if let Err(err) = regex::RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(MAX_REGEX_BYTES)
                .build()
            {
                e.add(
                    field,
                    "invalid_pattern",
                    format!("not a usable regular expression: {err}"),
                );
            }
        }
        Test::Seniority { levels } if levels.is_empty() => {
            e.add(field, "empty_list", "give at least one seniority");
        }
        Test::Function { functions } if functions.is_empty() => {
            e.add(field, "empty_list", "give at least one function");
        }
        _ => {}
    }
    if matches!(test, Test::Seniority { .. } | Test::Function { .. }) && !on_title {
        e.add(
            field,
            "needs_title",
            "seniority and function tests apply to the title field",
        );
    }
}

impl ModelDefinition {
    /// Checks everything that could make scoring wrong or slow: unknown fields, duplicate
    /// ids, contradictory thresholds, bad regular expressions, zero or negative half-lives.
    /// Custom fields must be defined.
    pub fn validate(&self, defs: &[CustomFieldDef]) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            e.add("name", "invalid_name", "give a name of 1 to 100 characters");
        }
        if let Some(h) = self.half_life_days {
            positive_days(&mut e, "half_life_days", h);
        }
        let g = self.grades;
        if !(g.a >= g.b && g.b >= g.c && g.c >= g.d) {
            e.add(
                "grades",
                "contradictory_thresholds",
                "grade thresholds must not rise from A to D",
            );
        }
        if self.priority.is_empty() || self.priority.len() > 9 {
            e.add(
                "priority",
                "invalid_priority",
                "give 1 to 9 score thresholds",
            );
        } else if self.priority.windows(2).any(|w| w[0] < w[1]) {
            e.add(
                "priority",
                "contradictory_thresholds",
                "priority thresholds must not rise from 1 onwards",
            );
        }
        let q = self.qualification;
        if let Some(n) = q.nurture_below
            && n > q.mql_score
        {
            e.add(
                "qualification.nurture_below",
                "contradictory_thresholds",
                "a lead would be sent to nurture while it still qualifies as MQL",
            );
        }
        if self.fit.len() + self.behaviour.len() > MAX_RULES {
            e.add(
                "",
                "too_many_rules",
                format!("a model holds at most {MAX_RULES} rules"),
            );
        }
        let mut ids = std::collections::HashSet::new();
        let mut id_ok = |e: &mut ValidationErrors, at: &str, id: &str| {
            if !valid_rule_id(id) {
                e.add(
                    format!("{at}.id"),
                    "invalid_id",
                    "1-64 letters, digits, - and _",
                );
            } else if !ids.insert(id.to_owned()) {
                e.add(
                    format!("{at}.id"),
                    "duplicate_id",
                    format!("another rule has the id {id}"),
                );
            }
        };
        for (i, r) in self.fit.iter().enumerate() {
            let at = format!("fit[{i}]");
            id_ok(&mut e, &at, &r.id);
            if r.name.trim().is_empty() {
                e.add(format!("{at}.name"), "required", "give the rule a name");
            }
            if !known_field(&r.field, defs) {
                e.add(
                    format!("{at}.field"),
                    "unknown_field",
                    format!("no lead field or custom field '{}'", r.field),
                );
            }
            check_test(&mut e, &format!("{at}.test"), &r.test, r.field == "title");
            check_points(&mut e, &format!("{at}.points"), r.points);
        }
        for (i, r) in self.behaviour.iter().enumerate() {
            let at = format!("behaviour[{i}]");
            id_ok(&mut e, &at, &r.id);
            if r.name.trim().is_empty() {
                e.add(format!("{at}.name"), "required", "give the rule a name");
            }
            if r.activity.trim().is_empty() {
                e.add(
                    format!("{at}.activity"),
                    "required",
                    "name the activity kind",
                );
            }
            for (j, f) in r.filters.iter().enumerate() {
                check_test(&mut e, &format!("{at}.filters[{j}]"), &f.test, false);
            }
            check_points(&mut e, &format!("{at}.points"), r.points);
            if let Some(c) = r.cap {
                positive_days(&mut e, &format!("{at}.cap.days"), c.days);
                if c.points <= 0 {
                    e.add(
                        format!("{at}.cap.points"),
                        "out_of_range",
                        "a cap must allow some points",
                    );
                }
            }
            if let Some(f) = r.frequency {
                positive_days(&mut e, &format!("{at}.frequency.days"), f.days);
                if f.count == 0 {
                    e.add(
                        format!("{at}.frequency.count"),
                        "out_of_range",
                        "count at least 1",
                    );
                }
            }
            if let Some(d) = r.within_days {
                positive_days(&mut e, &format!("{at}.within_days"), d);
            }
            if let Some(h) = r.half_life_days {
                positive_days(&mut e, &format!("{at}.half_life_days"), h);
            }
        }
        e.into_result()
    }

    /// A starting model for a new installation: common fit signals (seniority, company
    /// size, BANT) and behaviour (pricing page, forms, email clicks, webinars).
    pub fn starter() -> ModelDefinition {
        let fit = |id: &str, name: &str, field: &str, test: Test, points: i32| FitRule {
            id: id.into(),
            name: name.into(),
            field: field.into(),
            test,
            points,
        };
        let behaviour = |id: &str, name: &str, activity: &str, points: i32| BehaviourRule {
            id: id.into(),
            name: name.into(),
            activity: activity.into(),
            filters: Vec::new(),
            points,
            cap: None,
            frequency: None,
            within_days: None,
            half_life_days: None,
        };
        ModelDefinition {
            name: "Default".into(),
            description: Some("Fit from title, company size and BANT; engagement from visits, forms, email and webinars.".into()),
            half_life_days: Some(30.0),
            grades: GradeScale { a: 60, b: 40, c: 20, d: 10 },
            priority: vec![60, 30, 10],
            qualification: Qualification {
                mql_score: 40,
                mql_grade: Grade::C,
                nurture_below: Some(15),
            },
            fit: vec![
                fit(
                    "senior-title",
                    "Decision maker",
                    "title",
                    Test::Seniority {
                        levels: vec![Seniority::Owner, Seniority::CLevel, Seniority::Vp, Seniority::Director],
                    },
                    25,
                ),
                fit(
                    "manager-title",
                    "Manager",
                    "title",
                    Test::Seniority { levels: vec![Seniority::Manager] },
                    10,
                ),
                fit(
                    "company-size",
                    "50 to 5,000 employees",
                    "employees",
                    Test::Range { min: Some(50.0), max: Some(5000.0) },
                    20,
                ),
                fit("has-budget", "Budget known", "budget", Test::Exists, 15),
                fit(
                    "decision-maker",
                    "Authority: decision maker",
                    "authority",
                    Test::Equals { value: Value::from("decision_maker") },
                    15,
                ),
                fit(
                    "free-mail",
                    "No company email",
                    "email",
                    Test::Matches {
                        pattern: "@(gmail|yahoo|hotmail|outlook|gmx|web)\\.".into(),
                    },
                    -10,
                ),
            ],
            behaviour: vec![
                BehaviourRule {
                    filters: vec![PropertyFilter {
                        property: "url".into(),
                        test: Test::Contains { text: "/pricing".into() },
                    }],
                    cap: Some(Cap { points: 30, days: 7.0 }),
                    ..behaviour("pricing-page", "Visited pricing", "page_view", 10)
                },
                BehaviourRule {
                    cap: Some(Cap { points: 10, days: 1.0 }),
                    ..behaviour("page-view", "Visited a page", "page_view", 1)
                },
                behaviour("form", "Submitted a form", "form_submitted", 15),
                behaviour("web-to-lead", "Web-to-lead form", "web_to_lead", 15),
                BehaviourRule {
                    cap: Some(Cap { points: 20, days: 7.0 }),
                    ..behaviour("email-click", "Clicked an email", "email_clicked", 5)
                },
                behaviour("webinar", "Attended a webinar", "webinar_attended", 20),
                behaviour("email-reply", "Emailed us", "email_received", 10),
                behaviour("sequence-reply", "Replied to a sequence email", "email_replied", 15),
                BehaviourRule {
                    cap: Some(Cap { points: 5, days: 7.0 }),
                    ..behaviour("email-open", "Opened an email", "email_opened", 1)
                },
            ],
        }
    }
}

/// A model as a file: its key and definition, for version control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    pub key: String,
    #[serde(flatten)]
    pub definition: ModelDefinition,
}

/// Why a rules file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("not valid TOML: {0}")]
    Toml(String),
    #[error("not valid YAML: {0}")]
    Yaml(String),
}

impl ModelFile {
    /// The file as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a TOML rules file (not yet validated).
    pub fn from_toml(s: &str) -> Result<ModelFile, FileError> {
        toml::from_str(s).map_err(|e| FileError::Toml(e.to_string()))
    }

    /// The file as YAML.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }

    /// Reads a YAML rules file (not yet validated).
    pub fn from_yaml(s: &str) -> Result<ModelFile, FileError> {
        serde_yaml_ng::from_str(s).map_err(|e| FileError::Yaml(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_model_is_valid_and_round_trips_through_toml_and_yaml() {
        let m = ModelDefinition::starter();
        m.validate(&[]).unwrap();
        let file = ModelFile {
            key: "default".into(),
            definition: m.clone(),
        };
        let toml = file.to_toml();
        assert!(toml.contains("op = \"seniority\""), "{toml}");
        assert_eq!(ModelFile::from_toml(&toml).unwrap(), file);
        let yaml = file.to_yaml();
        assert_eq!(ModelFile::from_yaml(&yaml).unwrap(), file);
    }

    #[test]
    fn points_out_of_range_are_refused_even_at_the_integer_limits() {
        for points in [i32::MIN, i32::MAX, -MAX_POINTS - 1] {
            let mut m = ModelDefinition::starter();
            m.behaviour[0].points = points;
            let e = m.validate(&[]).unwrap_err();
            assert!(
                e.0.iter().any(|f| f.code == "out_of_range"),
                "{points}: {e}"
            );
        }
        let mut m = ModelDefinition::starter();
        m.behaviour[0].points = -MAX_POINTS;
        m.validate(&[]).unwrap();
    }

    #[test]
    fn bad_rules_get_precise_errors() {
        let mut m = ModelDefinition::starter();
        m.half_life_days = Some(0.0);
        m.grades.a = 5;
        m.qualification.nurture_below = Some(80);
        m.fit[0].field = "shoe_size".into();
        m.fit[1].id = m.fit[0].id.clone();
        m.fit[2].test = Test::Range {
            min: Some(10.0),
            max: Some(1.0),
        };
        m.fit[5].test = Test::Matches {
            pattern: "(a".into(),
        };
        m.behaviour[0].cap = Some(Cap {
            points: 10,
            days: f64::NAN,
        });
        let e = m.validate(&[]).unwrap_err();
        let codes: Vec<(&str, &str)> =
            e.0.iter()
                .map(|x| (x.field.as_str(), x.code.as_str()))
                .collect();
        for want in [
            ("half_life_days", "invalid_days"),
            ("grades", "contradictory_thresholds"),
            ("qualification.nurture_below", "contradictory_thresholds"),
            ("fit[0].field", "unknown_field"),
            ("fit[1].id", "duplicate_id"),
            ("fit[2].test", "contradictory_range"),
            ("fit[5].test", "invalid_pattern"),
            ("behaviour[0].cap.days", "invalid_days"),
        ] {
            assert!(codes.contains(&want), "{want:?} in {codes:?}");
        }
    }

    #[test]
    fn a_pattern_that_would_blow_up_is_refused() {
        let mut m = ModelDefinition::starter();
        m.fit[5].test = Test::Matches {
            pattern: "(\\w{1000}){1000}".into(),
        };
        let e = m.validate(&[]).unwrap_err();
        assert_eq!(e.0[0].code, "invalid_pattern", "{e:?}");
    }

    #[test]
    fn grades_follow_the_scale() {
        let g = GradeScale {
            a: 60,
            b: 40,
            c: 20,
            d: 10,
        };
        assert_eq!(g.grade(75), Grade::A);
        assert_eq!(g.grade(40), Grade::B);
        assert_eq!(g.grade(9), Grade::F);
        assert_eq!(g.grade(-5), Grade::F);
    }
}
