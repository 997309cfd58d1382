//! The tracking snippet (`/t.js`), the pixel (`/t/p.gif`), snippet events (`POST /t/e`),
//! tracked links (`/r/{token}`) and the open pixel of sequence mail (`/o/{token}.gif`).

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use leadline_app::AppError;
use leadline_app::tracking::{TrackContext, Tracked};
use leadline_domain::capture::CaptureSettings;
use leadline_domain::tracking::TrackedEvent;
use serde::Deserialize;

const SNIPPET: &str = include_str!("../../static/t.js");

/// A transparent 1×1 GIF.
const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn context(headers: &HeaderMap) -> TrackContext {
    let flag = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()) == Some("1");
    TrackContext {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        do_not_track: flag("dnt") || flag("sec-gpc"),
    }
}

/// `GET /t.js`: the snippet.
pub async fn snippet() -> Response {
    super::script(SNIPPET)
}

/// The pixel's query: `v` visitor id, `k` kind, `u` url, `t` title, `r` referrer,
/// `l` tracked-link token, `c` consent (`1`/`0`).
#[derive(Deserialize)]
pub struct PixelQuery {
    v: Option<String>,
    k: Option<String>,
    u: Option<String>,
    t: Option<String>,
    r: Option<String>,
    l: Option<String>,
    c: Option<String>,
}

/// `GET /t/p.gif`: records a page view (or `k`) for sites that cannot run script, e.g.
/// emails and AMP pages. Always answers the image; a refused call says why in
/// `Leadline-Ignored`.
pub async fn pixel(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PixelQuery>,
) -> Response {
    let event = TrackedEvent {
        visitor_id: q.v.unwrap_or_default(),
        kind: q.k.unwrap_or_default(),
        url: q.u,
        title: q.t,
        referrer: q.r,
        link: q.l,
        consent: q.c.map(|c| c == "1" || c == "true"),
        properties: Default::default(),
    };
    let outcome = s.app.track(event, &context(&headers)).await;
    let mut res = gif();
    let h = res.headers_mut();
    let ignored = match outcome {
        Ok(Tracked::Ignored(why)) => Some(why),
        Ok(_) => None,
        Err(AppError::Validation(_)) => Some("invalid"),
        Err(e) => {
            tracing::warn!(error = %e, "pixel not recorded");
            Some("unavailable")
        }
    };
    if let Some(why) = ignored {
        h.insert("leadline-ignored", HeaderValue::from_static(why));
    }
    res
}

/// The GIF with headers that keep it from being cached or blocked across origins.
fn gif() -> Response {
    let mut res = GIF.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    res
}

/// `GET /o/{token}.gif`: a sequence message was opened. Always answers the image.
pub async fn opened(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let token = file.strip_suffix(".gif").unwrap_or(&file);
    if let Err(e) = s.app.record_open(token, &context(&headers)).await {
        tracing::warn!(error = %e, "open not recorded");
    }
    gif()
}

/// Lets a configured origin read the answer.
pub fn cors(headers: &HeaderMap, res: &mut Response, settings: &CaptureSettings) {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && settings.origin_allowed(origin)
        && let Ok(v) = HeaderValue::from_str(origin)
    {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, HeaderValue::from_static("origin"));
    }
}

/// `OPTIONS /t/e`: CORS preflight for pages that post events with `fetch` and JSON.
pub async fn preflight(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let allowed = s.app.capture_settings().await.unwrap_or_default();
    let mut res = StatusCode::NO_CONTENT.into_response();
    cors(&headers, &mut res, &allowed);
    if res
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    res
}

/// `POST /t/e`: an event from the snippet (JSON, sent as `text/plain` or
/// `application/json`). `204` when recorded or deliberately ignored (`Leadline-Ignored`
/// says why), a problem document when the call is malformed.
pub async fn event(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let allowed = s.app.capture_settings().await.unwrap_or_default();
    let mut res = match serde_json::from_slice::<TrackedEvent>(&body) {
        Err(e) => ApiError::bad_request("malformed-event", format!("the event is not valid: {e}"))
            .into_response(),
        Ok(ev) => match s.app.track(ev, &context(&headers)).await {
            Ok(t) => {
                let mut r = StatusCode::NO_CONTENT.into_response();
                if let Tracked::Ignored(why) = t {
                    r.headers_mut()
                        .insert("leadline-ignored", HeaderValue::from_static(why));
                }
                r
            }
            Err(e) => ApiError::from(e).into_response(),
        },
    };
    cors(&headers, &mut res, &allowed);
    res
}

/// `GET /r/{token}`: records the click and redirects to the link's target.
pub async fn follow(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match s.app.follow_link(&token, &context(&headers)).await {
        Ok(target) => Redirect::to(&target).into_response(),
        Err(AppError::NotFound(_)) => super::message(
            StatusCode::NOT_FOUND,
            "Link not found",
            "This link does not exist or has expired.",
            vec![],
            None,
        ),
        Err(e) => {
            tracing::error!(error = %e, "tracked link failed");
            super::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "Please try the link again in a moment.",
                vec![],
                None,
            )
        }
    }
}
