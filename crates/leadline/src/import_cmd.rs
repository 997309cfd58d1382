//! `leadline import FILE.csv`: dry run, or import with a progress bar; an interrupted
//! import of the same file resumes where it stopped.

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use leadline_app::App;
use leadline_domain::Principal;
use leadline_domain::capture::import::{
    ColumnMapping, DuplicatePolicy, ImportOptions, UnknownColumns,
};
use std::path::PathBuf;

/// What to do with columns that match no lead field.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CustomFields {
    /// Keep their values on each lead's `imported` timeline entry.
    Keep,
    /// Create a custom field per column (kind inferred from the values).
    Auto,
}

/// What to do with a row whose lead exists (same external id or email).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Duplicates {
    Skip,
    Update,
    Create,
}

/// Arguments of `leadline import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The CSV file (comma, semicolon or tab separated; a header row first).
    pub file: PathBuf,
    /// Map a column to a target: `--map "Work Email=email"`; targets are lead fields,
    /// `full_name`, `source`, `campaign`, `custom.<key>`, `outcome` or `ignore`. Columns not
    /// mapped use the suggestion from their header (Salesforce, HubSpot, Mautic names).
    #[arg(long = "map", value_name = "COLUMN=TARGET")]
    pub map: Vec<String>,
    /// Columns that match no lead field: keep on the timeline, or make custom fields.
    #[arg(long, value_enum, default_value = "keep")]
    pub custom_fields: CustomFields,
    /// A column with the known result of historical leads (1/yes/won → won, 0/no/lost → lost).
    #[arg(long)]
    pub outcome_column: Option<String>,
    #[arg(long, value_enum, default_value = "skip")]
    pub duplicates: Duplicates,
    /// The source of rows that name none (e.g. the trade show a list came from).
    #[arg(long)]
    pub source: Option<String>,
    /// A value meaning "nothing chosen", read as empty (repeatable; default `Select`).
    #[arg(long = "empty-value")]
    pub empty_values: Vec<String>,
    /// Check every row and show what would happen; import nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the per-row error report (CSV) here.
    #[arg(long)]
    pub errors: Option<PathBuf>,
}

impl ImportArgs {
    fn options(&self) -> anyhow::Result<ImportOptions> {
        let mut mapping = Vec::new();
        for m in &self.map {
            let (column, target) = m
                .rsplit_once('=')
                .with_context(|| format!("--map {m}: expected COLUMN=TARGET"))?;
            mapping.push(ColumnMapping {
                column: column.trim().to_owned(),
                target: target.trim().to_owned(),
            });
        }
        Ok(ImportOptions {
            mapping,
            unknown_columns: match self.custom_fields {
                CustomFields::Keep => UnknownColumns::Keep,
                CustomFields::Auto => UnknownColumns::Auto,
            },
            outcome_column: self.outcome_column.clone(),
            duplicates: match self.duplicates {
                Duplicates::Skip => DuplicatePolicy::Skip,
                Duplicates::Update => DuplicatePolicy::Update,
                Duplicates::Create => DuplicatePolicy::Create,
            },
            source: self.source.clone(),
            empty_values: if self.empty_values.is_empty() {
                ImportOptions::default().empty_values
            } else {
                self.empty_values.clone()
            },
        })
    }
}

fn describe(e: leadline_app::AppError) -> anyhow::Error {
    match e {
        leadline_app::AppError::Validation(v) => anyhow::anyhow!("invalid input: {v}"),
        other => anyhow::anyhow!(other),
    }
}

/// Runs `leadline import`.
pub async fn run(app: &App, args: ImportArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let options = args.options()?;
    let by = Principal::system("cli");
    if args.dry_run {
        let p = app
            .preview_import(&by, &bytes, &options)
            .await
            .map_err(describe)?;
        println!(
            "{} rows: {} valid, {} with problems, {} already known",
            p.total_rows,
            p.valid_rows,
            p.total_rows - p.valid_rows,
            p.existing_rows
        );
        println!("mapping:");
        for m in &p.mapping {
            let t = if m.target.is_empty() {
                "(kept on the timeline)"
            } else {
                m.target.as_str()
            };
            println!("  {:<40} → {t}", m.column);
        }
        for n in &p.new_custom_fields {
            println!("new custom field: {} ({})", n.key, n.kind.as_str());
        }
        for e in p.errors.iter().take(20) {
            println!("row {}: {} {}: {}", e.row, e.column, e.code, e.message);
        }
        if p.error_count > 20 {
            println!("… and {} more problems", p.error_count - 20);
        }
        return Ok(());
    }
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import.csv".into());
    let job = match app.unfinished_import_of(&bytes).await.map_err(describe)? {
        Some(j) => {
            eprintln!(
                "resuming import {} at row {} of {}",
                j.id, j.processed_rows, j.total_rows
            );
            j
        }
        None => app
            .create_import(&by, &file_name, &bytes, options)
            .await
            .map_err(describe)?,
    };
    drop(bytes);
    let bar = ProgressBar::new(job.total_rows.max(0) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let done = app
        .run_import(job.id, |j| {
            bar.set_position(j.processed_rows.max(0) as u64);
            bar.set_message(format!(
                "{} new, {} updated, {} skipped, {} failed",
                j.created, j.updated, j.skipped, j.failed
            ));
        })
        .await
        .map_err(describe)?;
    bar.finish();
    let Some(done) = done else {
        anyhow::bail!(
            "import {} is being run by another process, or by one that stopped less than a minute ago; try again in a minute",
            job.id
        );
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "import {}: {} rows in {:.1}s ({:.0} rows/s): {} created, {} updated, {} skipped, {} failed",
        done.id,
        done.total_rows,
        secs,
        done.total_rows as f64 / secs.max(1e-9),
        done.created,
        done.updated,
        done.skipped,
        done.failed
    );
    let started = std::time::Instant::now();
    let verified = app
        .verify_unchecked(done.created_at)
        .await
        .map_err(describe)?;
    if verified > 0 {
        println!(
            "verified {verified} new leads in {:.1}s (Capture → Data quality shows the result)",
            started.elapsed().as_secs_f64()
        );
    }
    if done.failed > 0 {
        let report = app
            .import_error_report(&by, done.id)
            .await
            .map_err(describe)?;
        match &args.errors {
            Some(path) => {
                std::fs::write(path, report)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("row problems written to {}", path.display());
            }
            None => println!(
                "{} rows had problems; rerun with --errors report.csv to get them, or download them in the UI",
                done.failed
            ),
        }
    }
    Ok(())
}
