//! Field-level survivorship: which value each field keeps when several leads are merged
//! into one.

use crate::lead::{Lead, LeadFields, Touch};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// How a merge chooses each field's value when no person picked one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Survivorship {
    /// The most recently updated lead's non-empty value (Salesforce's and HubSpot's default).
    #[default]
    MostRecent,
    /// The non-empty value of the lead whose first-touch source ranks highest in `sources`
    /// (e.g. sales-entered data over a purchased list); unranked sources come last, and
    /// within one rank the most recently updated lead wins.
    SourcePriority { sources: Vec<String> },
}

/// Fields whose value a merge decides by a rule of its own rather than by survivorship.
const SPECIAL: [&str; 4] = ["first_touch", "last_touch", "email_opt_out", "custom"];

/// Fields the survivor keeps when it has a value: who works the lead, and its identity in
/// another system.
const KEEP_SURVIVORS: [&str; 3] = ["owner_id", "team_id", "external_id"];

/// Which lead a merged field's value came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldPick {
    /// The field, e.g. `phone` or `custom.budget_code`.
    pub field: String,
    /// The lead whose value was kept.
    pub from: Uuid,
    pub value: Value,
}

/// The merged fields and where each non-empty value came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub fields: LeadFields,
    pub picks: Vec<FieldPick>,
}

fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn as_map(f: &LeadFields) -> Map<String, Value> {
    match serde_json::to_value(f) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

impl Survivorship {
    /// The leads in the order their values win: best first.
    fn rank<'a>(&self, leads: &[&'a Lead]) -> Vec<&'a Lead> {
        let mut out = leads.to_vec();
        let rank = |l: &Lead| -> usize {
            match self {
                Survivorship::MostRecent => 0,
                Survivorship::SourcePriority { sources } => l
                    .fields
                    .first_touch
                    .source
                    .as_deref()
                    .and_then(|s| sources.iter().position(|x| x.eq_ignore_ascii_case(s)))
                    .unwrap_or(usize::MAX),
            }
        };
        // Stable: among equals, the order given (survivor first) breaks the tie.
        out.sort_by(|a, b| rank(a).cmp(&rank(b)).then(b.updated_at.cmp(&a.updated_at)));
        out
    }

    /// Merges `others` into `survivor`. `chosen` names, per field, the lead a person picked
    /// (a field name as in [`FieldPick::field`]); every other field follows the rule.
    /// First touch comes from the earliest-created lead, last touch from the latest
    /// non-empty one, and an opt-out by any of them sticks.
    pub fn merge(
        &self,
        survivor: &Lead,
        others: &[&Lead],
        chosen: &BTreeMap<String, Uuid>,
    ) -> Merged {
        let all: Vec<&Lead> = std::iter::once(survivor)
            .chain(others.iter().copied())
            .collect();
        let ranked = self.rank(&all);
        let maps: Vec<(Uuid, Map<String, Value>)> =
            ranked.iter().map(|l| (l.id, as_map(&l.fields))).collect();
        let mut out = as_map(&survivor.fields);
        let mut picks = Vec::new();
        let pick_from = |field: &str, get: &dyn Fn(&Map<String, Value>) -> Option<Value>| {
            if let Some(id) = chosen.get(field)
                && let Some((_, m)) = maps.iter().find(|(i, _)| i == id)
            {
                return Some((*id, get(m).unwrap_or(Value::Null)));
            }
            maps.iter()
                .find_map(|(id, m)| get(m).filter(|v| !empty(v)).map(|v| (*id, v)))
        };
        let survivor_map = as_map(&survivor.fields);
        for name in LeadFields::NAMES.iter().filter(|n| !SPECIAL.contains(n)) {
            // The survivor keeps its own owner, team and external id unless a person chose.
            let own = survivor_map.get(*name).filter(|v| !empty(v));
            if KEEP_SURVIVORS.contains(name)
                && !chosen.contains_key(*name)
                && let Some(v) = own
            {
                picks.push(FieldPick {
                    field: (*name).to_owned(),
                    from: survivor.id,
                    value: v.clone(),
                });
                continue;
            }
            if let Some((from, value)) = pick_from(name, &|m| m.get(*name).cloned()) {
                if !empty(&value) {
                    picks.push(FieldPick {
                        field: (*name).to_owned(),
                        from,
                        value: value.clone(),
                    });
                }
                out.insert((*name).to_owned(), value);
            }
        }
        let custom_keys: std::collections::BTreeSet<String> = all
            .iter()
            .flat_map(|l| l.fields.custom.keys().cloned())
            .collect();
        let mut custom = Map::new();
        for key in custom_keys {
            let field = format!("custom.{key}");
            if let Some((from, value)) = pick_from(&field, &|m| {
                m.get("custom").and_then(|c| c.get(&key)).cloned()
            }) && !empty(&value)
            {
                picks.push(FieldPick {
                    field,
                    from,
                    value: value.clone(),
                });
                custom.insert(key, value);
            }
        }
        out.insert("custom".into(), Value::Object(custom));
        let mut fields: LeadFields =
            serde_json::from_value(Value::Object(out)).unwrap_or_else(|_| survivor.fields.clone());
        let earliest = all
            .iter()
            .filter(|l| !l.fields.first_touch.is_empty())
            .min_by_key(|l| l.created_at);
        fields.first_touch = earliest.map_or_else(Touch::default, |l| l.fields.first_touch.clone());
        let latest = all
            .iter()
            .filter(|l| !l.fields.last_touch.is_empty())
            .max_by_key(|l| l.updated_at);
        fields.last_touch = latest.map_or_else(Touch::default, |l| l.fields.last_touch.clone());
        fields.email_opt_out = all.iter().any(|l| l.fields.email_opt_out);
        Merged { fields, picks }
    }
}

/// Restores, after an unmerge, the survivor's fields as they were before the merge — except
/// those changed since the merge, which keep their newer value. Returns the fields and the
/// names of those kept.
pub fn unmerge_fields(
    before: &LeadFields,
    after_merge: &LeadFields,
    now: &LeadFields,
) -> (LeadFields, Vec<String>) {
    let (b, a, n) = (as_map(before), as_map(after_merge), as_map(now));
    let mut out = b.clone();
    let mut kept = Vec::new();
    for (k, v) in &n {
        if a.get(k) != Some(v) {
            out.insert(k.clone(), v.clone());
            kept.push(k.clone());
        }
    }
    let fields = serde_json::from_value(Value::Object(out)).unwrap_or_else(|_| before.clone());
    (fields, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::Stage;
    use chrono::{Duration, TimeZone, Utc};
    use proptest::prelude::*;

    fn lead(n: i64, f: LeadFields) -> Lead {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(n);
        Lead {
            id: Uuid::from_u128(n as u128 + 1),
            fields: f,
            stage: Stage::New,
            disqualify_reason: None,
            score: 0,
            grade: None,
            created_at: t,
            updated_at: t,
            version: 1,
        }
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_owned())
    }

    #[test]
    fn most_recent_non_empty_wins_and_picks_say_where_from() {
        let old = lead(
            0,
            LeadFields {
                email: s("ana@acme.example"),
                phone: s("+4930111"),
                title: s("Buyer"),
                first_touch: Touch {
                    source: s("webinar"),
                    ..Touch::default()
                },
                ..LeadFields::default()
            },
        );
        let new = lead(
            5,
            LeadFields {
                email: s("ana.lima@acme.example"),
                title: s("Head of Purchasing"),
                email_opt_out: true,
                first_touch: Touch {
                    source: s("ads"),
                    ..Touch::default()
                },
                ..LeadFields::default()
            },
        );
        let m = Survivorship::MostRecent.merge(&old, &[&new], &BTreeMap::new());
        assert_eq!(m.fields.title.as_deref(), Some("Head of Purchasing"));
        assert_eq!(m.fields.email.as_deref(), Some("ana.lima@acme.example"));
        // Empty in the newer lead: the older value survives.
        assert_eq!(m.fields.phone.as_deref(), Some("+4930111"));
        // First touch from the earliest lead; an opt-out sticks.
        assert_eq!(m.fields.first_touch.source.as_deref(), Some("webinar"));
        assert!(m.fields.email_opt_out);
        let phone = m.picks.iter().find(|p| p.field == "phone").unwrap();
        assert_eq!(phone.from, old.id);
    }

    #[test]
    fn source_priority_and_a_persons_choice() {
        let sales = lead(
            0,
            LeadFields {
                title: s("CFO"),
                first_touch: Touch {
                    source: s("sales"),
                    ..Touch::default()
                },
                ..LeadFields::default()
            },
        );
        let list = lead(
            9,
            LeadFields {
                title: s("Finance"),
                company: s("Acme"),
                first_touch: Touch {
                    source: s("purchased_list"),
                    ..Touch::default()
                },
                ..LeadFields::default()
            },
        );
        let rule = Survivorship::SourcePriority {
            sources: vec!["sales".into()],
        };
        let m = rule.merge(&list, &[&sales], &BTreeMap::new());
        assert_eq!(m.fields.title.as_deref(), Some("CFO"));
        assert_eq!(m.fields.company.as_deref(), Some("Acme"));
        let mut chosen = BTreeMap::new();
        chosen.insert("title".to_owned(), list.id);
        let m = rule.merge(&list, &[&sales], &chosen);
        assert_eq!(m.fields.title.as_deref(), Some("Finance"));
    }

    #[test]
    fn unmerge_restores_what_the_merge_changed_only() {
        let before = LeadFields {
            title: s("Buyer"),
            phone: s("1"),
            ..LeadFields::default()
        };
        let after = LeadFields {
            title: s("CFO"),
            phone: s("2"),
            ..LeadFields::default()
        };
        let now = LeadFields {
            title: s("CFO"),
            phone: s("3"),
            ..LeadFields::default()
        };
        let (f, kept) = unmerge_fields(&before, &after, &now);
        assert_eq!(f.title.as_deref(), Some("Buyer"));
        assert_eq!(f.phone.as_deref(), Some("3"));
        assert_eq!(kept, vec!["phone".to_owned()]);
    }

    proptest! {
        /// Merging never loses a value: every non-empty field of any lead is either the
        /// merged value or lost only to another non-empty value.
        #[test]
        fn merge_never_empties_a_field(a in proptest::option::of("[a-z]{1,6}"), b in proptest::option::of("[a-z]{1,6}"), c in proptest::option::of("[a-z]{1,6}")) {
            let x = lead(0, LeadFields { title: a.clone(), city: b.clone(), ..LeadFields::default() });
            let y = lead(1, LeadFields { title: b.clone(), company: c.clone(), ..LeadFields::default() });
            let m = Survivorship::MostRecent.merge(&x, &[&y], &BTreeMap::new());
            prop_assert_eq!(m.fields.title.is_some(), a.is_some() || b.is_some());
            prop_assert_eq!(m.fields.city, b);
            prop_assert_eq!(m.fields.company, c);
        }
    }
}
