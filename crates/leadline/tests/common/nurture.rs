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
