//! `leadline bench --only-reports`: every report of the dashboard at N leads (default
//! 1,000,000) with their stage history, deals for the converted ones and ten activities a
//! lead, each timed against one plain `COUNT(*)` of the leads table in the same run.

use crate::bench::{BenchArgs, analyze, bench_reps, ms};
use anyhow::Context;
use leadline_app::App;
use leadline_app::analytics::{REPORTS, ReportQuery};
use leadline_app::demo::LeadGenerator;
use leadline_domain::pipeline::Opportunity;
use leadline_domain::{Activity, Lead, Principal};
use leadline_store::{activities, history, leads, pipeline, sla};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Loads up to `args.leads` leads with history, deals and activities; prints the table.
pub async fn run(app: &App, args: &BenchArgs) -> anyhow::Result<()> {
    let existing = {
        let mut c = app.db.acquire().await?;
        leads::count(c.conn()).await? as usize
    };
    let to_load = args.leads.saturating_sub(existing);
    let reps = bench_reps(app).await?;
    let mut generator = LeadGenerator::new(13, reps.clone());
    let mut loaded = 0;
    let mut n_acts = 0usize;
    let t = Instant::now();
    while loaded < to_load {
        let n = (to_load - loaded).min(5000);
        let mut batch: Vec<Lead> = Vec::with_capacity(n);
        let mut acts: Vec<Activity> = Vec::new();
        let mut changes = Vec::new();
        let mut deals = Vec::new();
        for _ in 0..n {
            let (l, a, s) = generator.next_lead();
            // Ten activities a lead: the generator's timeline repeated a day earlier each time.
            let mut k = 0i64;
            while !a.is_empty() && acts.len() < (batch.len() + 1) * args.activities_per_lead {
                for x in &a {
                    let mut y = x.clone();
                    y.id = Uuid::now_v7();
                    y.occurred_at -= chrono::Duration::days(k);
                    acts.push(y);
                }
                k += 1;
            }
            if l.stage.as_str() == "converted" {
                deals.push(deal_for(&l, deals.len()));
            }
            changes.extend(s);
            batch.push(l);
        }
        n_acts += acts.len();
        let mut tx = app.db.begin().await?;
        leads::insert_many(tx.conn(), &batch).await?;
        activities::insert_many(tx.conn(), &acts).await?;
        history::record_stages(tx.conn(), &changes).await?;
        let clocks: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(i, l)| clock_for(l, i))
            .collect();
        sla::put_clocks(tx.conn(), &clocks).await?;
        for d in &deals {
            pipeline::insert_opportunity(tx.conn(), d).await?;
        }
        tx.commit().await?;
        loaded += n;
        if loaded % 100_000 < 5000 {
            eprintln!("  loaded {loaded}/{to_load}");
        }
    }
    // What the server's background compaction does every ten seconds.
    let fold = Instant::now();
    let folded = app
        .compact_report_rollup()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if folded > 0 {
        eprintln!(
            "  folded {folded} roll-up changes in {:.1} s",
            fold.elapsed().as_secs_f64()
        );
    }
    analyze(&app.db).await?;
    let load = t.elapsed();
    let (total_leads, total_acts) = {
        let mut c = app.db.acquire().await?;
        (
            leads::count(c.conn()).await?,
            activities::count_all(c.conn()).await?,
        )
    };
    println!(
        "Reports at {total_leads} leads and {total_acts} activities ({} loaded now: {to_load} leads, {n_acts} activities in {:.0} s)\n",
        format!("{:?}", app.db.backend()).to_lowercase(),
        load.as_secs_f64()
    );
    // Baseline: one plain count of the leads table, the cheapest full pass over it.
    let baseline = median(5, || async {
        let mut c = app.db.acquire().await?;
        leads::count(c.conn()).await?;
        Ok(())
    })
    .await?;
    let system = Principal::system("bench");
    let today = chrono::Utc::now().date_naive();
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut worst = Duration::ZERO;
    // A report as of 30 days ago, grouped `by` a dimension or not.
    let month_ago = |by: Option<&str>| {
        let label = by.map_or("as of 30 days ago".to_owned(), |d| {
            format!("by {d}, as of 30 days ago")
        });
        let q = ReportQuery {
            by: by.map(str::to_owned),
            as_of: Some(today - chrono::Duration::days(30)),
            ..Default::default()
        };
        (label, q)
    };
    for r in REPORTS {
        let mut variants = vec![("all time".to_owned(), ReportQuery::default())];
        if let Some(d) = r.dimensions.first() {
            variants.push((
                format!("last 90 days by {d}"),
                ReportQuery {
                    by: Some((*d).to_owned()),
                    from: Some(today - chrono::Duration::days(90)),
                    ..Default::default()
                },
            ));
        }
        if r.name == "funnel" {
            variants.push((
                "by owner, one campaign".into(),
                ReportQuery {
                    by: Some("owner".into()),
                    campaign: Some("brand-search".into()),
                    ..Default::default()
                },
            ));
            variants.push((
                "by source, in Europe/Berlin".into(),
                ReportQuery {
                    by: Some("source".into()),
                    tz: Some("Europe/Berlin".into()),
                    ..Default::default()
                },
            ));
            variants.push(month_ago(Some("source")));
            variants.push(month_ago(Some("owner")));
        } else {
            variants.push(month_ago(None));
        }
        if r.name == "quality" {
            variants.push(month_ago(Some("source")));
        }
        if r.name == "leads" {
            for (label, period, tz) in [
                ("by month, in Europe/Berlin", "month", "Europe/Berlin"),
                ("by day, in Europe/Berlin", "day", "Europe/Berlin"),
                ("by day, in America/New_York", "day", "America/New_York"),
            ] {
                variants.push((
                    label.into(),
                    ReportQuery {
                        tz: Some(tz.into()),
                        period: Some(period.into()),
                        ..Default::default()
                    },
                ));
            }
        }
        for (mut label, q) in variants {
            if r.name == "aging" && q.as_of.is_some() {
                // The past is computed on first request and kept: time both.
                leadline_store::aging::forget_kept(&app.db).await?;
                let t = Instant::now();
                app.report(&system, r.name, &q)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", r.name))?;
                let first = t.elapsed();
                rows.push(row(
                    format!("report aging ({label}, first request: computed)"),
                    first,
                    baseline,
                ));
                label.push_str(", kept");
            }
            let d = median(3, || async {
                app.report(&system, r.name, &q)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", r.name))?;
                Ok(())
            })
            .await?;
            worst = worst.max(d);
            rows.push(row(format!("report {} ({label})", r.name), d, baseline));
        }
    }
    // What `serve` does in the background: aging as of every UTC midnight of the last three
    // years, from nothing kept (one walk over every lead), then only the day just ended.
    let keep = || async {
        let t = Instant::now();
        let kept = app
            .keep_past_aging()
            .await
            .map_err(|e| anyhow::anyhow!("keeping aging: {e}"))?;
        anyhow::Ok((kept, t.elapsed()))
    };
    leadline_store::aging::forget_kept(&app.db).await?;
    let (kept, all) = keep().await?;
    rows.push(row(
        format!("keeping aging as of {kept} past midnights (in the background, from none)"),
        all,
        baseline,
    ));
    {
        let mut tx = app.db.begin().await?;
        leadline_store::aging::forget_newest_kept(tx.conn()).await?;
        tx.commit().await?;
    }
    let (kept, newest) = keep().await?;
    rows.push(row(
        format!("keeping aging as of {kept} past midnight (the day just ended)"),
        newest,
        baseline,
    ));
    println!("| scenario | median of 3 | baseline (same run) | ratio |");
    println!("|---|---|---|---|");
    for r in &rows {
        println!("| {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
    }
    println!(
        "\nslowest report: {:.0} ms (target: every dashboard query under 500 ms at 1,000,000 leads)",
        ms(worst)
    );
    Ok(())
}

/// A line of the table: a scenario, its time, the baseline and their ratio.
fn row(scenario: String, d: Duration, baseline: Duration) -> [String; 4] {
    [
        scenario,
        format!("{:.0} ms", ms(d)),
        format!("COUNT(*) of leads {:.0} ms", ms(baseline)),
        format!("{:.1}", ms(d) / ms(baseline).max(1e-3)),
    ]
}

/// A first-touch clock for a bench lead: four hours from its creation; three in five
/// touched in time, one late, one not yet (deadline passed, or ahead for the newest).
fn clock_for(l: &Lead, i: usize) -> sla::ClockRow {
    use leadline_domain::time::to_micros;
    const MINUTE: i64 = 60_000_000;
    let started = to_micros(l.created_at);
    let due = started + 240 * MINUTE;
    let now = to_micros(leadline_domain::time::now());
    let touched = match i % 5 {
        0..=2 => Some(started + (i as i64 % 200 + 5) * MINUTE),
        3 => Some(started + (i as i64 % 600 + 250) * MINUTE),
        _ => None,
    }
    .filter(|t| *t <= now);
    sla::ClockRow {
        lead_id: l.id,
        stage: l.stage.as_str().into(),
        target: "first_touch".into(),
        minutes: 240,
        started_at: started,
        warn_at: due - 30 * MINUTE,
        due_at: due,
        touched_at: touched,
        warned_at: None,
        breached_at: None,
        reassigned: 0,
    }
}

/// A deal for a converted bench lead: most won or lost, some open, two currencies.
fn deal_for(l: &Lead, i: usize) -> Opportunity {
    let created = l.updated_at;
    let now = leadline_domain::time::now();
    let (stage, probability, closed) = match i % 5 {
        0 | 1 => (
            "won",
            100,
            Some((created + chrono::Duration::days(20)).min(now)),
        ),
        2 => (
            "lost",
            0,
            Some((created + chrono::Duration::days(25)).min(now)),
        ),
        3 => ("proposal", 50, None),
        _ => ("qualification", 10, None),
    };
    Opportunity {
        id: Uuid::now_v7(),
        name: format!("Bench deal {i}"),
        account_id: None,
        contact_id: None,
        lead_id: Some(l.id),
        owner_id: l.fields.owner_id,
        amount: Some(500_000 + (i as i64 % 40) * 25_000),
        currency: Some(if i.is_multiple_of(7) { "EUR" } else { "USD" }.into()),
        close_date: Some((created + chrono::Duration::days(30)).date_naive()),
        stage: stage.into(),
        probability,
        reason: closed.map(|_| "other".into()),
        source: l.fields.first_touch.source.clone(),
        campaign: l.fields.first_touch.campaign.clone(),
        created_at: created,
        updated_at: closed.unwrap_or(created),
        closed_at: closed,
        version: 1,
    }
}

/// The median duration of `n` runs of `f`.
async fn median<F, Fut>(n: usize, f: F) -> anyhow::Result<Duration>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut d = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await.context("timed run")?;
        d.push(t.elapsed());
    }
    d.sort();
    Ok(d[d.len() / 2])
}
