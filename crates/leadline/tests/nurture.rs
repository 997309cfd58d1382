//! Nurture templates and sequences over the API on both databases: checks at save time
//! with the line, preview for a chosen lead, a test send through a real SMTP conversation,
//! sequences refused for unknown templates and loops without a wait.

mod common;

use common::nurture::{enroll, enrollments};
use common::ok;
use leadline_domain::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

const BODY: &str = "<p>Hello {{ lead.first_name | default(\"there\") }} at {{ lead.company }},</p>\n\
<p>{{ lead.custom.product | default(\"our product\") }}</p>\n<p>{{ owner.signature }}</p>\n\
<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>";

async fn problem(r: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    r.json().await.unwrap()
}

#[tokio::test]
async fn templates_are_checked_previewed_and_test_sent() {
    for t in common::apps().await {
        let name = t.name;
        // Unknown field on line 2, with the line.
        let bad = BODY.replace("lead.custom.product", "lead.custom.prodct | upper");
        let r = t
            .post("/api/v1/email-templates")
            .json(&json!({"name": "Welcome", "subject": "Hi", "html": bad}))
            .send()
            .await
            .unwrap();
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        let msg = p["errors"][0]["message"].as_str().unwrap();
        assert_eq!(p["errors"][0]["field"], "html", "{name}: {p}");
        assert!(msg.starts_with("line 2:"), "{name}: {msg}");
        // Syntax error in the subject; no unsubscribe link in marketing mail.
        let r = t
            .post("/api/v1/email-templates")
            .json(&json!({"name": "W", "subject": "Hi {{ lead.first_name", "html": "<p>x</p>"}))
            .send()
            .await
            .unwrap();
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        let codes: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["template_error"], "{name}: {p}");
        let r = t
            .post("/api/v1/email-templates")
            .json(&json!({"name": "W", "subject": "Hi", "html": "<p>x</p>"}))
            .send()
            .await
            .unwrap();
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["errors"][0]["code"], "unsubscribe_missing");

        // The custom field exists: the template saves.
        ok(t.post("/api/v1/custom-fields")
            .json(&json!({"key": "product", "label": "Product", "kind": "text"}))
            .send()
            .await
            .unwrap())
        .await;
        let r = t
            .post("/api/v1/email-templates")
            .json(&json!({"name": "Welcome", "subject": "Welcome, {{ lead.first_name | default(\"friend\") }}", "html": BODY}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{name}");
        let tpl: Value = r.json().await.unwrap();
        let id = tpl["id"].as_str().unwrap().to_owned();

        // Preview for a chosen lead, escaped, with the owner's signature and fallbacks.
        let (rep, _) = t.user_with_key("nurture.rep@example.com", Role::Rep).await;
        let lead = ok(t
            .post("/api/v1/leads")
            .json(&json!({"email": "lin@example.com", "first_name": "Lin <b>", "company": "Acme & Co", "owner_id": rep}))
            .send()
            .await
            .unwrap())
        .await;
        let p = ok(t
            .post("/api/v1/email-templates/preview")
            .json(&json!({"template": {"name": "x", "subject": tpl["subject"], "html": BODY}, "lead_id": lead["id"]}))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(p["subject"], "Welcome, Lin <b>", "{name}");
        let html = p["html"].as_str().unwrap();
        assert!(
            html.contains("Hello Lin &lt;b&gt; at Acme &amp; Co"),
            "{html}"
        );
        assert!(html.contains("our product"), "{html}");
        assert!(html.contains("nurture.rep@example.com"), "{html}");
        assert!(
            p["text"]
                .as_str()
                .unwrap()
                .contains("Hello Lin <b> at Acme & Co")
        );

        // A test send waits in the outbox with both parts.
        let r = t
            .post(&format!("/api/v1/email-templates/{id}/test"))
            .json(&json!({"to": "marketing@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{name}");
        let m: Value = r.json().await.unwrap();
        assert_eq!(m["subject"], "[test] Welcome, Ada");
        assert!(
            m["html"]
                .as_str()
                .unwrap()
                .contains("Analytical Engines Ltd")
        );
        let r = t
            .post(&format!("/api/v1/email-templates/{id}/test"))
            .json(&json!({"to": "not an address"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Sequences: unknown templates and loops without a wait are refused.
        let r = t
            .post("/api/v1/sequences")
            .json(&json!({"name": "N", "steps": [{"type": "email", "template_id": lead["id"]}]}))
            .send()
            .await
            .unwrap();
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["errors"][0]["code"], "unknown_template", "{name}: {p}");
        let r = t
            .post("/api/v1/sequences")
            .json(&json!({"name": "N", "steps": [
                {"type": "email", "template_id": id},
                {"type": "branch", "condition": {"test": "opened"}, "then": 1}
            ]}))
            .send()
            .await
            .unwrap();
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["errors"][0]["code"], "loop_without_wait", "{name}: {p}");
        let r = t
            .post("/api/v1/sequences")
            .json(
                &json!({"name": "Nurture", "enroll_on_stages": ["nurture"], "steps": [
                    {"type": "email", "template_id": id},
                    {"type": "wait", "days": 3},
                    {"type": "branch", "condition": {"test": "clicked"}, "then": 5},
                    {"type": "move_to_nowhere"}
                ]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: unknown step type"
        );
        let r = t
            .post("/api/v1/sequences")
            .json(
                &json!({"name": "Nurture", "enroll_on_stages": ["nurture"], "steps": [
                    {"type": "email", "template_id": id},
                    {"type": "wait", "days": 3},
                    {"type": "branch", "condition": {"test": "clicked"}, "then": 5},
                    {"type": "email", "template_id": id},
                    {"type": "stage", "to": "mql"}
                ]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{name}");
        let seq: Value = r.json().await.unwrap();
        assert_eq!(seq["steps"].as_array().unwrap().len(), 5);
        // A template a sequence sends cannot be deleted.
        let r = t
            .delete(&format!("/api/v1/email-templates/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let r = t
            .delete(&format!(
                "/api/v1/sequences/{}",
                seq["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = t
            .delete(&format!("/api/v1/email-templates/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        // Reps do not edit nurture content.
        let (_, rep_key) = t.user_with_key("nurture.rep2@example.com", Role::Rep).await;
        let r = t
            .client
            .get(t.url("/api/v1/email-templates"))
            .bearer_auth(rep_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}

async fn template(t: &common::TestApp, name: &str) -> String {
    let r = t
        .post("/api/v1/email-templates")
        .json(&json!({"name": name, "subject": format!("{name} for {{{{ lead.first_name | default(\"you\") }}}}"), "html": BODY}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn lead(t: &common::TestApp, email: &str) -> String {
    ok(t.post("/api/v1/leads")
        .json(&json!({"email": email, "first_name": "Kim", "company": "Initech"}))
        .send()
        .await
        .unwrap())
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn header<'a>(m: &'a str, name: &str) -> Option<&'a str> {
    m.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

#[tokio::test]
async fn a_sequence_sends_waits_sends_and_stops_on_unsubscribe_or_sales() {
    use leadline_domain::time::manual_clock;
    for t in common::apps().await {
        let name = t.name;
        manual_clock::clear();
        let (sink, port) = common::sink::Sink::start().await;
        let mailer = leadline_app::mail::Mailer::new(
            &format!("smtp://127.0.0.1:{port}"),
            "News <news@example.com>",
            Some("https://leads.example.com"),
        )
        .unwrap();
        let (a, b) = (template(&t, "First").await, template(&t, "Second").await);
        let seq = ok(t
            .post("/api/v1/sequences")
            .json(
                &json!({"name": "Welcome", "send_from_hour": 0, "send_until_hour": 24, "steps": [
                    {"type": "email", "template_id": a},
                    {"type": "wait", "days": 1},
                    {"type": "email", "template_id": b}
                ]}),
            )
            .send()
            .await
            .unwrap())
        .await;
        let seq = seq["id"].as_str().unwrap().to_owned();
        let kim = lead(&t, "kim@initech.example").await;
        assert_eq!(enroll(&t, &seq, &[&kim]).await, ["enrolled"], "{name}");
        assert_eq!(
            enroll(&t, &seq, &[&kim]).await,
            ["already_active"],
            "{name}"
        );

        // First step: queued in the advance, sent once through SMTP with unsubscribe headers.
        t.app.run_sequences().await.unwrap();
        t.app.send_mail(&mailer).await.unwrap();
        t.app.run_sequences().await.unwrap();
        t.app.send_mail(&mailer).await.unwrap();
        let got = sink.got();
        assert_eq!(got.len(), 1, "{name}: the wait holds the second message");
        let m = &got[0];
        assert!(
            header(m, "Subject").unwrap().starts_with("First for Kim"),
            "{m}"
        );
        let unsub = header(m, "List-Unsubscribe").unwrap();
        assert!(unsub.starts_with("<https://leads.example.com/u/"), "{m}");
        assert_eq!(
            header(m, "List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        // A day later: the second message, then the sequence is done.
        manual_clock::set(leadline_domain::time::now() + chrono::Duration::minutes(24 * 60 + 1));
        t.app.run_sequences().await.unwrap();
        t.app.send_mail(&mailer).await.unwrap();
        assert_eq!(sink.got().len(), 2, "{name}");
        assert!(
            header(&sink.got()[1], "Subject")
                .unwrap()
                .starts_with("Second for Kim")
        );
        assert_eq!(
            enrollments(&t, &kim).await[0]["status"],
            "finished",
            "{name}"
        );
        let report = ok(t
            .get(&format!("/api/v1/sequences/{seq}/report"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            (report["enrolled"].as_i64(), report["finished"].as_i64()),
            (Some(1), Some(1)),
            "{report}"
        );
        assert_eq!(report["steps"][0]["sent"], 1);
        assert_eq!(report["steps"][1]["sent"], 1);
        assert_eq!(enroll(&t, &seq, &[&kim]).await, ["not_again"], "{name}");

        // One-click unsubscribe (RFC 8058) ends the enrollment and marks the lead.
        let lee = lead(&t, "lee@initech.example").await;
        assert_eq!(enroll(&t, &seq, &[&lee]).await, ["enrolled"]);
        t.app.run_sequences().await.unwrap();
        t.app.send_mail(&mailer).await.unwrap();
        let m = sink.got().pop().unwrap();
        let url = header(&m, "List-Unsubscribe")
            .unwrap()
            .trim_matches(['<', '>'])
            .to_owned();
        let path = url.trim_start_matches("https://leads.example.com");
        let page = t.client.get(t.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(
            page.text().await.unwrap().contains("l***@initech.example"),
            "{name}: the GET only asks"
        );
        assert_eq!(enrollments(&t, &lee).await[0]["status"], "active");
        let r = t
            .client
            .post(t.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let e = &enrollments(&t, &lee).await[0];
        assert_eq!(
            (e["status"].as_str(), e["exit_reason"].as_str()),
            (Some("exited"), Some("unsubscribed")),
            "{name}"
        );
        let l = ok(t.get(&format!("/api/v1/leads/{lee}")).send().await.unwrap()).await;
        assert_eq!(l["email_opt_out"], true);
        let other = template(&t, "Other").await;
        let seq2 = ok(t
            .post("/api/v1/sequences")
            .json(
                &json!({"name": "Other", "send_from_hour": 0, "send_until_hour": 24,
                "steps": [{"type": "email", "template_id": other}]}),
            )
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            enroll(&t, seq2["id"].as_str().unwrap(), &[&lee]).await,
            ["unsubscribed"],
            "{name}"
        );
        let r = t.client.get(t.url("/u/not-a-token")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // A permanent refusal is a hard bounce: the address is suppressed for good.
        let bob = lead(&t, "bob@initech.example").await;
        assert_eq!(
            enroll(&t, seq2["id"].as_str().unwrap(), &[&bob]).await,
            ["enrolled"]
        );
        t.app.run_sequences().await.unwrap();
        *sink.rcpt_reply.lock().unwrap() = "550 5.1.1 no such user".into();
        t.app.send_mail(&mailer).await.unwrap();
        *sink.rcpt_reply.lock().unwrap() = "250 OK".into();
        let sent = ok(t
            .get(&format!("/api/v1/outbox?lead_id={bob}"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(sent[0]["status"], "failed", "{name}: {sent}");
        assert_eq!(
            enroll(&t, &seq, &[&bob]).await,
            ["unsubscribed"],
            "{name}: suppressed"
        );
        let e = enrollments(&t, &bob).await;
        assert_eq!(e[0]["sequence_name"], "Other", "{name}: {e:?}");

        // A lead deleted mid-sequence gets nothing more.
        let dan = lead(&t, "dan@initech.example").await;
        assert_eq!(enroll(&t, &seq, &[&dan]).await, ["enrolled"]);
        t.app.run_sequences().await.unwrap();
        let before = sink.got().len();
        let r = t
            .delete(&format!("/api/v1/leads/{dan}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        t.app.send_mail(&mailer).await.unwrap();
        assert_eq!(sink.got().len(), before, "{name}: no orphan send");
        let m = ok(t
            .get(&format!("/api/v1/outbox?lead_id={dan}"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(m[0]["status"], "failed", "{name}: {m}");
        assert_eq!(m[0]["last_error"], "not sent: lead deleted");

        // Entering nurture enrolls; becoming MQL hands the lead back to sales.
        let nurture = ok(t
            .post("/api/v1/sequences")
            .json(&json!({"name": "Recycle", "enroll_on_stages": ["nurture"], "send_from_hour": 0, "send_until_hour": 24,
                "steps": [{"type": "wait", "days": 2}, {"type": "email", "template_id": other}]}))
            .send()
            .await
            .unwrap())
        .await;
        let sam = lead(&t, "sam@initech.example").await;
        ok(t.post(&format!("/api/v1/leads/{sam}/stage"))
            .json(&json!({"to": "nurture"}))
            .send()
            .await
            .unwrap())
        .await;
        let e = enrollments(&t, &sam).await;
        assert_eq!(e.len(), 1, "{name}: enrolled on entering nurture");
        assert_eq!(e[0]["sequence_id"], nurture["id"]);
        t.app.run_sequences().await.unwrap();
        ok(t.post(&format!("/api/v1/leads/{sam}/stage"))
            .json(&json!({"to": "mql"}))
            .send()
            .await
            .unwrap())
        .await;
        manual_clock::set(leadline_domain::time::now() + chrono::Duration::days(3));
        t.app.run_sequences().await.unwrap();
        let e = &enrollments(&t, &sam).await[0];
        assert_eq!(e["exit_reason"], "handed_to_sales", "{name}: {e}");
        manual_clock::clear();
    }
}
