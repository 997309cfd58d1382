//! Routing rules: ordered conditions on a lead → a rep or a team, and how a team picks
//! the rep. The first rule whose conditions all hold decides.

use crate::CustomFieldDef;
use crate::lead::{Grade, LeadFields};
use crate::scoring::engine::{Matcher, Scalar, field_value};
use crate::scoring::rules::{Test, check_test, known_field, valid_rule_id};
use crate::stage::Stage;
use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most rules a rule set holds.
pub const MAX_RULES: usize = 200;

/// A routing rule set (one version of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRules {
    /// Account-based routing, before the rules: a lead linked to an account with an owner
    /// goes to that owner (unless they are away or deactivated). On by default.
    #[serde(default = "yes")]
    pub account_owners: bool,
    /// Tried in order; the first whose conditions all hold decides.
    #[serde(default)]
    pub rules: Vec<RoutingRule>,
    /// The team queue for leads no rule matches, or whose team has nobody to take them.
    /// Without one they stay unassigned; either way the manager's board shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_team: Option<Uuid>,
}

fn yes() -> bool {
    true
}

impl Default for RoutingRules {
    fn default() -> Self {
        RoutingRules {
            account_owners: true,
            rules: Vec::new(),
            fallback_team: None,
        }
    }
}

/// One rule: when every condition holds, the lead goes to the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// Stable id, unique in the set (assignments record it).
    pub id: String,
    pub name: String,
    /// All must hold; none means every lead.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub target: Target,
}

/// A test on one lead field: the lead fields scoring knows (`country`, `industry`,
/// `employees`, `custom.KEY`…) and `score`, `grade`, `priority`, `stage`, `source`.
// No `deny_unknown_fields`: serde cannot combine it with the flattened test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Condition {
    pub field: String,
    #[serde(flatten)]
    pub test: Test,
}

/// Who receives the lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// One rep.
    User { user_id: Uuid },
    /// A team: one of its reps, picked by `method`.
    Team {
        team_id: Uuid,
        #[serde(default)]
        method: Method,
    },
}

/// How a team picks the rep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Method {
    /// In turn: the rep who has received fewest from this team.
    #[default]
    RoundRobin,
    /// In turn, in proportion to each rep's weight.
    Weighted,
    /// The rep with the lowest share of their open-lead capacity.
    LoadBalanced,
    /// The rep with the best conversion rate over the trailing window ("best lead to best
    /// rep": put a priority or score condition on the rule).
    BestConversion { window_days: u32 },
}

impl Method {
    /// How assignments name it.
    pub fn label(&self) -> &'static str {
        match self {
            Method::RoundRobin => "round robin",
            Method::Weighted => "weighted round robin",
            Method::LoadBalanced => "load balanced",
            Method::BestConversion { .. } => "best conversion rate",
        }
    }
}

/// Fields routing conditions test beyond the lead's own.
pub const ROUTE_FIELDS: [&str; 5] = ["score", "grade", "priority", "stage", "source"];

/// What routing sees of a lead.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub fields: &'a LeadFields,
    pub stage: Stage,
    pub score: i32,
    pub grade: Option<Grade>,
    pub priority: Option<&'a str>,
}

impl Facts<'_> {
    fn value(&self, field: &str) -> Option<Scalar<'_>> {
        match field {
            "score" => Some(Scalar::Number(self.score.into())),
            "grade" => self.grade.map(|g| Scalar::Text(g.as_str().into())),
            "priority" => self.priority.map(|p| Scalar::Text(p.into())),
            "stage" => Some(Scalar::Text(self.stage.as_str().into())),
            "source" => field_value(self.fields, "first_touch.source"),
            f => field_value(self.fields, f),
        }
    }
}

/// A rule set ready to route many leads: tests prepared once.
#[derive(Debug, Clone)]
pub struct Router {
    pub rules: RoutingRules,
    prepared: Vec<Vec<(String, Matcher)>>,
}

impl Router {
    /// Prepares a rule set (validate it first: a test that cannot be prepared never
    /// matches).
    pub fn new(rules: RoutingRules) -> Router {
        let prepared = rules
            .rules
            .iter()
            .map(|r| {
                r.conditions
                    .iter()
                    .map(|c| (c.field.clone(), Matcher::new(&c.test)))
                    .collect()
            })
            .collect();
        Router { rules, prepared }
    }

    /// The first rule whose conditions all hold for the lead.
    pub fn first_match(&self, lead: &Facts<'_>) -> Option<&RoutingRule> {
        self.rules
            .rules
            .iter()
            .zip(&self.prepared)
            .find(|(_, tests)| {
                tests
                    .iter()
                    .all(|(field, m)| m.test(lead.value(field).as_ref()))
            })
            .map(|(r, _)| r)
    }
}

impl RoutingRules {
    /// Checks the rule set: ids, names, known fields, sound tests. Users and teams are
    /// checked against the database by the caller.
    pub fn validate(&self, defs: &[CustomFieldDef]) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::default();
        if self.rules.len() > MAX_RULES {
            e.add(
                "rules",
                "too_many_rules",
                format!("a rule set holds at most {MAX_RULES} rules"),
            );
        }
        let mut ids = std::collections::HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if !valid_rule_id(&r.id) {
                e.add(
                    format!("{at}.id"),
                    "invalid_id",
                    "1-64 letters, digits, - and _",
                );
            } else if !ids.insert(r.id.as_str()) {
                e.add(
                    format!("{at}.id"),
                    "duplicate_id",
                    format!("another rule has the id {}", r.id),
                );
            }
            if r.name.trim().is_empty() || r.name.chars().count() > 100 {
                e.add(
                    format!("{at}.name"),
                    "invalid_name",
                    "give a name of 1 to 100 characters",
                );
            }
            for (j, c) in r.conditions.iter().enumerate() {
                let cat = format!("{at}.conditions[{j}]");
                if !known_field(&c.field, defs) && !ROUTE_FIELDS.contains(&c.field.as_str()) {
                    e.add(
                        format!("{cat}.field"),
                        "unknown_field",
                        format!("no lead field or custom field '{}'", c.field),
                    );
                }
                check_test(&mut e, &format!("{cat}.test"), &c.test, c.field == "title");
            }
            if let Target::Team {
                method: Method::BestConversion { window_days },
                ..
            } = r.target
                && !(1..=730).contains(&window_days)
            {
                e.add(
                    format!("{at}.target.window_days"),
                    "out_of_range",
                    "a window of 1 to 730 days",
                );
            }
        }
        e.into_result()
    }

    /// The rule set as a TOML file (for the editor and version control).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a TOML rule set (not yet validated).
    pub fn from_toml(s: &str) -> Result<RoutingRules, String> {
        toml::from_str(s).map_err(|e| e.to_string())
    }

    /// Every user and team the rule set names (for the caller to check they exist).
    pub fn references(&self) -> (Vec<Uuid>, Vec<Uuid>) {
        let mut users = Vec::new();
        let mut teams: Vec<Uuid> = self.fallback_team.into_iter().collect();
        for r in &self.rules {
            match r.target {
                Target::User { user_id } => users.push(user_id),
                Target::Team { team_id, .. } => teams.push(team_id),
            }
        }
        (users, teams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(v: serde_json::Value) -> RoutingRules {
        serde_json::from_value(v).unwrap()
    }

    fn lead(country: &str, employees: i32) -> LeadFields {
        LeadFields {
            country: Some(country.into()),
            employees: Some(employees),
            ..Default::default()
        }
    }

    #[test]
    fn first_matching_rule_decides() {
        let emea = Uuid::now_v7();
        let big = Uuid::now_v7();
        let set = rules(json!({"rules": [
            {"id": "enterprise", "name": "Enterprise", "conditions": [
                {"field": "employees", "op": "range", "min": 1000},
                {"field": "grade", "op": "in", "values": ["A", "B"]}],
             "target": {"kind": "user", "user_id": big}},
            {"id": "emea", "name": "EMEA", "conditions": [
                {"field": "country", "op": "in", "values": ["DE", "FR", "GB"]}],
             "target": {"kind": "team", "team_id": emea, "method": {"method": "weighted"}}}
        ]}));
        set.validate(&[]).unwrap();
        let router = Router::new(set);
        let facts = |f: &'static LeadFields, grade| Facts {
            fields: f,
            stage: Stage::Mql,
            score: 50,
            grade,
            priority: None,
        };
        let big_de: &'static LeadFields = Box::leak(Box::new(lead("DE", 5000)));
        let small_de: &'static LeadFields = Box::leak(Box::new(lead("de", 10)));
        let small_us: &'static LeadFields = Box::leak(Box::new(lead("US", 10)));
        let hit = |f, g| router.first_match(&facts(f, g)).map(|r| r.id.as_str());
        assert_eq!(hit(big_de, Some(Grade::A)), Some("enterprise"));
        // A big company with a poor grade falls through to the territory rule.
        assert_eq!(hit(big_de, Some(Grade::D)), Some("emea"));
        assert_eq!(hit(small_de, None), Some("emea"));
        assert_eq!(hit(small_us, Some(Grade::A)), None);
    }

    #[test]
    fn validation_names_each_problem() {
        let set = rules(json!({"rules": [
            {"id": "a", "name": "", "conditions": [{"field": "shoe_size", "op": "exists"}],
             "target": {"kind": "team", "team_id": Uuid::nil(),
                        "method": {"method": "best_conversion", "window_days": 0}}},
            {"id": "a", "name": "Again", "conditions": [
                {"field": "title", "op": "matches", "pattern": "("}],
             "target": {"kind": "user", "user_id": Uuid::nil()}}
        ]}));
        let e = set.validate(&[]).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|x| x.field.as_str()).collect();
        for f in [
            "rules[0].name",
            "rules[0].conditions[0].field",
            "rules[0].target.window_days",
            "rules[1].id",
            "rules[1].conditions[0].test",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn toml_round_trip() {
        let set = rules(json!({"rules": [
            {"id": "big", "name": "Big", "conditions": [
                {"field": "employees", "op": "range", "min": 500.0},
                {"field": "custom.product", "op": "in", "values": ["Scoring", "Routing"]}],
             "target": {"kind": "team", "team_id": Uuid::nil(),
                        "method": {"method": "best_conversion", "window_days": 90}}},
            {"id": "one", "name": "One", "target": {"kind": "user", "user_id": Uuid::nil()}}
        ], "fallback_team": Uuid::nil()}));
        let text = set.to_toml();
        assert_eq!(RoutingRules::from_toml(&text).unwrap(), set, "{text}");
        assert!(RoutingRules::from_toml("rules = 3").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<RoutingRules, _> =
            serde_json::from_value(json!({"rules": [], "fallback": "x"}));
        assert!(r.is_err());
    }
}
