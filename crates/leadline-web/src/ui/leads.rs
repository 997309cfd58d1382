//! The lead list (filters, sorting, pages, saved views) and the lead page.

use super::{Frame, error_page, notice};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use leadline_app::AppError;
use leadline_app::leads::StageTransition;
use leadline_app::views::url_pairs;
use leadline_domain::account::{SavedView, User};
use leadline_domain::filter::{Missing, SortDirection};
use leadline_domain::source::Channel;
use leadline_domain::{CustomFieldDef, DisqualifyReason, Lead, NewActivity, Stage, money};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

/// One row of the list.
pub struct Row {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub company: String,
    pub stage: &'static str,
    pub stage_key: &'static str,
    pub score: i32,
    pub grade: &'static str,
    pub owner: String,
    pub source: String,
    pub created: String,
}

/// A sortable column header.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    pub arrow: &'static str,
    pub aria: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "leads.html")]
struct ListPage {
    frame: Frame,
    notice: Option<&'static str>,
    rows: Vec<Row>,
    errors: Vec<String>,
    /// The submitted filter values, to refill the form.
    v: HashMap<String, String>,
    stages: Vec<(&'static str, &'static str, bool)>,
    /// (value, label) of the channel filter's options.
    channels: Vec<(&'static str, &'static str)>,
    /// (value, label) of the funnel steps a lead may have reached.
    steps: Vec<(&'static str, &'static str)>,
    /// (value, label, checked) of the fields a lead may lack (a report's `(none)` row).
    missing: Vec<(&'static str, &'static str, bool)>,
    users: Vec<User>,
    fields: Vec<CustomFieldDef>,
    sorts: Vec<SortLink>,
    next_href: Option<String>,
    first_href: Option<String>,
    views: Vec<SavedView>,
    current_query: String,
}

impl ListPage {
    /// The submitted value of a filter, or "".
    fn val(&self, key: &str) -> &str {
        self.v.get(key).map_or("", String::as_str)
    }
}

fn owner_names(users: &[User]) -> HashMap<Uuid, String> {
    users.iter().map(|u| (u.id, u.name.clone())).collect()
}

fn row(l: &Lead, owners: &HashMap<Uuid, String>) -> Row {
    let f = &l.fields;
    Row {
        id: l.id,
        name: f.display_name(),
        email: f.email.clone().unwrap_or_default(),
        company: f.company.clone().unwrap_or_default(),
        stage: l.stage.label(),
        stage_key: l.stage.as_str(),
        score: l.score,
        grade: l.grade.map_or("", |g| g.as_str()),
        owner: f
            .owner_id
            .and_then(|o| owners.get(&o).cloned())
            .unwrap_or_else(|| "—".into()),
        source: f.first_touch.source.clone().unwrap_or_default(),
        created: l.created_at.format("%Y-%m-%d").to_string(),
    }
}

fn href(pairs: &[(String, String)]) -> String {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()))
        .finish();
    if q.is_empty() {
        "/leads".into()
    } else {
        format!("/leads?{q}")
    }
}

/// The UI's filter form sends the custom-field filter as `cf_key` + `cf_value`; the list
/// API spells it `custom.<key>=value`.
fn normalise(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    let key = pairs
        .iter()
        .find(|(k, _)| k == "cf_key")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut out: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, v)| k != "cf_key" && k != "done" && !v.is_empty())
        .collect();
    if let Some(pos) = out.iter().position(|(k, _)| k == "cf_value") {
        let (_, value) = out.remove(pos);
        if !key.is_empty() {
            out.push((format!("custom.{key}"), value));
        }
    }
    out
}

pub async fn list(State(s): State<AppState>, auth: UiAuth, uri: Uri) -> Response {
    let raw = uri.query().map(url_pairs).unwrap_or_default();
    let done = raw
        .iter()
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.clone());
    let pairs = normalise(raw);
    let (users, fields, views) = match tokio::try_join!(
        s.app.list_users(),
        s.app.custom_fields(),
        s.app.saved_views(&auth.principal)
    ) {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let mut v: HashMap<String, String> = HashMap::new();
    for (k, val) in &pairs {
        v.entry(k.clone())
            .and_modify(|e| {
                e.push(',');
                e.push_str(val)
            })
            .or_insert_with(|| val.clone());
    }
    if let Some((k, val)) = pairs.iter().find(|(k, _)| k.starts_with("custom.")) {
        v.insert("cf_key".into(), k.trim_start_matches("custom.").to_owned());
        v.insert("cf_value".into(), val.clone());
    }
    let (rows, errors, sort, next) = match s.app.parse_lead_query(&pairs).await {
        Ok(query) => match s.app.list_leads(&auth.principal, &query).await {
            Ok(page) => {
                let owners = owner_names(&users);
                (
                    page.leads.iter().map(|l| row(l, &owners)).collect(),
                    Vec::new(),
                    query.sort,
                    page.next_cursor,
                )
            }
            Err(e) => return error_page(e),
        },
        Err(AppError::Validation(errs)) => (
            Vec::new(),
            errs.0
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect(),
            Default::default(),
            None,
        ),
        Err(e) => return error_page(e),
    };
    let base: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "cursor" && k != "sort")
        .cloned()
        .collect();
    let sorts = [
        ("Name", "name"),
        ("Company", "company"),
        ("Score", "score"),
        ("Created", "created_at"),
    ]
    .into_iter()
    .map(|(label, field)| {
        let active = sort.field.as_str() == field;
        // A first click sorts names A→Z and numbers and dates highest first; the next flips it.
        let first_desc = matches!(field, "score" | "created_at");
        let desc = if active {
            sort.direction == SortDirection::Asc
        } else {
            first_desc
        };
        let next_dir = if desc {
            format!("-{field}")
        } else {
            field.to_owned()
        };
        let mut p = base.clone();
        p.push(("sort".into(), next_dir));
        SortLink {
            label,
            href: href(&p),
            arrow: match (active, sort.direction) {
                (false, _) => "",
                (true, SortDirection::Asc) => " ▲",
                (true, SortDirection::Desc) => " ▼",
            },
            aria: match (active, sort.direction) {
                (false, _) => "none",
                (true, SortDirection::Asc) => "ascending",
                (true, SortDirection::Desc) => "descending",
            },
        }
    })
    .collect();
    let without_cursor: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "cursor")
        .cloned()
        .collect();
    let next_href = next.map(|c| {
        let mut p = without_cursor.clone();
        p.push(("cursor".into(), c));
        href(&p)
    });
    let first_href = pairs
        .iter()
        .any(|(k, _)| k == "cursor")
        .then(|| href(&without_cursor));
    let listed = |key: &str| -> Vec<String> {
        v.get(key)
            .map(|s| s.split(',').map(|x| x.trim().to_owned()).collect())
            .unwrap_or_default()
    };
    let selected = listed("stage");
    let lacking = listed("missing");
    let current_query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(without_cursor.iter())
        .finish();
    ListPage {
        frame: Frame::new(&auth.user, "leads"),
        notice: notice(done.as_deref()),
        rows,
        errors,
        stages: Stage::ALL
            .iter()
            .map(|st| {
                (
                    st.as_str(),
                    st.label(),
                    selected.iter().any(|x| x == st.as_str()),
                )
            })
            .collect(),
        channels: Channel::ALL
            .iter()
            .map(|c| (c.as_str(), c.label()))
            .collect(),
        missing: Missing::ALL
            .iter()
            .map(|m| {
                let label = match m {
                    Missing::Source => "Source",
                    Missing::Medium => "Medium",
                    Missing::Campaign => "Campaign",
                    Missing::Team => "Team",
                };
                (m.as_str(), label, lacking.iter().any(|x| x == m.as_str()))
            })
            .collect(),
        steps: vec![
            ("mql", "MQL"),
            ("sal", "SAL"),
            ("sql", "SQL"),
            ("converted", "Converted"),
            ("won", "Won"),
        ],
        v,
        users,
        fields,
        sorts,
        next_href,
        first_href,
        views,
        current_query,
    }
    .into_response()
}

#[derive(Deserialize)]
pub struct ViewForm {
    name: String,
    query: String,
}

pub async fn save_view(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(f): Form<ViewForm>,
) -> Response {
    match s.app.save_view(&auth.principal, &f.name, &f.query).await {
        Ok(v) => Redirect::to(&format!("/leads?{}&done=view", v.query)).into_response(),
        Err(e) => error_page(e),
    }
}

pub async fn delete_view(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
) -> Response {
    match s.app.delete_view(&auth.principal, id).await {
        Ok(()) => Redirect::to("/leads?done=deleted").into_response(),
        Err(e) => error_page(e),
    }
}

/// A label and a value on the lead page.
pub struct Item {
    pub label: String,
    pub value: String,
    /// Render as a link (only for http(s) URLs).
    pub link: bool,
}

/// One line of the timeline or a history.
pub struct Event {
    pub when: String,
    pub what: String,
    pub detail: String,
    pub who: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "lead.html")]
struct DetailPage {
    frame: Frame,
    notice: Option<&'static str>,
    id: Uuid,
    name: String,
    stage: &'static str,
    stage_key: &'static str,
    disqualify_reason: &'static str,
    score: i32,
    grade: &'static str,
    owner: String,
    version: i64,
    person: Vec<Item>,
    company: Vec<Item>,
    bant: Vec<Item>,
    touches: Vec<Item>,
    custom: Vec<Item>,
    next_stages: Vec<(&'static str, &'static str)>,
    reasons: Vec<&'static str>,
    timeline: Vec<Event>,
    stage_history: Vec<Event>,
    owner_history: Vec<Event>,
    changes: Vec<Event>,
    can_edit: bool,
    /// Whom the lead can be given to (active users), when the viewer may reassign.
    assignees: Vec<(Uuid, String)>,
    owner_id: Option<Uuid>,
    /// Admins, managers and marketers see duplicates and merges.
    can_dedupe: bool,
    enrichment: Vec<Item>,
    duplicates: Vec<(Uuid, u64)>,
    merges: Vec<leadline_app::quality::MergeRecord>,
    scores: Vec<leadline_app::scoring::LeadScore>,
    /// The predicted conversion, when a model was trained.
    prediction: Option<leadline_app::scoring::LeadPrediction>,
    /// The prediction as a percentage.
    predicted: String,
    chart: ScoreChart,
    ages: leadline_domain::aging::Ages,
    /// The first-touch clock, if the lead has one.
    sla: Option<SlaLine>,
    tasks: Vec<super::followup::TaskLine>,
    /// Whether tasks can still be added (the lead is not closed).
    followable: bool,
    /// The task form's default due time: an hour from now (UTC, `datetime-local`).
    default_due: String,
    /// The conversion dialog shows for a sales-qualified lead the viewer may change.
    can_convert: bool,
    /// The pipeline's open stages (key, label) for the conversion dialog.
    open_stages: Vec<(String, String)>,
    /// Once converted: the contact's name and the opportunities (id, name, stage).
    contact: Option<String>,
    /// For a nurtured lead: when it comes back to sales.
    reengage: Option<String>,
    opportunities: Vec<(Uuid, String, String)>,
    /// Sequences the lead is or was in: (name, state in words).
    enrollments: Vec<(String, String)>,
    /// Mail written to the lead: (subject, step, status, what the lead did, in words).
    messages: Vec<(String, String, String, String)>,
    /// Consent records in words, oldest first.
    consents: Vec<String>,
    /// When the person was erased, if they were.
    erased: Option<String>,
    /// Managers and admins may download everything about the person.
    can_export: bool,
    /// Admins may erase the person (once).
    can_erase: bool,
}

/// The lead's first-touch clock in words.
struct SlaLine {
    state: String,
    text: String,
    target: String,
    minutes: i32,
    started: String,
}

/// The default model's score over the last 90 days as an SVG line.
struct ScoreChart {
    /// `x,y` pairs for the polyline, in a 300×80 box.
    points: String,
    max: i32,
    first: String,
    last: String,
    /// For screen readers: the scores in words.
    summary: String,
}

impl ScoreChart {
    fn new(curve: &[leadline_app::scoring::CurvePoint]) -> ScoreChart {
        let max = curve.iter().map(|p| p.score).max().unwrap_or(0).max(10);
        let n = curve.len().max(2) as f64 - 1.0;
        let points = curve
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let x = i as f64 * 300.0 / n;
                let y = 75.0 - f64::from(p.score.max(0)) / f64::from(max) * 70.0;
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ");
        let date = |p: Option<&leadline_app::scoring::CurvePoint>| {
            p.map(|p| p.at.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        ScoreChart {
            points,
            max,
            first: date(curve.first()),
            last: date(curve.last()),
            summary: format!(
                "Score from {} to {}: {}",
                date(curve.first()),
                date(curve.last()),
                curve
                    .iter()
                    .step_by(5)
                    .map(|p| p.score.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

fn item(label: &str, v: Option<String>) -> Option<Item> {
    v.filter(|s| !s.is_empty()).map(|value| Item {
        label: label.to_owned(),
        link: value.starts_with("https://") || value.starts_with("http://"),
        value,
    })
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(json_text).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
pub struct DoneParam {
    done: Option<String>,
}

pub async fn detail(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    axum::extract::Query(q): axum::extract::Query<DoneParam>,
) -> Response {
    let (d, users, defs) = match tokio::try_join!(
        s.app.lead_detail(&auth.principal, id),
        s.app.list_users(),
        s.app.custom_fields()
    ) {
        Ok(v) => v,
        Err(AppError::NotFound(what)) => {
            // An old link to a lead merged away leads to the one it was merged into.
            return match s.app.merged_into(id).await {
                Ok(Some((_, survivor))) => {
                    Redirect::to(&format!("/leads/{survivor}?done=merged_away")).into_response()
                }
                _ => error_page(AppError::NotFound(what)),
            };
        }
        Err(e) => return error_page(e),
    };
    let (scores, curve, ages, prediction, clock, tasks) = match tokio::try_join!(
        s.app.lead_score(&auth.principal, id),
        s.app.score_curve(&auth.principal, id, 90, 31),
        s.app.lead_ages(&auth.principal, id),
        s.app.lead_prediction(&auth.principal, id),
        s.app.lead_clock(&auth.principal, id),
        s.app.lead_tasks(&auth.principal, id)
    ) {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let (pipeline, contact, opportunities, reengage, enrollments, messages, consents, erased) =
        match tokio::try_join!(
            s.app.pipeline(),
            s.app.lead_contact(&auth.principal, id),
            s.app.opportunities(&auth.principal, None, Some(id), 20),
            s.app.lead_reengagement(&auth.principal, id),
            s.app.lead_enrollments(&auth.principal, id),
            s.app.lead_messages(&auth.principal, id),
            s.app.lead_consents(&auth.principal, id),
            s.app.lead_erased_at(id)
        ) {
            Ok(v) => v,
            Err(e) => return error_page(e),
        };
    let chart = ScoreChart::new(&curve);
    let owners = owner_names(&users);
    let name_of = |o: Option<Uuid>| {
        o.and_then(|u| owners.get(&u).cloned())
            .unwrap_or_else(|| "nobody".into())
    };
    let l = &d.lead;
    let f = &l.fields;
    let cur = f.currency.as_deref();
    // `within6_months` → "within 6 months".
    let enum_label = |v: Option<serde_json::Value>| {
        v.and_then(|x| {
            x.as_str().map(|s| {
                let mut out = String::new();
                for (i, c) in s.chars().enumerate() {
                    if c == '_' {
                        out.push(' ');
                        continue;
                    }
                    if c.is_ascii_digit()
                        && i > 0
                        && !out.ends_with(|p: char| p == ' ' || p.is_ascii_digit())
                    {
                        out.push(' ');
                    }
                    out.push(c);
                }
                out
            })
        })
    };
    let person = [
        item("Email", f.email.clone()),
        item("Phone", f.phone.clone()),
        item("Mobile", f.mobile.clone()),
        item("Title", f.title.clone()),
        item("Email opt-out", f.email_opt_out.then(|| "yes".to_owned())),
        item("Time zone", f.time_zone.clone()),
        item("Description", f.description.clone()),
    ];
    let company = [
        item("Company", f.company.clone()),
        item("Website", f.website.clone()),
        item("Industry", f.industry.clone()),
        item("Employees", f.employees.map(|n| n.to_string())),
        item(
            "Annual revenue",
            f.annual_revenue
                .map(|a| format!("{} {}", money::format_minor(a, cur), cur.unwrap_or(""))),
        ),
        item("Street", f.street.clone()),
        item("City", f.city.clone()),
        item("State", f.state.clone()),
        item("Postal code", f.postal_code.clone()),
        item("Country", f.country.clone()),
        item(
            "Account",
            d.account
                .as_ref()
                .map(|a| format!("{} (matched by {})", a.account.name, a.matched_by)),
        ),
    ];
    let bant = [
        item(
            "Budget",
            f.budget
                .map(|a| format!("{} {}", money::format_minor(a, cur), cur.unwrap_or(""))),
        ),
        item(
            "Authority",
            enum_label(f.authority.and_then(|a| serde_json::to_value(a).ok())),
        ),
        item("Need", f.need.clone()),
        item(
            "Timeline",
            enum_label(f.timeline.and_then(|a| serde_json::to_value(a).ok())),
        ),
    ];
    let mut touches = Vec::new();
    for (prefix, t) in [("First", &f.first_touch), ("Last", &f.last_touch)] {
        touches.extend([
            item(&format!("{prefix} source"), t.source.clone()),
            item(&format!("{prefix} medium"), t.medium.clone()),
            item(&format!("{prefix} campaign"), t.campaign.clone()),
            item(&format!("{prefix} referrer"), t.referrer.clone()),
            item(&format!("{prefix} landing page"), t.landing_page.clone()),
        ]);
    }
    if let Some(r) = &d.referral {
        touches.push(item(
            "Referred by",
            [r.referrer_name.clone(), r.referrer_email.clone()]
                .into_iter()
                .flatten()
                .reduce(|a, b| format!("{a} <{b}>")),
        ));
        touches.push(item("Referral note", r.note.clone()));
    }
    touches.push(item("External ID", f.external_id.clone()));
    if let Some(q) = &d.quality {
        touches.push(item("Verification", Some(q.status.as_str().to_owned())));
        for finding in &q.findings {
            touches.push(item(
                &format!("· {}", finding.code.replace('_', " ")),
                Some(finding.message.clone()),
            ));
        }
    }
    if let Some((o, origin)) = &d.outcome {
        touches.push(item(
            "Historical outcome",
            Some(format!("{} ({origin})", o.as_str())),
        ));
    }
    let custom = f
        .custom
        .iter()
        .map(|(k, v)| Item {
            label: defs
                .iter()
                .find(|d| &d.key == k)
                .map_or_else(|| k.clone(), |d| d.label.clone()),
            value: json_text(v),
            link: false,
        })
        .collect();
    let timeline = d
        .activities
        .iter()
        .map(|a| Event {
            when: when(a.occurred_at),
            what: a.kind.replace('_', " "),
            detail: a
                .properties
                .iter()
                .map(|(k, v)| format!("{k}: {}", json_text(v)))
                .collect::<Vec<_>>()
                .join(" · "),
            who: a.recorded_by.clone().unwrap_or_default(),
        })
        .collect();
    let stage_history = d
        .stages
        .iter()
        .rev()
        .map(|c| Event {
            when: when(c.at),
            what: format!(
                "{} → {}",
                c.from_stage.as_deref().unwrap_or("(created)"),
                c.to_stage
            ),
            detail: [c.reason.clone(), c.note.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            who: c.actor.clone(),
        })
        .collect();
    let owner_history = d
        .owners
        .iter()
        .rev()
        .map(|c| Event {
            when: when(c.at),
            what: format!("{} → {}", name_of(c.from_owner), name_of(c.to_owner)),
            detail: c.reason.clone().unwrap_or_default(),
            who: c.actor.clone(),
        })
        .collect();
    let changes = d
        .audit
        .iter()
        .filter(|a| a.action == "lead.updated")
        .map(|a| Event {
            when: when(a.at),
            what: "edited".into(),
            detail: a
                .changes
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|c| {
                            format!(
                                "{}: {} → {}",
                                json_text(&c["field"]),
                                json_text(&c["old"]),
                                json_text(&c["new"])
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
            who: a.actor.clone(),
        })
        .collect();
    DetailPage {
        frame: Frame::new(&auth.user, "leads"),
        notice: notice(q.done.as_deref()),
        id: l.id,
        name: f.display_name(),
        stage: l.stage.label(),
        stage_key: l.stage.as_str(),
        disqualify_reason: l.disqualify_reason.map_or("", |r| r.as_str()),
        score: l.score,
        grade: l.grade.map_or("—", |g| g.as_str()),
        owner: name_of(f.owner_id),
        version: l.version,
        person: person.into_iter().flatten().collect(),
        company: company.into_iter().flatten().collect(),
        bant: bant.into_iter().flatten().collect(),
        touches: touches.into_iter().flatten().collect(),
        custom,
        next_stages: l
            .stage
            .next_stages()
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        reasons: DisqualifyReason::ALL.iter().map(|r| r.as_str()).collect(),
        timeline,
        stage_history,
        owner_history,
        changes,
        can_edit: auth.principal.can_edit_lead(f.owner_id),
        assignees: if auth.user.role == leadline_domain::Role::Rep {
            Vec::new()
        } else {
            users
                .iter()
                .filter(|u| u.active)
                .map(|u| (u.id, u.name.clone()))
                .collect()
        },
        owner_id: f.owner_id,
        can_dedupe: auth.user.role != leadline_domain::Role::Rep,
        erased: erased.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        can_export: matches!(
            auth.user.role,
            leadline_domain::Role::Admin | leadline_domain::Role::Manager
        ),
        can_erase: auth.user.role == leadline_domain::Role::Admin && erased.is_none(),
        enrichment: d
            .enrichment
            .iter()
            .map(|e| Item {
                label: e.value.field.replace('_', " "),
                value: format!(
                    "{} — from {} ({}){}",
                    json_text(&e.value.value),
                    e.value.provider.replace('_', " "),
                    e.value.basis,
                    if e.applied {
                        ""
                    } else {
                        ", not applied: the field had a value"
                    }
                ),
                link: false,
            })
            .collect(),
        duplicates: d
            .duplicates
            .iter()
            .map(|(other, c)| (*other, (c * 100.0).round() as u64))
            .collect(),
        merges: d.merges.clone(),
        predicted: prediction
            .as_ref()
            .map(|p| match p.probability {
                // Rounding would say "certain" of what is only very likely.
                x if x > 0.99 => "over 99%".to_owned(),
                x if x < 0.01 => "under 1%".to_owned(),
                x => format!("{:.0}%", x * 100.0),
            })
            .unwrap_or_default(),
        prediction,
        scores,
        chart,
        ages,
        sla: clock.map(|c| {
            let now = leadline_domain::time::now();
            SlaLine {
                text: match c.touched_at {
                    Some(t) if c.state == "met" => {
                        format!("met {}", t.format("%Y-%m-%d %H:%M UTC"))
                    }
                    Some(t) => format!("met late {}", t.format("%Y-%m-%d %H:%M UTC")),
                    None => super::followup::countdown((c.due_at - now).num_seconds()),
                },
                state: c.state,
                target: c.target,
                minutes: c.minutes,
                started: c.started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            }
        }),
        tasks: {
            let now = leadline_domain::time::now();
            tasks
                .iter()
                .map(|t| super::followup::TaskLine::new(t, now))
                .collect()
        },
        followable: leadline_app::tasks::followable(l.stage),
        can_convert: l.stage == leadline_domain::Stage::Sql
            && auth.principal.can_edit_lead(f.owner_id),
        open_stages: pipeline
            .stages
            .iter()
            .filter(|s| s.kind == leadline_domain::pipeline::StageKind::Open)
            .map(|s| (s.key.clone(), s.label.clone()))
            .collect(),
        contact: contact.map(|c| {
            [c.first_name, c.last_name, c.email.map(|e| format!("<{e}>"))]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        }),
        reengage: reengage.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        messages: messages
            .into_iter()
            .map(|m| {
                let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
                let did: Vec<String> = [
                    m.opened_at.map(|t| format!("opened {}", day(t))),
                    m.clicked_at.map(|t| format!("clicked {}", day(t))),
                    m.replied_at.map(|t| format!("replied {}", day(t))),
                    m.bounced_at.map(|t| format!("bounced {}", day(t))),
                    m.unsubscribed_at
                        .map(|t| format!("unsubscribed {}", day(t))),
                ]
                .into_iter()
                .flatten()
                .collect();
                let step = m
                    .purpose
                    .strip_prefix("sequence:")
                    .map(|n| format!("step {n}"))
                    .unwrap_or(m.purpose);
                let status = match m.sent_at {
                    Some(t) => format!("sent {}", t.format("%Y-%m-%d %H:%M UTC")),
                    None => m.status,
                };
                (m.subject, step, status, did.join(", "))
            })
            .collect(),
        consents: consents
            .into_iter()
            .map(|c| {
                let mut line = format!(
                    "{} {} via {} on {}",
                    if c.granted { "Gave" } else { "Withdrew" },
                    c.purpose.replace('_', " "),
                    c.source,
                    c.recorded_at.format("%Y-%m-%d %H:%M UTC")
                );
                if let Some(b) = &c.lawful_basis {
                    line.push_str(&format!(" · basis: {}", b.replace('_', " ")));
                }
                if let Some(v) = &c.text_version {
                    line.push_str(&format!(" · text {v}"));
                }
                if let Some(ip) = &c.ip {
                    line.push_str(&format!(" · from {ip}"));
                }
                line
            })
            .collect(),
        enrollments: enrollments
            .into_iter()
            .map(|e| {
                let state = match (e.status.as_str(), e.next_step, e.due_at) {
                    ("active", Some(n), Some(at)) => {
                        format!("step {n} due {}", at.format("%Y-%m-%d %H:%M UTC"))
                    }
                    ("finished", ..) => "finished".to_owned(),
                    _ => format!("left: {}", e.exit_reason.unwrap_or_default()),
                };
                (
                    e.sequence_name
                        .unwrap_or_else(|| "a deleted sequence".into()),
                    state,
                )
            })
            .collect(),
        opportunities: opportunities
            .into_iter()
            .map(|o| (o.id, o.name, o.stage))
            .collect(),
        default_due: (leadline_domain::time::now() + chrono::Duration::hours(1))
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
    }
    .into_response()
}

#[derive(Deserialize)]
pub struct StageForm {
    to: String,
    reason: Option<String>,
    note: Option<String>,
    /// `YYYY-MM-DD`, for a move to nurture.
    reengage_on: Option<String>,
    version: i64,
}

pub async fn change_stage(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<StageForm>,
) -> Response {
    let to = match f.to.parse::<Stage>() {
        Ok(t) => t,
        Err(e) => {
            return error_page(super::invalid("to", "invalid_value", &e.to_string()));
        }
    };
    let reason = match f
        .reason
        .as_deref()
        .filter(|r| !r.is_empty() && to == Stage::Disqualified)
    {
        Some(r) => match r.parse::<DisqualifyReason>() {
            Ok(r) => Some(r),
            Err(e) => {
                return error_page(super::invalid("reason", "invalid_value", &e.to_string()));
            }
        },
        None => None,
    };
    let reengage_on = match f
        .reengage_on
        .as_deref()
        .filter(|d| !d.is_empty() && to == Stage::Nurture)
    {
        Some(d) => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                return error_page(super::invalid(
                    "reengage_on",
                    "invalid_value",
                    "a date such as 2027-03-01",
                ));
            }
        },
        None => None,
    };
    match s
        .app
        .transition_lead(
            &auth.principal,
            id,
            StageTransition {
                to,
                reason,
                note: f.note,
                reengage_on,
            },
            Some(f.version),
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/leads/{id}?done=stage")).into_response(),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
pub struct ActivityForm {
    kind: String,
    text: String,
}

pub async fn add_activity(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<ActivityForm>,
) -> Response {
    let kind = match f.kind.as_str() {
        k @ ("note" | "call" | "email" | "meeting") => k.to_owned(),
        _ => "note".to_owned(),
    };
    let mut properties = serde_json::Map::new();
    properties.insert(
        "text".into(),
        serde_json::Value::String(f.text.trim().chars().take(4000).collect()),
    );
    match s
        .app
        .add_activity(
            &auth.principal,
            id,
            NewActivity {
                kind,
                occurred_at: None,
                properties,
            },
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/leads/{id}?done=logged")).into_response(),
        Err(e) => error_page(e),
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "aging.html")]
struct AgingPage {
    frame: Frame,
    r: leadline_app::aging::AgingReport,
}

/// The aging report page.
pub async fn aging(State(s): State<AppState>, auth: UiAuth) -> Response {
    match s.app.aging_report(&auth.principal).await {
        Ok(r) => AgingPage {
            frame: Frame::new(&auth.user, "leads"),
            r,
        }
        .into_response(),
        Err(e) => error_page(e),
    }
}
