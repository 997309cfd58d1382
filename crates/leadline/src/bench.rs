//! `leadline bench`: speed and memory, each figure next to a baseline measured in the same
//! run on the same database, so the ratios mean something on a shared, noisy machine.
//!
//! Scenarios:
//! - writes: leads created through `POST /api/v1/leads` at concurrency C, against the bare
//!   store insert of the same rows at the same concurrency;
//! - bulk load of N leads (default 1,000,000), rows per second;
//! - list/filter/paginate over HTTP at N leads (p50/p95), each against the same query run
//!   directly on the store;
//! - CSV import of M rows (a tenth of them already leads) with duplicate checks against
//!   the N leads, against the raw batched insert of as many leads into the same table;
//! - full re-scores of every lead (first and unchanged), against one plain read of every lead;
//! - a duplicate scan over all leads (filing every lead under its matching keys, comparing
//!   leads that share one), against one plain read of every lead in the same pages; and
//!   precision/recall of matching on the labelled set of realistic variations;
//! - capture → scored → routed at N leads: leads captured one by one through
//!   `POST /api/v1/capture` with a round-robin rule in force, each checked to come back
//!   owned, latency p50/p99 against a bare single-row insert (target: p99 < 1 s);
//! - the server's resident memory after all of it;
//! - with `--only-reports`, instead of all that: every dashboard report at N leads with ten
//!   activities each (see `bench_reports`).

use crate::cli::DbArgs;
use anyhow::{Context, bail};
use clap::Args;
use leadline_app::demo::LeadGenerator;
use leadline_app::{App, AppConfig};
use leadline_domain::{Lead, Principal, Role};
use leadline_store::{Db, leads};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Benchmark settings.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Leads in the table for the list scenarios.
    #[arg(long, default_value_t = 1_000_000)]
    pub leads: usize,
    /// Leads created in the write scenario (each way).
    #[arg(long, default_value_t = 4000)]
    pub writes: usize,
    /// Concurrent clients in the write scenario.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Requests per list scenario.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// Rows in the CSV import scenario (and in its raw-insert baseline).
    #[arg(long, default_value_t = 50_000)]
    pub import_rows: usize,
    /// Leave out the duplicate scan over all leads (minutes at 1,000,000 leads).
    #[arg(long)]
    pub no_dedupe: bool,
    /// Keep the SQLite benchmark database in this folder and reuse it next time (the load
    /// only tops up to --leads), instead of a temporary one.
    #[arg(long)]
    pub keep_dir: Option<std::path::PathBuf>,
    /// On PostgreSQL: keep the benchmark database under this name and reuse it next time
    /// (the load only tops up to --leads), instead of a new one dropped afterwards.
    #[arg(long)]
    pub keep_database: Option<String>,
    /// Only the reports: load --leads leads with their history, deals and
    /// --activities-per-lead activities, then time every dashboard report.
    #[arg(long)]
    pub only_reports: bool,
    /// Activities a lead in the reports benchmark (10 → 10,000,000 at 1,000,000 leads).
    #[arg(long, default_value_t = 10)]
    pub activities_per_lead: usize,
    /// Only the load test: --leads leads, then web-to-lead submissions and API reads from
    /// --concurrency clients for this many seconds (600 for the documented run).
    #[arg(long, value_name = "SECONDS")]
    pub load: Option<u64>,
}

struct Scratch {
    url: String,
    admin_url: Option<String>,
    name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// A database only the benchmark uses: a temporary SQLite file, or a new database on the
/// PostgreSQL server named by `--database-url` (dropped afterwards).
async fn scratch(
    db: &DbArgs,
    keep: Option<&std::path::Path>,
    keep_database: Option<&str>,
) -> anyhow::Result<Scratch> {
    match &db.database_url {
        Some(u) if u.starts_with("postgres") => {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(u)
                .await
                .context("connecting to PostgreSQL")?;
            let name = match keep_database {
                Some(k) => {
                    anyhow::ensure!(
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "--keep-database takes letters, digits and underscores"
                    );
                    k.to_owned()
                }
                None => format!("leadline_bench_{}", uuid::Uuid::now_v7().simple()),
            };
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut admin)
                    .await?;
            if !exists {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await?;
            }
            let base = u.rsplit_once('/').map_or(u.as_str(), |(b, _)| b);
            Ok(Scratch {
                url: format!("{base}/{name}"),
                admin_url: Some(u.clone()),
                // A kept database is not dropped.
                name: keep_database.is_none().then_some(name),
                _dir: None,
            })
        }
        _ if keep.is_some() => {
            let dir = keep.unwrap_or(std::path::Path::new("."));
            std::fs::create_dir_all(dir)?;
            let url = format!("sqlite://{}", dir.join("bench.db").display());
            Ok(Scratch {
                url,
                admin_url: None,
                name: None,
                _dir: None,
            })
        }
        _ => {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            Ok(Scratch {
                url,
                admin_url: None,
                name: None,
                _dir: Some(dir),
            })
        }
    }
}

async fn drop_scratch(s: &Scratch) {
    if let (Some(admin), Some(name)) = (&s.admin_url, &s.name) {
        use sqlx::Connection;
        if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut c)
            .await;
        }
    }
}

pub(crate) struct Server {
    pub(crate) child: tokio::process::Child,
    pub(crate) base: String,
}

pub(crate) async fn start_server(url: &str) -> anyhow::Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let exe = std::env::current_exe()?;
    let child = tokio::process::Command::new(exe)
        .args([
            "serve",
            "--database-url",
            url,
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .env("LEADLINE_LOG", "error")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the server")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(Server { child, base });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not become ready")
}

pub(crate) fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn body_of(l: &Lead) -> serde_json::Value {
    let mut v = serde_json::to_value(&l.fields).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.remove("owner_id");
        m.remove("custom");
    }
    v
}

/// Runs every scenario and prints the table.
pub async fn run(db: &DbArgs, args: BenchArgs) -> anyhow::Result<()> {
    let scratch = scratch(db, args.keep_dir.as_deref(), args.keep_database.as_deref()).await?;
    let result = run_on(&scratch, &args).await;
    drop_scratch(&scratch).await;
    result
}

async fn run_on(scratch: &Scratch, args: &BenchArgs) -> anyhow::Result<()> {
    let app = App::open(&scratch.url, AppConfig::default()).await?;
    if args.only_reports {
        return crate::bench_reports::run(&app, args).await;
    }
    if let Some(seconds) = args.load {
        top_up(&app, args.leads).await?;
        analyze(&app.db).await?;
        let r = crate::bench_load::run(&app, &scratch.url, args, seconds).await?;
        anyhow::ensure!(r.requests > 0, "no request was answered");
        return Ok(());
    }
    let backend = format!("{:?}", app.db.backend()).to_lowercase();
    println!(
        "Leadline benchmark on {backend} ({} leads, {} writes at concurrency {}, {} samples per list query)\n",
        args.leads, args.writes, args.concurrency, args.samples
    );
    let system = Principal::system("bench");
    let (_, key) = app
        .create_api_key(
            &system,
            &format!("bench {}", uuid::Uuid::now_v7()),
            Role::Admin,
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut rows: Vec<[String; 4]> = Vec::new();

    // Writes: the store's bare insert, then the API, same rows shape, same concurrency.
    let mut generator = LeadGenerator::new(7, Vec::new());
    let make =
        |g: &mut LeadGenerator, n: usize| (0..n).map(|_| g.next_lead().0).collect::<Vec<_>>();
    let bare_leads = Arc::new(make(&mut generator, args.writes));
    let t = Instant::now();
    run_concurrently(args.concurrency, bare_leads.len(), {
        let db = app.db.clone();
        let leads = bare_leads.clone();
        move |i| {
            let db = db.clone();
            let lead = leads[i].clone();
            async move {
                let mut tx = db.begin().await?;
                leads::insert(tx.conn(), &lead).await?;
                tx.commit().await?;
                anyhow::Ok(())
            }
        }
    })
    .await?;
    let bare_rate = args.writes as f64 / t.elapsed().as_secs_f64();

    let server = start_server(&scratch.url).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let api_bodies: Arc<Vec<serde_json::Value>> = Arc::new(
        make(&mut generator, args.writes)
            .iter()
            .map(body_of)
            .collect(),
    );
    let t = Instant::now();
    run_concurrently(args.concurrency, api_bodies.len(), {
        let client = client.clone();
        let bodies = api_bodies.clone();
        let url = format!("{}/api/v1/leads", server.base);
        let key = key.clone();
        move |i| {
            let client = client.clone();
            let body = bodies[i].clone();
            let url = url.clone();
            let key = key.clone();
            async move {
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await?;
                if r.status() != reqwest::StatusCode::CREATED {
                    bail!(
                        "create failed: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
                anyhow::Ok(())
            }
        }
    })
    .await?;
    let api_rate = args.writes as f64 / t.elapsed().as_secs_f64();
    rows.push([
        format!("create lead, API, concurrency {}", args.concurrency),
        format!("{api_rate:.0} leads/s"),
        format!("bare insert {bare_rate:.0} rows/s"),
        format!("{:.2}", api_rate / bare_rate),
    ]);

    // Bulk load to N leads.
    let existing = {
        let mut c = app.db.acquire().await?;
        leads::count(c.conn()).await? as usize
    };
    let t = Instant::now();
    let (to_load, activities_loaded) = top_up(&app, args.leads).await?;
    let reps = bench_reps(&app).await?;
    let load_secs = t.elapsed().as_secs_f64();
    analyze(&app.db).await?;
    rows.push(if to_load == 0 {
        [
            format!("bulk load to {} leads", args.leads),
            format!("skipped: {existing} leads already there"),
            "—".into(),
            "—".into(),
        ]
    } else {
        [
            format!(
                "bulk load to {} leads (with {activities_loaded} activities)",
                args.leads
            ),
            format!("{:.0} leads/s", to_load as f64 / load_secs.max(1e-9)),
            format!("{load_secs:.1} s for {to_load} leads"),
            "—".into(),
        ]
    });

    // Lists: HTTP p50/p95 vs the same query on the store.
    let rep = reps.first().map(|r| r.to_string()).unwrap_or_default();
    // A needle with a handful of matches (one lead's email), beside a common one.
    let rare = {
        let q = app
            .parse_lead_query(&[("sort".into(), "name".into()), ("limit".into(), "1".into())])
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        let mut c = app.db.acquire().await?;
        let page = leads::list(c.conn(), &q, leads::Visibility::All, None).await?;
        page.leads
            .first()
            .and_then(|l| l.fields.email.clone())
            .unwrap_or_else(|| "nobody@example.com".into())
    };
    let rare_q: String = form_urlencoded_q(&rare);
    let scenarios: Vec<(&str, String)> = vec![
        ("newest first (default)", String::new()),
        ("stage = mql", "stage=mql".into()),
        ("owner = one rep", format!("owner={rep}")),
        ("score ≥ 80, by score", "score_min=80&sort=-score".into()),
        ("source + stage", "source=linkedin&stage=new".into()),
        ("search 'smith' (common)", "q=smith".into()),
        ("search one email (rare)", rare_q),
        (
            "custom field = value",
            "custom.product_interest=Scoring".into(),
        ),
        ("sorted by name", "sort=name".into()),
    ];
    app.ensure_demo_fields()
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut worst_p95 = Duration::ZERO;
    for (label, qs) in &scenarios {
        let (http_p50, http_p95, cursor) =
            time_http(&client, &server.base, &key, qs, args.samples).await?;
        let (store_p50, store_p95) = time_store(&app, qs, args.samples).await?;
        worst_p95 = worst_p95.max(http_p95);
        rows.push([
            format!("list: {label}"),
            format!("p50 {:.1} ms, p95 {:.1} ms", ms(http_p50), ms(http_p95)),
            format!(
                "store p50 {:.1} ms, p95 {:.1} ms",
                ms(store_p50),
                ms(store_p95)
            ),
            format!("{:.2}", ms(http_p95) / ms(store_p95).max(1e-3)),
        ]);
        // Deep pagination: the 10th page through cursors.
        if qs.is_empty() && cursor.is_some() {
            let (p50, p95) =
                time_deep_page(&client, &server.base, &key, args.samples.min(50)).await?;
            worst_p95 = worst_p95.max(p95);
            rows.push([
                "list: page 10 via cursor".into(),
                format!("p50 {:.1} ms, p95 {:.1} ms", ms(p50), ms(p95)),
                format!("page 1 p95 {:.1} ms", ms(http_p95)),
                format!("{:.2}", ms(p95) / ms(http_p95).max(1e-3)),
            ]);
        }
    }
    // Import with dedupe against N leads vs the raw batched insert of as many rows; after
    // the lists, so they measure the same N leads as always.
    rows.extend(bench_import(&app, args.import_rows, &reps).await?);
    // The lists most sensitive to a large import of similar rows, measured again.
    for (label, qs) in [
        ("source + stage", "source=linkedin&stage=new"),
        ("stage = mql", "stage=mql"),
    ] {
        let (p50, p95, _) = time_http(&client, &server.base, &key, qs, args.samples).await?;
        worst_p95 = worst_p95.max(p95);
        rows.push([
            format!("list after the import: {label}"),
            format!("p50 {:.1} ms, p95 {:.1} ms", ms(p50), ms(p95)),
            "—".into(),
            "—".into(),
        ]);
    }
    rows.extend(bench_rescore(&app).await?);
    if !args.no_dedupe {
        rows.extend(bench_dedupe(&app).await?);
    }
    let routed = bench_capture_routed(
        &app,
        &client,
        &server.base,
        &key,
        &reps,
        args.samples.max(300),
    )
    .await?;
    let routed_p99 = routed.1;
    rows.push(routed.0);
    let (health_p50, health_p95, _) = time_http_path(
        &client,
        &format!("{}/healthz", server.base),
        None,
        args.samples,
    )
    .await?;
    rows.push([
        "GET /healthz (HTTP floor)".into(),
        format!("p50 {:.2} ms, p95 {:.2} ms", ms(health_p50), ms(health_p95)),
        "—".into(),
        "—".into(),
    ]);
    let pid = server.child.id().unwrap_or(0);
    let (rss, hwm) = rss_kib(pid);
    rows.push([
        format!("server memory at {} leads", args.leads),
        format!("RSS {:.0} MiB", rss as f64 / 1024.0),
        format!("peak {:.0} MiB", hwm as f64 / 1024.0),
        format!("{:.2} of 300 MiB target", rss as f64 / 1024.0 / 300.0),
    ]);
    drop(server);

    println!("| scenario | measured | baseline (same run) | ratio |");
    println!("|---|---|---|---|");
    for r in &rows {
        println!("| {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
    }
    println!(
        "\ntargets: capture → routed p99 < 1 s → {:.1} ms ({})",
        ms(routed_p99),
        if routed_p99 < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "targets: list p95 < 50 ms → worst {:.1} ms ({}); RSS < 300 MiB → {:.0} MiB ({})",
        ms(worst_p95),
        if worst_p95 < Duration::from_millis(50) {
            "met"
        } else {
            "NOT met"
        },
        rss as f64 / 1024.0,
        if rss < 300 * 1024 { "met" } else { "NOT met" }
    );
    app.db.close().await;
    Ok(())
}

/// Event-driven distribution at full size: with a round-robin rule in force, leads are
/// captured one after another through `POST /api/v1/capture` (identity lookup, quality,
/// scoring, routing, SLA clock, all before the response); each must come back owned.
/// Latency p50/p99 against a bare single-row insert at the same size.
async fn bench_capture_routed(
    app: &App,
    client: &reqwest::Client,
    base: &str,
    key: &str,
    reps: &[uuid::Uuid],
    samples: usize,
) -> anyhow::Result<([String; 4], Duration)> {
    let system = Principal::system("bench");
    let team = app
        .create_team(
            &system,
            leadline_app::admin::TeamInput {
                name: format!("Bench {}", uuid::Uuid::now_v7()),
                members: reps.to_vec(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let rules = leadline_domain::routing::RoutingRules {
        rules: vec![leadline_domain::routing::RoutingRule {
            id: "all".into(),
            name: "Everyone".into(),
            conditions: vec![],
            target: leadline_domain::routing::Target::Team {
                team_id: team.id,
                method: leadline_domain::routing::Method::RoundRobin,
            },
        }],
        ..Default::default()
    };
    app.save_routing_version(&system, rules, Some("bench".into()), true)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut generator = LeadGenerator::new(23, Vec::new());
    let url = format!("{base}/api/v1/capture");
    let mut took = Vec::with_capacity(samples);
    let mut ids = Vec::with_capacity(samples);
    for i in 0..samples {
        let mut body = body_of(&generator.next_lead().0);
        // Unique identities, so every capture creates (the slow path) rather than folds in.
        body["email"] = serde_json::json!(format!(
            "routed{i}.{}@bench-route.example",
            uuid::Uuid::now_v7().simple()
        ));
        if let Some(o) = body.as_object_mut() {
            // Unrouted leads only: no team queue either.
            o.remove("team_id");
        }
        let t = Instant::now();
        let r = client
            .post(&url)
            .bearer_auth(key)
            .json(&serde_json::json!({ "lead": body }))
            .send()
            .await?;
        let status = r.status();
        let v: serde_json::Value = r.json().await?;
        took.push(t.elapsed());
        if !status.is_success() {
            bail!("capture failed: {status} {v}");
        }
        let id: uuid::Uuid = v["lead_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("capture answered without a lead id: {v}"))?;
        ids.push(id);
    }
    let mut unrouted = 0;
    {
        let mut c = app.db.acquire().await?;
        for id in &ids {
            let l = leads::get(c.conn(), *id).await?;
            if l.and_then(|l| l.fields.owner_id).is_none() {
                unrouted += 1;
            }
        }
    }
    if unrouted > 0 {
        bail!("{unrouted} of {samples} captured leads were not routed");
    }
    // The baseline: a bare single-row insert, one after another, at the same size.
    let mut bare = Vec::with_capacity(samples);
    for _ in 0..samples {
        let lead = generator.next_lead().0;
        let t = Instant::now();
        let mut tx = app.db.begin().await?;
        leads::insert(tx.conn(), &lead).await?;
        tx.commit().await?;
        bare.push(t.elapsed());
    }
    took.sort();
    bare.sort();
    let p99 = percentile(&took, 0.99);
    Ok((
        [
            format!("capture → scored → routed (API, {samples} one by one)"),
            format!(
                "p50 {:.1} ms, p99 {:.1} ms, all routed",
                ms(percentile(&took, 0.5)),
                ms(p99)
            ),
            format!("bare insert p99 {:.1} ms", ms(percentile(&bare, 0.99))),
            format!("{:.2}", ms(p99) / ms(percentile(&bare, 0.99)).max(1e-3)),
        ],
        p99,
    ))
}

pub(crate) async fn bench_reps(app: &App) -> anyhow::Result<Vec<uuid::Uuid>> {
    let system = Principal::system("bench");
    let mut reps = Vec::new();
    for i in 0..8 {
        let email = format!("rep{i}@bench.leadline.test");
        let existing = app
            .list_users()
            .await
            .map_err(|e| anyhow::anyhow!(e))?
            .into_iter()
            .find(|u| u.email == email);
        let u = match existing {
            Some(u) => u,
            None => app
                .create_user(
                    &system,
                    leadline_app::admin::NewUser {
                        email,
                        name: format!("Rep {i}"),
                        role: Role::Rep,
                        password: None,
                        sees_all_leads: false,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!(e))?,
        };
        reps.push(u.id);
    }
    Ok(reps)
}

/// Loads generated leads with their timelines (page views, emails, forms…) until the table
/// holds `target`, so re-scoring and reads see what a real database holds. Returns the
/// leads and activities added.
pub(crate) async fn top_up(app: &App, target: usize) -> anyhow::Result<(usize, usize)> {
    let existing = {
        let mut c = app.db.acquire().await?;
        leads::count(c.conn()).await? as usize
    };
    let to_load = target.saturating_sub(existing);
    let reps = bench_reps(app).await?;
    let mut generator = LeadGenerator::new(11, reps.clone());
    let mut loaded = 0;
    let mut activities_loaded = 0usize;
    while loaded < to_load {
        let n = (to_load - loaded).min(5000);
        let (batch, acts): (Vec<Lead>, Vec<Vec<leadline_domain::Activity>>) = (0..n)
            .map(|_| {
                let (l, a, _) = generator.next_lead();
                (l, a)
            })
            .unzip();
        let acts: Vec<leadline_domain::Activity> = acts.into_iter().flatten().collect();
        activities_loaded += acts.len();
        let mut tx = app.db.begin().await?;
        leads::insert_many(tx.conn(), &batch).await?;
        leadline_store::activities::insert_many(tx.conn(), &acts).await?;
        tx.commit().await?;
        loaded += n;
        if loaded % 100_000 < 5000 {
            eprintln!("  loaded {loaded}/{to_load}");
        }
    }
    Ok((to_load, activities_loaded))
}

/// Refreshes the planner's statistics after the bulk load, as an operator would; on
/// PostgreSQL also vacuums, as autovacuum does after a bulk load (the load updates each
/// lead after inserting it, and index-only scans need the visibility map).
pub(crate) async fn analyze(db: &Db) -> anyhow::Result<()> {
    let mut c = db.acquire().await?;
    match c.conn() {
        leadline_store::Conn::Sqlite(c) => {
            sqlx::query("ANALYZE").execute(&mut *c).await?;
        }
        leadline_store::Conn::Postgres(c) => {
            sqlx::query("VACUUM (ANALYZE)").execute(&mut *c).await?;
        }
    }
    Ok(())
}

async fn run_concurrently<F, Fut>(concurrency: usize, n: usize, f: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let next = next.clone();
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                f(i).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

async fn time_http_path(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    samples: usize,
) -> anyhow::Result<(Duration, Duration, Option<String>)> {
    let mut times = Vec::with_capacity(samples);
    let mut cursor = None;
    for _ in 0..samples {
        let mut req = client.get(url);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let t = Instant::now();
        let r = req.send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        times.push(t.elapsed());
        if !status.is_success() {
            bail!(
                "GET {url} failed: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
        if key.is_some() && cursor.is_none() {
            cursor = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["next_cursor"].as_str().map(str::to_owned));
        }
    }
    times.sort();
    Ok((percentile(&times, 0.5), percentile(&times, 0.95), cursor))
}

async fn time_http(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    qs: &str,
    samples: usize,
) -> anyhow::Result<(Duration, Duration, Option<String>)> {
    time_http_path(
        client,
        &format!("{base}/api/v1/leads?{qs}"),
        Some(key),
        samples,
    )
    .await
}

async fn time_deep_page(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    samples: usize,
) -> anyhow::Result<(Duration, Duration)> {
    // Walk to page 10 once, then time fetching page 10 repeatedly.
    let mut url = format!("{base}/api/v1/leads");
    for _ in 0..9 {
        let v: serde_json::Value = client
            .get(&url)
            .bearer_auth(key)
            .send()
            .await?
            .json()
            .await?;
        let Some(c) = v["next_cursor"].as_str() else {
            break;
        };
        url = format!("{base}/api/v1/leads?cursor={c}");
    }
    let (p50, p95, _) = time_http_path(client, &url, Some(key), samples).await?;
    Ok((p50, p95))
}

async fn time_store(app: &App, qs: &str, samples: usize) -> anyhow::Result<(Duration, Duration)> {
    let pairs = leadline_app::views::url_pairs(qs);
    let q = app
        .parse_lead_query(&pairs)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let mut c = app.db.acquire().await?;
        leads::list(c.conn(), &q, leads::Visibility::All, None).await?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok((percentile(&times, 0.5), percentile(&times, 0.95)))
}

fn form_urlencoded_q(needle: &str) -> String {
    let encoded: String = needle
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("q={encoded}")
}

/// Imports `n` generated rows (every tenth an existing lead's email) through the import
/// job, after timing the raw batched insert of `n` leads with the same fields into the
/// same table.
async fn bench_import(
    app: &App,
    n: usize,
    reps: &[uuid::Uuid],
) -> anyhow::Result<Vec<[String; 4]>> {
    // Existing emails: the first leads of the bulk load (same seed, same sequence).
    let mut existing = LeadGenerator::new(11, reps.to_vec());
    let mut fresh = LeadGenerator::new(29, Vec::new());
    let columns = [
        "Email",
        "First Name",
        "Last Name",
        "Company",
        "Title",
        "Phone",
        "City",
        "Country",
        "Lead Source",
    ];
    let mut records: Vec<[String; 9]> = Vec::with_capacity(n);
    for i in 0..n {
        let l = if i % 10 == 0 {
            existing.next_lead().0
        } else {
            fresh.next_lead().0
        };
        let f = &l.fields;
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        records.push([
            o(&f.email),
            o(&f.first_name),
            o(&f.last_name),
            o(&f.company),
            o(&f.title),
            o(&f.phone),
            o(&f.city),
            o(&f.country),
            "Trade show".into(),
        ]);
    }
    // Baseline: the same rows as leads, straight into the table in batches of the same size.
    let t0 = chrono::Utc::now();
    let raw: Vec<Lead> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let touch = leadline_domain::Touch {
                source: Some(r[8].clone()),
                ..Default::default()
            };
            let opt = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
            Lead {
                id: uuid::Uuid::now_v7(),
                fields: leadline_domain::LeadFields {
                    email: opt(&r[0].replacen('@', &format!(".raw{i}@"), 1)),
                    first_name: opt(&r[1]),
                    last_name: opt(&r[2]),
                    company: opt(&r[3]),
                    title: opt(&r[4]),
                    phone: opt(&r[5]),
                    city: opt(&r[6]),
                    country: opt(&r[7]),
                    first_touch: touch.clone(),
                    last_touch: touch,
                    ..Default::default()
                },
                stage: leadline_domain::Stage::New,
                disqualify_reason: None,
                score: 0,
                grade: None,
                created_at: t0,
                updated_at: t0,
                version: 1,
            }
        })
        .collect();
    // Half the baseline before the import and half after, so neither side alone pays for
    // what the other left behind (index pending lists, autovacuum, checkpoints).
    let batch = leadline_app::capture::import::batch_rows(app.db.backend());
    let raw_insert = |rows: Vec<Lead>| {
        let db = app.db.clone();
        async move {
            let t = Instant::now();
            for chunk in rows.chunks(batch) {
                let mut tx = db.begin().await?;
                leads::insert_many(tx.conn(), chunk).await?;
                tx.commit().await?;
            }
            anyhow::Ok(t.elapsed())
        }
    };
    let mut raw = raw;
    let second_half = raw.split_off(n / 2);
    let mut raw_time = raw_insert(raw).await?;

    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns)?;
    for (i, r) in records.iter().enumerate() {
        let mut r = r.clone();
        // Generated emails repeat now and then; only the planted tenth should match.
        if i % 10 != 0 {
            r[0] = r[0].replacen('@', &format!(".imp{i}@"), 1);
        }
        w.write_record(&r)?;
    }
    let bytes = w.into_inner()?;
    let system = Principal::system("bench");
    let t = Instant::now();
    let job = app
        .create_import(&system, "bench.csv", &bytes, Default::default())
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let done = app
        .run_import(job.id, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!(e))?
        .context("the import job was taken by another runner")?;
    let import_rate = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let verified = app
        .verify_unchecked(done.created_at)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let verify_rate = verified as f64 / t.elapsed().as_secs_f64();
    raw_time += raw_insert(second_half).await?;
    let raw_rate = n as f64 / raw_time.as_secs_f64();
    Ok(vec![
        [
            format!(
                "CSV import of {n} rows ({} new, {} already leads: skipped)",
                done.created, done.skipped
            ),
            format!("{import_rate:.0} rows/s"),
            format!("raw batched insert {raw_rate:.0} rows/s ({batch} per transaction)"),
            format!("{:.2} (target ≥ 0.50)", import_rate / raw_rate),
        ],
        [
            format!("verification of the {verified} imported leads, after the import"),
            format!("{verify_rate:.0} leads/s"),
            format!("raw batched insert {raw_rate:.0} rows/s"),
            format!("{:.2}", verify_rate / raw_rate),
        ],
    ])
}

/// The baseline of the scan scenarios: one plain read of every lead, by pages of 2,000 in
/// id order. Returns the leads read and the seconds it took.
async fn read_every_lead(app: &App) -> anyhow::Result<(usize, f64)> {
    let t = Instant::now();
    let mut after = None;
    let mut read = 0usize;
    loop {
        let mut c = app.db.acquire().await?;
        let page = leads::page_by_id(c.conn(), after, 2_000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        read += page.len();
    }
    Ok((read, t.elapsed().as_secs_f64()))
}

/// Full re-scores of every lead under the default model (the first writes every score and
/// moves leads across thresholds, the second finds nothing changed, the third follows a rule
/// change: every score row written again) against one plain read of every lead.
async fn bench_rescore(app: &App) -> anyhow::Result<Vec<[String; 4]>> {
    let (read, read_secs) = read_every_lead(app).await?;
    let by = Principal::system("bench");
    let mut out = Vec::new();
    for label in ["first", "again", "rule change"] {
        if label == "rule change" {
            // What an admin's edit does: a new version in force, so every score row is
            // written again (with its new version), whatever its value.
            let mut def = app
                .default_scoring_model()
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            if let Some(r) = def.behaviour.first_mut() {
                r.points += 1;
            }
            let v = app
                .save_scoring_version(&by, "default", def, Some("bench".into()))
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            app.put_scoring_version_in_force(&by, "default", v.version)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
        }
        eprintln!("  re-score ({label}) of {read} leads");
        let t = Instant::now();
        let job = app
            .rescore_all(&by, "default", |_| {})
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        let secs = t.elapsed().as_secs_f64();
        out.push([
            format!("full re-score ({label}), {} leads", job.done),
            format!(
                "{secs:.1} s ({:.0} leads/s, {} changed)",
                job.done as f64 / secs.max(1e-9),
                job.changed
            ),
            format!("read every lead {read_secs:.1} s"),
            format!("{:.2} (target: under 30 s)", secs / read_secs.max(1e-9)),
        ]);
    }
    Ok(out)
}

/// The duplicate scan over every lead against one plain read of every lead, and matching's
/// precision and recall on the labelled set.
async fn bench_dedupe(app: &App) -> anyhow::Result<Vec<[String; 4]>> {
    let (read, read_secs) = read_every_lead(app).await?;
    eprintln!("  duplicate scan over {read} leads");
    let t = Instant::now();
    let r = app
        .find_duplicates(&Principal::system("bench"), 0.75, true, |n| {
            if n % 200_000 == 0 {
                eprintln!("  filed {n} leads");
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let scan_secs = t.elapsed().as_secs_f64();
    let set = leadline_domain::quality::labelled::pairs(3_000, 7);
    let e = leadline_domain::quality::labelled::evaluate(&set, 0.75, Some("DE"));
    Ok(vec![
        [
            format!("duplicate scan, {} leads", r.leads_scanned),
            format!(
                "{scan_secs:.1} s ({} pairs compared, {} likely duplicates)",
                r.candidate_pairs, r.pairs_found
            ),
            format!("read every lead {read_secs:.1} s"),
            format!("{:.1}", scan_secs / read_secs.max(1e-9)),
        ],
        [
            format!("matching on {} labelled pairs", e.pairs),
            format!("precision {:.3}, recall {:.3}", e.precision(), e.recall()),
            "—".into(),
            "—".into(),
        ],
    ])
}
