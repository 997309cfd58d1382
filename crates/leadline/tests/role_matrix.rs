//! Issue 11, the role matrix, on SQLite and PostgreSQL.
//!
//! 1. Every operation of the OpenAPI document, called with a manager's, a marketer's and a
//!    rep's key, is refused (403) for exactly the roles `fixtures/role_matrix.txt` names,
//!    and the refused requests change no row. The file is the policy, one line per
//!    operation; a new operation fails the test until someone decides who may call it.
//!    `LEADLINE_BLESS=1` rewrites the file from what the server does, for review in the diff.
//! 2. A rep cannot reach another rep's lead through any `/leads/{id}/…` operation (404 or
//!    403, nothing written), and no list, report or board a rep may read shows it.

mod common;

use leadline_domain::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const MATRIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/role_matrix.txt"
);

/// The roles checked (admins may do everything; the route-table test covers no role at all).
const ROLES: [Role; 3] = [Role::Manager, Role::Marketer, Role::Rep];

fn read_matrix() -> BTreeMap<String, Vec<String>> {
    common::matrix::read(MATRIX)
}

fn write_matrix(m: &BTreeMap<String, Vec<String>>) {
    common::matrix::write(
        MATRIX,
        "# Who is refused (403) each API operation: METHOD PATH then the refused roles, or -.\n\
         # Admins may call everything. Checked by tests/role_matrix.rs.\n",
        58,
        m,
    );
}

#[tokio::test]
async fn each_role_may_call_what_the_matrix_says_and_reps_see_only_their_leads() {
    let bless = std::env::var("LEADLINE_BLESS").is_ok_and(|v| v == "1");
    let expected = read_matrix();
    for t in common::apps().await {
        let n = t.name;
        let (prefix, ops, spec) = common::api_spec(&t).await;
        let mut keys = BTreeMap::new();
        for r in ROLES {
            let (_, key) = t
                .user_with_key(&format!("{}@role-matrix.example", r.as_str()), r)
                .await;
            keys.insert(r.as_str(), key);
        }
        let ana_id = t
            .app
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.role == Role::Rep)
            .unwrap()
            .id;
        let (ben, _) = t.user_with_key("ben@role-matrix.example", Role::Rep).await;
        // Ben's lead, with a timeline, a task and a duplicate candidate, for part 2.
        let bens = common::ok(
            t.post("/api/v1/leads")
                .json(&json!({"first_name": "Benedikt", "last_name": "Onlybens",
                    "email": "onlybens@role-matrix.example", "company": "Bens Own GmbH",
                    "owner_id": ben}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let bens_id = bens["id"].as_str().unwrap().to_owned();
        common::ok(
            t.post(&format!("/api/v1/leads/{bens_id}/tasks"))
                .json(&json!({"kind": "call", "title": "Call Onlybens", "due_at": "2030-01-01T09:00:00Z"}))
                .send()
                .await
                .unwrap(),
        )
        .await;

        // Every request carries a body that decodes, so what answers is the authorization
        // (and the validation behind it), not the body decoder.
        let request = |op: &common::Operation, id: Option<&str>, key: &str, overrides: &Value| {
            let path = match id {
                Some(id) => op.fill(id),
                None => op.fill_unknown(),
            };
            let url = t.url(&format!("{prefix}{path}"));
            let mut req = t.client.request(op.method.clone(), url).bearer_auth(key);
            if let Some((ctype, mut body)) = common::minimal_body(&spec, op) {
                if let (Ok(Value::Object(mut v)), Value::Object(o)) =
                    (serde_json::from_slice::<Value>(&body), overrides)
                {
                    for (k, x) in o {
                        if v.contains_key(k) {
                            v.insert(k.clone(), x.clone());
                        }
                    }
                    body = serde_json::to_vec(&v).unwrap();
                }
                req = req.header("content-type", ctype).body(body);
            }
            req.send()
        };
        let none = json!({});

        // Part 1: refused requests first (nothing may change), then the allowed ones.
        let send = |op: &common::Operation, key: &str| request(op, None, key, &none);
        let mut observed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut failures = Vec::new();
        let documented: Vec<String> = ops
            .iter()
            .map(|o| format!("{} {}", o.method, o.path))
            .collect();
        if !bless {
            for name in &documented {
                if !expected.contains_key(name) {
                    failures.push(format!("{name}: not in the matrix; decide who may call it"));
                }
            }
            for name in expected.keys() {
                if !documented.contains(name) {
                    failures.push(format!("{name}: in the matrix but not documented"));
                }
            }
        }
        let before = common::row_counts(&t).await;
        for refused_pass in [true, false] {
            for (op, name) in ops.iter().zip(&documented) {
                let want = expected.get(name).cloned().unwrap_or_default();
                for r in ROLES {
                    let role = r.as_str();
                    if want.iter().any(|w| w == role) != refused_pass {
                        continue;
                    }
                    let status = send(op, &keys[role]).await.unwrap().status();
                    if status.is_server_error() {
                        failures.push(format!("{name} as {role}: {status}"));
                    }
                    let refused = status == StatusCode::FORBIDDEN;
                    if refused {
                        observed
                            .entry(name.clone())
                            .or_default()
                            .push(role.to_owned());
                    } else {
                        observed.entry(name.clone()).or_default();
                    }
                    if refused != refused_pass && !bless {
                        failures.push(format!(
                            "{name} as {role}: {status}, the matrix says {}",
                            if refused_pass { "403" } else { "allowed" }
                        ));
                    }
                }
            }
            if refused_pass {
                assert_eq!(
                    common::row_counts(&t).await,
                    before,
                    "{n}: refused requests changed the database"
                );
            }
        }
        if bless {
            for v in observed.values_mut() {
                v.sort_by_key(|r| ROLES.iter().position(|x| x.as_str() == r));
            }
            write_matrix(&observed);
        }

        // Part 2: Ana, a rep, and Ben's lead.
        let ana = &keys["rep"];
        let anas_id = common::ok(
            t.client
                .post(t.url("/api/v1/leads"))
                .bearer_auth(ana)
                .json(&json!({"last_name": "Anas", "email": "anas@role-matrix.example"}))
                .send()
                .await
                .unwrap(),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let account = common::ok(
            t.post("/api/v1/accounts")
                .json(&json!({"name": "Matrix Account"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        // Values the bodies need to succeed on Ana's own lead (the control below).
        let overrides = json!({"owner_id": ana_id, "to": "mql", "account_id": account["id"]});
        let lead_ops: Vec<(&common::Operation, &String)> = ops
            .iter()
            .zip(&documented)
            .filter(|(op, _)| op.path.starts_with("/leads/{id}"))
            .collect();
        let rep_refused = |name: &str| {
            expected
                .get(name)
                .is_some_and(|r| r.iter().any(|x| x == "rep"))
        };
        let before = common::row_counts(&t).await;
        for (op, name) in &lead_ops {
            let r = request(op, Some(&bens_id), ana, &overrides).await.unwrap();
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            let fine = status == StatusCode::NOT_FOUND
                || (status == StatusCode::FORBIDDEN && rep_refused(name));
            if !fine {
                failures.push(format!("{name} on another rep's lead: {status} {body}"));
            }
            if body.contains("Onlybens") || body.contains("onlybens@") {
                failures.push(format!("{name} on another rep's lead shows it"));
            }
        }
        assert_eq!(
            common::row_counts(&t).await,
            before,
            "{n}: requests on another rep's lead changed the database"
        );
        // The control: the same requests on Ana's own lead get past the lead (succeed, or
        // fail on something else: a stage rule, a missing model), so the 404s above came
        // from whose lead it is, not from the request. Deleting goes last.
        let mut control = lead_ops.clone();
        control.sort_by_key(|(op, _)| op.method == reqwest::Method::DELETE);
        for (op, name) in &control {
            let r = request(op, Some(&anas_id), ana, &overrides).await.unwrap();
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            let fine = status.is_success()
                || status == StatusCode::CONFLICT
                || (status == StatusCode::NOT_FOUND && !body.contains("lead not found"))
                || (status == StatusCode::FORBIDDEN && rep_refused(name));
            if !fine {
                failures.push(format!("{name} on her own lead: {status} {body}"));
            }
        }
        for (op, name) in ops.iter().zip(&documented) {
            if op.method != reqwest::Method::GET || op.path.contains('{') {
                continue;
            }
            let r = t
                .client
                .get(t.url(&format!("{prefix}{}", op.path)))
                .bearer_auth(ana)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            if status.is_success()
                && (body.contains("Onlybens")
                    || body.contains("onlybens@")
                    || body.contains(&bens_id))
            {
                failures.push(format!("{name} shows a rep another rep's lead"));
            }
        }
        assert!(failures.is_empty(), "{n}:\n{}", failures.join("\n"));
    }
}
