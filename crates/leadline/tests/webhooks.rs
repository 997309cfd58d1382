//! Webhooks end to end on both databases, against a real HTTP receiver that checks every
//! signature with the Standard Webhooks reference library (an independent implementation
//! of the spec): lifecycle events in order, a receiver failing then recovering, secret
//! rotation, refused internal addresses, switching off after persistent failure, replay.
//! The SIGKILL test is in webhooks_crash.rs (this binary moves the manual clock).

mod common;

use axum::http::StatusCode;
use common::hooks::{Received, Receiver, allow_loopback, deliveries, endpoint, verify};
use common::{TestApp, ok};
use leadline_app::webhooks::delivery::Sender;
use leadline_domain::time::manual_clock;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// Runs delivery rounds until nothing is due now.
async fn drain(t: &TestApp, sender: &Sender) {
    for _ in 0..200 {
        if t.app.deliver_webhooks(sender).await.unwrap() == 0 {
            return;
        }
    }
    panic!("deliveries kept coming");
}

#[tokio::test]
async fn lifecycle_events_are_signed_ordered_retried_and_guarded() {
    let sender = Sender::new().unwrap();
    for t in common::apps().await {
        let name = t.name;
        manual_clock::clear();
        let (rx, url) = Receiver::start().await;

        // Internal addresses are refused until an admin allows the host.
        let e = endpoint(&t, &url, json!(["lead.*", "import.finished"])).await;
        let eid = e["id"].as_str().unwrap().to_owned();
        let secret = e["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{name}");
        let lead = ok(t
            .post("/api/v1/leads")
            .json(&json!({"email": "ada@analytical.example", "first_name": "Ada"}))
            .send()
            .await
            .unwrap())
        .await;
        let lead_id = lead["id"].as_str().unwrap().to_owned();
        drain(&t, &sender).await;
        assert!(rx.all().is_empty(), "{name}: sent to a loopback address");
        let waiting = deliveries(&t, &eid, "pending").await;
        assert_eq!(waiting.len(), 1, "{name}");
        let detail = ok(t
            .get(&format!(
                "/api/v1/webhooks/deliveries/{}",
                waiting[0]["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap())
        .await;
        let err = detail["attempts"][0]["error"].as_str().unwrap();
        assert!(
            err.contains("refused") && err.contains("loopback"),
            "{name}: {err}"
        );
        allow_loopback(&t).await;
        // Allowing 127.0.0.1 does not allow a name that resolves to it: the address is
        // checked after DNS resolution.
        let by_name = endpoint(
            &t,
            &url.replace("127.0.0.1", "localhost"),
            json!(["lead.created"]),
        )
        .await;
        let by_name_id = by_name["id"].as_str().unwrap().to_owned();
        ok(
            t.post(&format!("/api/v1/webhooks/endpoints/{by_name_id}/test"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        drain(&t, &sender).await;
        let refused = deliveries(&t, &by_name_id, "pending").await;
        assert_eq!(refused.len(), 1, "{name}");
        let detail = ok(t
            .get(&format!(
                "/api/v1/webhooks/deliveries/{}",
                refused[0]["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap())
        .await;
        let err = detail["attempts"][0]["error"].as_str().unwrap();
        assert!(
            err.starts_with("refused: localhost resolves to") && err.contains("loopback"),
            "{name}: {err}"
        );
        let r = t
            .delete(&format!("/api/v1/webhooks/endpoints/{by_name_id}"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{name}: {}", r.status());
        // Make the retry due: the schedule waits 5 s after a first failure.
        manual_clock::set(leadline_domain::time::now() + chrono::Duration::seconds(10));

        // Lifecycle: update, stage changes (MQL also says qualified), assignment.
        let (rep, _) = t
            .user_with_key("rep.hooks@example.com", leadline_domain::Role::Rep)
            .await;
        ok(t.patch(&format!("/api/v1/leads/{lead_id}"))
            .json(&json!({"title": "Countess"}))
            .send()
            .await
            .unwrap())
        .await;
        ok(t.post(&format!("/api/v1/leads/{lead_id}/stage"))
            .json(&json!({"to": "mql"}))
            .send()
            .await
            .unwrap())
        .await;
        ok(t.post(&format!("/api/v1/leads/{lead_id}/assign"))
            .json(&json!({"owner_id": rep}))
            .send()
            .await
            .unwrap())
        .await;
        drain(&t, &sender).await;
        let got = rx.all();
        for m in &got {
            verify(&secret, m).unwrap_or_else(|e| panic!("{name}: {e}: {}", m.event_type()));
            assert!(verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", m).is_err());
        }
        let types: Vec<String> = got.iter().map(Received::event_type).collect();
        assert_eq!(
            types,
            [
                "lead.created",
                "lead.updated",
                "lead.stage_changed",
                "lead.qualified",
                "lead.assigned"
            ],
            "{name}: a lead's events arrive in order"
        );
        assert_eq!(got[0].json()["data"]["lead"]["id"], lead_id.as_str());
        assert_eq!(got[1].json()["data"]["changes"][0]["field"], "title");
        assert_eq!(got[2].json()["data"]["to_stage"], "mql");
        assert_eq!(got[4].json()["data"]["to_owner"], rep.to_string());
        let ids: std::collections::HashSet<String> = got.iter().map(Received::id).collect();
        assert_eq!(ids.len(), got.len(), "{name}: one webhook-id per event");

        // A receiver failing twice, then healthy: each event arrives once it recovers, the
        // retries with the same webhook-id (duplicates only as the spec allows).
        rx.clear();
        rx.fail.store(2, Ordering::SeqCst);
        ok(t.post(&format!("/api/v1/leads/{lead_id}/stage"))
            .json(&json!({"to": "sal"}))
            .send()
            .await
            .unwrap())
        .await;
        drain(&t, &sender).await;
        assert_eq!(rx.all().len(), 1, "{name}: one try, then the backoff waits");
        for wait in [6, 6 * 60] {
            manual_clock::set(leadline_domain::time::now() + chrono::Duration::seconds(wait));
            drain(&t, &sender).await;
        }
        let got = rx.all();
        assert_eq!(got.len(), 3, "{name}: failed, failed, delivered");
        assert!(
            got.iter().all(|m| m.id() == got[0].id()),
            "{name}: retries keep their id"
        );
        let d = &deliveries(&t, &eid, "delivered").await[0];
        assert_eq!(
            (d["event_type"].as_str(), d["attempts"].as_i64()),
            (Some("lead.stage_changed"), Some(3))
        );
        let detail = ok(t
            .get(&format!(
                "/api/v1/webhooks/deliveries/{}",
                d["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap())
        .await;
        let statuses: Vec<i64> = detail["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["response_status"].as_i64().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [500, 500, 204],
            "{name}: the log holds every attempt"
        );
        assert!(detail["attempts"][0]["request_headers"]["webhook-signature"].is_string());

        // Rotation: both secrets sign during the overlap; each verifies on its own.
        rx.clear();
        let rotated = ok(t
            .post(&format!("/api/v1/webhooks/endpoints/{eid}/rotate-secret"))
            .send()
            .await
            .unwrap())
        .await;
        let new_secret = rotated["secret"].as_str().unwrap();
        assert_ne!(new_secret, secret);
        let test = t
            .post(&format!("/api/v1/webhooks/endpoints/{eid}/test"))
            .send()
            .await
            .unwrap();
        assert_eq!(test.status(), StatusCode::ACCEPTED);
        drain(&t, &sender).await;
        let m = &rx.all()[0];
        assert_eq!(m.event_type(), "webhook.test");
        assert_eq!(
            m.headers["webhook-signature"]
                .to_str()
                .unwrap()
                .split(' ')
                .count(),
            2
        );
        verify(&secret, m).unwrap();
        verify(new_secret, m).unwrap();

        // Replay: the same message again, same id and body.
        let first = deliveries(&t, &eid, "delivered").await.pop().unwrap();
        let r = t
            .post(&format!(
                "/api/v1/webhooks/deliveries/{}/replay",
                first["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        drain(&t, &sender).await;
        let again = rx.all().pop().unwrap();
        assert_eq!(again.id(), first["event_id"].as_str().unwrap());
        assert_eq!(again.event_type(), "lead.created");

        // Bad input: credentials in the URL, unknown event types.
        let r = t
            .post("/api/v1/webhooks/endpoints")
            .json(&json!({"url": "https://u:p@example.com/x", "events": ["lead.nope"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let p: Value = r.json().await.unwrap();
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["url", "events[0]"], "{name}: {p}");
        // Reps do not manage webhooks.
        let (_, rep_key) = t
            .user_with_key("rep2.hooks@example.com", leadline_domain::Role::Rep)
            .await;
        let r = t
            .client
            .get(t.url("/api/v1/webhooks/endpoints"))
            .bearer_auth(rep_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);

        // A receiver that never recovers: every retry over about a day fails, the
        // endpoint is switched off and the managers get an alert; switching it back on
        // sends what waited.
        rx.clear();
        rx.fail.store(usize::MAX, Ordering::SeqCst);
        ok(t.post(&format!("/api/v1/leads/{lead_id}/stage"))
            .json(&json!({"to": "nurture"}))
            .send()
            .await
            .unwrap())
        .await;
        let mut tries = 0;
        for _ in 0..10 {
            drain(&t, &sender).await;
            tries = rx.all().len();
            manual_clock::set(leadline_domain::time::now() + chrono::Duration::hours(11));
        }
        assert_eq!(tries, 8, "{name}: eight attempts, then given up");
        let e = ok(t
            .get(&format!("/api/v1/webhooks/endpoints/{eid}"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(e["enabled"], false, "{name}: {e}");
        assert_eq!(e["failed"], 1);
        let alerts = ok(t.get("/api/v1/alerts").send().await.unwrap()).await;
        assert!(
            alerts
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["kind"] == "webhook_disabled"),
            "{name}: {alerts}"
        );
        // Switched off, new events are not queued for it.
        ok(t.post(&format!("/api/v1/leads/{lead_id}/stage"))
            .json(&json!({"to": "mql"}))
            .send()
            .await
            .unwrap())
        .await;
        assert!(deliveries(&t, &eid, "pending").await.is_empty(), "{name}");
        // The log is kept 30 days once nothing waits for it.
        assert_eq!(t.app.prune_webhook_log().await.unwrap(), 0, "{name}");
        manual_clock::set(leadline_domain::time::now() + chrono::Duration::days(31));
        assert!(t.app.prune_webhook_log().await.unwrap() > 0, "{name}");
        assert!(deliveries(&t, &eid, "delivered").await.is_empty(), "{name}");
        manual_clock::clear();
    }
}
