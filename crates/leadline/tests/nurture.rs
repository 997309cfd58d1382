//! Nurture templates and sequences over the API on both databases: checks at save time
//! with the line, preview for a chosen lead, a test send through a real SMTP conversation,
//! sequences refused for unknown templates and loops without a wait.

mod common;

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
