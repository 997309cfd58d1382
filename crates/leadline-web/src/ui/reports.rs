//! The reports dashboard: pick a report, filter it (period, grouping, as of, time zone,
//! one source, medium, campaign, owner or team),
//! see it as a chart and a table whose lead counts link to the leads behind them, and
//! download it as CSV. Works without JavaScript (a GET form).

use super::Frame;
use crate::auth::UiAuth;
use crate::state::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use leadline_app::analytics::{ColumnKind, REPORTS, Report, ReportInfo, ReportQuery, render};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Bars drawn at most; the table holds every row.
const MAX_BARS: usize = 40;

/// One bar of a chart, laid out in SVG units.
pub struct Bar {
    pub label: String,
    pub value: String,
    pub y: usize,
    pub width: usize,
    pub text_y: usize,
}

/// A horizontal bar chart of one column.
pub struct Chart {
    pub title: String,
    pub bars: Vec<Bar>,
    pub height: usize,
    /// What the chart shows, for screen readers.
    pub summary: String,
    pub truncated: bool,
}

/// A table cell: its text, whether it is a number, and where it drills down to.
pub struct Cell {
    pub text: String,
    pub num: bool,
    pub link: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports.html")]
struct ReportsPage {
    frame: Frame,
    reports: &'static [ReportInfo],
    current: ReportInfo,
    form: BTreeMap<String, String>,
    error: Option<String>,
    report: Option<Report>,
    header: Vec<(String, bool)>,
    rows: Vec<Vec<Cell>>,
    total: Option<Vec<Cell>>,
    chart: Option<Chart>,
    csv_link: String,
    /// Suggestions for the owner and team filters.
    owners: Vec<String>,
    teams: Vec<String>,
}

impl ReportsPage {
    fn value(&self, key: &str) -> &str {
        self.form.get(key).map(String::as_str).unwrap_or("")
    }
}

/// The column each report charts, and whether the funnel steps of the total row are drawn
/// instead of one bar per row.
fn chart_column(name: &str) -> (&'static str, bool) {
    match name {
        "funnel" | "cohorts" => ("leads", name == "funnel"),
        "leads" => ("leads", false),
        "velocity" => ("qualified", false),
        "quality" => ("mql_rate", false),
        "response" => ("compliance", false),
        "stages" => ("avg_days", false),
        "aging" => ("leads", false),
        "sales" => ("won_amount", false),
        "roi" => ("revenue", false),
        "attribution" => ("linear", false),
        _ => ("weighted", false),
    }
}

fn number(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(0.0).max(0.0)
}

fn build_chart(r: &Report) -> Option<Chart> {
    let (col, steps) = chart_column(&r.name);
    let column = r.columns.iter().find(|c| c.key == col)?;
    let keys: Vec<&str> = r
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Text)
        .map(|c| c.key.as_str())
        .collect();
    let mut items: Vec<(String, f64, String)> = Vec::new();
    let title = if steps {
        let total = r.total.as_ref()?;
        for c in r.columns.iter().filter(|c| c.reached.is_some()) {
            items.push((
                c.label.clone(),
                number(total.get(&c.key)),
                display(c.kind, &c.key, total),
            ));
        }
        "Leads reaching each step".to_owned()
    } else {
        for row in &r.rows {
            let label = keys
                .iter()
                .filter_map(|k| row.get(*k).and_then(Value::as_str))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · ");
            items.push((label, number(row.get(col)), display(column.kind, col, row)));
        }
        column.label.clone()
    };
    if items.is_empty() {
        return None;
    }
    let truncated = items.len() > MAX_BARS;
    items.truncate(MAX_BARS);
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let row_h = 20;
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, v, value))| Bar {
            width: if max > 0.0 {
                ((v / max) * 380.0).round() as usize
            } else {
                0
            },
            label: label.chars().take(28).collect(),
            value,
            y: i * row_h + 2,
            text_y: i * row_h + 15,
        })
        .collect::<Vec<_>>();
    let summary = format!(
        "{title}: {}",
        bars.iter()
            .map(|b| format!("{} {}", b.label, b.value))
            .collect::<Vec<_>>()
            .join("; ")
    );
    Some(Chart {
        height: bars.len() * row_h + 4,
        title,
        bars,
        summary,
        truncated,
    })
}

/// The lead list URL behind a count: the row's filter (group and creation period, from the
/// report) and the step the column counts.
fn drill_link(r: &Report, row: &Map<String, Value>, step: &str) -> Option<String> {
    let lead_reports = ["funnel", "leads", "cohorts", "quality", "roi"];
    if !lead_reports.contains(&r.name.as_str()) {
        return None;
    }
    let Value::Object(f) = row.get("_filter")? else {
        return None;
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in f {
        if let Some(s) = v.as_str() {
            q.append_pair(k, s);
        }
    }
    if step != "lead" {
        q.append_pair("reached", step);
    }
    Some(format!("/leads?{}", q.finish()))
}

/// A cell for people: rates as percentages, durations and other figures to one decimal,
/// money and counts as in the CSV.
fn display(kind: ColumnKind, key: &str, row: &Map<String, Value>) -> String {
    let x = row.get(key).and_then(Value::as_f64);
    match (kind, x) {
        (ColumnKind::Rate, Some(x)) => format!("{:.1} %", x * 100.0),
        (ColumnKind::Days | ColumnKind::Minutes | ColumnKind::Number, Some(x)) => {
            format!("{x:.1}")
        }
        _ => render::cell(kind, key, row),
    }
}

fn cells(r: &Report, row: &Map<String, Value>, drill: bool) -> Vec<Cell> {
    r.columns
        .iter()
        .map(|c| Cell {
            text: display(c.kind, &c.key, row),
            num: c.kind != ColumnKind::Text,
            link: c
                .reached
                .as_deref()
                .filter(|_| drill)
                .and_then(|step| drill_link(r, row, step)),
        })
        .collect()
}

/// The non-empty fields of the form.
fn filled(raw: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    raw.iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), v.trim().to_owned()))
        .collect()
}

fn parse_query(form: &BTreeMap<String, String>) -> Result<ReportQuery, String> {
    let fields: Map<String, Value> = form
        .iter()
        .filter(|(k, _)| {
            [
                "by", "from", "to", "as_of", "period", "tz", "source", "medium", "campaign",
                "owner", "team",
            ]
            .contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| format!("Dates are YYYY-MM-DD ({e})."))
}

fn current(form: &BTreeMap<String, String>) -> ReportInfo {
    let name = form.get("report").map(String::as_str).unwrap_or("funnel");
    REPORTS
        .iter()
        .find(|r| r.name == name)
        .copied()
        .unwrap_or(REPORTS[0])
}

/// `GET /reports`: the dashboard.
pub async fn page(
    State(s): State<AppState>,
    auth: UiAuth,
    Query(raw): Query<BTreeMap<String, String>>,
) -> Response {
    let form = filled(&raw);
    let info = current(&form);
    let mut page = ReportsPage {
        frame: Frame::new(&auth.user, "reports"),
        reports: REPORTS,
        current: info,
        csv_link: {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &form {
                q.append_pair(k, v);
            }
            format!("/reports/csv?{}", q.finish())
        },
        form,
        error: None,
        report: None,
        header: Vec::new(),
        rows: Vec::new(),
        total: None,
        chart: None,
        owners: Vec::new(),
        teams: Vec::new(),
    };
    if info.filters.contains(&"owner") {
        page.owners = s
            .app
            .list_users()
            .await
            .map(|u| u.into_iter().map(|u| u.email).collect())
            .unwrap_or_default();
    }
    if info.filters.contains(&"team") {
        page.teams = s
            .app
            .list_teams()
            .await
            .map(|t| t.into_iter().map(|t| t.name).collect())
            .unwrap_or_default();
    }
    let result = match parse_query(&page.form) {
        Ok(q) => s
            .app
            .report(&auth.principal, info.name, &q)
            .await
            .map_err(|e| {
                if matches!(e, leadline_app::AppError::Forbidden(_)) {
                    return None;
                }
                Some(e.to_string())
            }),
        Err(msg) => Err(Some(msg)),
    };
    match result {
        Ok(r) => {
            page.header = r
                .columns
                .iter()
                .map(|c| (c.label.clone(), c.kind != ColumnKind::Text))
                .collect();
            page.rows = r.rows.iter().map(|row| cells(&r, row, true)).collect();
            page.total = r.total.as_ref().map(|t| cells(&r, t, false));
            page.chart = build_chart(&r);
            page.report = Some(r);
        }
        Err(Some(msg)) => page.error = Some(msg),
        Err(None) => {
            return super::error_page(leadline_app::AppError::Forbidden(
                "reports are for admins, managers and marketers".into(),
            ));
        }
    }
    page.into_response()
}

/// `GET /reports/csv`: the report on the page as a CSV download.
pub async fn csv(
    State(s): State<AppState>,
    auth: UiAuth,
    Query(raw): Query<BTreeMap<String, String>>,
) -> Response {
    let form = filled(&raw);
    let info = current(&form);
    let q = match parse_query(&form) {
        Ok(q) => q,
        Err(msg) => return super::error_page(super::invalid("from", "invalid_value", &msg)),
    };
    match s.app.report(&auth.principal, info.name, &q).await {
        Ok(r) => crate::api::reports::csv_response(&r),
        Err(e) => super::error_page(e),
    }
}
