//! Scale-out, proven: three `leadline serve` processes on one PostgreSQL database, clients
//! rotating between them, capture leads concurrently — every address sent twice, to two
//! different servers at once — while their workers route the leads round robin, deliver
//! webhooks and run a sequence through a real SMTP server. Afterwards: one lead per address,
//! one assignment per lead, a fair round robin (no rep more than one lead ahead), every
//! event delivered exactly once and every sequence message sent exactly once.
//!
//! PostgreSQL only: an SQLite database belongs to one process (see README, *Running more
//! than one server*).

mod common;

use common::hooks::{Receiver, allow_loopback, endpoint};
use common::nurture::enroll;
use leadline_app::admin::TeamInput;
use leadline_domain::routing::{Method, RoutingRule, RoutingRules, Target};
use leadline_domain::{Principal, Role};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SERVERS: usize = 3;
const PEOPLE: usize = 240;
const REPS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_one_postgres_do_every_job_once() {
    let Some(t) = common::apps()
        .await
        .into_iter()
        .find(|t| t.name == "postgres")
    else {
        return; // LEADLINE_SKIP_PG=1 (refused in CI)
    };
    let admin = Principal::system("scale-out test");
    // Four reps in one team, round robin.
    let mut reps = Vec::new();
    for i in 0..REPS {
        reps.push(
            t.user_with_key(&format!("rep{i}@scale.example"), Role::Rep)
                .await
                .0,
        );
    }
    let team = t
        .app
        .create_team(
            &admin,
            TeamInput {
                name: "Inside".into(),
                members: reps.clone(),
            },
        )
        .await
        .unwrap();
    t.app
        .save_routing_version(
            &admin,
            RoutingRules {
                rules: vec![RoutingRule {
                    id: "all".into(),
                    name: "Everyone".into(),
                    conditions: vec![],
                    target: Target::Team {
                        team_id: team.id,
                        method: Method::RoundRobin,
                    },
                }],
                ..RoutingRules::default()
            },
            None,
            true,
        )
        .await
        .unwrap();
    // Webhooks to a local receiver; mail to a local SMTP server.
    allow_loopback(&t).await;
    let (hooks, hook_url) = Receiver::start().await;
    endpoint(&t, &hook_url, json!(["lead.created", "lead.assigned"])).await;
    let (sink, smtp_port) = common::sink::Sink::start().await;
    let seq = common::nurture::one_email_sequence(
        &t,
        "Welcome",
        "<p>Hi. <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>",
    )
    .await;

    // Three servers.
    let dir = tempfile::tempdir().unwrap();
    let relay = format!("smtp://127.0.0.1:{smtp_port}");
    let mut children = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..SERVERS {
        let (child, base) = common::spawn_serve_with(
            &t.db_url,
            dir.path(),
            &[
                ("LEADLINE_SMTP_RELAY", relay.as_str()),
                ("LEADLINE_PUBLIC_URL", "https://leads.example.com"),
            ],
        );
        children.push(common::KillOnDrop(child));
        bases.push(base);
    }
    for b in &bases {
        common::wait_ready(b).await;
    }

    // Capture: every address twice, the two copies to different servers at the same time.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for copy in 0..2 {
        for lane in 0..SERVERS {
            let bases = bases.clone();
            let key = t.key.clone();
            let client = t.client.clone();
            tasks.push(tokio::spawn(async move {
                for n in (lane..PEOPLE).step_by(SERVERS) {
                    let base = &bases[(n + copy) % SERVERS];
                    let r = client
                        .post(format!("{base}/api/v1/capture"))
                        .bearer_auth(&key)
                        .json(&json!({"lead": {"email": format!("p{n}@scale.example"),
                                               "first_name": format!("P{n}")}}))
                        .send()
                        .await
                        .unwrap();
                    assert!(
                        r.status().is_success(),
                        "capture p{n} on {base}: {} {}",
                        r.status(),
                        r.text().await.unwrap()
                    );
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let capture_secs = started.elapsed().as_secs_f64();

    // One lead per address.
    let rows = sql_pairs(
        &t,
        "SELECT email, COUNT(*) FROM leads WHERE deleted_at IS NULL GROUP BY email",
    )
    .await;
    assert_eq!(rows.len(), PEOPLE, "one lead per address");
    let doubled: Vec<_> = rows.iter().filter(|(_, n)| **n != 1).collect();
    assert!(doubled.is_empty(), "addresses stored twice: {doubled:?}");

    // One assignment per lead, and a fair round robin.
    let assignments = sql_pairs(
        &t,
        "SELECT CAST(lead_id AS TEXT), COUNT(*) FROM owner_history WHERE to_owner IS NOT NULL \
         GROUP BY lead_id",
    )
    .await;
    assert_eq!(assignments.len(), PEOPLE, "every lead assigned");
    let twice: Vec<_> = assignments.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "leads assigned more than once: {twice:?}");
    let per_rep = sql_pairs(
        &t,
        "SELECT CAST(owner_id AS TEXT), COUNT(*) FROM leads WHERE deleted_at IS NULL \
         GROUP BY owner_id",
    )
    .await;
    assert_eq!(per_rep.len(), REPS, "every rep got leads: {per_rep:?}");
    let (min, max) = (
        per_rep.values().min().copied().unwrap(),
        per_rep.values().max().copied().unwrap(),
    );
    assert!(max - min <= 1, "round robin is fair: {per_rep:?}");

    // The sequence: every lead enrolled (through the servers), each mailed once.
    let ids: Vec<String> = sql_pairs(&t, "SELECT CAST(id AS TEXT), CAST(0 AS BIGINT) FROM leads")
        .await
        .into_keys()
        .collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let outcomes = enroll(&t, &seq, &id_refs).await;
    assert!(outcomes.iter().all(|o| o == "enrolled"), "{outcomes:?}");

    // Let the servers' workers finish: a sequence message per lead, a notification to its
    // owner per assignment, two webhook deliveries per lead.
    let recipients = |mail: &[String]| -> (BTreeMap<String, usize>, usize) {
        let mut leads: BTreeMap<String, usize> = BTreeMap::new();
        let mut owners = 0;
        for m in mail {
            let rcpt = m
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("to:"))
                .unwrap_or_default()
                .to_owned();
            if rcpt.contains("rep") {
                owners += 1;
            } else {
                *leads.entry(rcpt).or_default() += 1;
            }
        }
        (leads, owners)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (leads, owners) = recipients(&sink.got());
        let sent: usize = leads.values().sum();
        if (sent >= PEOPLE && owners >= PEOPLE && hooks.all().len() >= 2 * PEOPLE)
            || Instant::now() > deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Anything done twice would arrive within a few more polls of the workers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mail = sink.got();
    let (to, owners) = recipients(&mail);
    assert_eq!(to.len(), PEOPLE, "a sequence message to every lead");
    assert!(
        to.values().all(|n| *n == 1),
        "sequence messages sent twice: {:?}",
        to.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert_eq!(owners, PEOPLE, "one notification per assignment");
    let got = hooks.all();
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for h in &got {
        *ids.entry(h.id()).or_default() += 1;
    }
    let events = sql_pairs(
        &t,
        "SELECT event_type, COUNT(*) FROM events GROUP BY event_type",
    )
    .await;
    assert_eq!(
        events.get("lead.created"),
        Some(&(PEOPLE as i64)),
        "{events:?}"
    );
    assert_eq!(
        events.get("lead.assigned"),
        Some(&(PEOPLE as i64)),
        "{events:?}"
    );
    assert_eq!(ids.len(), 2 * PEOPLE, "every event delivered");
    assert!(
        ids.values().all(|n| *n == 1),
        "events delivered twice: {:?}",
        ids.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    drop(children);
    eprintln!(
        "{SERVERS} servers: {} captures in {capture_secs:.1} s, {PEOPLE} leads, per rep {:?}, \
         {} messages ({owners} to owners), {} webhook deliveries",
        2 * PEOPLE,
        per_rep.values().collect::<Vec<_>>(),
        mail.len(),
        got.len()
    );
}

/// A two-column query as a map (text key, count).
async fn sql_pairs(t: &common::TestApp, sql: &str) -> BTreeMap<String, i64> {
    let mut c = t.app.db.acquire().await.unwrap();
    let leadline_store::Conn::Postgres(pg) = c.conn() else {
        unreachable!("PostgreSQL only")
    };
    let rows: Vec<(Option<String>, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *pg)
        .await
        .unwrap();
    rows.into_iter()
        .map(|(k, n)| (k.unwrap_or_default(), n))
        .collect()
}
