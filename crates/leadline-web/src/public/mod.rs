//! The public capture endpoints, reached by visitors' browsers from other sites: Web-to-Lead,
//! hosted forms, the tracking snippet, pixel and events, and tracked links. They carry no
//! session, so they sit outside the CSRF layer; what they accept is limited, rate-limited
//! and kept (when refused) for admins to review.

mod body;
mod forms;
mod limits;
mod tracking;
mod unsubscribe;
mod web_to_lead;

pub use forms::{form_view, render_embed};
pub use limits::SubmissionLimits;

use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// Largest public form post.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The public routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/servlet/servlet.WebToLead", post(web_to_lead::submit))
        .route("/w2l", post(web_to_lead::submit))
        .route("/t.js", get(tracking::snippet))
        .route("/t/p.gif", get(tracking::pixel))
        .route("/t/e", post(tracking::event).options(tracking::preflight))
        .route("/r/{token}", get(tracking::follow))
        .route("/o/{file}", get(tracking::opened))
        .route(
            "/u/{token}",
            get(unsubscribe::page).post(unsubscribe::confirm),
        )
        .route("/f.js", get(forms::loader))
        .route("/f/{slug}", get(forms::page).post(forms::submit))
        .route("/f/{slug}/embed", get(forms::embed))
}

#[derive(Template, WebTemplate)]
#[template(path = "public_message.html")]
struct MessagePage {
    title: String,
    message: String,
    problems: Vec<String>,
    back: Option<String>,
}

/// A plain page for a person who submitted a form.
fn message(
    status: StatusCode,
    title: &str,
    message: &str,
    problems: Vec<String>,
    back: Option<String>,
) -> Response {
    (
        status,
        MessagePage {
            title: title.into(),
            message: message.into(),
            problems,
            back,
        },
    )
        .into_response()
}

/// A script other sites load: cacheable, and readable cross-origin.
fn script(js: &'static str) -> Response {
    use axum::http::{HeaderValue, header};
    let mut res = js.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    res
}

/// Keeps a submission that hit a rate limit and tells the person to wait.
async fn rate_limited(
    s: &AppState,
    channel: leadline_domain::capture::CaptureChannel,
    which: limits::Limited,
    payload: serde_json::Value,
    remote: Option<String>,
    back: Option<String>,
) -> Response {
    let reason = match which {
        limits::Limited::Address => "too many submissions from this address",
        limits::Limited::Form => "too many submissions to this form",
    };
    let _ = s
        .app
        .keep_rejected(channel, "rate_limited", reason, payload, remote)
        .await;
    let mut res = message(
        StatusCode::TOO_MANY_REQUESTS,
        "Please wait a moment",
        "We received many submissions in a short time. Your details were kept; please try again in a minute.",
        vec![],
        back,
    );
    res.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("60"),
    );
    res
}
