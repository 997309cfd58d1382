//! `leadline report NAME`: a report as CSV, JSON or an aligned table.

use clap::{Args, ValueEnum};
use leadline_app::App;
use leadline_app::analytics::{REPORTS, ReportQuery, render};
use leadline_domain::Principal;
use std::io::Write;

/// How a report is printed.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Json,
    Table,
}

/// `leadline report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The report: funnel, leads, cohorts, velocity, quality, response, stages, aging, sales,
    /// roi, attribution, forecast (`leadline report list` names them all);
    /// `rebuild-rollup` rebuilds the lead reports' roll-up from the leads (a repair).
    pub name: String,
    /// Group by `source`, `medium`, `campaign`, `channel`, `owner` or `team` (as the report
    /// allows).
    #[arg(long)]
    pub by: Option<String>,
    /// From this day (YYYY-MM-DD, in --tz), inclusive.
    #[arg(long)]
    pub from: Option<chrono::NaiveDate>,
    /// To this day, inclusive.
    #[arg(long)]
    pub to: Option<chrono::NaiveDate>,
    /// Where things stood at the end of this day (default: now).
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
    /// `day`, `week`, `month` or `quarter` (reports with periods).
    #[arg(long)]
    pub period: Option<String>,
    /// IANA time zone for days and periods (default UTC).
    #[arg(long)]
    pub tz: Option<String>,
    /// Only leads (deals) whose first source is this (as the report allows).
    #[arg(long)]
    pub source: Option<String>,
    /// Only leads whose first medium is this (deals: their lead's).
    #[arg(long)]
    pub medium: Option<String>,
    /// Only leads (deals) whose first campaign is this.
    #[arg(long)]
    pub campaign: Option<String>,
    /// Only leads (deals) owned by this user (id or email).
    #[arg(long)]
    pub owner: Option<String>,
    /// Only leads of this team (id or name).
    #[arg(long)]
    pub team: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
}

/// Runs the report and prints it.
pub async fn run(app: &App, by: &Principal, args: ReportArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.name == "list" {
        for r in REPORTS {
            writeln!(
                out,
                "{:<12} {} (by: {}; filters: {})",
                r.name,
                r.title,
                list(r.dimensions),
                list(r.filters)
            )?;
        }
        return Ok(());
    }
    if args.name == "rebuild-rollup" {
        let t = std::time::Instant::now();
        let n = app
            .rebuild_report_rollup(by)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(
            out,
            "report roll-up rebuilt from the leads: {n} groups in {:.1} s",
            t.elapsed().as_secs_f64()
        )?;
        return Ok(());
    }
    let q = ReportQuery {
        by: args.by,
        from: args.from,
        to: args.to,
        as_of: args.as_of,
        period: args.period,
        tz: args.tz,
        source: args.source,
        medium: args.medium,
        campaign: args.campaign,
        owner: args.owner,
        team: args.team,
    };
    // The server folds the roll-up's pending changes in the background; a one-off command
    // does it first (the report is exact either way, only faster after).
    app.compact_report_rollup()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = app
        .report(by, &args.name, &q)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match args.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        ReportFormat::Csv => out.write_all(render::to_csv(&report)?.as_bytes())?,
        ReportFormat::Table => out.write_all(render::to_table(&report).as_bytes())?,
    }
    Ok(())
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "-".into()
    } else {
        names.join(", ")
    }
}
