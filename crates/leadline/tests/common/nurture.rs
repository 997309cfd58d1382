//! Helpers for the nurture tests: enrolling leads and reading their enrollments.

use super::{TestApp, ok};
use serde_json::{Value, json};

/// Enrolls leads in a sequence; each lead's outcome.
pub async fn enroll(t: &TestApp, seq: &str, leads: &[&str]) -> Vec<String> {
    ok(t.post(&format!("/api/v1/sequences/{seq}/enrollments"))
        .json(&json!({ "lead_ids": leads }))
        .send()
        .await
        .unwrap())
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|r| r["outcome"].as_str().unwrap().to_owned())
    .collect()
}

/// A lead's enrollments.
pub async fn enrollments(t: &TestApp, lead: &str) -> Vec<Value> {
    ok(t.get(&format!("/api/v1/leads/{lead}/enrollments"))
        .send()
        .await
        .unwrap())
    .await
    .as_array()
    .unwrap()
    .clone()
}

/// A one-email sequence sending at any hour, with its template (`html` must hold the
/// unsubscribe link); the sequence's id.
#[allow(dead_code)]
pub async fn one_email_sequence(t: &TestApp, name: &str, html: &str) -> String {
    let tpl = ok(t
        .post("/api/v1/email-templates")
        .json(&json!({"name": name, "subject": "Hello {{ lead.first_name }}", "html": html}))
        .send()
        .await
        .unwrap())
    .await;
    let seq = ok(t
        .post("/api/v1/sequences")
        .json(
            &json!({"name": name, "send_from_hour": 0, "send_until_hour": 24,
                      "steps": [{"type": "email", "template_id": tpl["id"]}]}),
        )
        .send()
        .await
        .unwrap())
    .await;
    seq["id"].as_str().unwrap().to_owned()
}
