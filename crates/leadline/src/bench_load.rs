//! `leadline bench --load SECONDS`: a load test on loopback. A `leadline serve` process on
//! the scratch database takes web-to-lead submissions and API reads (a list page, one
//! lead) from concurrent clients for the given time, after a baseline of the same clients
//! calling `/healthz` (the server's cost of a request that does nothing). Prints sustained
//! throughput, p50/p99 latency and errors per kind of request, throughput as a share of the
//! baseline, and the server's memory sampled every five seconds with its trend.

use crate::bench::{BenchArgs, Server, ms, percentile, rss_kib, start_server};
use anyhow::Context;
use leadline_app::App;
use leadline_domain::{Principal, Role};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The kinds of request in the mix, in turn.
const KINDS: [&str; 3] = [
    "web-to-lead POST /w2l",
    "API list GET /leads",
    "API read GET /leads/{id}",
];

/// One client's record: per kind, latencies of answered requests and the error count.
#[derive(Default)]
struct Tally {
    latencies: [Vec<Duration>; 3],
    errors: [u64; 3],
}

/// The figures of one run (also what the test of the short run reads).
#[derive(Debug, Default)]
pub struct LoadReport {
    pub requests: u64,
    pub errors: u64,
    pub rss_first_kib: u64,
    pub rss_last_kib: u64,
}

/// Runs the load test against a server on `url` (the scratch database, seeded by the
/// caller with `app`).
pub async fn run(
    app: &App,
    url: &str,
    args: &BenchArgs,
    seconds: u64,
) -> anyhow::Result<LoadReport> {
    let system = Principal::system("bench");
    let (_, key) = app
        .create_api_key(&system, "bench load", Role::Admin, None)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    // The per-address limit protects public forms; every client here is one address.
    let mut settings = app
        .capture_settings()
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    settings.submissions_per_ip_per_minute = 10_000_000;
    settings.submissions_per_form_per_minute = 10_000_000;
    app.set_capture_settings(&system, settings)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let ids: Vec<String> = {
        let mut c = app.db.acquire().await?;
        leadline_store::leads::page_by_id(c.conn(), None, 5_000)
            .await?
            .into_iter()
            .map(|l| l.id.to_string())
            .collect()
    };
    anyhow::ensure!(
        !ids.is_empty(),
        "the load test needs leads to read (--leads)"
    );
    let server = start_server(url).await?;
    let pid = server.child.id().context("the server's pid")?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    println!(
        "Load test: {} clients for {seconds} s against one server (web-to-lead : list : read = 1:1:1)\n",
        args.concurrency
    );

    // Baseline: the same clients on /healthz for a tenth of the time (at least 3 s).
    let base_secs = (seconds / 10).clamp(3, 30);
    let healthz = format!("{}/healthz", server.base);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, url, done, stop) =
            (client.clone(), healthz.clone(), done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(base_secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let base_rps = done.load(Ordering::Relaxed) as f64 / base_secs as f64;

    // The load.
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let ids = Arc::new(ids);
    let tallies: Vec<Arc<Mutex<Tally>>> = (0..args.concurrency)
        .map(|_| Arc::new(Mutex::new(Tally::default())))
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for tally in &tallies {
        let (client, stop, counter, ids, tally, key) = (
            client.clone(),
            stop.clone(),
            counter.clone(),
            ids.clone(),
            tally.clone(),
            key.clone(),
        );
        let base = server.base.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = tally.lock().await;
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let kind = (n % 3) as usize;
                let req = match kind {
                    0 => client.post(format!("{base}/w2l")).form(&[
                        ("first_name", format!("Load{n}")),
                        ("last_name", "Test".to_owned()),
                        ("email", format!("load{n}@load.example")),
                        ("company", format!("Load Co {}", n % 500)),
                        ("lead_source", "load-test".to_owned()),
                    ]),
                    1 => client
                        .get(format!("{base}/api/v1/leads?limit=50&sort=-created_at"))
                        .bearer_auth(&key),
                    _ => client
                        .get(format!(
                            "{base}/api/v1/leads/{}",
                            ids[(n as usize / 3) % ids.len()]
                        ))
                        .bearer_auth(&key),
                };
                let at = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        // Read the body: the client waits for the whole answer.
                        let _ = r.bytes().await;
                        t.latencies[kind].push(at.elapsed());
                    }
                    _ => t.errors[kind] += 1,
                }
            }
        }));
    }
    // Memory every five seconds while it runs.
    let mut samples: Vec<(u64, u64)> = Vec::new();
    let end = started + Duration::from_secs(seconds);
    let mut next = started;
    while Instant::now() < end {
        if Instant::now() >= next {
            samples.push((started.elapsed().as_secs(), rss_kib(pid).0));
            next += Duration::from_secs(5);
        }
        tokio::time::sleep(
            Duration::from_millis(100).min(end.saturating_duration_since(Instant::now())),
        )
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    samples.push((elapsed as u64, rss_kib(pid).0));
    report(&tallies, elapsed, base_rps, &samples, server).await
}

async fn report(
    tallies: &[Arc<Mutex<Tally>>],
    elapsed: f64,
    base_rps: f64,
    samples: &[(u64, u64)],
    server: Server,
) -> anyhow::Result<LoadReport> {
    let mut all: [Vec<Duration>; 3] = Default::default();
    let mut errors = [0u64; 3];
    for t in tallies {
        let t = t.lock().await;
        for k in 0..3 {
            all[k].extend_from_slice(&t.latencies[k]);
            errors[k] += t.errors[k];
        }
    }
    let mut out = LoadReport::default();
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "request", "answered", "per s", "p50 ms", "p99 ms", "errors"
    );
    let mut total_ok = 0u64;
    for k in 0..3 {
        all[k].sort();
        let n = all[k].len() as u64;
        total_ok += n;
        out.requests += n + errors[k];
        out.errors += errors[k];
        println!(
            "{:<28} {:>9} {:>9.0} {:>9.1} {:>9.1} {:>7}",
            KINDS[k],
            n,
            n as f64 / elapsed,
            ms(percentile(&all[k], 0.5)),
            ms(percentile(&all[k], 0.99)),
            errors[k]
        );
    }
    let rps = total_ok as f64 / elapsed;
    println!(
        "\nsustained: {rps:.0} requests/s over {elapsed:.0} s, error rate {:.3} %; baseline /healthz {base_rps:.0}/s (load = {:.2} × baseline)",
        100.0 * out.errors as f64 / out.requests.max(1) as f64,
        rps / base_rps.max(1.0)
    );
    // Memory: the first sample after a tenth of the run (warm caches, pools filled) against
    // the last, and the least-squares slope over the rest.
    let warm: Vec<(u64, u64)> = samples
        .iter()
        .copied()
        .filter(|(s, _)| *s as f64 >= elapsed / 10.0)
        .collect();
    let series: Vec<String> = samples
        .iter()
        .map(|(s, kib)| format!("{s}s:{}", kib / 1024))
        .collect();
    println!("server RSS (MiB) every 5 s: {}", series.join(" "));
    if let (Some(first), Some(last)) = (warm.first(), warm.last()) {
        out.rss_first_kib = first.1;
        out.rss_last_kib = last.1;
        let n = warm.len() as f64;
        let (sx, sy) = warm
            .iter()
            .fold((0.0, 0.0), |(a, b), (s, k)| (a + *s as f64, b + *k as f64));
        let (mx, my) = (sx / n, sy / n);
        let (num, den) = warm.iter().fold((0.0, 0.0), |(a, b), (s, k)| {
            let dx = *s as f64 - mx;
            (a + dx * (*k as f64 - my), b + dx * dx)
        });
        let slope_mib_per_min = if den > 0.0 {
            num / den * 60.0 / 1024.0
        } else {
            0.0
        };
        println!(
            "after warm-up: {} MiB → {} MiB ({:+.1} %), trend {slope_mib_per_min:+.2} MiB/min",
            first.1 / 1024,
            last.1 / 1024,
            100.0 * (last.1 as f64 - first.1 as f64) / first.1.max(1) as f64
        );
    }
    drop(server);
    Ok(out)
}
