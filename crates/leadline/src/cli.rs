//! Commands and their arguments.

use crate::config::{FileConfig, database_url, redact};
use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use leadline_app::admin::NewUser;
use leadline_app::capture::email::Received;
use leadline_app::{App, AppConfig};
use leadline_domain::{Principal, Role};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Leadline: self-hosted lead management.
#[derive(Parser, Debug)]
#[command(name = "leadline", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    /// Log format.
    #[arg(long, global = true, env = "LEADLINE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives; every command takes these.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// Folder of the embedded SQLite database (default ./leadline-data).
    #[arg(
        long,
        global = true,
        env = "LEADLINE_DATA_DIR",
        conflicts_with = "database_url"
    )]
    pub data_dir: Option<PathBuf>,
    /// Database URL: postgres://user:pass@host/db or sqlite://path/to/file.db.
    #[arg(long, global = true, env = "LEADLINE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Optional TOML configuration file (see config/leadline.example.toml).
    #[arg(long, global = true, env = "LEADLINE_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (UI, API, health checks, metrics).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// Add realistic sample data (users, teams, leads with history and activities).
    Demo {
        /// How many leads to add.
        #[arg(long, default_value_t = 2000)]
        leads: usize,
        /// Random seed (the same seed gives the same data).
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Export data.
    Export {
        #[command(subcommand)]
        what: ExportCmd,
    },
    /// Import leads from a CSV file (dry run, progress, resumable).
    Import(crate::import_cmd::ImportArgs),
    /// Print a report: `leadline report funnel --by source --format csv`.
    Report(crate::report_cmd::ReportArgs),
    /// Find likely duplicate leads (files every lead under its email, phone and
    /// name-and-company keys, compares leads sharing one). Saves pairs of confidence ≥ 0.75
    /// for review (Capture → Duplicates) unless `--dry-run`; `--merge-above` also merges
    /// the most certain ones, the older lead surviving.
    Dedupe {
        /// Report only: save nothing, merge nothing.
        #[arg(long)]
        dry_run: bool,
        /// Smallest confidence (0 to 1) to list a pair.
        #[arg(long, default_value_t = 0.75)]
        min_confidence: f64,
        /// How many pairs to print.
        #[arg(long, default_value_t = 20)]
        show: usize,
        /// Merge every open pair at or above this confidence (0.9 to 1) after the scan.
        #[arg(long, conflicts_with = "dry_run")]
        merge_above: Option<f64>,
    },
    /// Merge leads into a survivor (fields by the survivorship rule in the data-quality
    /// settings; timeline and history move to the survivor). Prints the merge id.
    Merge {
        /// The lead that stays.
        survivor: uuid::Uuid,
        /// The leads folded into it.
        #[arg(required = true)]
        merged: Vec<uuid::Uuid>,
    },
    /// Undo a merge by its id.
    Unmerge { merge_id: uuid::Uuid },
    /// Copy the SQLite database to FILE while the server keeps running (a consistent
    /// snapshot). For PostgreSQL it prints the pg_dump command instead.
    Backup { file: PathBuf },
    /// Replace the SQLite database with a backup after checking it (integrity, Leadline
    /// schema), then apply pending migrations. Stop the server first.
    Restore {
        file: PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
    },
    /// The predictive model (groundwork): train on the leads with a known outcome and
    /// report held-out AUC, calibration and the features that matter.
    Model {
        #[command(subcommand)]
        what: ModelCmd,
    },
    /// Lead scoring: explain a lead's score, re-score everyone, rules files in and out.
    Score {
        #[command(subcommand)]
        what: ScoreCmd,
    },
    /// Email-to-lead from raw messages (.eml files): a new sender becomes a lead, a known
    /// one gets an `email_received` activity; replies to sequence mail and bounce reports
    /// are recorded on the message they are about.
    ImportEml {
        /// The message files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Measure speed and memory against baselines taken in the same run.
    Bench(crate::bench::BenchArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LEADLINE_ADDR")]
    pub addr: Option<String>,
    /// Fill an empty database with demo data (and demo users) at start.
    #[arg(long, env = "LEADLINE_DEMO")]
    pub demo: bool,
    /// How many demo leads `--demo` creates.
    #[arg(long, default_value_t = 2000)]
    pub demo_leads: usize,
    /// Mark the session cookie Secure (serve over HTTPS, e.g. behind a TLS proxy).
    #[arg(long, env = "LEADLINE_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Also accept email-to-lead over SMTP on this address (e.g. 127.0.0.1:2525).
    #[arg(long, env = "LEADLINE_SMTP_ADDR")]
    pub smtp_addr: Option<String>,
    /// Send email through this SMTP relay: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`. Without one, mail stays in the outbox.
    #[arg(long, env = "LEADLINE_SMTP_RELAY", hide_env_values = true)]
    pub smtp_relay: Option<String>,
    /// The sender of Leadline's email (default `Leadline <leadline@localhost>`).
    #[arg(long, env = "LEADLINE_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// The address people reach this server at (e.g. https://leads.example.com), for links in email.
    #[arg(long, env = "LEADLINE_PUBLIC_URL")]
    pub public_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a user. Without --password a random one is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Display name (default: the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, env = "LEADLINE_USER_PASSWORD")]
        password: Option<String>,
    },
    /// List users.
    List,
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Create an API key; the key is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Email of the user the key acts for (a rep's key sees that rep's leads).
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ExportCmd {
    /// Export leads.
    Leads {
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Filters as in the API's list query, e.g. "stage=mql&source=google".
        #[arg(long, default_value = "")]
        query: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ModelCmd {
    /// Train on the leads with a known outcome, print how the model measured, put it in
    /// force and predict every lead.
    Train {
        /// A field the model must not use (by name, or a custom field's key or label), on
        /// top of those marked "not for prediction"; fields that leak the outcome belong
        /// here. Repeat for several.
        #[arg(long)]
        exclude: Vec<String>,
    },
    /// The model in force: when it was trained, how it measured, what it left out.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum ScoreCmd {
    /// Why a lead has its score and grade, point by point, and whether it is an MQL.
    Explain { lead_id: uuid::Uuid },
    /// Re-score every lead under a model now, with progress.
    Rescore {
        #[arg(long, default_value = "default")]
        model: String,
    },
    /// Print a model's rules in force as TOML (or YAML).
    Export {
        #[arg(long, default_value = "default")]
        model: String,
        #[arg(long)]
        yaml: bool,
    },
    /// Save a TOML or YAML rules file as a new version of the model it names; with
    /// `--activate`, put it in force and re-score every lead.
    Import {
        file: PathBuf,
        #[arg(long)]
        activate: bool,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ExportFormat {
    Csv,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.to_string())
}

async fn open(db: &DbArgs, file: &FileConfig) -> anyhow::Result<App> {
    let url = database_url(db.database_url.clone(), db.data_dir.clone(), file);
    let mut config = AppConfig::default();
    if let Some(m) = file.session_idle_minutes {
        config.session_idle = Duration::from_secs(m * 60);
    }
    if let Some(h) = file.session_absolute_hours {
        config.session_absolute = Duration::from_secs(h * 3600);
    }
    if let Some(n) = file.sign_in_failures_per_account {
        config.sign_in.per_account = n;
    }
    if let Some(n) = file.sign_in_failures_per_address {
        config.sign_in.per_address = n;
    }
    if let Some(m) = file.sign_in_window_minutes {
        config.sign_in.window = m.max(1) * 60 * 1_000_000;
    }
    App::open(&url, config)
        .await
        .with_context(|| format!("opening database {}", redact(&url)))
}

/// Starts every unfinished import no process is working on (the claim decides).
async fn resume_interrupted_imports(app: &App) -> Result<(), leadline_app::AppError> {
    for job in app.unfinished_imports().await? {
        if job.status == leadline_domain::capture::import::ImportStatus::Failed {
            continue;
        }
        app.spawn_import(job.id);
    }
    Ok(())
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = FileConfig::load(cli.db.config.as_deref())?;
    let json = cli
        .log_format
        .map(|f| f == LogFormat::Json)
        .unwrap_or(file.log_format.as_deref() == Some("json"));
    crate::telemetry::init(json);
    let system = Principal::system("cli");
    match cli.command {
        Command::Serve(args) => serve(&cli.db, &file, args).await,
        Command::Migrate => {
            open(&cli.db, &file).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User {
            cmd:
                UserCmd::Create {
                    email,
                    role,
                    name,
                    password,
                },
        } => {
            let app = open(&cli.db, &file).await?;
            let generated = password.is_none();
            let password = password.unwrap_or_else(random_password);
            let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_owned());
            let user = app
                .create_user(
                    &system,
                    NewUser {
                        email,
                        name,
                        role,
                        password: Some(password.clone()),
                        sees_all_leads: false,
                    },
                )
                .await
                .map_err(describe)?;
            println!("created {} user {} ({})", user.role, user.email, user.id);
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        Command::User { cmd: UserCmd::List } => {
            let app = open(&cli.db, &file).await?;
            for u in app.list_users().await.map_err(describe)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    u.id,
                    u.email,
                    u.role,
                    if u.active { "active" } else { "inactive" }
                );
            }
            Ok(())
        }
        Command::ApiKey {
            cmd: KeyCmd::Create { name, role, user },
        } => {
            let app = open(&cli.db, &file).await?;
            let user_id = match user {
                Some(email) => Some(
                    app.list_users()
                        .await
                        .map_err(describe)?
                        .into_iter()
                        .find(|u| u.email == email.to_lowercase())
                        .with_context(|| format!("no user with email {email}"))?
                        .id,
                ),
                None => None,
            };
            let (key, secret) = app
                .create_api_key(&system, &name, role, user_id)
                .await
                .map_err(describe)?;
            eprintln!(
                "created API key '{}' ({}) with role {}; it is shown only now:",
                key.name, key.id, key.role
            );
            println!("{secret}");
            Ok(())
        }
        Command::Demo { leads, seed } => {
            let app = open(&cli.db, &file).await?;
            let s = app.load_demo(leads, seed).await.map_err(describe)?;
            println!(
                "added {} users, {} leads, {} activities",
                s.users, s.leads, s.activities
            );
            println!(
                "sign in as {} with password {}",
                leadline_app::demo::DEMO_ADMIN,
                leadline_app::demo::DEMO_PASSWORD
            );
            Ok(())
        }
        Command::Export {
            what:
                ExportCmd::Leads {
                    format: ExportFormat::Csv,
                    output,
                    query,
                },
        } => {
            let app = open(&cli.db, &file).await?;
            let pairs = leadline_app::views::url_pairs(&query);
            let q = app.parse_lead_query(&pairs).await.map_err(describe)?;
            let n = match output {
                Some(path) => {
                    let f = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    app.export_leads_csv(&system, q, std::io::BufWriter::new(f))
                        .await
                        .map_err(describe)?
                }
                None => app
                    .export_leads_csv(&system, q, std::io::stdout().lock())
                    .await
                    .map_err(describe)?,
            };
            eprintln!("exported {n} leads");
            Ok(())
        }
        Command::Import(args) => {
            let app = open(&cli.db, &file).await?;
            crate::import_cmd::run(&app, args).await
        }
        Command::Report(args) => {
            let app = open(&cli.db, &file).await?;
            crate::report_cmd::run(&app, &system, args).await
        }
        Command::Dedupe {
            dry_run,
            min_confidence,
            show,
            merge_above,
        } => {
            let app = open(&cli.db, &file).await?;
            let started = std::time::Instant::now();
            let r = app
                .find_duplicates(&system, min_confidence, dry_run, |n| {
                    if n % 100_000 == 0 {
                        eprintln!("  filed {n} leads");
                    }
                })
                .await
                .map_err(describe)?;
            println!(
                "{} leads scanned, {} candidate pairs compared, {} likely duplicates (confidence ≥ {min_confidence}) in {:.1}s{}",
                r.leads_scanned,
                r.candidate_pairs,
                r.pairs_found,
                started.elapsed().as_secs_f64(),
                if r.saved {
                    "; saved for review"
                } else {
                    " (dry run)"
                }
            );
            for p in r.pairs.iter().take(show) {
                println!(
                    "{:.2}  {} ({})  ~  {} ({})  [{}]",
                    p.confidence,
                    p.a_name,
                    p.a,
                    p.b_name,
                    p.b,
                    p.reasons.join(", ")
                );
            }
            if let Some(m) = merge_above {
                let n = app.merge_all(&system, m).await.map_err(describe)?;
                println!("merged {n} pairs (confidence ≥ {m})");
            }
            Ok(())
        }
        Command::Merge { survivor, merged } => {
            let app = open(&cli.db, &file).await?;
            let r = app
                .merge_leads(
                    &system,
                    leadline_app::quality::MergeInput {
                        survivor_id: survivor,
                        merged_ids: merged,
                        fields: Default::default(),
                    },
                )
                .await
                .map_err(describe)?;
            println!(
                "merge {}: {} merged into {}",
                r.id,
                r.merged_names.join(", "),
                r.survivor_id
            );
            Ok(())
        }
        Command::Backup { file: dest } => {
            let url = database_url(cli.db.database_url.clone(), cli.db.data_dir.clone(), &file);
            if leadline_store::backup::sqlite_path(&url).is_none() {
                anyhow::bail!(
                    "this is a PostgreSQL database: back it up with \
                     `pg_dump --format=custom --file leadline.dump \"$DATABASE_URL\"` \
                     (restore with `pg_restore --clean --if-exists --dbname \"$DATABASE_URL\" leadline.dump`)"
                );
            }
            let app = open(&cli.db, &file).await?;
            leadline_store::backup::sqlite_backup(&app.db, &dest)
                .await
                .with_context(|| format!("backing up to {}", dest.display()))?;
            let s = leadline_store::backup::check_sqlite_file(&dest).await?;
            println!(
                "backup written to {} ({} leads, {} migrations; integrity ok)",
                dest.display(),
                s.leads,
                s.migrations
            );
            Ok(())
        }
        Command::Restore {
            file: backup,
            force,
        } => {
            let url = database_url(cli.db.database_url.clone(), cli.db.data_dir.clone(), &file);
            let Some(target) = leadline_store::backup::sqlite_path(&url) else {
                anyhow::bail!(
                    "this is a PostgreSQL database: restore it with \
                     `pg_restore --clean --if-exists --dbname \"$DATABASE_URL\" leadline.dump`"
                );
            };
            if target.exists() && !force {
                anyhow::bail!(
                    "{} exists; stop the server and pass --force to replace it",
                    target.display()
                );
            }
            let s = leadline_store::backup::sqlite_restore(&backup, &target)
                .await
                .with_context(|| format!("restoring {}", backup.display()))?;
            open(&cli.db, &file).await?;
            println!(
                "restored {} into {} ({} leads; migrations applied)",
                backup.display(),
                target.display(),
                s.leads
            );
            Ok(())
        }
        Command::Unmerge { merge_id } => {
            let app = open(&cli.db, &file).await?;
            let r = app.unmerge(&system, merge_id).await.map_err(describe)?;
            println!(
                "merge {merge_id} undone: {} restored{}",
                r.restored.len(),
                if r.kept_fields.is_empty() {
                    String::new()
                } else {
                    format!("; survivor kept its newer {}", r.kept_fields.join(", "))
                }
            );
            Ok(())
        }
        Command::Model { what } => {
            let app = open(&cli.db, &file).await?;
            crate::model_cmd::run(&app, &system, what).await
        }
        Command::Score { what } => {
            let app = open(&cli.db, &file).await?;
            crate::score_cmd::run(&app, &system, what).await
        }
        Command::ImportEml { files } => {
            let app = open(&cli.db, &file).await?;
            let by = Principal::system("import-eml");
            let mut failed = 0;
            for path in files {
                let raw =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                match app.capture_email(&by, &raw, None).await {
                    Ok(Received::Lead(c)) => println!(
                        "{}: {} lead {}",
                        path.display(),
                        if c.created { "created" } else { "updated" },
                        c.lead.id
                    ),
                    Ok(Received::Returned(r)) => println!(
                        "{}: {} (message {})",
                        path.display(),
                        r.outcome.replace('_', " "),
                        r.message_id
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| "unknown".into())
                    ),
                    Err(leadline_app::AppError::Validation(v)) => {
                        failed += 1;
                        println!("{}: kept for review: {v}", path.display());
                    }
                    Err(e) => return Err(describe(e)),
                }
            }
            if failed > 0 {
                eprintln!(
                    "{failed} messages could not become leads; they are listed under rejected submissions"
                );
            }
            Ok(())
        }
        Command::Bench(args) => crate::bench::run(&cli.db, args).await,
    }
}

pub(crate) fn describe(e: leadline_app::AppError) -> anyhow::Error {
    match e {
        leadline_app::AppError::Validation(v) => anyhow::anyhow!("invalid input: {v}"),
        other => anyhow::anyhow!(other),
    }
}

fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

async fn serve(db: &DbArgs, file: &FileConfig, args: ServeArgs) -> anyhow::Result<()> {
    let app = open(db, file).await?;
    let url = database_url(db.database_url.clone(), db.data_dir.clone(), file);
    tracing::info!(database = %redact(&url), backend = ?app.db.backend(), "database ready");
    if args.demo {
        let empty = {
            let q = app
                .parse_lead_query(&[("limit".into(), "1".into())])
                .await
                .map_err(describe)?;
            app.list_leads(&Principal::system("demo"), &q)
                .await
                .map_err(describe)?
                .leads
                .is_empty()
        };
        if empty {
            let s = app.load_demo(args.demo_leads, 42).await.map_err(describe)?;
            tracing::info!(
                leads = s.leads,
                activities = s.activities,
                "demo data loaded"
            );
        }
        tracing::info!(
            "demo: sign in as {} with password {}",
            leadline_app::demo::DEMO_ADMIN,
            leadline_app::demo::DEMO_PASSWORD
        );
    } else if app.has_no_users().await.map_err(describe)? {
        tracing::warn!(
            "no users yet: create one with `leadline user create --email you@example.com --role admin`"
        );
    }
    // Idempotency keys are remembered for a day.
    {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                match app.purge_idempotency_keys().await {
                    Ok(n) if n > 0 => tracing::info!(purged = n, "old idempotency keys forgotten"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
                }
            }
        });
    }
    // Retention: what the policy says is past its time is erased or deleted, hourly.
    {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match app.run_retention(leadline_domain::time::now()).await {
                    Ok(r) if r.erased_leads + r.deleted_visits + r.deleted_rejected > 0 => {
                        tracing::info!(
                            erased_leads = r.erased_leads,
                            deleted_visits = r.deleted_visits,
                            deleted_rejected = r.deleted_rejected,
                            "retention ran"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retention run failed"),
                }
            }
        });
    }
    // SLA deadlines and task reminders: the sweeper runs every 30 seconds, so an alert is
    // raised at most that long after a deadline passes (see ARCHITECTURE.md).
    {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(30));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = app.sweep_sla(leadline_domain::time::now()).await {
                    tracing::warn!(error = %e, "SLA sweep failed");
                }
            }
        });
    }
    // Report roll-up: fold the changes the lead triggers queued (see ARCHITECTURE.md).
    {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(10));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = app.compact_report_rollup().await {
                    tracing::warn!(error = %e, "report roll-up compaction failed");
                }
            }
        });
    }
    // Aging as of each UTC midnight of the last three years, and of the last quarter's day
    // ends in the zones it was lately asked in, kept (all at once in one walk over the
    // leads, or the newest days one by one); any other moment is computed on first request
    // and kept.
    {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match app.keep_past_aging().await {
                    Ok(0) => {}
                    Ok(days) => tracing::info!(days, "aging report kept as of past midnights"),
                    Err(e) => {
                        tracing::warn!(error = %e, "keeping the aging report as of midnights failed")
                    }
                }
            }
        });
    }
    // Email: through the relay when one is configured; otherwise it waits in the outbox.
    match args.smtp_relay.clone().or_else(|| file.smtp_relay.clone()) {
        Some(relay) => {
            let from = args
                .mail_from
                .clone()
                .or_else(|| file.mail_from.clone())
                .unwrap_or_else(|| "Leadline <leadline@localhost>".into());
            let public = args.public_url.clone().or_else(|| file.public_url.clone());
            let mailer = leadline_app::mail::Mailer::new(&relay, &from, public.as_deref())
                .context("setting up outbound email")?;
            tracing::info!("outbound email through the configured SMTP relay");
            tokio::spawn(leadline_app::mail::run(app.clone(), mailer));
        }
        None => tracing::info!(
            "no SMTP relay configured: email stays in the outbox (Settings → Outbox)"
        ),
    }
    // Sequences: due enrollments advance every second.
    tokio::spawn(leadline_app::nurture::run::run(app.clone()));
    // Webhooks: the outbox is sent as soon as events are committed (see ARCHITECTURE.md).
    tokio::spawn(leadline_app::webhooks::delivery::run(app.clone()));
    // A training run a stop cut short is over; the weekly retraining below may start anew.
    app.fail_interrupted_training().await.map_err(describe)?;
    // Scores decay: every model is re-scored when its last full re-score is a day old.
    {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            let by = Principal::system("nightly re-score");
            loop {
                every.tick().await;
                match app.rescore_if_stale(&by, chrono::Duration::hours(24)).await {
                    Ok(jobs) => {
                        for j in jobs {
                            tracing::info!(model = %j.model_key, leads = j.done, changed = j.changed, "scores refreshed");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "re-score failed"),
                }
                // Outcomes keep arriving: a trained model learns from them weekly.
                match app.retrain_if_stale(&by, chrono::Duration::days(7)).await {
                    Ok(Some(m)) => tracing::info!(model_id = %m.id, "predictive model retrained"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "retraining failed"),
                }
            }
        });
    }
    // Imports a crash interrupted (here or in another process): one still marked running
    // is taken over once its heartbeat is a minute old, so look again every 15 s rather
    // than only at start. A failed job waits for a person to resume it.
    {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(15));
            loop {
                every.tick().await;
                if let Err(e) = resume_interrupted_imports(&app).await {
                    tracing::warn!(error = %e, "looking for interrupted imports failed");
                }
            }
        });
    }
    let addr = args
        .addr
        .or_else(|| file.addr.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}");
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        trigger.cancel();
    });
    if let Some(smtp) = args.smtp_addr.clone().or_else(|| file.smtp_addr.clone()) {
        let l = tokio::net::TcpListener::bind(&smtp)
            .await
            .with_context(|| format!("binding SMTP {smtp}"))?;
        tracing::info!("SMTP email-to-lead on {}", l.local_addr()?);
        tokio::spawn(leadline_web::smtp::serve_smtp(
            l,
            app.clone(),
            shutdown.clone(),
        ));
    }
    let state = leadline_web::AppState::new(
        app.clone(),
        leadline_web::WebConfig {
            secure_cookies: args.secure_cookies || file.secure_cookies.unwrap_or(false),
        },
    );
    leadline_web::serve(listener, state, shutdown).await?;
    app.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
