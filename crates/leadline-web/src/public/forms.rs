//! Hosted forms: the public page `/f/{slug}`, its embeddable fragment and loader, and
//! submissions (honeypot, rate limits, field errors shown next to the fields).

use super::body::{BodyError, read_form};
use super::tracking::cors;
use super::web_to_lead::{HONEYPOT_FIELD, VISITOR_FIELD, back_link};
use super::{MAX_FORM_BYTES, message};
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use leadline_app::AppError;
use leadline_domain::CustomFieldDef;
use leadline_domain::capture::CaptureChannel;
use leadline_domain::capture::form::{Form, InputKind, UTM_FIELDS, input_kind};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;

const LOADER: &str = include_str!("../../static/f.js");

/// One field as the template shows it.
pub struct FieldView {
    pub name: String,
    pub label: String,
    pub kind: &'static str,
    pub required: bool,
    pub hidden: bool,
    pub value: String,
    pub options: Vec<String>,
    pub error: Option<String>,
}

/// A form as the template shows it.
pub struct FormView {
    pub action: String,
    pub fields: Vec<FieldView>,
    pub utm: Vec<(String, String)>,
    pub consent_text: Option<String>,
    pub consent_checked: bool,
    pub consent_error: Option<String>,
    pub submit_label: String,
    pub general_errors: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "public_form.html")]
struct FormPage {
    title: String,
    form: FormView,
}

#[derive(Template, WebTemplate)]
#[template(path = "form_embed.html")]
struct FormEmbed {
    form: FormView,
}

fn kind_name(k: InputKind) -> &'static str {
    match k {
        InputKind::Text => "text",
        InputKind::Email => "email",
        InputKind::Tel => "tel",
        InputKind::Url => "url",
        InputKind::Number => "number",
        InputKind::Date => "date",
        InputKind::Area => "area",
        InputKind::Check => "check",
        InputKind::Select => "select",
    }
}

/// The view of `form` with submitted `values` and `errors` (by field name).
pub fn view(
    form: &Form,
    defs: &[CustomFieldDef],
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
) -> FormView {
    let d = &form.definition;
    let fields = d
        .fields
        .iter()
        .map(|f| {
            let options = f
                .target
                .strip_prefix("custom.")
                .and_then(|k| defs.iter().find(|d| d.key == k))
                .map(|d| d.options.clone())
                .unwrap_or_default();
            FieldView {
                name: f.target.clone(),
                label: f.label.clone(),
                kind: kind_name(input_kind(&f.target, defs)),
                required: f.required,
                hidden: f.hidden,
                value: if f.hidden {
                    f.value.clone().unwrap_or_default()
                } else {
                    values.get(&f.target).cloned().unwrap_or_default()
                },
                options,
                error: errors.get(&f.target).cloned(),
            }
        })
        .collect();
    let known: Vec<&str> = d
        .fields
        .iter()
        .map(|f| f.target.as_str())
        .chain(["consent"])
        .collect();
    FormView {
        action: format!("/f/{}", form.slug),
        fields,
        utm: UTM_FIELDS
            .iter()
            .filter_map(|u| values.get(*u).map(|v| ((*u).to_owned(), v.clone())))
            .collect(),
        consent_text: d.consent_text.clone(),
        consent_checked: values.contains_key("consent"),
        consent_error: errors.get("consent").cloned(),
        submit_label: d.submit_label.clone(),
        general_errors: errors
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
            .collect(),
    }
}

fn query_values(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| UTM_FIELDS.contains(&k.as_ref()))
                .map(|(k, v)| (k.into_owned(), v.chars().take(255).collect()))
                .collect()
        })
        .unwrap_or_default()
}

async fn load(s: &AppState, slug: &str) -> Result<(Form, Vec<CustomFieldDef>), Response> {
    match s.app.public_form(slug).await {
        Ok(f) => {
            let defs = s.app.custom_fields().await.unwrap_or_default();
            Ok((f, defs))
        }
        Err(AppError::NotFound(_)) => Err(message(
            StatusCode::NOT_FOUND,
            "Form not found",
            "This form does not exist or is no longer open.",
            vec![],
            None,
        )),
        Err(e) => {
            tracing::error!(error = %e, "form not loaded");
            Err(message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "Please try again in a moment.",
                vec![],
                None,
            ))
        }
    }
}

/// The page's policy: the default, except that the form may lead to the redirect the admin
/// set (browsers apply `form-action` to the redirect after a submission too).
fn with_policy(form: &Form, mut res: Response) -> Response {
    let target = form
        .definition
        .redirect_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null");
    if let Some(origin) = target {
        let policy = crate::security::CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&policy) {
            res.headers_mut()
                .insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
    res
}

/// `GET /f/{slug}`: the hosted page. UTM parameters in its address ride along hidden.
pub async fn page(State(s): State<AppState>, Path(slug): Path<String>, uri: Uri) -> Response {
    let (form, defs) = match load(&s, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let page = FormPage {
        title: form.name.clone(),
        form: view(&form, &defs, &query_values(&uri), &HashMap::new()),
    }
    .into_response();
    with_policy(&form, page)
}

/// `GET /f/{slug}/embed`: the form alone, for the loader on another site (CORS for the
/// configured origins).
pub async fn embed(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (form, defs) = match load(&s, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut res = FormEmbed {
        form: view(&form, &defs, &query_values(&uri), &HashMap::new()),
    }
    .into_response();
    let settings = s.app.capture_settings().await.unwrap_or_default();
    cors(&headers, &mut res, &settings);
    res
}

/// `GET /f.js`: the loader.
pub async fn loader() -> Response {
    super::script(LOADER)
}

/// `POST /f/{slug}`: a submission.
pub async fn submit(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let remote = Some(peer.ip().to_string());
    let (form, defs) = match load(&s, &slug).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let settings = s.app.capture_settings().await.unwrap_or_default();
    let pairs = match read_form(req, None, MAX_FORM_BYTES).await {
        Ok(p) => p,
        Err(e) => {
            let status = match e {
                BodyError::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::Unreadable(_) => StatusCode::BAD_REQUEST,
            };
            let _ = s
                .app
                .keep_rejected(
                    CaptureChannel::Form,
                    "unreadable",
                    &e.to_string(),
                    json!({"form": slug}),
                    remote,
                )
                .await;
            return message(
                status,
                "We could not read your submission",
                &e.to_string(),
                vec![],
                back_link(&headers),
            );
        }
    };
    let payload = || json!({"form": slug, "fields": pairs.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()});
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    if get(HONEYPOT_FIELD).is_some_and(|v| !v.is_empty()) {
        let _ = s
            .app
            .keep_rejected(
                CaptureChannel::Form,
                "honeypot",
                "the hidden honeypot field was filled in",
                payload(),
                remote,
            )
            .await;
        return thanks(&form);
    }
    if let Err(which) = s
        .limits
        .check(peer.ip(), &format!("form:{slug}"), &settings)
    {
        return super::rate_limited(
            &s,
            CaptureChannel::Form,
            which,
            payload(),
            remote,
            back_link(&headers),
        )
        .await;
    }
    let visitor = get(VISITOR_FIELD).filter(|v| !v.is_empty());
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect::<String>());
    let mut res = match s
        .app
        .submit_form(&form, &pairs, visitor, remote, user_agent)
        .await
    {
        Ok(_) => thanks(&form),
        Err(AppError::Validation(errs)) => {
            let values: HashMap<String, String> = pairs.iter().cloned().collect();
            let mut by_field = HashMap::new();
            for e in errs.0 {
                by_field.entry(e.field).or_insert(e.message);
            }
            let page = (
                StatusCode::UNPROCESSABLE_ENTITY,
                FormPage {
                    title: form.name.clone(),
                    form: view(&form, &defs, &values, &by_field),
                },
            )
                .into_response();
            with_policy(&form, page)
        }
        Err(e) => {
            tracing::error!(error = %e, "form submission not stored");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "We could not save your submission just now. Please try again in a few minutes.",
                vec![],
                back_link(&headers),
            )
        }
    };
    cors(&headers, &mut res, &settings);
    res
}

fn thanks(form: &Form) -> Response {
    match &form.definition.redirect_url {
        Some(u) => Redirect::to(u).into_response(),
        None => message(
            StatusCode::OK,
            "Thank you",
            &form.definition.thank_you_message,
            vec![],
            None,
        ),
    }
}

/// The form as shown before anything is typed.
pub fn form_view(form: &Form, defs: &[CustomFieldDef]) -> FormView {
    view(form, defs, &HashMap::new(), &HashMap::new())
}

/// The plain HTML of a form, posting to `action` (the snippet people paste into a site).
pub fn render_embed(mut form: FormView, action: &str) -> String {
    form.action = action.to_owned();
    FormEmbed { form }.render().unwrap_or_default()
}
