//! Settings (admins): users, teams, API keys and custom fields on one page.

use super::{Frame, error_page, notice};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use leadline_app::AppError;
use leadline_app::admin::{NewUser, TeamInput, UserUpdate};
use leadline_domain::account::{ApiKey, Team, User};
use leadline_domain::custom_field::NewCustomField;
use leadline_domain::{CustomFieldDef, CustomFieldKind, Role};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    frame: Frame,
    notice: Option<&'static str>,
    error: Option<String>,
    users: Vec<User>,
    teams: Vec<(Team, String)>,
    keys: Vec<ApiKey>,
    fields: Vec<CustomFieldDef>,
    roles: Vec<&'static str>,
    kinds: Vec<&'static str>,
    new_secret: Option<String>,
    retention: leadline_domain::privacy::RetentionPolicy,
}

async fn render(
    s: &AppState,
    auth: &UiAuth,
    done: Option<&str>,
    error: Option<String>,
    new_secret: Option<String>,
) -> Response {
    let data = tokio::try_join!(
        s.app.list_users(),
        s.app.list_teams(),
        s.app.list_api_keys(&auth.principal),
        s.app.custom_fields(),
        s.app.retention_policy()
    );
    let (users, teams, keys, fields, retention) = match data {
        Ok(d) => d,
        Err(e) => return error_page(e),
    };
    let names: HashMap<Uuid, String> = users.iter().map(|u| (u.id, u.name.clone())).collect();
    let teams = teams
        .into_iter()
        .map(|t| {
            let members = t
                .members
                .iter()
                .filter_map(|m| names.get(m).cloned())
                .collect::<Vec<_>>()
                .join(", ");
            (t, members)
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = SettingsPage {
        frame: Frame::new(&auth.user, "settings"),
        notice: notice(done),
        error,
        users,
        teams,
        keys,
        fields,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        kinds: CustomFieldKind::ALL.iter().map(|k| k.as_str()).collect(),
        new_secret,
        retention,
    };
    (status, page).into_response()
}

/// Shows a failed settings action on the page itself; other errors get the error page.
async fn outcome(s: &AppState, auth: &UiAuth, r: Result<(), AppError>, done: &str) -> Response {
    match r {
        Ok(()) => Redirect::to(&format!("/settings?done={done}")).into_response(),
        Err(AppError::Validation(e)) => render(s, auth, None, Some(e.to_string()), None).await,
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
pub struct DoneParam {
    done: Option<String>,
}

pub async fn page(State(s): State<AppState>, auth: UiAuth, Query(q): Query<DoneParam>) -> Response {
    if !auth.principal.can_administer() {
        return error_page(AppError::Forbidden("settings are for admins".into()));
    }
    render(&s, &auth, q.done.as_deref(), None, None).await
}

fn parse_role(r: &str) -> Result<Role, AppError> {
    r.parse::<Role>()
        .map_err(|e| leadline_app::AppError::Forbidden(e.to_string()))
}

#[derive(Deserialize)]
pub struct UserForm {
    email: String,
    name: String,
    role: String,
    password: String,
    sees_all_leads: Option<String>,
}

pub async fn create_user(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(f): Form<UserForm>,
) -> Response {
    let r = async {
        let role = parse_role(&f.role)?;
        let password = Some(f.password).filter(|p| !p.is_empty());
        s.app
            .create_user(
                &auth.principal,
                NewUser {
                    email: f.email,
                    name: f.name,
                    role,
                    password,
                    sees_all_leads: f.sees_all_leads.is_some(),
                },
            )
            .await
            .map(|_| ())
    }
    .await;
    outcome(&s, &auth, r, "created").await
}

#[derive(Deserialize)]
pub struct UserUpdateForm {
    role: String,
    active: Option<String>,
    sees_all_leads: Option<String>,
    password: Option<String>,
}

pub async fn update_user(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<UserUpdateForm>,
) -> Response {
    let r = async {
        let update = UserUpdate {
            name: None,
            role: Some(parse_role(&f.role)?),
            active: Some(f.active.is_some()),
            sees_all_leads: Some(f.sees_all_leads.is_some()),
            password: f.password.filter(|p| !p.is_empty()),
        };
        s.app
            .update_user(&auth.principal, id, update)
            .await
            .map(|_| ())
    }
    .await;
    outcome(&s, &auth, r, "saved").await
}

pub async fn create_team(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (name, members) = team_form(&pairs);
    let r = s
        .app
        .create_team(&auth.principal, TeamInput { name, members })
        .await
        .map(|_| ());
    outcome(&s, &auth, r, "created").await
}

/// Renames a team and replaces its members (the form sends every selected member).
pub async fn update_team(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (name, members) = team_form(&pairs);
    let r = s
        .app
        .update_team(&auth.principal, id, TeamInput { name, members })
        .await
        .map(|_| ());
    outcome(&s, &auth, r, "saved").await
}

pub async fn delete_team(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
) -> Response {
    let r = s.app.delete_team(&auth.principal, id).await;
    outcome(&s, &auth, r, "deleted").await
}

fn team_form(pairs: &[(String, String)]) -> (String, Vec<Uuid>) {
    let name = pairs
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let members = pairs
        .iter()
        .filter(|(k, _)| k == "members")
        .filter_map(|(_, v)| Uuid::parse_str(v).ok())
        .collect();
    (name, members)
}

#[derive(Deserialize)]
pub struct KeyForm {
    name: String,
    role: String,
    user_id: Option<String>,
}

pub async fn create_key(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(f): Form<KeyForm>,
) -> Response {
    let r = async {
        let role = parse_role(&f.role)?;
        let user = f
            .user_id
            .as_deref()
            .filter(|u| !u.is_empty())
            .and_then(|u| Uuid::parse_str(u).ok());
        s.app
            .create_api_key(&auth.principal, &f.name, role, user)
            .await
    }
    .await;
    match r {
        Ok((_, secret)) => render(&s, &auth, Some("created"), None, Some(secret)).await,
        Err(AppError::Validation(e)) => render(&s, &auth, None, Some(e.to_string()), None).await,
        Err(e) => error_page(e),
    }
}

pub async fn revoke_key(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    let r = s.app.revoke_api_key(&auth.principal, id).await;
    outcome(&s, &auth, r, "revoked").await
}

#[derive(Deserialize)]
pub struct FieldForm {
    key: String,
    label: String,
    kind: String,
    options: String,
}

pub async fn create_field(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(f): Form<FieldForm>,
) -> Response {
    let r = async {
        let kind = f
            .kind
            .parse::<CustomFieldKind>()
            .map_err(|e| AppError::Forbidden(e.to_string()))?;
        let options = f
            .options
            .split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        s.app
            .create_custom_field(
                &auth.principal,
                NewCustomField {
                    key: f.key.trim().to_owned(),
                    label: f.label,
                    kind,
                    options,
                },
            )
            .await
            .map(|_| ())
    }
    .await;
    outcome(&s, &auth, r, "created").await
}

pub async fn delete_field(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
) -> Response {
    let r = s.app.delete_custom_field(&auth.principal, id).await;
    outcome(&s, &auth, r, "deleted").await
}

#[derive(Deserialize)]
pub struct RetentionForm {
    erase_unconverted_after_months: String,
    erase_deleted_after_days: String,
    delete_anonymous_visits_after_days: String,
    delete_rejected_after_days: String,
}

/// Sets the retention policy; an empty box leaves that kind of data alone.
pub async fn save_retention(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(f): Form<RetentionForm>,
) -> Response {
    let r = async {
        let period = |field: &str, v: &str| -> Result<Option<u32>, AppError> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| {
                let mut e = leadline_domain::ValidationErrors::default();
                e.add(field, "invalid", "a whole number, or empty");
                AppError::Validation(e)
            })
        };
        let policy = leadline_domain::privacy::RetentionPolicy {
            erase_unconverted_after_months: period(
                "erase_unconverted_after_months",
                &f.erase_unconverted_after_months,
            )?,
            erase_deleted_after_days: period(
                "erase_deleted_after_days",
                &f.erase_deleted_after_days,
            )?,
            delete_anonymous_visits_after_days: period(
                "delete_anonymous_visits_after_days",
                &f.delete_anonymous_visits_after_days,
            )?,
            delete_rejected_after_days: period(
                "delete_rejected_after_days",
                &f.delete_rejected_after_days,
            )?,
        };
        s.app
            .set_retention_policy(&auth.principal, policy)
            .await
            .map(|_| ())
    }
    .await;
    outcome(&s, &auth, r, "saved").await
}
