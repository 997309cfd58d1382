//! A lead's new owner is told: an alert on their queue and an email through a real SMTP
//! conversation over TCP (an in-test SMTP sink); the `lead.assigned` webhook event is
//! tested in webhooks.rs. Temporary
//! SMTP failures are retried, permanent ones given up and shown; without a relay the mail
//! waits in the outbox.

mod common;

use common::ok;
use common::sink::Sink;
use leadline_app::mail::Mailer;
use leadline_domain::Role;
use leadline_domain::time::manual_clock;
use serde_json::{Value, json};

async fn outbox(t: &common::TestApp, query: &str) -> Vec<Value> {
    ok(t.get(&format!("/api/v1/outbox{query}"))
        .send()
        .await
        .unwrap())
    .await
    .as_array()
    .unwrap()
    .clone()
}

async fn lead_for(t: &common::TestApp, email: &str, owner: uuid::Uuid) -> String {
    let lead = ok(t
        .post("/api/v1/leads")
        .json(&json!({"email": email, "first_name": "Grace", "last_name": "Hopper", "company": "Navy"}))
        .send()
        .await
        .unwrap())
    .await;
    let id = lead["id"].as_str().unwrap().to_owned();
    ok(t.post(&format!("/api/v1/leads/{id}/assign"))
        .json(&json!({"owner_id": owner}))
        .send()
        .await
        .unwrap())
    .await;
    id
}

#[tokio::test]
async fn a_new_owner_gets_an_alert_and_an_email() {
    for t in common::apps().await {
        let name = t.name;
        manual_clock::clear();
        let (sink, port) = Sink::start().await;
        let (rep, rep_key) = t.user_with_key("grace.rep@example.com", Role::Rep).await;
        let lead = lead_for(&t, "grace@navy.example", rep).await;

        // The alert on the rep's queue.
        let alerts = ok(t
            .client
            .get(t.url("/api/v1/alerts"))
            .bearer_auth(&rep_key)
            .send()
            .await
            .unwrap())
        .await;
        assert!(
            alerts
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["kind"] == "lead_assigned" && a["lead_id"] == lead.as_str()),
            "{name}: {alerts}"
        );
        // No relay yet: the email waits in the outbox.
        let queued = outbox(&t, "?status=queued").await;
        assert_eq!(queued.len(), 1, "{name}");
        assert_eq!(queued[0]["to"], "grace.rep@example.com");
        assert_eq!(queued[0]["lead_id"], lead.as_str());
        assert!(
            queued[0]["body"]
                .as_str()
                .unwrap()
                .contains(&format!("/leads/{lead}"))
        );

        // Through a relay: one SMTP conversation delivers it.
        let mailer = Mailer::new(
            &format!("smtp://127.0.0.1:{port}"),
            "Leadline <leadline@example.com>",
            Some("https://leads.example.com/"),
        )
        .unwrap();
        assert_eq!(t.app.send_mail(&mailer).await.unwrap(), 1);
        let got = sink.got();
        assert_eq!(got.len(), 1, "{name}");
        let m = &got[0];
        assert!(m.contains("To: grace.rep@example.com"), "{m}");
        assert!(m.contains("From: Leadline <leadline@example.com>"), "{m}");
        assert!(m.contains("Subject: New lead for you: Grace Hopper"), "{m}");
        let parsed = mail_parser::MessageParser::default()
            .parse(m.as_bytes())
            .unwrap();
        let body = parsed.body_text(0).unwrap();
        assert!(
            body.contains(&format!("https://leads.example.com/leads/{lead}")),
            "{body}"
        );
        assert!(body.contains("Why you: "), "{body}");
        let message_id = queued[0]["message_id"].as_str().unwrap();
        assert!(m.contains(&format!("Message-ID: {message_id}")), "{m}");
        assert_eq!(outbox(&t, "?status=sent").await.len(), 1);
        assert_eq!(
            t.app.send_mail(&mailer).await.unwrap(),
            0,
            "{name}: sent once"
        );

        // A temporary refusal is retried after the backoff; a permanent one is given up.
        *sink.rcpt_reply.lock().unwrap() = "451 4.3.0 try later".into();
        let second = lead_for(&t, "second@navy.example", rep).await;
        t.app.send_mail(&mailer).await.unwrap();
        let waiting = outbox(&t, &format!("?lead_id={second}")).await;
        assert_eq!(waiting[0]["status"], "queued", "{name}");
        assert_eq!(waiting[0]["attempts"], 1);
        assert!(
            waiting[0]["last_error"]
                .as_str()
                .unwrap()
                .contains("try later")
        );
        assert_eq!(
            t.app.send_mail(&mailer).await.unwrap(),
            0,
            "{name}: not before the backoff"
        );
        *sink.rcpt_reply.lock().unwrap() = "250 OK".into();
        manual_clock::set(leadline_domain::time::now() + chrono::Duration::seconds(10));
        assert_eq!(t.app.send_mail(&mailer).await.unwrap(), 1);
        assert_eq!(
            outbox(&t, &format!("?lead_id={second}")).await[0]["status"],
            "sent"
        );
        assert_eq!(sink.got().len(), 2);

        *sink.rcpt_reply.lock().unwrap() = "550 5.1.1 no such user".into();
        let third = lead_for(&t, "third@navy.example", rep).await;
        t.app.send_mail(&mailer).await.unwrap();
        let failed = outbox(&t, &format!("?lead_id={third}")).await;
        assert_eq!(failed[0]["status"], "failed", "{name}");
        assert!(
            failed[0]["last_error"]
                .as_str()
                .unwrap()
                .contains("no such user")
        );
        manual_clock::clear();

        // Bad filters are refused; reps do not read the outbox.
        let r = t.get("/api/v1/outbox?status=lost").send().await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
        let r = t
            .client
            .get(t.url("/api/v1/outbox"))
            .bearer_auth(&rep_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::FORBIDDEN);
    }
}
