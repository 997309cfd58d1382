//! `leadline report NAME`: a report as CSV, JSON or an aligned table.

use anyhow::Context;
use clap::{Args, ValueEnum};
use leadline_app::App;
use leadline_app::analytics::{FunnelRow, ReportQuery};
use leadline_app::export::csv_safe;
use leadline_domain::Principal;

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
    /// The report: `funnel` (leads → MQL → SAL → SQL → converted → won).
    pub name: String,
    /// Group by `source`, `medium` or `campaign` (first touch).
    #[arg(long)]
    pub by: Option<String>,
    /// Leads created on or after this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub from: Option<chrono::NaiveDate>,
    /// … up to the end of this day.
    #[arg(long)]
    pub to: Option<chrono::NaiveDate>,
    /// Where the leads stood at the end of this day (default: now).
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
}

const COLUMNS: [&str; 8] = [
    "leads",
    "mql",
    "sal",
    "sql",
    "converted",
    "won",
    "conversion_rate",
    "",
];

fn cells(r: &FunnelRow) -> Vec<String> {
    vec![
        r.key.clone(),
        r.leads.to_string(),
        r.mql.to_string(),
        r.sal.to_string(),
        r.sql.to_string(),
        r.converted.to_string(),
        r.won.to_string(),
        r.conversion_rate
            .map(|x| format!("{x:.4}"))
            .unwrap_or_default(),
    ]
}

/// Runs the report and prints it.
pub async fn run(app: &App, by: &Principal, args: ReportArgs) -> anyhow::Result<()> {
    if args.name != "funnel" {
        anyhow::bail!("unknown report {:?}; reports: funnel", args.name);
    }
    let q = ReportQuery {
        by: args.by.clone(),
        from: args.from,
        to: args.to,
        as_of: args.as_of,
    };
    let report = app
        .funnel_report(by, &q)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = args.by.unwrap_or_else(|| "all".into());
    let header: Vec<&str> = std::iter::once(key.as_str())
        .chain(COLUMNS.iter().copied().filter(|c| !c.is_empty()))
        .collect();
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            println!();
        }
        ReportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&header)?;
            for r in &report.rows {
                w.write_record(cells(r).iter().map(|c| csv_safe(c).into_owned()))?;
            }
            w.flush().context("writing the report")?;
        }
        ReportFormat::Table => {
            let rows: Vec<Vec<String>> = report
                .rows
                .iter()
                .chain([&report.total])
                .map(cells)
                .collect();
            let widths: Vec<usize> = (0..header.len())
                .map(|i| {
                    rows.iter()
                        .map(|r| r[i].chars().count())
                        .chain([header[i].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            use std::io::Write;
            let line = |cells: Vec<String>| {
                cells
                    .iter()
                    .zip(&widths)
                    .enumerate()
                    .map(|(i, (c, w))| {
                        if i == 0 {
                            format!("{c:<w$}")
                        } else {
                            format!("{c:>w$}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            writeln!(
                out,
                "{}",
                line(header.iter().map(|h| h.to_string()).collect())
            )?;
            for r in rows {
                writeln!(out, "{}", line(r))?;
            }
        }
    }
    Ok(())
}
