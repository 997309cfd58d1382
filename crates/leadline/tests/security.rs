//! Issue 11, the route table: every operation of the API's OpenAPI document (so a new
//! route is checked as soon as it is documented) refuses a request without credentials,
//! with a made-up key and with a revoked key — 401 as problem details — and the refused
//! requests, bodies and all, leave every table exactly as it was (authorization before any
//! write). On SQLite and PostgreSQL.

mod common;

use leadline_domain::{Principal, Role};

#[tokio::test]
async fn every_api_operation_refuses_a_request_without_valid_credentials_before_writing() {
    for t in common::apps().await {
        let (prefix, ops) = common::api_operations(&t).await;
        // A key that worked, then was revoked: it must stop at once.
        let system = Principal::system("test");
        let (revoked, revoked_secret) = t
            .app
            .create_api_key(&system, "revoked", Role::Admin, None)
            .await
            .unwrap();
        t.app.revoke_api_key(&system, revoked.id).await.unwrap();
        // Something in the tables, so a stray write or delete would show.
        common::ok(
            t.post("/api/v1/leads")
                .json(&serde_json::json!({"email": "kept@route-table.example"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let before = common::row_counts(&t).await;

        let mut checked = 0;
        for op in &ops {
            let (m, path) = (&op.method, &op.path);
            // Every path parameter gets a fresh id: nothing exists behind it, and the
            // answer must still be 401, not 404 (which would tell a stranger what exists).
            let url = op.fill(&uuid::Uuid::now_v7().to_string());
            let credentials = [
                None,
                Some("ll_made-up-key".to_owned()),
                Some(revoked_secret.clone()),
            ];
            for auth in credentials {
                let mut req = t
                    .client
                    .request(m.clone(), t.url(&format!("{prefix}{url}")))
                    .header("content-type", "application/json")
                    .body(r#"{"email":"intruder@route-table.example","name":"x"}"#);
                if let Some(a) = &auth {
                    req = req.bearer_auth(a);
                }
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                let ctype = r
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                assert_eq!(
                    status,
                    401,
                    "{}: {m} {path} with {:?} answered {status}",
                    t.name,
                    auth.as_deref().map(|a| &a[..a.len().min(8)])
                );
                assert!(
                    ctype.starts_with("application/problem+json"),
                    "{}: {m} {path}: {ctype}",
                    t.name
                );
                checked += 1;
            }
        }
        assert!(checked > 300, "{}: only {checked} requests", t.name);
        assert_eq!(
            common::row_counts(&t).await,
            before,
            "{}: refused requests changed the database",
            t.name
        );
    }
}
