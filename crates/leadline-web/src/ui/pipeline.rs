//! The pipeline screens: the board of opportunities by stage (move a card with its form,
//! won/lost with a reason), one opportunity with its history, and the conversion dialog
//! the lead page posts to.

use super::{Frame, error_page, invalid, notice};
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use leadline_app::pipeline::{BoardColumn, MoveOpportunity, OpportunityDetail, OpportunityPatch};
use leadline_domain::money;
use leadline_domain::pipeline::{ConvertInput, NewOpportunity, Pipeline, StageKind};
use serde::Deserialize;
use uuid::Uuid;

/// The pipeline routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pipeline", get(board))
        .route("/opportunities/{id}", get(detail).post(edit))
        .route("/opportunities/{id}/stage", post(move_stage))
        .route("/leads/{id}/convert", post(convert))
}

/// `1250000` EUR → "12500.00 EUR".
pub fn amount_text(amount: Option<i64>, currency: Option<&str>) -> String {
    match amount {
        Some(a) => format!(
            "{} {}",
            money::format_minor(a, currency),
            currency.unwrap_or("")
        ),
        None => "—".into(),
    }
}

/// A board column with its totals in words and cards ready to show.
struct Column {
    c: BoardColumn,
    total: String,
    weighted: String,
    cards: Vec<Card>,
}

struct Card {
    id: Uuid,
    name: String,
    amount: String,
    close: String,
    version: i64,
}

fn totals(m: &std::collections::BTreeMap<String, i64>) -> String {
    if m.is_empty() {
        return "—".into();
    }
    m.iter()
        .map(|(c, a)| amount_text(Some(*a), Some(c)))
        .collect::<Vec<_>>()
        .join(" + ")
}

#[derive(Template, WebTemplate)]
#[template(path = "pipeline.html")]
struct BoardPage {
    frame: Frame,
    notice: Option<&'static str>,
    columns: Vec<Column>,
    pipeline: Pipeline,
    /// The bars of the weighted-pipeline chart: stage label, share of the widest, count.
    bars: Vec<(String, f64, i64)>,
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn board(State(s): State<AppState>, auth: UiAuth, Query(q): Query<Done>) -> Response {
    let (cols, pipeline) =
        match tokio::try_join!(s.app.pipeline_board(&auth.principal), s.app.pipeline()) {
            Ok(v) => v,
            Err(e) => return error_page(e),
        };
    let max = cols.iter().map(|c| c.count).max().unwrap_or(0).max(1);
    let bars = cols
        .iter()
        .map(|c| {
            (
                c.label.clone(),
                c.count as f64 / max as f64 * 200.0,
                c.count,
            )
        })
        .collect();
    BoardPage {
        frame: Frame::new(&auth.user, "pipeline"),
        notice: notice(q.done.as_deref()),
        columns: cols
            .into_iter()
            .map(|c| Column {
                total: totals(&c.amounts),
                weighted: totals(&c.weighted),
                cards: c
                    .opportunities
                    .iter()
                    .map(|o| Card {
                        id: o.id,
                        name: o.name.clone(),
                        amount: amount_text(o.amount, o.currency.as_deref()),
                        close: o.close_date.map(|d| d.to_string()).unwrap_or_default(),
                        version: o.version,
                    })
                    .collect(),
                c,
            })
            .collect(),
        pipeline,
        bars,
    }
    .into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "opportunity.html")]
struct DetailPage {
    frame: Frame,
    notice: Option<&'static str>,
    d: OpportunityDetail,
    amount: String,
    amount_input: String,
    stage_label: String,
    closed: bool,
    pipeline: Pipeline,
}

async fn detail(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Query(q): Query<Done>,
) -> Response {
    let (d, pipeline) =
        match tokio::try_join!(s.app.opportunity(&auth.principal, id), s.app.pipeline()) {
            Ok(v) => v,
            Err(e) => return error_page(e),
        };
    let o = &d.opportunity;
    let stage = pipeline.stage(&o.stage);
    DetailPage {
        frame: Frame::new(&auth.user, "pipeline"),
        notice: notice(q.done.as_deref()),
        amount: amount_text(o.amount, o.currency.as_deref()),
        amount_input: o
            .amount
            .map(|a| money::format_minor(a, o.currency.as_deref()))
            .unwrap_or_default(),
        stage_label: stage.map_or_else(|| o.stage.clone(), |s| s.label.clone()),
        closed: stage.is_some_and(|s| s.kind != StageKind::Open),
        d,
        pipeline,
    }
    .into_response()
}

#[derive(Deserialize)]
struct MoveForm {
    stage: String,
    reason: Option<String>,
    version: i64,
    back: Option<String>,
}

async fn move_stage(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<MoveForm>,
) -> Response {
    let m = MoveOpportunity {
        stage: f.stage,
        reason: f.reason.filter(|r| !r.is_empty()),
    };
    match s
        .app
        .move_opportunity(&auth.principal, id, m, Some(f.version))
        .await
    {
        Ok(_) if f.back.as_deref() == Some("board") => {
            Redirect::to("/pipeline?done=moved").into_response()
        }
        Ok(_) => Redirect::to(&format!("/opportunities/{id}?done=moved")).into_response(),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct EditForm {
    name: String,
    amount: String,
    currency: String,
    close_date: String,
    version: i64,
}

async fn edit(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<EditForm>,
) -> Response {
    let close_date = match f.close_date.trim() {
        "" => None,
        d => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                return error_page(invalid(
                    "close_date",
                    "invalid",
                    "a date such as 2027-03-31",
                ));
            }
        },
    };
    let patch = OpportunityPatch {
        name: Some(f.name),
        currency: Some(f.currency),
        amount: Some(match f.amount.trim() {
            "" => serde_json::Value::Null,
            a => serde_json::Value::String(a.to_owned()),
        }),
        close_date,
        owner_id: None,
    };
    match s
        .app
        .update_opportunity(&auth.principal, id, patch, Some(f.version))
        .await
    {
        Ok(_) => Redirect::to(&format!("/opportunities/{id}?done=saved")).into_response(),
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct ConvertForm {
    version: i64,
    /// "on" when an opportunity is to be created.
    opportunity: Option<String>,
    name: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    close_date: Option<String>,
    stage: Option<String>,
}

async fn convert(
    State(s): State<AppState>,
    auth: UiAuth,
    Path(id): Path<Uuid>,
    Form(f): Form<ConvertForm>,
) -> Response {
    let text = |v: Option<String>| v.map(|x| x.trim().to_owned()).filter(|x| !x.is_empty());
    let opportunity = if f.opportunity.as_deref() == Some("on") {
        let close_date = match text(f.close_date) {
            None => None,
            Some(d) => match chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    return error_page(invalid(
                        "close_date",
                        "invalid",
                        "a date such as 2027-03-31",
                    ));
                }
            },
        };
        Some(NewOpportunity {
            name: text(f.name),
            amount: text(f.amount).map(serde_json::Value::String),
            currency: text(f.currency),
            close_date,
            stage: text(f.stage),
        })
    } else {
        None
    };
    let input = ConvertInput {
        account_id: None,
        opportunity,
    };
    match s
        .app
        .convert_lead(&auth.principal, id, input, Some(f.version))
        .await
    {
        Ok(c) => match c.opportunity {
            Some(o) => {
                Redirect::to(&format!("/opportunities/{}?done=converted", o.id)).into_response()
            }
            None => Redirect::to(&format!("/leads/{id}?done=converted")).into_response(),
        },
        Err(e) => error_page(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_in_major_units_with_their_currency() {
        assert_eq!(amount_text(Some(1_250_050), Some("EUR")), "12500.50 EUR");
        assert_eq!(amount_text(Some(500), Some("JPY")), "500 JPY");
        assert_eq!(amount_text(None, Some("EUR")), "—");
    }
}
