//! Issue 11, crash safety: `leadline serve` is killed with SIGKILL at random moments while
//! four clients capture leads one by one (each with an `Idempotency-Key`) and a CSV import
//! of 3,000 rows runs, then restarted — 10 times here, `LEADLINE_CRASH_KILLS=100` for the
//! long run. Requests cut off by a kill are retried with the same key after the restart.
//! Afterwards: every acknowledged lead is there, no email is there twice, the import
//! finished with all its rows, and the database passes SQLite's `integrity_check` or
//! PostgreSQL's `amcheck` of every index. Its own binary: nothing here may share the clock.

mod common;

use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const IMPORT_ROWS: usize = 3_000;
const WRITERS: usize = 4;

/// What the clients know: leads acknowledged, and requests a kill cut off.
#[derive(Default)]
struct Ledger {
    acked: BTreeSet<String>,
    cut_off: BTreeSet<String>,
    /// Requests cut off, and of those the ones the kill came after the commit.
    cut_total: usize,
    cut_but_stored: usize,
}

/// Counts the cut-off requests before they are retried, and which of them had committed.
async fn tally_cut_off(t: &common::TestApp, ledger: &Mutex<Ledger>) {
    let now = stored(t).await;
    let mut l = ledger.lock().unwrap();
    let (total, done) = (
        l.cut_off.len(),
        l.cut_off.iter().filter(|e| now.contains_key(*e)).count(),
    );
    l.cut_total += total;
    l.cut_but_stored += done;
}

/// Captures one lead; the email is also the idempotency key.
async fn capture(client: &reqwest::Client, base: &str, key: &str, email: &str) -> bool {
    let r = client
        .post(format!("{base}/api/v1/capture"))
        .bearer_auth(key)
        .header("idempotency-key", email)
        .json(&serde_json::json!({"lead": {"email": email, "last_name": "Crash"}}))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    match r {
        Ok(r) if r.status().is_success() => true,
        Ok(r) => panic!("capture of {email}: {}", r.status()),
        Err(_) => false,
    }
}

/// Emails and how often each is stored among live leads of the test's domain.
async fn stored(t: &common::TestApp) -> BTreeMap<String, i64> {
    let sql = "SELECT email, COUNT(*) FROM leads WHERE deleted_at IS NULL \
               AND email LIKE '%@crash.example' GROUP BY email";
    let mut c = t.app.db.acquire().await.unwrap();
    let rows: Vec<(String, i64)> = match c.conn() {
        leadline_store::Conn::Sqlite(c) => sqlx::query_as(sql).fetch_all(&mut *c).await.unwrap(),
        leadline_store::Conn::Postgres(c) => sqlx::query_as(sql).fetch_all(&mut *c).await.unwrap(),
    };
    rows.into_iter().collect()
}

/// SQLite's `integrity_check`, or `amcheck` over every B-tree index on PostgreSQL (with the
/// heap check that every row is in its indexes); the number of indexes checked.
async fn consistency(t: &common::TestApp) -> usize {
    let mut c = t.app.db.acquire().await.unwrap();
    match c.conn() {
        leadline_store::Conn::Sqlite(c) => {
            let r: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(&mut *c)
                .await
                .unwrap();
            assert_eq!(r, vec!["ok".to_owned()], "integrity_check");
            1
        }
        leadline_store::Conn::Postgres(c) => {
            sqlx::query("CREATE EXTENSION IF NOT EXISTS amcheck")
                .execute(&mut *c)
                .await
                .unwrap();
            let indexes: Vec<String> = sqlx::query_scalar(
                "SELECT i.indexrelid::regclass::text FROM pg_index i \
                 JOIN pg_class r ON r.oid = i.indexrelid JOIN pg_am a ON a.oid = r.relam \
                 JOIN pg_namespace n ON n.oid = r.relnamespace \
                 WHERE a.amname = 'btree' AND n.nspname = current_schema() AND i.indisvalid",
            )
            .fetch_all(&mut *c)
            .await
            .unwrap();
            for ix in &indexes {
                sqlx::query("SELECT bt_index_check($1::regclass, true)")
                    .bind(ix)
                    .execute(&mut *c)
                    .await
                    .unwrap_or_else(|e| panic!("amcheck of {ix}: {e}"));
            }
            indexes.len()
        }
    }
}

#[tokio::test]
async fn kill_9_during_capture_and_import_loses_nothing_and_doubles_nothing() {
    let kills: usize = std::env::var("LEADLINE_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("LEADLINE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("crash test: {kills} kills, LEADLINE_CRASH_SEED={seed}");
    // Both databases at once: most of the time is spent waiting for the killed server's
    // import claim to go stale.
    let mut runs = tokio::task::JoinSet::new();
    for t in common::apps().await {
        runs.spawn(async move { crash_run(&t, kills, seed).await });
    }
    while let Some(r) = runs.join_next().await {
        if let Err(e) = r {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

async fn crash_run(t: &common::TestApp, kills: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    {
        let n = t.name;
        let dir = tempfile::tempdir().unwrap();
        let client = reqwest::Client::new();
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut import_id: Option<String> = None;
        let started = Instant::now();
        for round in 0..=kills {
            let (mut child, base) = common::spawn_serve(&t.db_url, dir.path());
            common::wait_ready(&base).await;
            tally_cut_off(t, &ledger).await;
            // Requests a kill cut off go again with the same key.
            let retry: Vec<String> = ledger.lock().unwrap().cut_off.iter().cloned().collect();
            for email in retry {
                if capture(&client, &base, &t.key, &email).await {
                    let mut l = ledger.lock().unwrap();
                    l.cut_off.remove(&email);
                    l.acked.insert(email);
                }
            }
            if import_id.is_none() {
                let mut csv = String::from("email,last_name,company\n");
                for i in 0..IMPORT_ROWS {
                    csv.push_str(&format!("imp{i}@crash.example,Imported {i},Crash Co\n"));
                }
                let form = reqwest::multipart::Form::new().part(
                    "file",
                    reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("crash.csv"),
                );
                let job = common::ok(
                    client
                        .post(format!("{base}/api/v1/imports"))
                        .bearer_auth(&t.key)
                        .multipart(form)
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
                import_id = Some(job["id"].as_str().unwrap().to_owned());
            }
            let writers: Vec<_> = (0..WRITERS)
                .map(|_| {
                    let (client, base, key) = (client.clone(), base.clone(), t.key.clone());
                    let (ledger, next) = (ledger.clone(), next.clone());
                    tokio::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let email = format!("cap{i}@crash.example");
                            if capture(&client, &base, &key, &email).await {
                                ledger.lock().unwrap().acked.insert(email);
                            } else {
                                ledger.lock().unwrap().cut_off.insert(email);
                                return;
                            }
                        }
                    })
                })
                .collect();
            if round < kills {
                tokio::time::sleep(Duration::from_millis(rng.random_range(50..600))).await;
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                for w in writers {
                    w.await.unwrap();
                }
                continue;
            }
            // The last run: let the import finish, then stop the writers.
            let id = import_id.clone().unwrap();
            let deadline = Instant::now() + Duration::from_secs(300);
            let job = loop {
                let job = common::ok(
                    client
                        .get(format!("{base}/api/v1/imports/{id}"))
                        .bearer_auth(&t.key)
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
                if job["status"] == "done" || Instant::now() > deadline {
                    break job;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!(job["status"], "done", "{n}: {job}");
            child.kill().unwrap();
            child.wait().unwrap();
            for w in writers {
                w.await.unwrap();
            }
            // The final kill cut requests off too: retry them on a last server.
            let (mut child, base) = common::spawn_serve(&t.db_url, dir.path());
            common::wait_ready(&base).await;
            tally_cut_off(t, &ledger).await;
            let retry: Vec<String> = ledger.lock().unwrap().cut_off.iter().cloned().collect();
            for email in retry {
                assert!(capture(&client, &base, &t.key, &email).await, "{n}: retry");
                let mut l = ledger.lock().unwrap();
                l.cut_off.remove(&email);
                l.acked.insert(email);
            }
            child.kill().unwrap();
            child.wait().unwrap();
        }

        let stored = stored(t).await;
        let (acked, cut_total, cut_but_stored) = {
            let l = ledger.lock().unwrap();
            (l.acked.clone(), l.cut_total, l.cut_but_stored)
        };
        let lost: Vec<&String> = acked.iter().filter(|e| !stored.contains_key(*e)).collect();
        let doubled: Vec<(&String, &i64)> = stored.iter().filter(|(_, c)| **c > 1).collect();
        let imported = (0..IMPORT_ROWS)
            .filter(|i| stored.contains_key(&format!("imp{i}@crash.example")))
            .count();
        let strays: Vec<&String> = stored
            .keys()
            .filter(|e| e.starts_with("cap") && !acked.contains(*e))
            .collect();
        let indexes = consistency(t).await;
        eprintln!(
            "{n}: {kills} kills in {:.0?}; {} captures acknowledged, {cut_total} cut off by a \
             kill ({cut_but_stored} after their commit) and retried with their key; \
             {imported}/{IMPORT_ROWS} imported; lost {}, doubled {}, stored but never \
             acknowledged {}; {indexes} index(es) checked",
            started.elapsed(),
            acked.len(),
            lost.len(),
            doubled.len(),
            strays.len()
        );
        assert!(lost.is_empty(), "{n}: acknowledged but lost: {lost:?}");
        assert!(doubled.is_empty(), "{n}: stored twice: {doubled:?}");
        assert_eq!(imported, IMPORT_ROWS, "{n}: import rows");
        assert!(
            strays.is_empty(),
            "{n}: stored without an answer: {strays:?}"
        );
        assert!(
            acked.len() > kills,
            "{n}: too little was captured to mean anything"
        );
    }
}
