//! Nurture pages (admins, managers, marketers): templates with an editor and preview,
//! sequences with a TOML editor and their steps as a readable flow.

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
use leadline_app::nurture::run::SequenceReport;
use leadline_app::nurture::{EmailTemplate, Sequence};
use leadline_domain::nurture::sequence::{SequenceInput, StepDraft, describe};
use leadline_domain::nurture::template::{Rendered, TemplateInput};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Template, WebTemplate)]
#[template(path = "nurture.html")]
struct NurturePage {
    frame: Frame,
    notice: Option<&'static str>,
    templates: Vec<EmailTemplate>,
    sequences: Vec<(Sequence, usize)>,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn page(State(s): State<AppState>, auth: UiAuth, Query(q): Query<DoneQuery>) -> Response {
    let data = tokio::try_join!(
        s.app.email_templates(&auth.principal),
        s.app.sequences(&auth.principal)
    );
    match data {
        Ok((templates, sequences)) => NurturePage {
            frame: Frame::new(&auth.user, "nurture"),
            notice: notice(q.done.as_deref()),
            templates,
            sequences: sequences
                .into_iter()
                .map(|s| {
                    let n = s.definition.steps.len();
                    (s, n)
                })
                .collect(),
        }
        .into_response(),
        Err(e) => error_page(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "email_template.html")]
struct TemplatePage {
    frame: Frame,
    notice: Option<&'static str>,
    /// None for a new template.
    id: Option<Uuid>,
    input: TemplateInput,
    lead_id: String,
    errors: Vec<String>,
    preview: Option<Rendered>,
}

const STARTER: &str = "<p>Hello {{ lead.first_name | default(\"there\") }},</p>\n\
<p>…</p>\n<p>{{ owner.signature | default(\"The team\") }}</p>\n\
<p style=\"font-size:small\"><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>\n";

pub async fn new_template(auth: UiAuth) -> Response {
    if let Err(e) = leadline_app::auth::require_marketing(&auth.principal, "email templates") {
        return error_page(e);
    }
    TemplatePage {
        frame: Frame::new(&auth.user, "nurture"),
        notice: None,
        id: None,
        input: TemplateInput {
            html: STARTER.into(),
            marketing: Some(true),
            ..Default::default()
        },
        lead_id: String::new(),
        errors: Vec::new(),
        preview: None,
    }
    .into_response()
}

pub async fn template(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<DoneQuery>,
) -> Response {
    match s.app.email_template(&auth.principal, id).await {
        Ok(t) => TemplatePage {
            frame: Frame::new(&auth.user, "nurture"),
            notice: notice(q.done.as_deref()),
            id: Some(id),
            input: TemplateInput {
                name: t.name,
                subject: t.subject,
                html: t.html,
                marketing: Some(t.marketing),
            },
            lead_id: String::new(),
            errors: Vec::new(),
            preview: None,
        }
        .into_response(),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
pub struct TemplateForm {
    name: String,
    subject: String,
    html: String,
    marketing: Option<String>,
    #[serde(default)]
    lead_id: String,
    /// `save` or `preview`.
    action: String,
}

/// Saves, or previews without saving (with the chosen lead); problems show on the page.
pub async fn save_template(
    State(s): State<AppState>,
    auth: UiAuth,
    id: Option<Path<Uuid>>,
    Form(f): Form<TemplateForm>,
) -> Response {
    let id = id.map(|Path(id)| id);
    let input = TemplateInput {
        name: f.name,
        subject: f.subject,
        html: f.html,
        marketing: Some(f.marketing.is_some()),
    };
    let lead = match f.lead_id.trim() {
        "" => None,
        x => match x.parse::<Uuid>() {
            Ok(l) => Some(l),
            Err(_) => {
                return render_template(
                    &auth,
                    id,
                    input,
                    f.lead_id,
                    vec!["lead for the preview: not a lead id".into()],
                    None,
                );
            }
        },
    };
    if f.action == "preview" {
        return match s
            .app
            .preview_email_template(&auth.principal, input.clone(), lead)
            .await
        {
            Ok(r) => render_template(&auth, id, input, f.lead_id, Vec::new(), Some(r)),
            Err(AppError::Validation(e)) => {
                render_template(&auth, id, input, f.lead_id, messages(&e), None)
            }
            Err(e) => error_page(e),
        };
    }
    match s
        .app
        .save_email_template(&auth.principal, id, input.clone())
        .await
    {
        Ok(t) => Redirect::to(&format!("/nurture/templates/{}?done=saved", t.id)).into_response(),
        Err(AppError::Validation(e)) => {
            render_template(&auth, id, input, f.lead_id, messages(&e), None)
        }
        Err(e) => error_page(e),
    }
}

pub async fn save_existing_template(
    s: State<AppState>,
    auth: UiAuth,
    id: Path<Uuid>,
    f: Form<TemplateForm>,
) -> Response {
    save_template(s, auth, Some(id), f).await
}

pub async fn save_new_template(
    s: State<AppState>,
    auth: UiAuth,
    f: Form<TemplateForm>,
) -> Response {
    save_template(s, auth, None, f).await
}

fn messages(e: &leadline_domain::ValidationErrors) -> Vec<String> {
    e.0.iter()
        .map(|x| format!("{}: {}", x.field, x.message))
        .collect()
}

fn render_template(
    auth: &UiAuth,
    id: Option<Uuid>,
    input: TemplateInput,
    lead_id: String,
    errors: Vec<String>,
    preview: Option<Rendered>,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = TemplatePage {
        frame: Frame::new(&auth.user, "nurture"),
        notice: None,
        id,
        input,
        lead_id,
        errors,
        preview,
    };
    (status, page).into_response()
}

#[derive(Deserialize)]
pub struct TestForm {
    to: String,
}

pub async fn test_send(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<TestForm>,
) -> Response {
    match s
        .app
        .test_send_email_template(&auth.principal, id, &f.to, None)
        .await
    {
        Ok(_) => Redirect::to(&format!("/nurture/templates/{id}?done=test_mail")).into_response(),
        Err(e) => error_page(e),
    }
}

pub async fn delete_template(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
) -> Response {
    match s.app.delete_email_template(&auth.principal, id).await {
        Ok(()) => Redirect::to("/nurture?done=deleted").into_response(),
        Err(e) => error_page(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sequence.html")]
struct SequencePage {
    frame: Frame,
    notice: Option<&'static str>,
    id: Option<Uuid>,
    name: String,
    toml: String,
    flow: Vec<FlowStep>,
    errors: Vec<String>,
    templates: Vec<EmailTemplate>,
    report: Option<SequenceReport>,
    /// Other sequences (id, name), for a move-to step.
    others: Vec<(Uuid, String)>,
    /// Stages (key, label), for a stage step.
    stages: Vec<(&'static str, &'static str)>,
}

/// One step of the flow view: its number, kind (for its mark), words, and for a sent email
/// step its numbers as shares of the messages sent.
struct FlowStep {
    number: usize,
    kind: &'static str,
    text: String,
    stats: Option<StepStats>,
}

/// An email step's funnel, with widths (percent of sent) for the bars.
struct StepStats {
    sent: i64,
    bars: Vec<(&'static str, i64, i64)>,
}

fn step_kind(s: &leadline_domain::nurture::sequence::Step) -> &'static str {
    use leadline_domain::nurture::sequence::Step;
    match s {
        Step::Email { .. } => "email",
        Step::Wait { .. } | Step::WaitUntil { .. } => "wait",
        Step::Branch { .. } => "branch",
        Step::Task { .. } => "task",
        Step::Stage { .. } | Step::SetField { .. } => "change",
        Step::Event { .. } => "event",
        Step::MoveTo { .. } => "move",
    }
}

const SEQUENCE_STARTER: &str = "name = \"Nurture\"\nenroll_on_stages = [\"nurture\"]\n\n\
# [[steps]]\n# type = \"email\"\n# template_id = \"…\"  (ids below)\n\n[[steps]]\ntype = \"wait\"\ndays = 3\n";

async fn sequence_page(
    s: &AppState,
    auth: &UiAuth,
    id: Option<Uuid>,
    toml: String,
    errors: Vec<String>,
    notice_code: Option<&str>,
) -> Response {
    let templates = match s.app.email_templates(&auth.principal).await {
        Ok(t) => t,
        Err(e) => return error_page(e),
    };
    let sequences = s.app.sequences(&auth.principal).await.unwrap_or_default();
    let parsed = SequenceInput::from_toml(&toml).ok();
    let name = parsed.as_ref().map(|q| q.name.clone()).unwrap_or_default();
    let kinds: Vec<&'static str> = parsed
        .as_ref()
        .map(|q| q.steps.iter().map(step_kind).collect())
        .unwrap_or_default();
    let words = parsed
        .map(|q| {
            describe(&q.steps, |x| {
                templates
                    .iter()
                    .find(|t| t.id == x)
                    .map(|t| t.name.clone())
                    .or_else(|| {
                        sequences
                            .iter()
                            .find(|q| q.id == x)
                            .map(|q| q.definition.name.clone())
                    })
                    .unwrap_or_else(|| x.to_string())
            })
        })
        .unwrap_or_default();
    let report = match id {
        Some(i) => s.app.sequence_report(&auth.principal, i).await.ok(),
        None => None,
    };
    let flow = words
        .into_iter()
        .zip(kinds)
        .enumerate()
        .map(|(i, (text, kind))| {
            let stats = report
                .as_ref()
                .and_then(|r| r.steps.iter().find(|st| st.step == i + 1))
                .filter(|st| st.sent > 0)
                .map(|st| {
                    let pct = |n: i64| n * 100 / st.sent;
                    StepStats {
                        sent: st.sent,
                        bars: vec![
                            ("delivered", st.delivered, pct(st.delivered)),
                            ("opened", st.opened, pct(st.opened)),
                            ("clicked", st.clicked, pct(st.clicked)),
                            ("replied", st.replied, pct(st.replied)),
                        ],
                    }
                });
            FlowStep {
                number: i + 1,
                kind,
                text,
                stats,
            }
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let others = sequences
        .iter()
        .filter(|q| Some(q.id) != id)
        .map(|q| (q.id, q.definition.name.clone()))
        .collect();
    let stages = leadline_domain::Stage::ALL
        .iter()
        .map(|st| (st.as_str(), st.label()))
        .collect();
    let page = SequencePage {
        name,
        report,
        others,
        stages,
        frame: Frame::new(&auth.user, "nurture"),
        notice: notice(notice_code),
        id,
        toml,
        flow,
        errors,
        templates,
    };
    (status, page).into_response()
}

pub async fn new_sequence(State(s): State<AppState>, auth: UiAuth) -> Response {
    sequence_page(&s, &auth, None, SEQUENCE_STARTER.into(), Vec::new(), None).await
}

pub async fn sequence(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<DoneQuery>,
) -> Response {
    match s.app.sequence(&auth.principal, id).await {
        Ok(q2) => {
            let toml = q2.definition.to_toml();
            sequence_page(&s, &auth, Some(id), toml, Vec::new(), q.done.as_deref()).await
        }
        Err(e) => error_page(e),
    }
}

/// The sequence form: the TOML draft, and what to do with it — save (the default), add the
/// step the builder describes (`action=add_step`, at position `at`), or remove step
/// `remove`. Adding and removing change the draft only; Save keeps it.
async fn sequence_form(
    s: &AppState,
    auth: &UiAuth,
    id: Option<Uuid>,
    mut form: std::collections::HashMap<String, String>,
) -> Response {
    let toml = form.remove("toml").unwrap_or_default();
    let action = form.remove("action").unwrap_or_default();
    let remove = form.remove("remove").and_then(|n| n.parse::<usize>().ok());
    if action != "add_step" && remove.is_none() {
        return save_sequence(s, auth, id, toml).await;
    }
    let mut draft = match SequenceInput::from_toml(&toml) {
        Ok(d) => d,
        Err(e) => {
            let errors = vec![format!("not valid TOML: {e}")];
            return sequence_page(s, auth, id, toml, errors, None).await;
        }
    };
    if let Some(n) = remove {
        draft.remove_step(n);
        return sequence_page(
            s,
            auth,
            id,
            draft.to_toml(),
            Vec::new(),
            Some("step_removed"),
        )
        .await;
    }
    let at = form
        .get("at")
        .and_then(|a| a.trim().parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let builder: Result<StepDraft, _> = serde_json::from_value(serde_json::Value::Object(
        form.into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect(),
    ));
    match builder.map_err(|e| e.to_string()).and_then(|b| b.to_step()) {
        Ok(step) => {
            draft.insert_step(at, step);
            sequence_page(s, auth, id, draft.to_toml(), Vec::new(), Some("step_added")).await
        }
        Err(e) => sequence_page(s, auth, id, toml, vec![format!("new step: {e}")], None).await,
    }
}

async fn save_sequence(s: &AppState, auth: &UiAuth, id: Option<Uuid>, toml: String) -> Response {
    let input = match SequenceInput::from_toml(&toml) {
        Ok(i) => i,
        Err(e) => {
            return sequence_page(
                s,
                auth,
                id,
                toml,
                vec![format!("not valid TOML: {e}")],
                None,
            )
            .await;
        }
    };
    match s.app.save_sequence(&auth.principal, id, input).await {
        Ok(q) => Redirect::to(&format!("/nurture/sequences/{}?done=saved", q.id)).into_response(),
        Err(AppError::Validation(e)) => sequence_page(s, auth, id, toml, messages(&e), None).await,
        Err(e) => error_page(e),
    }
}

pub async fn save_new_sequence(
    State(s): State<AppState>,
    auth: UiAuth,
    Form(f): Form<std::collections::HashMap<String, String>>,
) -> Response {
    sequence_form(&s, &auth, None, f).await
}

pub async fn save_existing_sequence(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<std::collections::HashMap<String, String>>,
) -> Response {
    sequence_form(&s, &auth, Some(id), f).await
}

#[derive(Deserialize)]
pub struct EnrollForm {
    /// Lead ids, one per line (or separated by commas or spaces).
    leads: String,
}

/// Enrolls the listed leads; the outcome counts show on the page.
pub async fn enroll(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<EnrollForm>,
) -> Response {
    let mut ids = Vec::new();
    for part in f
        .leads
        .split([',', ' ', '\n', '\r', '\t'])
        .filter(|x| !x.is_empty())
    {
        match part.parse::<Uuid>() {
            Ok(u) => ids.push(u),
            Err(_) => {
                return error_page(AppError::Validation({
                    let mut e = leadline_domain::ValidationErrors::default();
                    e.add(
                        "leads",
                        "invalid_id",
                        format!("\"{part}\" is not a lead id"),
                    );
                    e
                }));
            }
        }
    }
    match s.app.enroll_leads(&auth.principal, id, &ids).await {
        Ok(_) => Redirect::to(&format!("/nurture/sequences/{id}?done=enrolled")).into_response(),
        Err(e) => error_page(e),
    }
}
