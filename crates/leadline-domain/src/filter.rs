//! Lead list queries: filters, sorting and keyset cursors, parsed from the same query
//! string by the API and the UI (so a saved view is just a query string).

use crate::custom_field::CustomFieldDef;
use crate::lead::Grade;
use crate::source::Channel;
use crate::stage::Stage;
use crate::validation::ValidationErrors;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Default and largest page sizes.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size a client may ask for.
pub const MAX_LIMIT: u32 = 200;

/// Whose leads to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerFilter {
    /// The principal's own leads.
    Me,
    /// Leads nobody owns.
    Unassigned,
    /// One user's leads.
    User(Uuid),
}

/// A first-touch key or the team a lead may lack: what a report's `(none)` row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Source,
    Medium,
    Campaign,
    Team,
}

impl Missing {
    /// Every field a list can ask to be missing.
    pub const ALL: [Missing; 4] = [
        Missing::Source,
        Missing::Medium,
        Missing::Campaign,
        Missing::Team,
    ];

    /// The name used in `missing=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::Source => "source",
            Missing::Medium => "medium",
            Missing::Campaign => "campaign",
            Missing::Team => "team",
        }
    }
}

impl std::str::FromStr for Missing {
    type Err = crate::stage::UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Missing::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                crate::stage::UnknownValue::new(
                    "missing",
                    s,
                    Missing::ALL.iter().map(|m| m.as_str()),
                )
            })
    }
}

/// Column a list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    Score,
    Name,
    Company,
}

impl SortField {
    /// Every sortable field.
    pub const ALL: [SortField; 5] = [
        SortField::CreatedAt,
        SortField::UpdatedAt,
        SortField::Score,
        SortField::Name,
        SortField::Company,
    ];

    /// The name used in `sort=`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::CreatedAt => "created_at",
            SortField::UpdatedAt => "updated_at",
            SortField::Score => "score",
            SortField::Name => "name",
            SortField::Company => "company",
        }
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortDirection {
    Asc,
    Desc,
}

/// A sort order; ties are always broken by lead id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadSort {
    pub field: SortField,
    pub direction: SortDirection,
}

impl Default for LeadSort {
    fn default() -> Self {
        LeadSort {
            field: SortField::CreatedAt,
            direction: SortDirection::Desc,
        }
    }
}

impl LeadSort {
    /// Parses `created_at` (ascending) or `-created_at` (descending).
    pub fn parse(s: &str) -> Option<LeadSort> {
        let (direction, name) = match s.strip_prefix('-') {
            Some(rest) => (SortDirection::Desc, rest),
            None => (SortDirection::Asc, s),
        };
        let field = SortField::ALL.into_iter().find(|f| f.as_str() == name)?;
        Some(LeadSort { field, direction })
    }

    /// The `sort=` form of this order.
    pub fn to_param(self) -> String {
        match self.direction {
            SortDirection::Asc => self.field.as_str().to_owned(),
            SortDirection::Desc => format!("-{}", self.field.as_str()),
        }
    }
}

/// The sort key of the last row of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CursorValue {
    Int(i64),
    Text(String),
}

/// Where the next page starts: the sort key and id of the last row seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort this cursor belongs to; a cursor is refused under another sort.
    pub sort: String,
    pub value: CursorValue,
    pub id: Uuid,
}

impl Cursor {
    /// Opaque, URL-safe text.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a cursor made by [`Cursor::encode`].
    pub fn decode(s: &str) -> Option<Cursor> {
        if s.len() > 1024 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// A condition on a custom field.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomCondition {
    pub key: String,
    /// The value to equal; for multi-choice fields, an option the lead must have.
    pub value: Value,
    /// True for multi-choice fields (array containment).
    pub contains: bool,
}

/// Everything a lead list can be narrowed by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadFilter {
    pub stages: Vec<Stage>,
    pub owner: Option<OwnerFilter>,
    pub team_id: Option<Uuid>,
    /// First-touch (lead) source, exact.
    pub source: Option<String>,
    /// First-touch campaign, exact.
    pub campaign: Option<String>,
    /// First-touch medium, exact.
    pub medium: Option<String>,
    /// Marketing channel, as the reports group leads (see [`Channel::of_lead`]).
    pub channel: Option<Channel>,
    /// Fields the lead has no value in (empty counts as none, as in the reports).
    pub missing: Vec<Missing>,
    /// Leads that reached this funnel step (`mql`, `sal`, `sql`, `converted`, `won`; a later
    /// step counts), as the reports count them.
    pub reached: Option<String>,
    /// Score bounds under the default model; with them (or grades, or a sort by score) a
    /// list holds scored leads only (every lead is scored when it arrives; imported ones in
    /// the pass right after the import).
    pub score_min: Option<i32>,
    pub score_max: Option<i32>,
    pub grades: Vec<Grade>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    /// Text that must appear in the name, email or company (case-insensitive).
    pub q: Option<String>,
    pub custom: Vec<CustomCondition>,
}

/// A parsed list request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadQuery {
    pub filter: LeadFilter,
    pub sort: LeadSort,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

/// Adds each comma-separated value of `v` to `into` once; a value that does not parse is
/// an `unknown_value` error on `field`.
fn add_listed<T>(v: &str, field: &str, into: &mut Vec<T>, e: &mut ValidationErrors)
where
    T: std::str::FromStr + PartialEq,
    T::Err: std::fmt::Display,
{
    for x in v.split(',') {
        match x.trim().parse::<T>() {
            Ok(t) if !into.contains(&t) => into.push(t),
            Ok(_) => {}
            Err(err) => e.add(field, "unknown_value", err.to_string()),
        }
    }
}

/// Query parameters understood by [`LeadQuery::parse`], for documentation.
pub const QUERY_PARAMS: [&str; 21] = [
    "stage",
    "reached",
    "medium",
    "channel",
    "missing",
    "owner",
    "team",
    "source",
    "campaign",
    "score_min",
    "score_max",
    "grade",
    "created_from",
    "created_to",
    "updated_from",
    "updated_to",
    "q",
    "sort",
    "limit",
    "cursor",
    "custom.<key>",
];

impl LeadQuery {
    /// Parses query-string pairs. Repeated and comma-separated values both work for `stage`
    /// and `grade`; empty values are ignored (HTML forms send them).
    pub fn parse(
        pairs: &[(String, String)],
        defs: &[CustomFieldDef],
    ) -> Result<LeadQuery, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let mut q = LeadQuery {
            limit: DEFAULT_LIMIT,
            ..Default::default()
        };
        let mut cursor_text = None;
        for (key, raw) in pairs {
            let v = raw.trim();
            if v.is_empty() {
                continue;
            }
            match key.as_str() {
                "stage" => add_listed(v, "stage", &mut q.filter.stages, &mut e),
                "missing" => add_listed(v, "missing", &mut q.filter.missing, &mut e),
                "grade" => add_listed(v, "grade", &mut q.filter.grades, &mut e),
                "owner" => {
                    q.filter.owner = match v {
                        "me" => Some(OwnerFilter::Me),
                        "none" => Some(OwnerFilter::Unassigned),
                        id => match Uuid::parse_str(id) {
                            Ok(u) => Some(OwnerFilter::User(u)),
                            Err(_) => {
                                e.add(
                                    "owner",
                                    "invalid_value",
                                    "must be a user id, 'me' or 'none'",
                                );
                                None
                            }
                        },
                    }
                }
                "team" => match Uuid::parse_str(v) {
                    Ok(u) => q.filter.team_id = Some(u),
                    Err(_) => e.add("team", "invalid_value", "must be a team id"),
                },
                "source" => q.filter.source = Some(limit_len(v, 255)),
                "medium" => q.filter.medium = Some(limit_len(v, 255)),
                "campaign" => q.filter.campaign = Some(limit_len(v, 255)),
                "reached" => match v {
                    "lead" => {}
                    "mql" | "sal" | "sql" | "converted" | "won" => {
                        q.filter.reached = Some(v.to_owned())
                    }
                    _ => e.add(
                        "reached",
                        "unknown_value",
                        "must be mql, sal, sql, converted or won",
                    ),
                },
                "channel" => match v.parse::<Channel>() {
                    Ok(c) => q.filter.channel = Some(c),
                    Err(err) => e.add("channel", "unknown_value", err.to_string()),
                },
                "q" => q.filter.q = Some(limit_len(v, 200)),
                "score_min" | "score_max" => match v.parse::<i32>() {
                    Ok(n) if key == "score_min" => q.filter.score_min = Some(n),
                    Ok(n) => q.filter.score_max = Some(n),
                    Err(_) => e.add(key.clone(), "invalid_value", "must be a whole number"),
                },
                "created_from" | "created_to" | "updated_from" | "updated_to" => {
                    let end_of_day = key.ends_with("_to");
                    match parse_time(v, end_of_day) {
                        Some(t) => match key.as_str() {
                            "created_from" => q.filter.created_from = Some(t),
                            "created_to" => q.filter.created_to = Some(t),
                            "updated_from" => q.filter.updated_from = Some(t),
                            _ => q.filter.updated_to = Some(t),
                        },
                        None => e.add(
                            key.clone(),
                            "invalid_value",
                            "must be a date (YYYY-MM-DD) or an RFC 3339 time",
                        ),
                    }
                }
                "sort" => match LeadSort::parse(v) {
                    Some(s) => q.sort = s,
                    None => e.add(
                        "sort",
                        "unknown_value",
                        format!(
                            "must be one of {} (prefix - for descending)",
                            SortField::ALL.map(|f| f.as_str()).join(", ")
                        ),
                    ),
                },
                "limit" => match v.parse::<u32>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => q.limit = n,
                    _ => e.add(
                        "limit",
                        "out_of_range",
                        format!("must be between 1 and {MAX_LIMIT}"),
                    ),
                },
                "cursor" => cursor_text = Some(v.to_owned()),
                other => match other.strip_prefix("custom.") {
                    Some(ck) => match defs.iter().find(|d| d.key == ck) {
                        Some(def) => match def.parse_text(v) {
                            Ok(Some(value)) => {
                                let contains = def.kind == crate::CustomFieldKind::MultiChoice;
                                let value = match (contains, value) {
                                    (true, Value::Array(mut items)) if items.len() == 1 => {
                                        items.remove(0)
                                    }
                                    (true, _) => {
                                        e.add(
                                            key.clone(),
                                            "invalid_value",
                                            "filter on one option at a time",
                                        );
                                        continue;
                                    }
                                    (false, v) => v,
                                };
                                q.filter.custom.push(CustomCondition {
                                    key: ck.to_owned(),
                                    value,
                                    contains,
                                });
                            }
                            Ok(None) => {}
                            Err(msg) => e.add(key.clone(), "invalid_value", msg),
                        },
                        None => e.add(
                            key.clone(),
                            "unknown_field",
                            "no custom field with this key is defined",
                        ),
                    },
                    None => e.add(
                        key.clone(),
                        "unknown_parameter",
                        format!("is not a filter; known: {}", QUERY_PARAMS.join(", ")),
                    ),
                },
            }
        }
        if let Some(text) = cursor_text {
            match Cursor::decode(&text) {
                Some(c) if c.sort == q.sort.to_param() => q.cursor = Some(c),
                Some(_) => e.add(
                    "cursor",
                    "invalid_cursor",
                    "this cursor belongs to another sort order",
                ),
                None => e.add(
                    "cursor",
                    "invalid_cursor",
                    "is not a cursor returned by this API",
                ),
            }
        }
        if let (Some(a), Some(b)) = (q.filter.score_min, q.filter.score_max)
            && a > b
        {
            e.add(
                "score_min",
                "invalid_range",
                "must not be greater than score_max",
            );
        }
        e.into_result().map(|()| q)
    }
}

fn limit_len(v: &str, max: usize) -> String {
    v.chars().take(max).collect()
}

/// Accepts `YYYY-MM-DD` (start or end of that UTC day) or a full RFC 3339 time.
fn parse_time(v: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
    let t = if end_of_day {
        d.and_hms_micro_opt(23, 59, 59, 999_999)?
    } else {
        d.and_hms_opt(0, 0, 0)?
    };
    Some(t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CustomFieldKind;
    use proptest::prelude::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parses_a_full_query() {
        let defs = vec![CustomFieldDef {
            id: Uuid::nil(),
            key: "segment".into(),
            label: "Segment".into(),
            kind: CustomFieldKind::Choice,
            options: vec!["SMB".into(), "ENT".into()],
            created_at: Utc::now(),
        }];
        let q = LeadQuery::parse(
            &pairs(&[
                ("stage", "mql,sal"),
                ("stage", "mql"),
                ("owner", "me"),
                ("score_min", "10"),
                ("grade", "A,b"),
                ("created_from", "2026-01-01"),
                ("created_to", "2026-01-31"),
                ("sort", "-score"),
                ("limit", "20"),
                ("custom.segment", "SMB"),
                ("channel", "paid_search"),
                ("missing", "source,team"),
                ("missing", "source"),
                ("q", ""),
            ]),
            &defs,
        )
        .unwrap();
        assert_eq!(q.filter.stages, vec![Stage::Mql, Stage::Sal]);
        assert_eq!(q.filter.owner, Some(OwnerFilter::Me));
        assert_eq!(q.filter.grades, vec![Grade::A, Grade::B]);
        assert_eq!(
            q.sort,
            LeadSort {
                field: SortField::Score,
                direction: SortDirection::Desc
            }
        );
        assert_eq!(q.limit, 20);
        assert_eq!(q.filter.custom[0].value, Value::from("SMB"));
        assert_eq!(
            q.filter.created_to.unwrap().to_rfc3339(),
            "2026-01-31T23:59:59.999999+00:00"
        );
        assert_eq!(q.filter.q, None);
        assert_eq!(q.filter.channel, Some(Channel::PaidSearch));
        assert_eq!(q.filter.missing, vec![Missing::Source, Missing::Team]);
    }

    #[test]
    fn bad_parameters_are_reported_by_name() {
        let err = LeadQuery::parse(
            &pairs(&[
                ("stage", "won"),
                ("limit", "5000"),
                ("sort", "email"),
                ("colour", "red"),
                ("custom.nope", "1"),
                ("cursor", "%%%"),
                ("channel", "tv"),
                ("missing", "owner"),
            ]),
            &[],
        )
        .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "stage",
                "limit",
                "sort",
                "colour",
                "custom.nope",
                "channel",
                "missing",
                "cursor"
            ]
        );
    }

    #[test]
    fn a_cursor_is_bound_to_its_sort() {
        let c = Cursor {
            sort: "-created_at".into(),
            value: CursorValue::Int(5),
            id: Uuid::now_v7(),
        };
        let ok = LeadQuery::parse(&pairs(&[("cursor", &c.encode())]), &[]).unwrap();
        assert_eq!(ok.cursor, Some(c.clone()));
        let err = LeadQuery::parse(&pairs(&[("cursor", &c.encode()), ("sort", "score")]), &[])
            .unwrap_err();
        assert_eq!(err.0[0].code, "invalid_cursor");
    }

    proptest! {
        #[test]
        fn cursors_round_trip(v in any::<i64>(), text in ".{0,40}", use_text in any::<bool>()) {
            let value = if use_text { CursorValue::Text(text) } else { CursorValue::Int(v) };
            let c = Cursor { sort: "name".into(), value, id: Uuid::now_v7() };
            prop_assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }

        #[test]
        fn arbitrary_query_strings_never_panic(k in "[a-z_.]{0,12}", v in ".{0,30}") {
            let _ = LeadQuery::parse(&[(k, v)], &[]);
        }
    }
}
