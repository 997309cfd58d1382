//! The routing page: the rules in force, the rules as an editable TOML file, saving and
//! activating versions, "test this lead", a simulation on recent leads ("who would have
//! received what"), and reps' availability.

use super::{Frame, error_page, notice};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{NaiveTime, Utc};
use leadline_app::AppError;
use leadline_app::routing::{Board, Routed, RoutingVersion, Simulation};
use leadline_domain::Role;
use leadline_domain::routing::{Method, RepSettings, RoutingRules, Target, WorkingHours};
use leadline_domain::scoring::rules::Test;
use serde::Deserialize;
use uuid::Uuid;

/// The routing routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/routing", get(page).post(submit))
        .route("/routing/versions/{version}/activate", post(activate))
        .route("/routing/reps/{id}", post(save_rep))
        .route("/routing/sla", post(save_sla))
        .route("/leads/{id}/assign", post(assign))
}

#[derive(Deserialize, Default)]
struct PageParams {
    done: Option<String>,
    lead: Option<String>,
}

/// A rule as a table row.
struct RuleRow {
    name: String,
    conditions: String,
    target: String,
}

/// A rep's availability as a row with its form values.
struct RepRow {
    id: Uuid,
    name: String,
    time_zone: String,
    days: String,
    start: String,
    end: String,
    away_from: String,
    away_until: String,
    weight: u32,
    capacity: String,
    status: String,
}

/// One rule's share of a simulation as a bar.
struct SimBar {
    label: String,
    leads: usize,
    width: f64,
}

#[derive(Template, WebTemplate)]
#[template(path = "routing.html")]
struct RoutingPage {
    frame: Frame,
    notice: Option<&'static str>,
    error: Option<String>,
    in_force: Option<RoutingVersion>,
    rules: Vec<RuleRow>,
    versions: Vec<RoutingVersion>,
    toml: String,
    simulation: Option<Simulation>,
    bars: Vec<SimBar>,
    test_lead: String,
    tested: Option<Routed>,
    teams: Vec<(Uuid, String)>,
    users: Vec<(Uuid, String)>,
    reps: Vec<RepRow>,
    board: Board,
    sla: leadline_app::sla::SlaBoard,
    /// Per lead past its deadline, in the board's order: "overdue by …" and its owner's name
    /// (empty when nobody owns it).
    overdue: Vec<(String, String)>,
    sla_toml: String,
}

fn gate(auth: &UiAuth) -> Option<Response> {
    (!matches!(auth.user.role, Role::Admin | Role::Manager)).then(|| {
        error_page(AppError::Forbidden(
            "routing is for admins and managers".into(),
        ))
    })
}

/// What the form after a post shows besides the stored state.
#[derive(Default)]
struct Extra {
    toml: Option<String>,
    error: Option<String>,
    simulation: Option<Simulation>,
    tested: Option<Routed>,
    test_lead: Option<String>,
    /// The SLA policy as posted, when it was refused.
    sla_toml: Option<String>,
}

fn describe(
    rules: &RoutingRules,
    users: &[(Uuid, String)],
    teams: &[(Uuid, String)],
) -> Vec<RuleRow> {
    let name_of = |list: &[(Uuid, String)], id: Uuid| {
        list.iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| id.to_string(), |(_, n)| n.clone())
    };
    let account = rules.account_owners.then(|| RuleRow {
        name: "Account owner".into(),
        conditions: "the lead belongs to an account with an owner who is available".into(),
        target: "the account's owner".into(),
    });
    account
        .into_iter()
        .chain(rules.rules.iter().map(|r| RuleRow {
            name: r.name.clone(),
            conditions: if r.conditions.is_empty() {
                "every lead".into()
            } else {
                r.conditions
                    .iter()
                    .map(|c| condition_text(&c.field, &c.test))
                    .collect::<Vec<_>>()
                    .join(" and ")
            },
            target: match &r.target {
                Target::User { user_id } => name_of(users, *user_id),
                Target::Team { team_id, method } => {
                    let extra = match method {
                        Method::BestConversion { window_days } => {
                            format!(" over {window_days} days")
                        }
                        _ => String::new(),
                    };
                    format!(
                        "team {} ({}{extra})",
                        name_of(teams, *team_id),
                        method.label()
                    )
                }
            },
        }))
        .collect()
}

/// A condition in words: `employees ≥ 1000`, `country in DE, AT`.
fn condition_text(field: &str, test: &Test) -> String {
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::String(x) => x.clone(),
        other => other.to_string(),
    };
    let list = |xs: &[String]| xs.join(", ");
    let num = |n: f64| format!("{n}");
    match test {
        Test::Equals { value: v } => format!("{field} = {}", value(v)),
        Test::In { values } => format!(
            "{field} in {}",
            values.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        Test::Contains { text } => format!("{field} contains {text}"),
        Test::Range {
            min: Some(a),
            max: Some(b),
        } => format!("{field} {}–{}", num(*a), num(*b)),
        Test::Range {
            min: Some(a),
            max: None,
        } => format!("{field} ≥ {}", num(*a)),
        Test::Range {
            min: None,
            max: Some(b),
        } => format!("{field} ≤ {}", num(*b)),
        Test::Range { .. } => format!("{field} is a number"),
        Test::Exists => format!("{field} is set"),
        Test::Missing => format!("{field} is empty"),
        Test::Matches { pattern } => format!("{field} matches {pattern}"),
        Test::Seniority { levels } => format!(
            "{field} seniority {}",
            list(
                &levels
                    .iter()
                    .map(|l| format!("{l:?}").to_lowercase())
                    .collect::<Vec<_>>()
            )
        ),
        Test::Function { functions } => format!(
            "{field} function {}",
            list(
                &functions
                    .iter()
                    .map(|f| format!("{f:?}").to_lowercase())
                    .collect::<Vec<_>>()
            )
        ),
    }
}

fn rep_row(id: Uuid, name: String, s: &RepSettings) -> RepRow {
    let now = Utc::now();
    let status = s
        .away(now)
        .or_else(|| s.off_hours(now))
        .map_or("available".to_owned(), |u| u.to_string());
    let fmt_time = |t: NaiveTime| t.format("%H:%M").to_string();
    let fmt_date = |d: Option<chrono::DateTime<Utc>>| {
        d.map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    RepRow {
        id,
        name,
        time_zone: s.time_zone.clone(),
        days: s
            .working_hours
            .as_ref()
            .map(|h| {
                h.days
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        start: s
            .working_hours
            .as_ref()
            .map(|h| fmt_time(h.start))
            .unwrap_or_default(),
        end: s
            .working_hours
            .as_ref()
            .map(|h| fmt_time(h.end))
            .unwrap_or_default(),
        away_from: fmt_date(s.away_from),
        away_until: fmt_date(s.away_until),
        weight: s.weight,
        capacity: s.capacity.map(|c| c.to_string()).unwrap_or_default(),
        status,
    }
}

async fn render(s: &AppState, auth: &UiAuth, q: PageParams, extra: Extra) -> Response {
    let p = &auth.principal;
    let (versions, in_force, users, teams, board, sla, policy) = match tokio::try_join!(
        s.app.routing_versions(p),
        s.app.routing_in_force(p),
        s.app.list_users(),
        s.app.list_teams(),
        s.app.routing_board(p),
        s.app.sla_board(p),
        s.app.sla_policy()
    ) {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let user_names: Vec<(Uuid, String)> = users.iter().map(|u| (u.id, u.name.clone())).collect();
    let team_names: Vec<(Uuid, String)> = teams.iter().map(|t| (t.id, t.name.clone())).collect();
    // One read of every rep's settings, not one per rep.
    let reps = match s.app.reps_routing(p).await {
        Ok(list) => list
            .into_iter()
            .map(|r| rep_row(r.user_id, r.name, &r.settings))
            .collect(),
        Err(e) => return error_page(e),
    };
    let toml = extra.toml.unwrap_or_else(|| {
        versions
            .first()
            .map(|v| v.rules.to_toml())
            .unwrap_or_else(|| RoutingRules::default().to_toml())
    });
    let bars = extra
        .simulation
        .as_ref()
        .map(|sim| {
            let max = sim
                .by_rule
                .iter()
                .map(|r| r.leads)
                .max()
                .unwrap_or(0)
                .max(1);
            sim.by_rule
                .iter()
                .map(|r| SimBar {
                    label: r.rule_name.clone(),
                    leads: r.leads,
                    width: r.leads as f64 / max as f64 * 200.0,
                })
                .collect()
        })
        .unwrap_or_default();
    let overdue = sla
        .past_due
        .iter()
        .map(|i| {
            let owner = i
                .owner_id
                .and_then(|o| user_names.iter().find(|(id, _)| *id == o))
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            let timer = i
                .seconds_left
                .map(super::followup::countdown)
                .unwrap_or_default();
            (timer, owner)
        })
        .collect();
    let status = if extra.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        RoutingPage {
            frame: Frame::new(&auth.user, "routing"),
            notice: notice(q.done.as_deref()),
            error: extra.error,
            rules: in_force
                .as_ref()
                .map(|v| describe(&v.rules, &user_names, &team_names))
                .unwrap_or_default(),
            in_force,
            versions,
            toml,
            simulation: extra.simulation,
            bars,
            test_lead: extra.test_lead.or(q.lead).unwrap_or_default(),
            tested: extra.tested,
            teams: team_names,
            users: user_names,
            reps,
            board,
            overdue,
            sla,
            sla_toml: extra.sla_toml.unwrap_or_else(|| policy.to_toml()),
        },
    )
        .into_response()
}

async fn page(State(s): State<AppState>, auth: UiAuth, Query(q): Query<PageParams>) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    render(&s, &auth, q, Extra::default()).await
}

#[derive(Deserialize)]
struct RulesForm {
    toml: String,
    note: Option<String>,
    /// `save`, `activate`, `simulate` or `test`.
    action: String,
    days: Option<i64>,
    lead_id: Option<String>,
}

async fn submit(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(f): axum::Form<RulesForm>,
) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    let p = &auth.principal;
    let again = |error: String, f: &RulesForm| Extra {
        toml: Some(f.toml.clone()),
        error: Some(error),
        test_lead: f.lead_id.clone(),
        ..Extra::default()
    };
    let rules = match RoutingRules::from_toml(&f.toml) {
        Ok(r) => r,
        Err(e) => {
            return render(&s, &auth, PageParams::default(), again(e, &f)).await;
        }
    };
    let outcome = match f.action.as_str() {
        "simulate" => s
            .app
            .simulate_routing(p, rules, f.days.unwrap_or(30))
            .await
            .map(|sim| Extra {
                toml: Some(f.toml.clone()),
                simulation: Some(sim),
                ..Extra::default()
            }),
        "test" => {
            let Some(id) = f
                .lead_id
                .as_deref()
                .and_then(|x| x.trim().parse::<Uuid>().ok())
            else {
                return render(
                    &s,
                    &auth,
                    PageParams::default(),
                    again("give the id of a lead to test".into(), &f),
                )
                .await;
            };
            s.app.test_routing(p, id, Some(rules)).await.map(|r| Extra {
                toml: Some(f.toml.clone()),
                tested: Some(r),
                test_lead: f.lead_id.clone(),
                ..Extra::default()
            })
        }
        action => {
            let activate = action == "activate";
            let note = f.note.clone().filter(|n| !n.trim().is_empty());
            return match s.app.save_routing_version(p, rules, note, activate).await {
                Ok(_) if activate => super::capture::done("/routing", "routing_active"),
                Ok(_) => super::capture::done("/routing", "routing_saved"),
                Err(AppError::Validation(e)) => {
                    render(&s, &auth, PageParams::default(), again(e.to_string(), &f)).await
                }
                Err(e) => error_page(e),
            };
        }
    };
    match outcome {
        Ok(extra) => render(&s, &auth, PageParams::default(), extra).await,
        Err(e @ (AppError::Validation(_) | AppError::NotFound(_) | AppError::Conflict(_))) => {
            render(&s, &auth, PageParams::default(), again(e.to_string(), &f)).await
        }
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct SlaForm {
    sla_toml: String,
}

async fn save_sla(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(f): axum::Form<SlaForm>,
) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    let refused = |error: String| Extra {
        sla_toml: Some(f.sla_toml.clone()),
        error: Some(error),
        ..Extra::default()
    };
    let policy = match leadline_domain::sla::SlaPolicy::from_toml(&f.sla_toml) {
        Ok(p) => p,
        Err(e) => {
            let extra = refused(format!("the SLA policy is not valid: {e}"));
            return render(&s, &auth, PageParams::default(), extra).await;
        }
    };
    match s.app.set_sla_policy(&auth.principal, policy).await {
        Ok(_) => super::capture::done("/routing", "saved"),
        Err(AppError::Validation(e)) => {
            render(&s, &auth, PageParams::default(), refused(e.to_string())).await
        }
        Err(e) => error_page(e),
    }
}

async fn activate(State(s): State<AppState>, auth: UiAuth, Path(version): Path<i32>) -> Response {
    match s.app.put_routing_in_force(&auth.principal, version).await {
        Ok(_) => super::capture::done("/routing", "routing_active"),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct RepForm {
    time_zone: String,
    days: Option<String>,
    start: Option<String>,
    end: Option<String>,
    away_from: Option<String>,
    away_until: Option<String>,
    weight: Option<u32>,
    capacity: Option<String>,
}

/// Reads the rep form; a message names what could not be read.
fn rep_settings(f: &RepForm) -> Result<RepSettings, String> {
    let time = |v: &Option<String>, what: &str| -> Result<Option<NaiveTime>, String> {
        match v.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
            None => Ok(None),
            Some(x) => NaiveTime::parse_from_str(x, "%H:%M")
                .map(Some)
                .map_err(|_| format!("{what}: a time such as 09:00")),
        }
    };
    let date = |v: &Option<String>, what: &str| -> Result<Option<chrono::DateTime<Utc>>, String> {
        match v.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
            None => Ok(None),
            Some(x) => chrono::NaiveDate::parse_from_str(x, "%Y-%m-%d")
                .map(|d| Some(d.and_time(NaiveTime::MIN).and_utc()))
                .map_err(|_| format!("{what}: a date such as 2026-12-24")),
        }
    };
    let days: Vec<u8> = match f.days.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
        None => Vec::new(),
        Some(x) => x
            .split(',')
            .map(|d| d.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                "days: numbers 1 (Monday) to 7 (Sunday), separated by commas".to_owned()
            })?,
    };
    let working_hours = match (time(&f.start, "start")?, time(&f.end, "end")?) {
        (Some(start), Some(end)) => Some(WorkingHours {
            days: if days.is_empty() {
                vec![1, 2, 3, 4, 5]
            } else {
                days
            },
            start,
            end,
        }),
        (None, None) => None,
        _ => return Err("working hours need both a start and an end".into()),
    };
    let capacity = match f
        .capacity
        .as_deref()
        .map(str::trim)
        .filter(|x| !x.is_empty())
    {
        None => None,
        Some(x) => Some(
            x.parse::<u32>()
                .map_err(|_| "capacity: a whole number".to_owned())?,
        ),
    };
    Ok(RepSettings {
        time_zone: f.time_zone.trim().to_owned(),
        working_hours,
        away_from: date(&f.away_from, "away from")?,
        away_until: date(&f.away_until, "away until")?,
        weight: f.weight.unwrap_or(1),
        capacity,
    })
}

async fn save_rep(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    axum::Form(f): axum::Form<RepForm>,
) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    let settings = match rep_settings(&f) {
        Ok(x) => x,
        Err(msg) => {
            return render(
                &s,
                &auth,
                PageParams::default(),
                Extra {
                    error: Some(msg),
                    ..Extra::default()
                },
            )
            .await;
        }
    };
    match s.app.set_rep_routing(&auth.principal, id, settings).await {
        Ok(_) => super::capture::done("/routing", "saved"),
        Err(AppError::Validation(e)) => {
            render(
                &s,
                &auth,
                PageParams::default(),
                Extra {
                    error: Some(e.to_string()),
                    ..Extra::default()
                },
            )
            .await
        }
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct AssignForm {
    owner_id: String,
    version: Option<i64>,
    note: Option<String>,
}

/// Reassigns from the lead page.
async fn assign(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    axum::Form(f): axum::Form<AssignForm>,
) -> Response {
    let owner = match f.owner_id.trim() {
        "" => None,
        x => match x.parse::<Uuid>() {
            Ok(u) => Some(u),
            Err(_) => return error_page(AppError::NotFound("user")),
        },
    };
    let note = f.note.filter(|n| !n.trim().is_empty());
    match s
        .app
        .assign_lead(&auth.principal, id, owner, f.version, note)
        .await
    {
        Ok(_) => Redirect::to(&format!("/leads/{id}?done=assigned")).into_response(),
        Err(e) => error_page(e),
    }
}
