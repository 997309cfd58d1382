//! Duplicate pages (Capture → Duplicates): the background scan with progress, candidate
//! pairs to compare side by side and merge or dismiss, bulk merge, and recent merges with
//! undo.

use super::capture::{done, gate};
use super::{Frame, error_page, notice};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use leadline_app::AppError;
use leadline_app::quality::{DuplicatePair, MergeInput, MergeRecord, ScanStatus};
use leadline_domain::{Lead, LeadFields};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The duplicate routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/capture/duplicates", get(page))
        .route("/capture/duplicates/scan", post(start_scan))
        .route("/capture/duplicates/dismiss", post(dismiss))
        .route("/capture/duplicates/bulk", post(bulk))
        .route("/capture/duplicates/compare", get(compare))
        .route("/capture/duplicates/merge", post(merge))
        .route("/capture/merges/{id}/undo", post(undo))
}

#[derive(Deserialize)]
struct PageParams {
    done: Option<String>,
    min: Option<f64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "capture_duplicates.html")]
struct DuplicatesPage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    scan: ScanStatus,
    /// Share of the scan done, in whole percent.
    scan_percent: u64,
    refresh: bool,
    min: f64,
    pairs: Vec<DuplicatePair>,
    merges: Vec<MergeRecord>,
}

fn percent(pair: &DuplicatePair) -> u64 {
    (pair.confidence * 100.0).round() as u64
}

async fn page(State(s): State<AppState>, auth: UiAuth, Query(q): Query<PageParams>) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    let p = &auth.principal;
    let min = q.min.filter(|m| (0.0..=1.0).contains(m)).unwrap_or(0.75);
    let (scan, pairs, merges) = match tokio::try_join!(
        s.app.duplicate_scan_status(p),
        s.app.duplicate_pairs(p, min, None, 100),
        s.app.merges(p, None, None, 20),
    ) {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let scan_percent = (scan.leads_scanned * 100)
        .checked_div(scan.leads_total)
        .map_or(100, |p| p.min(100));
    DuplicatesPage {
        frame: Frame::new(&auth.user, "capture"),
        tab: "duplicates",
        notice: notice(q.done.as_deref()),
        error: None,
        refresh: scan.state == "running",
        scan,
        scan_percent,
        min,
        pairs,
        merges,
    }
    .into_response()
}

async fn start_scan(State(s): State<AppState>, auth: UiAuth) -> Response {
    match s.app.start_duplicate_scan(&auth.principal).await {
        Ok(_) => done("/capture/duplicates", "scan"),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct PairForm {
    a: Uuid,
    b: Uuid,
}

async fn dismiss(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(f): axum::Form<PairForm>,
) -> Response {
    match s.app.dismiss_duplicate(&auth.principal, f.a, f.b).await {
        Ok(()) => done("/capture/duplicates", "dismissed"),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct BulkForm {
    min_confidence: f64,
}

async fn bulk(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(f): axum::Form<BulkForm>,
) -> Response {
    match s.app.merge_all(&auth.principal, f.min_confidence).await {
        Ok(_) => done("/capture/duplicates", "merged"),
        Err(e) => error_page(e),
    }
}

/// One row of the side-by-side comparison.
struct CompareRow {
    field: String,
    label: String,
    a: String,
    b: String,
    /// Both hold a value and they differ: a person picks.
    choose: bool,
    /// The lead whose value the survivorship rule keeps.
    keep: Uuid,
}

#[derive(Template, WebTemplate)]
#[template(path = "capture_compare.html")]
struct ComparePage {
    frame: Frame,
    tab: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    a: Lead,
    b: Lead,
    a_name: String,
    b_name: String,
    rows: Vec<CompareRow>,
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn flat(f: &LeadFields) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Ok(Value::Object(m)) = serde_json::to_value(f) {
        for (k, v) in m {
            match k.as_str() {
                "first_touch" | "last_touch" | "owner_id" | "team_id" | "email_opt_out" => {}
                "custom" => {
                    if let Value::Object(c) = v {
                        for (ck, cv) in c {
                            out.insert(format!("custom.{ck}"), cv);
                        }
                    }
                }
                _ => {
                    out.insert(k, v);
                }
            }
        }
    }
    out
}

async fn compare(State(s): State<AppState>, auth: UiAuth, Query(q): Query<PairForm>) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    let input = MergeInput {
        survivor_id: q.a,
        merged_ids: vec![q.b],
        fields: BTreeMap::new(),
    };
    let preview = match s.app.merge_preview(&auth.principal, &input).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let Some(b) = preview.merged.into_iter().next() else {
        return super::not_found();
    };
    let a = preview.survivor;
    let (fa, fb) = (flat(&a.fields), flat(&b.fields));
    let names: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    let order = |k: &str| {
        LeadFields::NAMES
            .iter()
            .position(|n| *n == k)
            .unwrap_or(usize::MAX)
    };
    let mut rows: Vec<CompareRow> = names
        .into_iter()
        .map(|k| {
            let (va, vb) = (shown(fa.get(k)), shown(fb.get(k)));
            let keep = preview
                .picks
                .iter()
                .find(|p| &p.field == k)
                .map_or(a.id, |p| p.from);
            CompareRow {
                field: k.clone(),
                label: k.trim_start_matches("custom.").replace('_', " "),
                choose: !va.is_empty() && !vb.is_empty() && va != vb,
                a: va,
                b: vb,
                keep,
            }
        })
        .filter(|r| !r.a.is_empty() || !r.b.is_empty())
        .collect();
    rows.sort_by_key(|r| (order(&r.field), r.field.clone()));
    ComparePage {
        frame: Frame::new(&auth.user, "capture"),
        tab: "duplicates",
        notice: None,
        error: None,
        a_name: a.fields.display_name(),
        b_name: b.fields.display_name(),
        a,
        b,
        rows,
    }
    .into_response()
}

async fn merge(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(Ok(survivor)), Some(Ok(other))) = (
        get("survivor").map(str::parse::<Uuid>),
        get("other").map(str::parse::<Uuid>),
    ) else {
        return error_page(leadline_app::AppError::Validation({
            let mut e = leadline_domain::ValidationErrors::default();
            e.add("survivor", "required", "choose the lead that stays");
            e
        }));
    };
    let fields: BTreeMap<String, Uuid> = pairs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("pick.")?.to_owned(), v.parse().ok()?)))
        .collect();
    let input = MergeInput {
        survivor_id: survivor,
        merged_ids: vec![other],
        fields,
    };
    match s.app.merge_leads(&auth.principal, input).await {
        Ok(r) => Redirect::to(&format!("/leads/{}?done=merged", r.survivor_id)).into_response(),
        Err(e) => error_page(e),
    }
}

async fn undo(State(s): State<AppState>, auth: UiAuth, Path(id): Path<Uuid>) -> Response {
    match s.app.unmerge(&auth.principal, id).await {
        Ok(u) => Redirect::to(&format!("/leads/{}?done=unmerged", u.survivor.id)).into_response(),
        Err(AppError::Conflict(why)) => error_page(AppError::Conflict(why)),
        Err(e) => error_page(e),
    }
}
