//! The predictive model page: the model in force with its held-out AUC, calibration and the
//! features that matter, training runs with progress, and the fields kept out.

use super::capture::{done, gate};
use super::{Frame, error_page, notice};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use leadline_app::scoring::{PredictionSettings, PredictionStatus};
use serde::Deserialize;

/// The prediction routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/scoring/prediction", get(page))
        .route("/scoring/prediction/train", post(train))
        .route("/scoring/prediction/settings", post(save_settings))
}

#[derive(Deserialize, Default)]
struct PageParams {
    done: Option<String>,
}

/// One calibration band as a point pair in the 100×100 chart.
struct Point {
    x: f64,
    y: f64,
    label: String,
}

/// One feature as a bar.
struct FeatureBar {
    name: String,
    width: f64,
    share: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "prediction.html")]
struct PredictionPage {
    frame: Frame,
    notice: Option<&'static str>,
    status: PredictionStatus,
    auc: String,
    points: Vec<Point>,
    features: Vec<FeatureBar>,
    refresh: bool,
    admin: bool,
}

async fn page(State(s): State<AppState>, auth: UiAuth, Query(q): Query<PageParams>) -> Response {
    if let Some(r) = gate(&auth) {
        return r;
    }
    let status = match s.app.prediction_status(&auth.principal).await {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let report = status.active.as_ref().and_then(|m| m.report.as_ref());
    let points = report
        .map(|r| {
            r.calibration
                .iter()
                .map(|b| Point {
                    x: b.predicted * 100.0,
                    y: 100.0 - b.actual * 100.0,
                    label: format!(
                        "predicted {:.0}%, converted {:.0}% of {} leads",
                        b.predicted * 100.0,
                        b.actual * 100.0,
                        b.leads
                    ),
                })
                .collect()
        })
        .unwrap_or_default();
    let max = status
        .top_features
        .first()
        .map_or(1.0, |f| f64::from(f.share).max(1e-9));
    let features = status
        .top_features
        .iter()
        .map(|f| FeatureBar {
            name: f.label.clone(),
            width: f64::from(f.share) / max * 100.0,
            share: format!("{:.1}%", f.share * 100.0),
        })
        .collect();
    let auc = report.map_or_else(String::new, |r| format!("{:.3}", r.holdout_auc));
    PredictionPage {
        frame: Frame::new(&auth.user, "scoring"),
        notice: notice(q.done.as_deref()),
        refresh: status
            .runs
            .iter()
            .any(|r| matches!(r.state.as_str(), "training" | "scoring")),
        admin: auth.user.role == leadline_domain::Role::Admin,
        status,
        auc,
        points,
        features,
    }
    .into_response()
}

async fn train(State(s): State<AppState>, auth: UiAuth) -> Response {
    match s.app.start_training(&auth.principal, &[]).await {
        Ok(_) => done("/scoring/prediction", "training"),
        Err(e) => error_page(e),
    }
}

async fn save_settings(
    State(s): State<AppState>,
    auth: UiAuth,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let excluded = pairs
        .into_iter()
        .filter(|(k, _)| k == "excluded")
        .map(|(_, v)| v)
        .collect();
    match s
        .app
        .set_prediction_settings(&auth.principal, PredictionSettings { excluded })
        .await
    {
        Ok(_) => done("/scoring/prediction", "saved"),
        Err(e) => error_page(e),
    }
}
