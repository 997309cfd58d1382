//! Sign in and out.

use crate::auth::{SESSION_COOKIE, UiAuth};
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use leadline_app::AppError;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    email: String,
    error: Option<String>,
    first_start: bool,
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() < 2000 =>
        {
            n.to_owned()
        }
        _ => "/leads".to_owned(),
    }
}

pub async fn login_page(State(s): State<AppState>, Query(q): Query<NextParam>) -> Response {
    let first_start = s.app.has_no_users().await.unwrap_or(false);
    LoginPage {
        next: safe_next(q.next.as_deref()),
        email: String::new(),
        error: None,
        first_start,
    }
    .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    match s.app.login(&f.email, &f.password, Some(peer.ip())).await {
        Ok(session) => {
            let cookie = Cookie::build((SESSION_COOKIE, session.token))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(s.config.secure_cookies)
                .build();
            (jar.add(cookie), Redirect::to(&next)).into_response()
        }
        Err(AppError::Unauthenticated) => (
            StatusCode::UNAUTHORIZED,
            LoginPage {
                next,
                email: f.email,
                error: Some("Wrong email or password.".into()),
                first_start: false,
            },
        )
            .into_response(),
        Err(AppError::Throttled { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let mut res = (
                StatusCode::TOO_MANY_REQUESTS,
                LoginPage {
                    next,
                    email: f.email,
                    error: Some(format!(
                        "Too many failed sign-ins. Try again in {minutes} minute{}.",
                        if minutes == 1 { "" } else { "s" }
                    )),
                    first_start: false,
                },
            )
                .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            res
        }
        Err(e) => super::error_page(e),
    }
}

/// Ends every session of the signed-in user, on every device.
pub async fn logout_everywhere(
    State(s): State<AppState>,
    auth: UiAuth,
    jar: CookieJar,
) -> Response {
    if let Err(e) = s.app.logout_everywhere(auth.user.id).await {
        return super::error_page(e);
    }
    (
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        Redirect::to("/login"),
    )
        .into_response()
}

pub async fn logout(State(s): State<AppState>, jar: CookieJar) -> Response {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let _ = s.app.logout(c.value()).await;
    }
    (
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        Redirect::to("/login"),
    )
        .into_response()
}
