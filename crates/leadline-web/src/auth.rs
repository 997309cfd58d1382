//! Who is calling: a bearer API key, or the browser session cookie.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use leadline_app::AppError;
use leadline_domain::Principal;
use leadline_domain::account::User;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "leadline_session";

/// The authenticated caller of an API route.
pub struct ApiAuth(pub Principal);

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let key = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .ok_or(AppError::Unauthenticated)?;
            return Ok(ApiAuth(state.app.api_key_principal(key.trim()).await?));
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar.get(SESSION_COOKIE).ok_or(AppError::Unauthenticated)?;
        let (p, _) = state.app.session_principal(token.value()).await?;
        Ok(ApiAuth(p))
    }
}

/// The signed-in user of a UI page; without a session the page redirects to `/login`.
pub struct UiAuth {
    pub principal: Principal,
    pub user: User,
}

/// The rejection of [`UiAuth`]: a redirect to the login page, back to where the user was.
pub struct LoginRedirect(String);

impl axum::response::IntoResponse for LoginRedirect {
    fn into_response(self) -> axum::response::Response {
        axum::response::Redirect::to(&format!("/login?next={}", urlencode(&self.0))).into_response()
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl FromRequestParts<AppState> for UiAuth {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let next = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE) else {
            return Err(LoginRedirect(next).into_response());
        };
        match state.app.session_principal(token.value()).await {
            Ok((principal, user)) => Ok(UiAuth { principal, user }),
            Err(AppError::Unauthenticated) => Err(LoginRedirect(next).into_response()),
            Err(e) => Err(crate::ui::error_page(e)),
        }
    }
}
