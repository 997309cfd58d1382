//! Sequence mail survives crashes: a `leadline serve` sending a 1,000-lead sequence to a
//! real SMTP server (an in-test sink over TCP) is killed with SIGKILL 20 times and
//! restarted; the sink must never receive a message twice, and every step must end sent —
//! except those cut off inside the SMTP conversation, which are counted and reported. On
//! PostgreSQL two server processes share the work (and are killed together), as in a
//! scaled-out deployment.

mod common;

use common::ok;
use common::sink::Sink;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const LEADS: usize = 1000;
const KILLS: usize = 20;

fn serve(db_url: &str, dir: &std::path::Path, smtp_port: u16) -> std::process::Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::process::Command::new(env!("CARGO_BIN_EXE_leadline"))
        .current_dir(dir)
        .env("LEADLINE_LOG", "warn")
        .env("LEADLINE_DATABASE_URL", db_url)
        .env_remove("LEADLINE_DATA_DIR")
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--smtp-relay",
            &format!("smtp://127.0.0.1:{smtp_port}"),
            "--mail-from",
            "News <news@example.com>",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

async fn count(t: &common::TestApp, status: &str) -> usize {
    ok(t.get(&format!("/api/v1/outbox?status={status}&limit=500"))
        .send()
        .await
        .unwrap())
    .await
    .as_array()
    .unwrap()
    .len()
}

#[tokio::test]
async fn killing_the_server_twenty_times_never_sends_a_step_twice() {
    for t in common::apps().await {
        let name = t.name;
        let (sink, smtp_port) = Sink::start().await;
        let seq = common::nurture::one_email_sequence(
            &t,
            "Blast",
            "<p>Hi {{ lead.first_name }}</p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>",
        )
        .await;
        let body: Vec<Value> = (0..LEADS)
            .map(|i| json!({"lead": {"email": format!("crash{i}@example.com"), "first_name": format!("N{i}")}}))
            .collect();
        let mut ids = Vec::new();
        for chunk in body.chunks(250) {
            let r = ok(t.post("/api/v1/capture").json(&chunk).send().await.unwrap()).await;
            ids.extend(
                r["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x["lead_id"].as_str().unwrap().to_owned()),
            );
        }
        let r = ok(t
            .post(&format!("/api/v1/sequences/{}/enrollments", seq.as_str()))
            .json(&json!({ "lead_ids": ids }))
            .send()
            .await
            .unwrap())
        .await;
        assert!(
            r.as_array()
                .unwrap()
                .iter()
                .all(|x| x["outcome"] == "enrolled"),
            "{name}"
        );

        let dir = tempfile::tempdir().unwrap();
        let processes = if name == "postgres" { 2 } else { 1 };
        let start = || {
            (0..processes)
                .map(|_| serve(&t.db_url, dir.path(), smtp_port))
                .collect::<Vec<_>>()
        };
        for k in 1..=KILLS {
            let children = start();
            // Let it get into the work, then kill it somewhere in the middle of it.
            let target = LEADS * k / (KILLS + 2);
            let deadline = Instant::now() + Duration::from_secs(60);
            while sink.got().len() < target && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            for mut child in children {
                child.kill().unwrap();
                child.wait().unwrap();
            }
        }
        let children = start();
        // Claims held by killed processes lapse after their lease (15 s), then finish.
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let open = count(&t, "queued").await + count(&t, "sending").await;
            let report = ok(t
                .get(&format!("/api/v1/sequences/{}/report", seq.as_str()))
                .send()
                .await
                .unwrap())
            .await;
            if (open == 0 && report["active"] == 0) || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for mut child in children {
            child.kill().unwrap();
            child.wait().unwrap();
        }

        let mut per_id: HashMap<String, usize> = HashMap::new();
        for m in sink.got() {
            let id = m
                .lines()
                .find(|l| l.starts_with("Message-ID:"))
                .unwrap()
                .to_owned();
            *per_id.entry(id).or_default() += 1;
        }
        let duplicates: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
        let report = ok(t
            .get(&format!("/api/v1/sequences/{}/report", seq.as_str()))
            .send()
            .await
            .unwrap())
        .await;
        let step = &report["steps"][0];
        let (sent, unknown) = (
            step["sent"].as_i64().unwrap(),
            step["unknown"].as_i64().unwrap(),
        );
        eprintln!(
            "{name}: {KILLS} kills of {processes} process(es); {} messages received for {LEADS} enrollments; {sent} sent, {unknown} cut off mid-send (at most once: not sent again); {} duplicates",
            per_id.len(),
            duplicates.len()
        );
        assert!(duplicates.is_empty(), "{name}: sent twice: {duplicates:?}");
        assert_eq!(
            report["active"], 0,
            "{name}: every enrollment ran: {report}"
        );
        assert_eq!(
            (sent + unknown) as usize,
            LEADS,
            "{name}: every step ended sent or reported: {report}"
        );
        assert_eq!(step["queued"], 0, "{name}");
        // Every message recorded as sent reached the sink; the ones cut off may have.
        assert!(per_id.len() as i64 >= sent, "{name}");
        assert!(per_id.len() as i64 <= sent + unknown, "{name}");
    }
}
