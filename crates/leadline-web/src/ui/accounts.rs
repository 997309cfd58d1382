//! The accounts page: companies, their domain and owner, and how many leads link to each.

use super::capture::done;
use super::{Frame, error_page, notice};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use leadline_app::AppError;
use leadline_app::accounts::AccountSummary;
use leadline_domain::account::User;
use leadline_domain::customer_account::AccountInput;
use serde::Deserialize;
use uuid::Uuid;

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(page).post(create))
        .route("/accounts/{id}/delete", post(delete))
}

#[derive(Deserialize)]
struct PageParams {
    done: Option<String>,
    after: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts.html")]
struct AccountsPage {
    frame: Frame,
    notice: Option<&'static str>,
    error: Option<String>,
    accounts: Vec<AccountSummary>,
    users: Vec<User>,
    can_edit: bool,
    next: Option<String>,
}

const PAGE: i64 = 100;

async fn render(
    s: &AppState,
    auth: &UiAuth,
    after: Option<&str>,
    n: Option<&str>,
    error: Option<String>,
) -> Response {
    let (accounts, users) = match tokio::try_join!(
        s.app.accounts(&auth.principal, after, PAGE),
        s.app.list_users()
    ) {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let next = (accounts.len() as i64 == PAGE)
        .then(|| accounts.last().map(|a| a.account.name.clone()))
        .flatten();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        AccountsPage {
            frame: Frame::new(&auth.user, "accounts"),
            notice: notice(n),
            error,
            accounts,
            users: users.into_iter().filter(|u| u.active).collect(),
            can_edit: auth.user.role != leadline_domain::Role::Rep,
            next,
        },
    )
        .into_response()
}

async fn page(State(s): State<AppState>, auth: UiAuth, Query(q): Query<PageParams>) -> Response {
    render(&s, &auth, q.after.as_deref(), q.done.as_deref(), None).await
}

#[derive(Deserialize)]
struct AccountForm {
    name: String,
    domain: Option<String>,
    industry: Option<String>,
    owner_id: Option<String>,
}

async fn create(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(f): axum::Form<AccountForm>,
) -> Response {
    let input = AccountInput {
        name: f.name,
        domain: f.domain,
        industry: f.industry,
        owner_id: f.owner_id.and_then(|o| o.parse().ok()),
    };
    match s.app.create_account(&auth.principal, input).await {
        Ok(_) => done("/accounts", "created"),
        Err(AppError::Validation(e)) => render(&s, &auth, None, None, Some(e.to_string())).await,
        Err(e) => error_page(e),
    }
}

async fn delete(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.delete_account(&auth.principal, id).await {
        Ok(()) => done("/accounts", "deleted"),
        Err(e) => error_page(e),
    }
}
