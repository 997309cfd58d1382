//! The server-rendered UI: askama templates, plain HTML forms (works without JavaScript),
//! everything escaped by the template engine.

mod accounts;
mod assets;
mod capture;
mod duplicates;
mod followup;
mod lead_form;
mod leads;
mod nurture;
mod outbox;
mod pipeline;
mod prediction;
mod privacy;
mod reports;
mod routing;
mod scoring;
mod session;
mod settings;
mod webhooks;

use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use leadline_app::AppError;
use leadline_domain::Role;
use leadline_domain::account::User;
use utoipa_swagger_ui::SwaggerUi;

/// The UI routes, the static assets and the API reference (Swagger UI, served offline).
pub fn router(api: serde_json::Value) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/leads") }))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/logout/everywhere", post(session::logout_everywhere))
        .route("/leads", get(leads::list))
        .route(
            "/leads/new",
            get(lead_form::new_form).post(lead_form::create),
        )
        .route("/leads/views", post(leads::save_view))
        .route("/leads/aging", get(leads::aging))
        .route("/reports", get(reports::page))
        .route("/reports/csv", get(reports::csv))
        .route("/leads/views/{id}/delete", post(leads::delete_view))
        .route("/leads/{id}", get(leads::detail))
        .route(
            "/leads/{id}/edit",
            get(lead_form::edit_form).post(lead_form::update),
        )
        .route("/leads/{id}/stage", post(leads::change_stage))
        .route("/leads/{id}/activities", post(leads::add_activity))
        .route("/leads/{id}/personal-data.json", get(privacy::export_json))
        .route(
            "/leads/{id}/personal-data.csv",
            get(privacy::export_csv_file),
        )
        .route("/leads/{id}/erase", post(privacy::erase))
        .route("/settings/retention", post(settings::save_retention))
        .route("/settings", get(settings::page))
        .route("/settings/outbox", get(outbox::page))
        .route("/nurture", get(nurture::page))
        .route("/nurture/templates", post(nurture::save_new_template))
        .route("/nurture/templates/new", get(nurture::new_template))
        .route(
            "/nurture/templates/{id}",
            get(nurture::template).post(nurture::save_existing_template),
        )
        .route("/nurture/templates/{id}/test", post(nurture::test_send))
        .route(
            "/nurture/templates/{id}/delete",
            post(nurture::delete_template),
        )
        .route("/nurture/sequences", post(nurture::save_new_sequence))
        .route("/nurture/sequences/new", get(nurture::new_sequence))
        .route(
            "/nurture/sequences/{id}",
            get(nurture::sequence).post(nurture::save_existing_sequence),
        )
        .route("/nurture/sequences/{id}/enroll", post(nurture::enroll))
        .route(
            "/settings/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/settings/webhooks/settings", post(webhooks::save_settings))
        .route(
            "/settings/webhooks/{id}",
            get(webhooks::endpoint).post(webhooks::update),
        )
        .route("/settings/webhooks/{id}/rotate", post(webhooks::rotate))
        .route("/settings/webhooks/{id}/test", post(webhooks::test))
        .route("/settings/webhooks/{id}/delete", post(webhooks::delete))
        .route(
            "/settings/webhooks/deliveries/{id}",
            get(webhooks::delivery),
        )
        .route(
            "/settings/webhooks/deliveries/{id}/replay",
            post(webhooks::replay),
        )
        .route("/settings/users", post(settings::create_user))
        .route("/settings/users/{id}", post(settings::update_user))
        .route("/settings/teams", post(settings::create_team))
        .route("/settings/teams/{id}", post(settings::update_team))
        .route("/settings/teams/{id}/delete", post(settings::delete_team))
        .route("/settings/api-keys", post(settings::create_key))
        .route("/settings/api-keys/{id}/revoke", post(settings::revoke_key))
        .route("/settings/custom-fields", post(settings::create_field))
        .route(
            "/settings/custom-fields/{id}/delete",
            post(settings::delete_field),
        )
        .merge(capture::router())
        .merge(duplicates::router())
        .merge(accounts::router())
        .merge(scoring::router())
        .merge(prediction::router())
        .merge(routing::router())
        .merge(followup::router())
        .merge(pipeline::router())
        .route("/static/{*path}", get(assets::serve))
        .merge(SwaggerUi::new("/api-docs").external_url_unchecked("/api/v1/openapi.json", api))
}

/// What every page's frame needs: who is signed in and where they are.
pub struct Frame {
    pub user_name: String,
    pub is_admin: bool,
    /// Admins, managers and marketers work on capture (forms, imports, sources).
    pub can_capture: bool,
    /// Admins and managers set up routing.
    pub can_route: bool,
    pub section: &'static str,
}

impl Frame {
    fn new(user: &User, section: &'static str) -> Frame {
        Frame {
            user_name: user.name.clone(),
            is_admin: user.role == Role::Admin,
            can_capture: user.role != Role::Rep,
            can_route: matches!(user.role, Role::Admin | Role::Manager),
            section,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    detail: String,
}

/// Renders a service error as a page.
pub fn error_page(e: AppError) -> Response {
    let api = crate::error::ApiError::from(e);
    let page = ErrorPage {
        status: api.status.as_u16(),
        title: api.problem.title,
        detail: api.problem.detail,
    };
    (api.status, page).into_response()
}

/// A one-field validation error for a form value the page could not read (shown as the
/// error page, like the service's own validation errors).
pub fn invalid(field: &str, code: &str, message: &str) -> AppError {
    let mut e = leadline_domain::ValidationErrors::default();
    e.add(field, code, message);
    AppError::Validation(e)
}

/// A 404 page.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        ErrorPage {
            status: 404,
            title: "Not found".into(),
            detail: "There is nothing here.".into(),
        },
    )
        .into_response()
}

/// Fixed confirmation messages, chosen by a code in the URL (never free text from it).
pub fn notice(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "saved" => Some("Saved."),
        "step_added" => Some("Step added to the draft: Save to keep it."),
        "step_removed" => Some("Step removed from the draft: Save to keep it."),
        "created" => Some("Created."),
        "deleted" => Some("Deleted."),
        "revoked" => Some("Key revoked."),
        "stage" => Some("Stage changed."),
        "logged" => Some("Activity logged."),
        "task" => Some("Task created."),
        "recycled" => {
            Some("Outcome logged; that was the last attempt, so the lead went back to marketing.")
        }
        "resolved" => Some("Alert resolved."),
        "converted" => Some("Lead converted."),
        "moved" => Some("Opportunity moved."),
        "view" => Some("View saved."),
        "discarded" => Some("Submission discarded."),
        "started" => Some("Import started."),
        "scan" => Some("Duplicate scan started."),
        "dismissed" => Some("Marked as not a duplicate."),
        "merged" => Some("Leads merged."),
        "unmerged" => Some("Merge undone: the merged leads are back."),
        "merged_away" => Some("The lead you opened was merged into this one."),
        "activated" => Some("Version in force; every lead is being re-scored."),
        "training" => Some("Training started; the page follows its progress."),
        "routing_saved" => Some("Routing rules saved as a new version."),
        "routing_active" => Some("Routing rules in force: new leads follow them from now on."),
        "assigned" => Some("Lead reassigned."),
        "enrolled" => Some(
            "Leads enrolled (those already in it, unsubscribed or done with it were left out).",
        ),
        "test_mail" => {
            Some("Test message queued: it goes out through the SMTP relay, or waits in the outbox.")
        }
        "rotated" => Some("New secret in force; the old one also signs for 24 hours."),
        "test_sent" => Some("Test event queued; it shows below within a second or two."),
        "replayed" => Some("Sent again as a new delivery with the same webhook-id."),
        "erased" => Some(
            "The person was erased: their data is gone; the lead stays as an anonymous row for the reports.",
        ),
        "erase_unconfirmed" => Some("Nothing was erased: type ERASE to confirm."),
        _ => None,
    }
}
