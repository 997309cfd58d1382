//! Webhooks survive SIGKILL: `leadline serve` processes delivering 300 events are killed
//! three times mid-delivery and restarted; every event arrives (duplicates only as the
//! spec allows, with their webhook-id). Its own test binary: nothing here may share the
//! manual clock other tests set.

mod common;

use common::hooks::{Received, Receiver, allow_loopback, deliveries, endpoint, verify};
use common::ok;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_server_killed_while_delivering_loses_no_event() {
    const LEADS: usize = 300;
    const KILLS: usize = 3;
    for t in common::apps().await {
        let name = t.name;
        let (rx, url) = Receiver::start().await;
        rx.delay_ms.store(15, Ordering::SeqCst);
        allow_loopback(&t).await;
        let e = endpoint(&t, &url, json!(["lead.created"])).await;
        let secret = e["secret"].as_str().unwrap().to_owned();
        // The in-process server of the harness has no delivery worker: only the
        // `leadline serve` processes below send.
        let body: Vec<Value> = (0..LEADS)
            .map(|i| json!({"lead": {"email": format!("kill{i}@example.com"), "last_name": format!("Kill {i}")}}))
            .collect();
        for chunk in body.chunks(100) {
            ok(t.post("/api/v1/capture").json(&chunk).send().await.unwrap()).await;
        }
        let dir = tempfile::tempdir().unwrap();
        let distinct = |rx: &Receiver| {
            rx.all()
                .iter()
                .map(Received::id)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        for k in 1..=KILLS {
            let (mut child, _) = common::spawn_serve(&t.db_url, dir.path());
            let target = LEADS * k / (KILLS + 1);
            let deadline = Instant::now() + Duration::from_secs(120);
            while distinct(&rx) < target && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            eprintln!("{name}: killed after {} events had arrived", distinct(&rx));
        }
        let (mut child, _) = common::spawn_serve(&t.db_url, dir.path());
        // Claims the dead processes held lapse after the lease (15 s), then go out again.
        let eid = e["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let settled =
                distinct(&rx) == LEADS && deliveries(&t, &eid, "pending").await.is_empty();
            if settled || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let got = rx.all();
        let mut per_id: HashMap<String, usize> = HashMap::new();
        for m in &got {
            verify(&secret, m).unwrap_or_else(|e| panic!("{name}: {e}"));
            *per_id.entry(m.id()).or_default() += 1;
        }
        let duplicates: usize = per_id.values().map(|n| n - 1).sum();
        eprintln!(
            "{name}: {} messages for {} events after {KILLS} kills; {duplicates} redelivered with their webhook-id",
            got.len(),
            per_id.len()
        );
        assert_eq!(per_id.len(), LEADS, "{name}: every event arrived");
        assert!(
            deliveries(&t, &eid, "pending").await.is_empty(),
            "{name}: none left waiting"
        );
        assert!(
            deliveries(&t, &eid, "failed").await.is_empty(),
            "{name}: none given up"
        );
        assert_eq!(
            deliveries(&t, &eid, "delivered").await.len(),
            LEADS,
            "{name}"
        );
        // A redelivery is always the same message: same id, same body.
        for m in &got {
            let first = got.iter().find(|x| x.id() == m.id()).unwrap();
            assert_eq!(first.body, m.body);
        }
    }
}
