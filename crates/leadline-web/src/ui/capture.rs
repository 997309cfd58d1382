//! Capture pages (admins, managers, marketers): hosted forms and their builder, the CSV
//! import wizard with progress, sources and campaigns with costs, rejected submissions,
//! capture settings and the tracking snippet.

use super::{Frame, error_page, notice};
use crate::api::imports::{FileError, MAX_IMPORT_BYTES, csv_attachment, spawn_run};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use leadline_app::AppError;
use leadline_app::capture::import::ImportPreview;
use leadline_domain::capture::form::{Form, FormDefinition, FormField, FormInput};
use leadline_domain::capture::import::{
    ColumnMapping, DuplicatePolicy, ImportJob, ImportOptions, ImportStatus, UnknownColumns,
    target_names,
};
use leadline_domain::capture::{CaptureChannel, CaptureSettings, RejectedSubmission};
use leadline_domain::money;
use leadline_domain::quality::QualitySettings;
use leadline_domain::quality::survivorship::Survivorship;
use leadline_domain::quality::verify::{Action, Policy};
use leadline_domain::source::{Campaign, CampaignCost, Channel, NewSource, Source};
use leadline_domain::{CustomFieldDef, Role};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

/// The capture routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/capture", get(|| async { Redirect::to("/capture/forms") }))
        .route("/capture/forms", get(forms).post(create_form))
        .route("/capture/forms/{id}", get(edit_form).post(save_form))
        .route("/capture/forms/{id}/delete", post(delete_form))
        .route(
            "/capture/imports",
            get(imports)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/capture/imports/{id}", get(import_page))
        .route("/capture/imports/{id}/start", post(start_import))
        .route("/capture/imports/{id}/resume", post(resume_import))
        .route("/capture/imports/{id}/errors.csv", get(error_report))
        .route("/capture/sources", get(sources).post(create_source))
        .route("/capture/sources/{id}/delete", post(delete_source))
        .route("/capture/campaigns", post(create_campaign))
        .route("/capture/campaigns/{id}/delete", post(delete_campaign))
        .route("/capture/campaigns/{id}/costs", post(add_cost))
        .route(
            "/capture/campaigns/{id}/costs/{cost}/delete",
            post(delete_cost),
        )
        .route("/capture/review", get(review_queue).post(review))
        .route("/capture/quality", get(quality).post(save_quality))
        .route("/capture/rejected", get(rejected))
        .route("/capture/rejected/{id}", get(rejected_item))
        .route("/capture/rejected/{id}/discard", post(discard))
        .route("/capture/settings", get(settings).post(save_settings))
}

/// Pages here are for everyone but reps.
pub(super) fn gate(auth: &UiAuth) -> Option<Response> {
    (auth.user.role == Role::Rep).then(|| {
        error_page(AppError::Forbidden(
            "capture is for admins, managers and marketers".into(),
        ))
    })
}

/// The address people reach this server at, for snippets.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{proto}://{host}")
}

/// Every target a mapping or form field may name, with a label.
fn targets(defs: &[CustomFieldDef], for_forms: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = target_names()
        .filter(|t| !(for_forms && matches!(*t, "outcome" | "ignore")))
        .map(|t| (t.to_owned(), t.replace('_', " ")))
        .collect();
    out.extend(
        defs.iter()
            .map(|d| (format!("custom.{}", d.key), format!("custom: {}", d.label))),
    );
    out
}

#[derive(Deserialize)]
pub struct DoneParam {
    done: Option<String>,
}

pub(super) fn done(path: &str, what: &str) -> Response {
    Redirect::to(&format!("{path}?done={what}")).into_response()
}

// ---- Forms ---------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "capture_forms.html")]
struct FormsPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    forms: Vec<Form>,
}

async fn forms_page(
    s: &AppState,
    auth: &UiAuth,
    n: Option<&str>,
    error: Option<String>,
) -> Response {
    match s.app.forms(&auth.principal).await {
        Ok(forms) => {
            let status = if error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (
                status,
                FormsPage {
                    frame: Frame::new(&auth.user, "capture"),
                    tab: "forms",
                    notice: notice(n),
                    error,
                    forms,
                },
            )
                .into_response()
        }
        Err(e) => error_page(e),
    }
}

async fn forms(State(s): State<AppState>, auth: UiAuth, Query(q): Query<DoneParam>) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    forms_page(&s, &auth, q.done.as_deref(), None).await
}

#[derive(Deserialize)]
pub struct NewFormForm {
    name: String,
    slug: String,
}

async fn create_form(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(f): axum::Form<NewFormForm>,
) -> Response {
    let input = FormInput {
        slug: f.slug,
        name: f.name,
        definition: FormDefinition::default(),
        active: true,
    };
    match s.app.create_form(&auth.principal, input).await {
        Ok(form) => {
            Redirect::to(&format!("/capture/forms/{}?done=created", form.id)).into_response()
        }
        Err(AppError::Validation(e)) => forms_page(&s, &auth, None, Some(e.to_string())).await,
        Err(e) => error_page(e),
    }
}

/// A builder row.
struct Row {
    target: String,
    label: String,
    required: bool,
    hidden: bool,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "capture_form_edit.html")]
struct FormEditPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    form: Form,
    rows: Vec<Row>,
    targets: Vec<(String, String)>,
    consent_text: String,
    redirect_url: String,
    source: String,
    base: String,
    html_snippet: String,
}

async fn form_page(
    s: &AppState,
    auth: &UiAuth,
    headers: &HeaderMap,
    form: Form,
    n: Option<&str>,
    error: Option<String>,
) -> Response {
    let defs = match s.app.custom_fields().await {
        Ok(d) => d,
        Err(e) => return error_page(e),
    };
    let base = base_url(headers);
    let view = crate::public::form_view(&form, &defs);
    let html_snippet = crate::public::render_embed(view, &format!("{base}/f/{}", form.slug));
    let d = &form.definition;
    let mut rows: Vec<Row> = d
        .fields
        .iter()
        .map(|f| Row {
            target: f.target.clone(),
            label: f.label.clone(),
            required: f.required,
            hidden: f.hidden,
            value: f.value.clone().unwrap_or_default(),
        })
        .collect();
    for _ in 0..3 {
        rows.push(Row {
            target: String::new(),
            label: String::new(),
            required: false,
            hidden: false,
            value: String::new(),
        });
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        FormEditPage {
            frame: Frame::new(&auth.user, "capture"),
            tab: "forms",
            notice: notice(n),
            error,
            consent_text: d.consent_text.clone().unwrap_or_default(),
            redirect_url: d.redirect_url.clone().unwrap_or_default(),
            source: d.source.clone().unwrap_or_default(),
            rows,
            targets: targets(&defs, true),
            base,
            html_snippet,
            form,
        },
    )
        .into_response()
}

async fn edit_form(
    State(s): State<AppState>,
    auth: UiAuth,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(q): Query<DoneParam>,
) -> Response {
    match s.app.form(&auth.principal, id).await {
        Ok(form) => form_page(&s, &auth, &headers, form, q.done.as_deref(), None).await,
        Err(e) => error_page(e),
    }
}

async fn save_form(
    State(s): State<AppState>,
    auth: UiAuth,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
    };
    let opt = |k: &str| get(k).filter(|v| !v.is_empty());
    let mut fields = Vec::new();
    for i in 0..60 {
        let Some(target) = opt(&format!("target_{i}")) else {
            continue;
        };
        fields.push(FormField {
            target,
            label: get(&format!("label_{i}")).unwrap_or_default(),
            required: get(&format!("required_{i}")).is_some(),
            hidden: get(&format!("hidden_{i}")).is_some(),
            value: opt(&format!("value_{i}")),
        });
    }
    let input = FormInput {
        slug: get("slug").unwrap_or_default(),
        name: get("name").unwrap_or_default(),
        active: get("active").is_some(),
        definition: FormDefinition {
            fields,
            consent_text: opt("consent_text"),
            consent_required: get("consent_required").is_some(),
            submit_label: get("submit_label").unwrap_or_default(),
            thank_you_message: get("thank_you_message").unwrap_or_default(),
            redirect_url: opt("redirect_url"),
            source: opt("source"),
        },
    };
    match s.app.update_form(&auth.principal, id, input.clone()).await {
        Ok(_) => done(&format!("/capture/forms/{id}"), "saved"),
        Err(AppError::Validation(e)) => match s.app.form(&auth.principal, id).await {
            Ok(current) => {
                // Show what the person typed, with the problems.
                let shown = Form {
                    slug: input.slug,
                    name: input.name,
                    definition: input.definition,
                    active: input.active,
                    ..current
                };
                form_page(&s, &auth, &headers, shown, None, Some(e.to_string())).await
            }
            Err(e) => error_page(e),
        },
        Err(e) => error_page(e),
    }
}

async fn delete_form(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.delete_form(&auth.principal, id).await {
        Ok(()) => done("/capture/forms", "deleted"),
        Err(e) => error_page(e),
    }
}

// ---- Imports -------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "capture_imports.html")]
struct ImportsPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    jobs: Vec<ImportJob>,
}

async fn imports_page(
    s: &AppState,
    auth: &UiAuth,
    n: Option<&str>,
    error: Option<String>,
) -> Response {
    match s.app.import_jobs(&auth.principal).await {
        Ok(jobs) => {
            let status = if error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (
                status,
                ImportsPage {
                    frame: Frame::new(&auth.user, "capture"),
                    tab: "imports",
                    notice: notice(n),
                    error,
                    jobs,
                },
            )
                .into_response()
        }
        Err(e) => error_page(e),
    }
}

async fn imports(State(s): State<AppState>, auth: UiAuth, Query(q): Query<DoneParam>) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    imports_page(&s, &auth, q.done.as_deref(), None).await
}

async fn upload(State(s): State<AppState>, auth: UiAuth, mut mp: Multipart) -> Response {
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut options = ImportOptions::default();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return imports_page(
                    &s,
                    &auth,
                    None,
                    Some(format!("the upload could not be read: {}", e.body_text())),
                )
                .await;
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            let fname = field.file_name().unwrap_or("import.csv").to_owned();
            match crate::api::imports::read_file(field).await {
                Ok(b) => file = Some((fname, b)),
                Err(e) => {
                    let why = match e {
                        FileError::TooLarge => {
                            format!("the file is larger than {} MB", MAX_IMPORT_BYTES >> 20)
                        }
                        FileError::Unreadable(why) => format!("the file could not be read: {why}"),
                    };
                    return imports_page(&s, &auth, None, Some(why)).await;
                }
            }
            continue;
        }
        let value = field.text().await.unwrap_or_default().trim().to_owned();
        match name.as_str() {
            "source" if !value.is_empty() => options.source = Some(value),
            "outcome_column" if !value.is_empty() => options.outcome_column = Some(value),
            "duplicates" => {
                options.duplicates = match value.as_str() {
                    "update" => DuplicatePolicy::Update,
                    "create" => DuplicatePolicy::Create,
                    _ => DuplicatePolicy::Skip,
                }
            }
            "unknown_columns" => {
                options.unknown_columns = if value == "auto" {
                    UnknownColumns::Auto
                } else {
                    UnknownColumns::Keep
                }
            }
            _ => {}
        }
    }
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return imports_page(&s, &auth, None, Some("choose a CSV file".into())).await;
    };
    match s
        .app
        .create_import_draft(&auth.principal, &name, &bytes, options)
        .await
    {
        Ok(job) => Redirect::to(&format!("/capture/imports/{}", job.id)).into_response(),
        Err(AppError::Validation(e)) => imports_page(&s, &auth, None, Some(e.to_string())).await,
        Err(e) => error_page(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "capture_import.html")]
struct ImportPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    job: ImportJob,
    preview: Option<ImportPreview>,
    targets: Vec<(String, String)>,
    target_keys: Vec<String>,
    refresh: bool,
}

async fn import_view(
    s: &AppState,
    auth: &UiAuth,
    id: Uuid,
    options: Option<ImportOptions>,
    n: Option<&str>,
    error: Option<String>,
) -> Response {
    let job = match s.app.import_job(&auth.principal, id).await {
        Ok(j) => j,
        Err(e) => return error_page(e),
    };
    let defs = s.app.custom_fields().await.unwrap_or_default();
    let mut error = error;
    let preview = if job.status == ImportStatus::Draft {
        let options = options.unwrap_or_else(|| job.options.clone());
        match s.app.preview_draft(&auth.principal, id, &options).await {
            Ok(p) => Some(p),
            Err(AppError::Validation(e)) => {
                error = Some(e.to_string());
                s.app
                    .preview_draft(&auth.principal, id, &job.options)
                    .await
                    .ok()
            }
            Err(e) => return error_page(e),
        }
    } else {
        None
    };
    let targets = targets(&defs, false);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        ImportPage {
            frame: Frame::new(&auth.user, "capture"),
            tab: "imports",
            notice: notice(n),
            error,
            refresh: matches!(job.status, ImportStatus::Pending | ImportStatus::Running),
            target_keys: targets.iter().map(|t| t.0.clone()).collect(),
            targets,
            preview,
            job,
        },
    )
        .into_response()
}

async fn import_page(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<DoneParam>,
) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    import_view(&s, &auth, id, None, q.done.as_deref(), None).await
}

async fn start_import(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let job = match s.app.import_job(&auth.principal, id).await {
        Ok(j) => j,
        Err(e) => return error_page(e),
    };
    let preview = match s.app.preview_draft(&auth.principal, id, &job.options).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut options = job.options.clone();
    options.mapping = preview
        .headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            // An empty target keeps the column on the timeline.
            get(&format!("map_{i}")).map(|t| ColumnMapping {
                column: h.clone(),
                target: t,
            })
        })
        .collect();
    if options.outcome_column.as_ref().is_some_and(|c| {
        options
            .mapping
            .iter()
            .any(|m| &m.column == c && m.target != "outcome")
    }) {
        options.outcome_column = None;
    }
    if get("action").as_deref() != Some("start") {
        return import_view(&s, &auth, id, Some(options), None, None).await;
    }
    match s
        .app
        .start_import(&auth.principal, id, options.clone())
        .await
    {
        Ok(job) => {
            spawn_run(&s, job.id);
            done(&format!("/capture/imports/{id}"), "started")
        }
        Err(AppError::Validation(e)) => {
            import_view(&s, &auth, id, Some(options), None, Some(e.to_string())).await
        }
        Err(e) => error_page(e),
    }
}

async fn resume_import(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.import_job(&auth.principal, id).await {
        Ok(job) => {
            spawn_run(&s, job.id);
            done(&format!("/capture/imports/{id}"), "started")
        }
        Err(e) => error_page(e),
    }
}

async fn error_report(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.import_error_report(&auth.principal, id).await {
        Ok(csv) => csv_attachment(csv, &format!("import-{id}-errors.csv")),
        Err(e) => error_page(e),
    }
}

// ---- Sources and campaigns -----------------------------------------------------------

/// A cost line as shown.
struct CostView {
    id: Uuid,
    period_start: String,
    period_end: String,
    currency: String,
    amount_text: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "capture_sources.html")]
struct SourcesPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    sources: Vec<Source>,
    campaigns: Vec<(Campaign, Vec<CostView>, String)>,
    channels: Vec<(&'static str, &'static str)>,
}

async fn sources_page(
    s: &AppState,
    auth: &UiAuth,
    n: Option<&str>,
    error: Option<String>,
) -> Response {
    let (sources, campaigns) = match tokio::try_join!(s.app.sources(), s.app.campaigns()) {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let mut with_costs = Vec::new();
    for c in campaigns {
        let costs = s.app.campaign_costs(c.id).await.unwrap_or_default();
        let mut totals: HashMap<String, i64> = HashMap::new();
        for k in &costs {
            *totals.entry(k.currency.clone()).or_default() += k.amount;
        }
        let mut total: Vec<String> = totals
            .iter()
            .map(|(cur, amount)| format!("{cur} {}", money::format_minor(*amount, Some(cur))))
            .collect();
        total.sort();
        let views = costs
            .iter()
            .map(|k| CostView {
                id: k.id,
                period_start: k.period_start.to_string(),
                period_end: k.period_end.to_string(),
                amount_text: money::format_minor(k.amount, Some(&k.currency)),
                currency: k.currency.clone(),
            })
            .collect();
        with_costs.push((
            c,
            views,
            if total.is_empty() {
                "not recorded".into()
            } else {
                total.join(", ")
            },
        ));
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        SourcesPage {
            frame: Frame::new(&auth.user, "capture"),
            tab: "sources",
            notice: notice(n),
            error,
            sources,
            campaigns: with_costs,
            channels: Channel::ALL
                .iter()
                .map(|c| (c.as_str(), c.label()))
                .collect(),
        },
    )
        .into_response()
}

async fn sources(State(s): State<AppState>, auth: UiAuth, Query(q): Query<DoneParam>) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    sources_page(&s, &auth, q.done.as_deref(), None).await
}

#[derive(Deserialize)]
pub struct SourceForm {
    key: String,
    #[serde(default)]
    name: String,
    channel: String,
    #[serde(default)]
    source_key: String,
}

impl SourceForm {
    fn input(self) -> Result<NewSource, AppError> {
        let channel = self.channel.parse::<Channel>().map_err(|e| {
            leadline_app::AppError::Validation({
                let mut v = leadline_domain::ValidationErrors::default();
                v.add("channel", "invalid_channel", e.to_string());
                v
            })
        })?;
        let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
        Ok(NewSource {
            key: self.key,
            name: opt(self.name),
            channel,
            source_key: opt(self.source_key),
        })
    }
}

async fn sources_outcome(
    s: &AppState,
    auth: &UiAuth,
    r: Result<(), AppError>,
    what: &str,
) -> Response {
    match r {
        Ok(()) => done("/capture/sources", what),
        Err(AppError::Validation(e)) => sources_page(s, auth, None, Some(e.to_string())).await,
        Err(e) => error_page(e),
    }
}

async fn create_source(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(f): axum::Form<SourceForm>,
) -> Response {
    let r = match f.input() {
        Ok(i) => s.app.create_source(&auth.principal, i).await.map(|_| ()),
        Err(e) => Err(e),
    };
    sources_outcome(&s, &auth, r, "created").await
}

async fn delete_source(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    let r = s.app.delete_source(&auth.principal, id).await;
    sources_outcome(&s, &auth, r, "deleted").await
}

async fn create_campaign(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(f): axum::Form<SourceForm>,
) -> Response {
    let r = match f.input() {
        Ok(i) => s.app.create_campaign(&auth.principal, i).await.map(|_| ()),
        Err(e) => Err(e),
    };
    sources_outcome(&s, &auth, r, "created").await
}

async fn delete_campaign(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
) -> Response {
    let r = s.app.delete_campaign(&auth.principal, id).await;
    sources_outcome(&s, &auth, r, "deleted").await
}

#[derive(Deserialize)]
pub struct CostForm {
    period_start: String,
    period_end: String,
    amount: String,
    currency: String,
}

async fn add_cost(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    axum::Form(f): axum::Form<CostForm>,
) -> Response {
    let bad = |field: &str, msg: &str| {
        let mut v = leadline_domain::ValidationErrors::default();
        v.add(field, "invalid", msg);
        AppError::Validation(v)
    };
    let currency = f.currency.trim().to_ascii_uppercase();
    let r = async {
        let start = f
            .period_start
            .parse()
            .map_err(|_| bad("period_start", "from: choose a date"))?;
        let end = f
            .period_end
            .parse()
            .map_err(|_| bad("period_end", "to: choose a date"))?;
        let amount = money::parse_major(&f.amount, Some(&currency))
            .ok_or_else(|| bad("amount", "amount: enter a number such as 1250.50"))?;
        s.app
            .add_campaign_cost(
                &auth.principal,
                id,
                CampaignCost {
                    id: Uuid::nil(),
                    period_start: start,
                    period_end: end,
                    amount,
                    currency: currency.clone(),
                },
            )
            .await
            .map(|_| ())
    }
    .await;
    sources_outcome(&s, &auth, r, "saved").await
}

async fn delete_cost(
    State(s): State<AppState>,
    auth: UiAuth,
    Path((id, cost)): Path<(Uuid, Uuid)>,
) -> Response {
    let r = s.app.delete_campaign_cost(&auth.principal, id, cost).await;
    sources_outcome(&s, &auth, r, "deleted").await
}

// ---- Rejected submissions --------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "capture_rejected.html")]
struct RejectedPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    items: Vec<RejectedSubmission>,
    channels: Vec<&'static str>,
    channel: String,
    next: Option<Uuid>,
}

#[derive(Deserialize)]
pub struct RejectedParams {
    channel: Option<String>,
    after: Option<Uuid>,
    done: Option<String>,
}

const PAGE: i64 = 50;

async fn rejected(
    State(s): State<AppState>,
    auth: UiAuth,
    Query(q): Query<RejectedParams>,
) -> Response {
    let channel_text = q.channel.clone().unwrap_or_default();
    let channel = channel_text.parse::<CaptureChannel>().ok();
    match s
        .app
        .rejected_submissions(&auth.principal, channel, q.after, PAGE)
        .await
    {
        Ok(items) => {
            let next = (items.len() as i64 == PAGE)
                .then(|| items.last().map(|r| r.id))
                .flatten();
            RejectedPage {
                frame: Frame::new(&auth.user, "capture"),
                tab: "rejected",
                notice: notice(q.done.as_deref()),
                error: None,
                items,
                channels: CaptureChannel::ALL.iter().map(|c| c.as_str()).collect(),
                channel: channel.map(|c| c.as_str().to_owned()).unwrap_or_default(),
                next,
            }
            .into_response()
        }
        Err(e) => error_page(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "capture_rejected_item.html")]
struct RejectedItemPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    item: RejectedSubmission,
    payload: String,
}

async fn rejected_item(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.rejected_submission(&auth.principal, id).await {
        Ok(item) => RejectedItemPage {
            frame: Frame::new(&auth.user, "capture"),
            tab: "rejected",
            notice: None,
            error: None,
            payload: serde_json::to_string_pretty(&item.payload).unwrap_or_default(),
            item,
        }
        .into_response(),
        Err(e) => error_page(e),
    }
}

async fn discard(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.discard_rejected(&auth.principal, id).await {
        Ok(()) => done("/capture/rejected", "discarded"),
        Err(e) => error_page(e),
    }
}

// ---- Data quality ----------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "capture_quality.html")]
struct QualityPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    o: leadline_app::quality::QualityOverview,
    region: String,
    disposable: String,
    source_policies: String,
    default_policy: Vec<(&'static str, Action)>,
    actions: Vec<&'static str>,
    can_edit: bool,
    /// `most_recent` or `source_priority`.
    survivorship: &'static str,
    source_priority: String,
    enrich_from_fields: bool,
    hook_url: String,
}

fn policy_line(source: &str, p: &Policy) -> String {
    format!(
        "{source} = {}, {}, {}",
        p.flagged.as_str(),
        p.suspect.as_str(),
        p.invalid.as_str()
    )
}

async fn quality_page(
    s: &AppState,
    auth: &UiAuth,
    shown: Option<QualitySettings>,
    n: Option<&str>,
    error: Option<String>,
) -> Response {
    let (o, stored) = match tokio::try_join!(
        s.app.quality_overview(&auth.principal),
        s.app.quality_settings()
    ) {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let q = shown.unwrap_or(stored);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        QualityPage {
            frame: Frame::new(&auth.user, "capture"),
            tab: "quality",
            notice: notice(n),
            error,
            o,
            region: q.default_region.clone().unwrap_or_default(),
            disposable: q.disposable_domains.join("\n"),
            source_policies: q
                .source_policies
                .iter()
                .map(|(src, p)| policy_line(src, p))
                .collect::<Vec<_>>()
                .join("\n"),
            default_policy: vec![
                ("flagged", q.default_policy.flagged),
                ("suspect", q.default_policy.suspect),
                ("invalid", q.default_policy.invalid),
            ],
            actions: vec!["accept", "review", "quarantine", "reject"],
            can_edit: auth.principal.can_administer(),
            survivorship: match &q.survivorship {
                Survivorship::MostRecent => "most_recent",
                Survivorship::SourcePriority { .. } => "source_priority",
            },
            source_priority: match &q.survivorship {
                Survivorship::MostRecent => String::new(),
                Survivorship::SourcePriority { sources } => sources.join(", "),
            },
            enrich_from_fields: q.enrich_from_fields,
            hook_url: q.enrichment_hook_url.clone().unwrap_or_default(),
        },
    )
        .into_response()
}

async fn quality(State(s): State<AppState>, auth: UiAuth, Query(q): Query<DoneParam>) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    quality_page(&s, &auth, None, q.done.as_deref(), None).await
}

async fn save_quality(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let action = |k: &str, fallback: Action| Action::parse(get(k).trim()).unwrap_or(fallback);
    let defaults = Policy::default();
    let mut problems = Vec::new();
    let mut source_policies = std::collections::BTreeMap::new();
    for line in get("source_policies")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let parsed = line.split_once('=').and_then(|(src, rest)| {
            let acts: Vec<Option<Action>> =
                rest.split(',').map(|a| Action::parse(a.trim())).collect();
            match acts.as_slice() {
                [Some(f), Some(su), Some(i)] => Some((
                    src.trim().to_owned(),
                    Policy {
                        flagged: *f,
                        suspect: *su,
                        invalid: *i,
                    },
                )),
                _ => None,
            }
        });
        match parsed {
            Some((src, p)) if !src.is_empty() => {
                source_policies.insert(src, p);
            }
            _ => problems.push(format!("'{line}': write source = flagged, suspect, invalid (each accept, review, quarantine or reject)")),
        }
    }
    let input = QualitySettings {
        default_region: Some(get("default_region")).filter(|r| !r.trim().is_empty()),
        disposable_domains: get("disposable_domains")
            .lines()
            .map(str::to_owned)
            .collect(),
        default_policy: Policy {
            flagged: action("default_flagged", defaults.flagged),
            suspect: action("default_suspect", defaults.suspect),
            invalid: action("default_invalid", defaults.invalid),
        },
        source_policies,
        survivorship: match get("survivorship").as_str() {
            "source_priority" => Survivorship::SourcePriority {
                sources: get("source_priority")
                    .split([',', '\n'])
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect(),
            },
            _ => Survivorship::MostRecent,
        },
        enrich_from_fields: !get("enrich_from_fields").is_empty(),
        enrichment_hook_url: Some(get("enrichment_hook_url")).filter(|u| !u.trim().is_empty()),
    };
    if !problems.is_empty() {
        return quality_page(&s, &auth, Some(input), None, Some(problems.join("; "))).await;
    }
    match s
        .app
        .set_quality_settings(&auth.principal, input.clone())
        .await
    {
        Ok(_) => done("/capture/quality", "saved"),
        Err(AppError::Validation(e)) => {
            quality_page(&s, &auth, Some(input), None, Some(e.to_string())).await
        }
        Err(e) => error_page(e),
    }
}

// ---- Review queue --------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "capture_review.html")]
struct ReviewPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    items: Vec<leadline_app::quality::ReviewItem>,
}

async fn review_queue(
    State(s): State<AppState>,
    auth: UiAuth,
    Query(q): Query<DoneParam>,
) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    match s.app.review_queue(&auth.principal, None, 200).await {
        Ok(items) => ReviewPage {
            frame: Frame::new(&auth.user, "capture"),
            tab: "review",
            notice: notice(q.done.as_deref()),
            error: None,
            items,
        }
        .into_response(),
        Err(e) => error_page(e),
    }
}

async fn review(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    use leadline_app::quality::{ReviewDecision, ReviewInput};
    let lead_ids: Vec<Uuid> = pairs
        .iter()
        .filter(|(k, _)| k == "lead")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let decision = match pairs
        .iter()
        .find(|(k, _)| k == "decision")
        .map(|(_, v)| v.as_str())
    {
        Some("reject") => ReviewDecision::Reject,
        _ => ReviewDecision::Approve,
    };
    if lead_ids.is_empty() {
        return done("/capture/review", "none");
    }
    match s
        .app
        .review(&auth.principal, ReviewInput { lead_ids, decision })
        .await
    {
        Ok(_) => done("/capture/review", "saved"),
        Err(e) => error_page(e),
    }
}

// ---- Settings ------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "capture_settings.html")]
struct SettingsPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    hosts: String,
    origins: String,
    aliases: String,
    settings: CaptureSettings,
    can_edit: bool,
    base: String,
}

fn settings_page(
    auth: &UiAuth,
    headers: &HeaderMap,
    settings: CaptureSettings,
    n: Option<&str>,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        SettingsPage {
            frame: Frame::new(&auth.user, "capture"),
            tab: "settings",
            notice: notice(n),
            error,
            hosts: settings.allowed_redirect_hosts.join("\n"),
            origins: settings.cors_origins.join("\n"),
            aliases: settings
                .field_aliases
                .iter()
                .map(|(a, b)| format!("{a}={b}"))
                .collect::<Vec<_>>()
                .join("\n"),
            can_edit: auth.principal.can_administer(),
            base: base_url(headers),
            settings,
        },
    )
        .into_response()
}

async fn settings(
    State(s): State<AppState>,
    auth: UiAuth,
    headers: HeaderMap,
    Query(q): Query<DoneParam>,
) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    match s.app.capture_settings().await {
        Ok(c) => settings_page(&auth, &headers, c, q.done.as_deref(), None),
        Err(e) => error_page(e),
    }
}

async fn save_settings(
    State(s): State<AppState>,
    auth: UiAuth,
    headers: HeaderMap,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let lines = |k: &str| {
        get(k)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let defaults = CaptureSettings::default();
    let input = CaptureSettings {
        allowed_redirect_hosts: lines("allowed_redirect_hosts"),
        cors_origins: lines("cors_origins"),
        field_aliases: lines("field_aliases")
            .iter()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
            })
            .collect(),
        honour_do_not_track: !get("honour_do_not_track").is_empty(),
        tracking_requires_consent: !get("tracking_requires_consent").is_empty(),
        submissions_per_ip_per_minute: get("submissions_per_ip_per_minute")
            .parse()
            .unwrap_or(defaults.submissions_per_ip_per_minute),
        submissions_per_form_per_minute: get("submissions_per_form_per_minute")
            .parse()
            .unwrap_or(defaults.submissions_per_form_per_minute),
    };
    match s
        .app
        .set_capture_settings(&auth.principal, input.clone())
        .await
    {
        Ok(_) => done("/capture/settings", "saved"),
        Err(AppError::Validation(e)) => {
            settings_page(&auth, &headers, input, None, Some(e.to_string()))
        }
        Err(e) => error_page(e),
    }
}
