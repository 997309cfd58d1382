//! The lead form (new and edit): plain inputs mapped to the same JSON the API takes.

use super::{Frame, error_page};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use leadline_app::AppError;
use leadline_domain::{CustomFieldDef, CustomFieldKind, Lead, ValidationErrors, money};
use serde_json::{Map, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// How an input is rendered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Email,
    Number,
    Money,
    Area,
    Check,
    Select,
}

/// One input of the form.
pub struct Field {
    pub name: String,
    pub label: String,
    pub kind: Kind,
    pub value: String,
    pub options: Vec<(String, String)>,
    pub error: Option<String>,
}

impl Field {
    pub fn is(&self, k: &str) -> bool {
        matches!(
            (k, self.kind),
            ("text", Kind::Text)
                | ("email", Kind::Email)
                | ("number", Kind::Number)
                | ("money", Kind::Money)
                | ("area", Kind::Area)
                | ("check", Kind::Check)
                | ("select", Kind::Select)
        )
    }
    pub fn checked(&self) -> bool {
        self.value == "on" || self.value == "true"
    }
}

const TEXT_FIELDS: &[(&str, &str, Kind)] = &[
    ("first_name", "First name", Kind::Text),
    ("last_name", "Last name", Kind::Text),
    ("email", "Email", Kind::Email),
    ("phone", "Phone", Kind::Text),
    ("mobile", "Mobile", Kind::Text),
    ("title", "Title", Kind::Text),
    ("company", "Company", Kind::Text),
    ("website", "Website", Kind::Text),
    ("industry", "Industry", Kind::Text),
    ("employees", "Employees", Kind::Number),
    ("currency", "Currency (ISO code)", Kind::Text),
    ("annual_revenue", "Annual revenue", Kind::Money),
    ("street", "Street", Kind::Text),
    ("city", "City", Kind::Text),
    ("state", "State / region", Kind::Text),
    ("postal_code", "Postal code", Kind::Text),
    ("country", "Country", Kind::Text),
    ("time_zone", "Time zone", Kind::Text),
    ("budget", "Budget (BANT)", Kind::Money),
    ("authority", "Authority (BANT)", Kind::Select),
    ("need", "Need (BANT)", Kind::Text),
    ("timeline", "Timeline (BANT)", Kind::Select),
    ("owner_id", "Owner", Kind::Select),
    ("team_id", "Team", Kind::Select),
    ("external_id", "External ID", Kind::Text),
    ("description", "Description", Kind::Area),
    ("email_opt_out", "Opted out of email", Kind::Check),
];

#[derive(Template, WebTemplate)]
#[template(path = "lead_form.html")]
struct FormPage {
    frame: Frame,
    title: String,
    action: String,
    cancel: String,
    version: Option<i64>,
    fields: Vec<Field>,
    general_errors: Vec<String>,
}

/// Current values of a lead as form text.
fn values_of(l: &Lead) -> HashMap<String, String> {
    let mut v = HashMap::new();
    let f = &l.fields;
    if let Ok(Value::Object(m)) = serde_json::to_value(f) {
        for (k, val) in m {
            let text = match val {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(true) => "on".into(),
                _ => continue,
            };
            v.insert(k, text);
        }
    }
    let cur = f.currency.as_deref();
    if let Some(a) = f.annual_revenue {
        v.insert("annual_revenue".into(), money::format_minor(a, cur));
    }
    if let Some(b) = f.budget {
        v.insert("budget".into(), money::format_minor(b, cur));
    }
    for (k, val) in &f.custom {
        let text = match val {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Value::Bool(b) => {
                if *b {
                    "yes".into()
                } else {
                    "no".into()
                }
            }
            other => other.to_string(),
        };
        v.insert(format!("custom.{k}"), text);
    }
    v
}

async fn build_fields(
    s: &AppState,
    values: &HashMap<String, String>,
    errors: &ValidationErrors,
) -> Result<Vec<Field>, AppError> {
    let (users, teams, defs) = tokio::try_join!(
        s.app.list_users(),
        s.app.list_teams(),
        s.app.custom_fields()
    )?;
    let err_of = |name: &str| {
        errors
            .0
            .iter()
            .find(|e| e.field == name)
            .map(|e| e.message.clone())
    };
    let mut fields: Vec<Field> = TEXT_FIELDS
        .iter()
        .map(|(name, label, kind)| {
            let options: Vec<(String, String)> = match *name {
                "authority" => opts(&["decision_maker", "influencer", "end_user", "none"]),
                "timeline" => opts(&[
                    "within_1_month",
                    "within_3_months",
                    "within_6_months",
                    "within_12_months",
                    "later",
                ]),
                "owner_id" => users
                    .iter()
                    .filter(|u| u.active)
                    .map(|u| (u.id.to_string(), u.name.clone()))
                    .collect(),
                "team_id" => teams
                    .iter()
                    .map(|t| (t.id.to_string(), t.name.clone()))
                    .collect(),
                _ => Vec::new(),
            };
            Field {
                name: (*name).into(),
                label: (*label).into(),
                kind: *kind,
                value: values.get(*name).cloned().unwrap_or_default(),
                options,
                error: err_of(name),
            }
        })
        .collect();
    for d in &defs {
        let name = format!("custom.{}", d.key);
        fields.push(Field {
            kind: match d.kind {
                CustomFieldKind::Number => Kind::Number,
                CustomFieldKind::Choice => Kind::Select,
                _ => Kind::Text,
            },
            label: match d.kind {
                CustomFieldKind::MultiChoice => {
                    format!("{} (comma-separated: {})", d.label, d.options.join(", "))
                }
                CustomFieldKind::Boolean => format!("{} (yes/no)", d.label),
                CustomFieldKind::Date => format!("{} (YYYY-MM-DD)", d.label),
                _ => d.label.clone(),
            },
            value: values.get(&name).cloned().unwrap_or_default(),
            options: d.options.iter().map(|o| (o.clone(), o.clone())).collect(),
            error: err_of(&name),
            name,
        });
    }
    Ok(fields)
}

fn opts(values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|v| ((*v).to_owned(), v.replace('_', " ")))
        .collect()
}

/// Turns submitted form text into a merge patch: empty clears, numbers and money parse,
/// custom fields parse by their kind. Problems come back per field.
fn to_patch(
    form: &HashMap<String, String>,
    defs: &[CustomFieldDef],
) -> Result<Value, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let mut m = Map::new();
    let currency = form
        .get("currency")
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty());
    for (name, _, kind) in TEXT_FIELDS {
        let raw = form.get(*name).map(|s| s.trim()).unwrap_or("");
        let value = match kind {
            Kind::Check => Value::Bool(!raw.is_empty()),
            _ if raw.is_empty() => Value::Null,
            Kind::Number => match raw.parse::<i32>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    e.add(*name, "invalid_number", "must be a whole number");
                    continue;
                }
            },
            Kind::Money => match money::parse_major(raw, currency.as_deref()) {
                Some(n) => Value::from(n),
                None => {
                    e.add(*name, "invalid_amount", "must be an amount such as 1250.00");
                    continue;
                }
            },
            _ => Value::String(raw.to_owned()),
        };
        m.insert((*name).to_owned(), value);
    }
    let mut custom = Map::new();
    for d in defs {
        let name = format!("custom.{}", d.key);
        let raw = form.get(&name).map(String::as_str).unwrap_or("");
        match d.parse_text(raw) {
            Ok(v) => {
                custom.insert(d.key.clone(), v.unwrap_or(Value::Null));
            }
            Err(msg) => e.add(name, "invalid_value", msg),
        }
    }
    m.insert("custom".into(), Value::Object(custom));
    e.into_result().map(|()| Value::Object(m))
}

async fn render(
    s: &AppState,
    auth: &UiAuth,
    lead: Option<&Lead>,
    values: HashMap<String, String>,
    errors: ValidationErrors,
) -> Response {
    let fields = match build_fields(s, &values, &errors).await {
        Ok(f) => f,
        Err(e) => return error_page(e),
    };
    let field_names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let general_errors = errors
        .0
        .iter()
        .filter(|e| !field_names.contains(&e.field.as_str()))
        .map(|e| {
            if e.field.is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.field, e.message)
            }
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = FormPage {
        frame: Frame::new(&auth.user, "leads"),
        title: lead.map_or_else(
            || "New lead".to_owned(),
            |l| format!("Edit {}", l.fields.display_name()),
        ),
        action: lead.map_or_else(
            || "/leads/new".to_owned(),
            |l| format!("/leads/{}/edit", l.id),
        ),
        cancel: lead.map_or_else(|| "/leads".to_owned(), |l| format!("/leads/{}", l.id)),
        version: values
            .get("version")
            .and_then(|v| v.parse().ok())
            .or(lead.map(|l| l.version)),
        fields,
        general_errors,
    };
    (status, page).into_response()
}

pub async fn new_form(State(s): State<AppState>, auth: UiAuth) -> Response {
    render(&s, &auth, None, HashMap::new(), ValidationErrors::default()).await
}

pub async fn create(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let defs = match s.app.custom_fields().await {
        Ok(d) => d,
        Err(e) => return error_page(e),
    };
    let result = match to_patch(&form, &defs) {
        Ok(mut patch) => {
            // A new lead: drop the nulls a patch would use to clear fields.
            if let Value::Object(m) = &mut patch {
                m.retain(|_, v| !v.is_null());
                if let Some(Value::Object(c)) = m.get_mut("custom") {
                    c.retain(|_, v| !v.is_null());
                }
            }
            s.app.create_lead(&auth.principal, patch).await
        }
        Err(e) => Err(AppError::Validation(e)),
    };
    match result {
        Ok(lead) => Redirect::to(&format!("/leads/{}?done=created", lead.id)).into_response(),
        Err(AppError::Validation(errs)) => render(&s, &auth, None, form, errs).await,
        Err(e) => error_page(e),
    }
}

pub async fn edit_form(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.get_lead(&auth.principal, id).await {
        Ok(l) => {
            render(
                &s,
                &auth,
                Some(&l),
                values_of(&l),
                ValidationErrors::default(),
            )
            .await
        }
        Err(e) => error_page(e),
    }
}

pub async fn update(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lead = match s.app.get_lead(&auth.principal, id).await {
        Ok(l) => l,
        Err(e) => return error_page(e),
    };
    let defs = match s.app.custom_fields().await {
        Ok(d) => d,
        Err(e) => return error_page(e),
    };
    let version = form.get("version").and_then(|v| v.parse::<i64>().ok());
    let result = match to_patch(&form, &defs) {
        Ok(patch) => s.app.update_lead(&auth.principal, id, patch, version).await,
        Err(e) => Err(AppError::Validation(e)),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/leads/{id}?done=saved")).into_response(),
        Err(AppError::Validation(errs)) => render(&s, &auth, Some(&lead), form, errs).await,
        Err(e @ AppError::VersionMismatch { .. }) => {
            let mut errs = ValidationErrors::default();
            errs.add(
                "",
                "stale",
                format!("{e}. Reload the lead to see the latest values, then edit again."),
            );
            render(&s, &auth, Some(&lead), form, errs).await
        }
        Err(e) => error_page(e),
    }
}
