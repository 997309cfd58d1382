//! Computing a lead's score, grade and priority from a model, with every point explained:
//! the rule, the activity that earned it, when, and what it is worth today after decay.

use super::rules::{BehaviourRule, FitRule, MAX_REGEX_BYTES, ModelDefinition, Test};
use crate::lead::{Grade, LeadFields};
use crate::quality::normalize::title_profile;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// A field's or property's value as rules see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Text(std::borrow::Cow<'a, str>),
    Number(f64),
    Bool(bool),
}

fn text(v: &Option<String>) -> Option<Scalar<'_>> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Scalar::Text(s.into()))
}

fn from_json(v: &Value) -> Option<Scalar<'_>> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(Scalar::Text(s.as_str().into())),
        Value::Number(n) => n.as_f64().map(Scalar::Number),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        _ => None,
    }
}

fn enum_text<T: Serialize>(v: &Option<T>) -> Option<Scalar<'static>> {
    v.as_ref()
        .and_then(|x| serde_json::to_value(x).ok())
        .and_then(|x| x.as_str().map(|s| Scalar::Text(s.to_owned().into())))
}

/// The value of a lead field by its rule name (`country`, `custom.budget_code`,
/// `first_touch.source`); `None` when empty.
pub fn field_value<'a>(f: &'a LeadFields, field: &str) -> Option<Scalar<'a>> {
    if let Some(key) = field.strip_prefix("custom.") {
        return f.custom.get(key).and_then(from_json);
    }
    match field {
        "first_name" => text(&f.first_name),
        "last_name" => text(&f.last_name),
        "email" => text(&f.email),
        "phone" => text(&f.phone),
        "mobile" => text(&f.mobile),
        "title" => text(&f.title),
        "company" => text(&f.company),
        "website" => text(&f.website),
        "industry" => text(&f.industry),
        "employees" => f.employees.map(|n| Scalar::Number(n.into())),
        "annual_revenue" => f.annual_revenue.map(|n| Scalar::Number(n as f64)),
        "currency" => text(&f.currency),
        "city" => text(&f.city),
        "state" => text(&f.state),
        "postal_code" => text(&f.postal_code),
        "country" => text(&f.country),
        "time_zone" => text(&f.time_zone),
        "budget" => f.budget.map(|n| Scalar::Number(n as f64)),
        "authority" => enum_text(&f.authority),
        "need" => text(&f.need),
        "timeline" => enum_text(&f.timeline),
        "first_touch.source" => text(&f.first_touch.source),
        "first_touch.medium" => text(&f.first_touch.medium),
        _ => None,
    }
}

/// A [`Test`] ready to run: texts folded, patterns compiled. Scoring and routing rules
/// share it.
#[derive(Debug, Clone)]
pub enum Matcher {
    Equals(Folded),
    In(Vec<Folded>),
    Contains(String),
    Range(Option<f64>, Option<f64>),
    Exists,
    Missing,
    Matches(regex::Regex),
    Seniority(Vec<crate::quality::normalize::Seniority>),
    Function(Vec<crate::quality::normalize::Function>),
    /// A test that could not be prepared (validation refuses these; never matches).
    Never,
}

/// A test's value folded for comparing (text trimmed and lower-cased).
#[derive(Debug, Clone)]
pub enum Folded {
    Text(String),
    Number(f64),
    Bool(bool),
}

fn fold(v: &Value) -> Option<Folded> {
    match v {
        Value::String(s) => Some(Folded::Text(s.trim().to_lowercase())),
        Value::Number(n) => n.as_f64().map(Folded::Number),
        Value::Bool(b) => Some(Folded::Bool(*b)),
        _ => None,
    }
}

fn equal(a: &Scalar<'_>, b: &Folded) -> bool {
    match (a, b) {
        (Scalar::Text(x), Folded::Text(y)) => x.trim().to_lowercase() == *y,
        (Scalar::Number(x), Folded::Number(y)) => (x - y).abs() < 1e-9,
        (Scalar::Text(x), Folded::Number(y)) => {
            x.trim().parse::<f64>().is_ok_and(|x| (x - y).abs() < 1e-9)
        }
        (Scalar::Number(x), Folded::Text(y)) => {
            y.parse::<f64>().is_ok_and(|y| (x - y).abs() < 1e-9)
        }
        (Scalar::Bool(x), Folded::Bool(y)) => x == y,
        _ => false,
    }
}

impl Matcher {
    /// Prepares a test (an invalid pattern never matches; validation refuses it first).
    pub fn new(t: &Test) -> Matcher {
        match t {
            Test::Equals { value } => fold(value).map_or(Matcher::Never, Matcher::Equals),
            Test::In { values } => Matcher::In(values.iter().filter_map(fold).collect()),
            Test::Contains { text } => Matcher::Contains(text.trim().to_lowercase()),
            Test::Range { min, max } => Matcher::Range(*min, *max),
            Test::Exists => Matcher::Exists,
            Test::Missing => Matcher::Missing,
            Test::Matches { pattern } => regex::RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(MAX_REGEX_BYTES)
                .build()
                .map_or(Matcher::Never, Matcher::Matches),
            Test::Seniority { levels } => Matcher::Seniority(levels.clone()),
            Test::Function { functions } => Matcher::Function(functions.clone()),
        }
    }

    /// Whether a value (`None`: empty) passes.
    pub fn test(&self, v: Option<&Scalar<'_>>) -> bool {
        match (self, v) {
            (Matcher::Missing, v) => v.is_none(),
            (_, None) => false,
            (Matcher::Exists, Some(_)) => true,
            (Matcher::Equals(x), Some(v)) => equal(v, x),
            (Matcher::In(xs), Some(v)) => xs.iter().any(|x| equal(v, x)),
            (Matcher::Contains(needle), Some(Scalar::Text(t))) => {
                t.to_lowercase().contains(needle.as_str())
            }
            (Matcher::Range(min, max), Some(v)) => {
                let n = match v {
                    Scalar::Number(n) => Some(*n),
                    Scalar::Text(t) => t.trim().parse::<f64>().ok(),
                    Scalar::Bool(_) => None,
                };
                n.is_some_and(|n| min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m))
            }
            (Matcher::Matches(re), Some(Scalar::Text(t))) => re.is_match(t),
            (Matcher::Seniority(levels), Some(Scalar::Text(t))) => {
                title_profile(t).0.is_some_and(|s| levels.contains(&s))
            }
            (Matcher::Function(fs), Some(Scalar::Text(t))) => {
                title_profile(t).1.is_some_and(|f| fs.contains(&f))
            }
            _ => false,
        }
    }
}

/// An activity as scoring sees it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub occurred_at: DateTime<Utc>,
    pub properties: &'a Map<String, Value>,
}

/// A model ready to score many leads: tests prepared once.
#[derive(Debug, Clone)]
pub struct Scorer {
    pub model: ModelDefinition,
    fit: Vec<(FitRule, Matcher)>,
    behaviour: Vec<(BehaviourRule, Vec<(String, Matcher)>)>,
}

/// Whether a contribution is fit (who) or behaviour (what they did).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Fit,
    Behaviour,
}

/// One rule's part in a lead's score or grade.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contribution {
    pub rule_id: String,
    pub rule_name: String,
    pub kind: RuleKind,
    /// The activity that earned it (behaviour rules).
    pub activity_id: Option<Uuid>,
    /// When that activity happened.
    pub at: Option<DateTime<Utc>>,
    /// Points as earned (after caps).
    pub points: f64,
    /// What they are worth now, after decay.
    pub value_today: f64,
}

/// A lead's score under one model.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Scored {
    /// Engagement: behaviour points after decay, rounded.
    pub score: i32,
    /// Fit points.
    pub fit: i32,
    pub grade: Grade,
    /// Grade and score band together, e.g. `A1` (best) to `F4`.
    pub priority: String,
    pub contributions: Vec<Contribution>,
}

const SECONDS_PER_DAY: f64 = 86_400.0;

fn decayed(points: f64, at: DateTime<Utc>, now: DateTime<Utc>, half_life: Option<f64>) -> f64 {
    match half_life {
        Some(h) if h > 0.0 && h.is_finite() => {
            let age = ((now - at).num_seconds().max(0) as f64) / SECONDS_PER_DAY;
            points * 0.5f64.powf(age / h)
        }
        _ => points,
    }
}

impl Scorer {
    /// Prepares a model (validate it first: a test that cannot be prepared never matches).
    pub fn new(model: ModelDefinition) -> Scorer {
        let fit = model
            .fit
            .iter()
            .map(|r| (r.clone(), Matcher::new(&r.test)))
            .collect();
        let behaviour = model
            .behaviour
            .iter()
            .map(|r| {
                let filters = r
                    .filters
                    .iter()
                    .map(|f| (f.property.clone(), Matcher::new(&f.test)))
                    .collect();
                (r.clone(), filters)
            })
            .collect();
        Scorer {
            model,
            fit,
            behaviour,
        }
    }

    /// Lead fields the fit rules test (`title`, `custom.segment`…): a full re-score reads
    /// only these.
    pub fn fields_used(&self) -> Vec<String> {
        let mut f: Vec<String> = self.fit.iter().map(|(r, _)| r.field.clone()).collect();
        f.sort();
        f.dedup();
        f
    }

    /// Activity kinds any behaviour rule looks at (a full re-score reads only these).
    pub fn activity_kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self
            .behaviour
            .iter()
            .map(|(r, _)| r.activity.clone())
            .collect();
        k.sort();
        k.dedup();
        k
    }

    /// The score band (1 best) of a score.
    pub fn band(&self, score: i32) -> usize {
        self.model
            .priority
            .iter()
            .position(|t| score >= *t)
            .map_or(self.model.priority.len() + 1, |i| i + 1)
    }

    /// Scores a lead at `now` from its fields and activities (any order).
    pub fn score(&self, lead: &LeadFields, events: &[Event<'_>], now: DateTime<Utc>) -> Scored {
        let mut contributions = Vec::new();
        let mut fit = 0i32;
        for (rule, m) in &self.fit {
            if m.test(field_value(lead, &rule.field).as_ref()) {
                fit += rule.points;
                contributions.push(Contribution {
                    rule_id: rule.id.clone(),
                    rule_name: rule.name.clone(),
                    kind: RuleKind::Fit,
                    activity_id: None,
                    at: None,
                    points: rule.points.into(),
                    value_today: rule.points.into(),
                });
            }
        }
        let mut sorted: Vec<&Event<'_>> = events.iter().filter(|e| e.occurred_at <= now).collect();
        sorted.sort_by_key(|e| (e.occurred_at, e.id));
        let mut behaviour = 0.0f64;
        for (rule, filters) in &self.behaviour {
            let half_life = rule.half_life_days.or(self.model.half_life_days);
            // Earned points within the cap window: (time, points).
            let mut window: std::collections::VecDeque<(DateTime<Utc>, f64)> = Default::default();
            let mut pending: std::collections::VecDeque<DateTime<Utc>> = Default::default();
            for e in &sorted {
                if e.kind != rule.activity {
                    continue;
                }
                if rule.within_days.is_some_and(|d| {
                    (now - e.occurred_at).num_seconds() as f64 > d * SECONDS_PER_DAY
                }) {
                    continue;
                }
                let ok = filters
                    .iter()
                    .all(|(prop, m)| m.test(e.properties.get(prop).and_then(from_json).as_ref()));
                if !ok {
                    continue;
                }
                if let Some(f) = rule.frequency {
                    pending.push_back(e.occurred_at);
                    while pending.front().is_some_and(|t| {
                        (e.occurred_at - *t).num_seconds() as f64 > f.days * SECONDS_PER_DAY
                    }) {
                        pending.pop_front();
                    }
                    if (pending.len() as u32) < f.count {
                        continue;
                    }
                    pending.clear();
                }
                let mut earned = f64::from(rule.points);
                if let Some(cap) = rule.cap {
                    while window.front().is_some_and(|(t, _)| {
                        (e.occurred_at - *t).num_seconds() as f64 >= cap.days * SECONDS_PER_DAY
                    }) {
                        window.pop_front();
                    }
                    let used: f64 = window.iter().map(|(_, p)| p).sum();
                    let room = (f64::from(cap.points) - used).max(0.0);
                    if earned > 0.0 {
                        earned = earned.min(room);
                    }
                    if earned == 0.0 {
                        continue;
                    }
                    window.push_back((e.occurred_at, earned));
                }
                let today = decayed(earned, e.occurred_at, now, half_life);
                behaviour += today;
                contributions.push(Contribution {
                    rule_id: rule.id.clone(),
                    rule_name: rule.name.clone(),
                    kind: RuleKind::Behaviour,
                    activity_id: Some(e.id),
                    at: Some(e.occurred_at),
                    points: earned,
                    value_today: (today * 100.0).round() / 100.0,
                });
            }
        }
        let score = behaviour.round() as i32;
        let grade = self.model.grades.grade(fit);
        Scored {
            score,
            fit,
            grade,
            priority: format!("{}{}", grade.as_str(), self.band(score)),
            contributions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::rules::{Cap, Frequency, PropertyFilter};
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn props(url: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("url".into(), Value::from(url));
        m
    }

    #[test]
    fn fit_rules_make_the_grade_and_behaviour_the_score() {
        let s = Scorer::new(ModelDefinition::starter());
        let lead = LeadFields {
            title: Some("VP Sales".into()),
            employees: Some(250),
            email: Some("ana@acme.example".into()),
            ..LeadFields::default()
        };
        let p = props("https://acme.example/pricing");
        let visit = Event {
            id: Uuid::from_u128(1),
            kind: "page_view",
            occurred_at: now(),
            properties: &p,
        };
        let r = s.score(&lead, &[visit], now());
        assert_eq!(r.fit, 45, "{r:?}");
        assert_eq!(r.grade, Grade::B);
        // Pricing (10) and any page (1), both fresh.
        assert_eq!(r.score, 11);
        assert_eq!(r.priority, "B3");
        let pricing = r
            .contributions
            .iter()
            .find(|c| c.rule_id == "pricing-page")
            .unwrap();
        assert_eq!(pricing.activity_id, Some(Uuid::from_u128(1)));
    }

    #[test]
    fn points_decay_by_half_life_and_caps_limit_a_burst() {
        let mut m = ModelDefinition::starter();
        m.behaviour = vec![BehaviourRule {
            id: "pricing".into(),
            name: "Pricing".into(),
            activity: "page_view".into(),
            filters: vec![PropertyFilter {
                property: "url".into(),
                test: Test::Contains {
                    text: "/PRICING".into(),
                },
            }],
            points: 10,
            cap: Some(Cap {
                points: 25,
                days: 7.0,
            }),
            frequency: None,
            within_days: None,
            half_life_days: Some(30.0),
        }];
        let s = Scorer::new(m);
        let p = props("/pricing");
        let other = props("/blog");
        let at = |days_ago: i64, n: u128, props| Event {
            id: Uuid::from_u128(n),
            kind: "page_view",
            occurred_at: now() - Duration::days(days_ago),
            properties: props,
        };
        // 30 days ago: 10 points worth 5 today.
        let r = s.score(&LeadFields::default(), &[at(30, 1, &p)], now());
        assert_eq!(r.score, 5);
        assert!((r.contributions[0].value_today - 5.0).abs() < 0.01);
        // Four visits in one day: capped at 25 (10 + 10 + 5 + 0); the blog does not count.
        let burst = [
            at(0, 1, &p),
            at(0, 2, &p),
            at(0, 3, &p),
            at(0, 4, &p),
            at(0, 5, &other),
        ];
        let r = s.score(&LeadFields::default(), &burst, now());
        assert_eq!(r.score, 25, "{r:?}");
        assert_eq!(r.contributions.len(), 3);
        // A week later the cap has room again.
        let spread = [at(8, 1, &p), at(8, 2, &p), at(8, 3, &p), at(0, 4, &p)];
        let r = s.score(&LeadFields::default(), &spread, now());
        assert_eq!(r.contributions.len(), 4);
    }

    #[test]
    fn frequency_and_recency() {
        let mut m = ModelDefinition::starter();
        m.half_life_days = None;
        m.behaviour = vec![BehaviourRule {
            id: "three-visits".into(),
            name: "Three visits in a week".into(),
            activity: "page_view".into(),
            filters: vec![],
            points: 20,
            cap: None,
            frequency: Some(Frequency {
                count: 3,
                days: 7.0,
            }),
            within_days: Some(60.0),
            half_life_days: None,
        }];
        let s = Scorer::new(m);
        let p = Map::new();
        let at = |days_ago: i64, n: u128| Event {
            id: Uuid::from_u128(n),
            kind: "page_view",
            occurred_at: now() - Duration::days(days_ago),
            properties: &p,
        };
        let r = s.score(
            &LeadFields::default(),
            &[at(10, 1), at(9, 2), at(8, 3)],
            now(),
        );
        assert_eq!(r.score, 20);
        let r = s.score(
            &LeadFields::default(),
            &[at(30, 1), at(20, 2), at(10, 3)],
            now(),
        );
        assert_eq!(r.score, 0, "too far apart");
        let r = s.score(
            &LeadFields::default(),
            &[at(90, 1), at(89, 2), at(88, 3)],
            now(),
        );
        assert_eq!(r.score, 0, "too long ago");
    }

    #[test]
    fn tests_on_fields() {
        let f = LeadFields {
            country: Some("de".into()),
            employees: Some(40),
            title: Some("Head of IT".into()),
            ..LeadFields::default()
        };
        let m = |t: Test, field: &str| Matcher::new(&t).test(field_value(&f, field).as_ref());
        assert!(m(
            Test::In {
                values: vec!["DE".into(), "AT".into()]
            },
            "country"
        ));
        assert!(m(
            Test::Equals {
                value: Value::from(40)
            },
            "employees"
        ));
        assert!(!m(
            Test::Range {
                min: Some(50.0),
                max: None
            },
            "employees"
        ));
        assert!(m(Test::Missing, "budget"));
        assert!(m(
            Test::Function {
                functions: vec![crate::quality::normalize::Function::It]
            },
            "title"
        ));
        assert!(!m(Test::Exists, "custom.nothing"));
    }

    proptest! {
        #[test]
        fn decay_never_grows_and_scores_are_bounded(days in 0i64..2000, points in -1000i32..1000, half in 0.5f64..365.0) {
            let v = decayed(points.into(), now() - Duration::days(days), now(), Some(half));
            prop_assert!(v.abs() <= f64::from(points.abs()) + 1e-9);
            prop_assert!(v.is_finite());
        }
    }
}
