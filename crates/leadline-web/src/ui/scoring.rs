//! The scoring page: models and their versions, the rules as an editable TOML file, diffs,
//! activation and roll-back, back-tests, and re-score progress.

use super::capture::{done, gate};
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
use leadline_app::scoring::{BacktestReport, DiffLine, ModelSummary, ScoringJob, VersionSummary};
use leadline_domain::scoring::qualification::{Bant, QualificationSettings};
use leadline_domain::scoring::rules::ModelFile;
use serde::Deserialize;

/// The scoring routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/scoring", get(page))
        .route("/scoring/{key}/versions", post(save))
        .route("/scoring/{key}/versions/{version}/activate", post(activate))
        .route("/scoring/{key}/versions/{version}/backtest", post(backtest))
        .route("/scoring/qualification", post(save_qualification))
}

#[derive(Deserialize, Default)]
struct PageParams {
    model: Option<String>,
    done: Option<String>,
    from: Option<i32>,
    to: Option<i32>,
}

/// One decile as a bar.
struct Bar {
    decile: usize,
    rate: String,
    lift: String,
    /// Bar height in the 200×100 chart.
    height: f64,
    x: f64,
}

#[derive(Template, WebTemplate)]
#[template(path = "scoring.html")]
struct ScoringPage {
    frame: Frame,
    notice: Option<&'static str>,
    error: Option<String>,
    models: Vec<ModelSummary>,
    key: String,
    versions: Vec<VersionSummary>,
    /// The rules file in the editor.
    toml: String,
    diff: Vec<DiffLine>,
    diff_title: String,
    report: Option<BacktestReport>,
    report_title: String,
    bars: Vec<Bar>,
    jobs: Vec<ScoringJob>,
    refresh: bool,
    /// BANT fields and whether `sql` requires each.
    bant: Vec<(&'static str, bool)>,
}

fn bars(r: &BacktestReport) -> Vec<Bar> {
    let max = r
        .deciles
        .iter()
        .map(|d| d.rate)
        .fold(0.0f64, f64::max)
        .max(0.01);
    r.deciles
        .iter()
        .enumerate()
        .map(|(i, d)| Bar {
            decile: d.decile,
            rate: format!("{:.0}%", d.rate * 100.0),
            lift: format!("{:.2}", d.lift),
            height: d.rate / max * 90.0,
            x: i as f64 * 20.0 + 2.0,
        })
        .collect()
}

struct Extra {
    toml: Option<String>,
    error: Option<String>,
    report: Option<(String, BacktestReport)>,
}

async fn render(s: &AppState, auth: &UiAuth, q: PageParams, extra: Extra) -> Response {
    let p = &auth.principal;
    let models = match s.app.scoring_models(p).await {
        Ok(m) => m,
        Err(e) => return error_page(e),
    };
    let key = q
        .model
        .clone()
        .or_else(|| models.iter().find(|m| m.is_default).map(|m| m.key.clone()))
        .unwrap_or_else(|| "default".into());
    let (versions, jobs, qualification) = match tokio::try_join!(
        s.app.scoring_versions(p, &key),
        s.app.scoring_jobs(p),
        s.app.qualification_settings()
    ) {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let toml = extra.toml.unwrap_or_else(|| {
        versions
            .first()
            .map(|v| {
                ModelFile {
                    key: key.clone(),
                    definition: v.definition.clone(),
                }
                .to_toml()
            })
            .unwrap_or_default()
    });
    let (diff, diff_title) = match (q.from, q.to) {
        (Some(a), Some(b)) => match s.app.scoring_diff(p, &key, a, b).await {
            Ok(d) => (d, format!("Changes from version {a} to version {b}")),
            Err(e) => return error_page(e),
        },
        _ => (Vec::new(), String::new()),
    };
    let (report_title, report) = match extra.report {
        Some((t, r)) => (t, Some(r)),
        None => (String::new(), None),
    };
    let status = if extra.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
        ScoringPage {
            frame: Frame::new(&auth.user, "scoring"),
            notice: notice(q.done.as_deref()),
            error: extra.error,
            refresh: jobs.iter().any(|j| j.state == "running"),
            bant: Bant::ALL
                .iter()
                .map(|b| (b.as_str(), qualification.sql_requires.contains(b)))
                .collect(),
            bars: report.as_ref().map(bars).unwrap_or_default(),
            models,
            key,
            versions,
            toml,
            diff,
            diff_title,
            report,
            report_title,
            jobs,
        },
    )
        .into_response()
}

async fn page(State(s): State<AppState>, auth: UiAuth, Query(q): Query<PageParams>) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    render(
        &s,
        &auth,
        q,
        Extra {
            toml: None,
            error: None,
            report: None,
        },
    )
    .await
}

#[derive(Deserialize)]
struct RulesForm {
    toml: String,
    note: Option<String>,
    /// `save` or `backtest`.
    action: Option<String>,
}

async fn save(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(key): Path<String>,
    axum::Form(f): axum::Form<RulesForm>,
) -> Response {
    let q = PageParams {
        model: Some(key.clone()),
        ..PageParams::default()
    };
    let file = match ModelFile::from_toml(&f.toml) {
        Ok(file) => file,
        Err(e) => {
            return render(
                &s,
                &auth,
                q,
                Extra {
                    toml: Some(f.toml),
                    error: Some(e.to_string()),
                    report: None,
                },
            )
            .await;
        }
    };
    if file.key != key {
        let msg = format!(
            "the file is for model '{}'; this page edits '{key}'",
            file.key
        );
        return render(
            &s,
            &auth,
            q,
            Extra {
                toml: Some(f.toml),
                error: Some(msg),
                report: None,
            },
        )
        .await;
    }
    if f.action.as_deref() == Some("backtest") {
        return match s.app.backtest(&auth.principal, file.definition).await {
            Ok(r) => {
                render(
                    &s,
                    &auth,
                    q,
                    Extra {
                        toml: Some(f.toml),
                        error: None,
                        report: Some(("Back-test of the rules in the editor".into(), r)),
                    },
                )
                .await
            }
            Err(AppError::Validation(e)) => {
                render(
                    &s,
                    &auth,
                    q,
                    Extra {
                        toml: Some(f.toml),
                        error: Some(e.to_string()),
                        report: None,
                    },
                )
                .await
            }
            Err(e) => error_page(e),
        };
    }
    match s
        .app
        .save_scoring_version(&auth.principal, &key, file.definition, f.note)
        .await
    {
        Ok(_) => done(&format!("/scoring?model={key}"), "saved"),
        Err(AppError::Validation(e)) => {
            render(
                &s,
                &auth,
                q,
                Extra {
                    toml: Some(f.toml),
                    error: Some(e.to_string()),
                    report: None,
                },
            )
            .await
        }
        Err(e) => error_page(e),
    }
}

async fn activate(
    State(s): State<AppState>,
    auth: UiAuth,
    Path((key, version)): Path<(String, i32)>,
) -> Response {
    match s
        .app
        .activate_scoring_version(&auth.principal, &key, version)
        .await
    {
        Ok(_) => done(&format!("/scoring?model={key}"), "activated"),
        Err(e) => error_page(e),
    }
}

async fn backtest(
    State(s): State<AppState>,
    auth: UiAuth,
    Path((key, version)): Path<(String, i32)>,
) -> Response {
    match s.app.backtest_version(&auth.principal, &key, version).await {
        Ok(r) => {
            let q = PageParams {
                model: Some(key),
                ..PageParams::default()
            };
            render(
                &s,
                &auth,
                q,
                Extra {
                    toml: None,
                    error: None,
                    report: Some((format!("Back-test of version {version}"), r)),
                },
            )
            .await
        }
        Err(e) => error_page(e),
    }
}

async fn save_qualification(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let current = match s.app.qualification_settings().await {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    let sql_requires = Bant::ALL
        .into_iter()
        .filter(|b| {
            pairs
                .iter()
                .any(|(k, v)| k == "sql_requires" && v == b.as_str())
        })
        .collect();
    match s
        .app
        .set_qualification_settings(
            &auth.principal,
            QualificationSettings {
                sql_requires,
                ..current
            },
        )
        .await
    {
        Ok(_) => done("/scoring", "saved"),
        Err(e) => error_page(e),
    }
}
