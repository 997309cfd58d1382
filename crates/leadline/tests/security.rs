//! Issue 11, the route table: every operation of the API's OpenAPI document (so a new
//! route is checked as soon as it is documented) refuses a request without credentials,
//! with a made-up key and with a revoked key — 401 as problem details — and the refused
//! requests, bodies and all, leave every table exactly as it was (authorization before any
//! write). On SQLite and PostgreSQL.

mod common;

use leadline_domain::{Principal, Role};
use leadline_store::Conn;

/// Row counts of every table, in name order.
async fn snapshot(t: &common::TestApp) -> Vec<(String, i64)> {
    let mut c = t.app.db.acquire().await.unwrap();
    let tables: Vec<String> = match c.conn() {
        Conn::Sqlite(c) => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap(),
        Conn::Postgres(c) => sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             ORDER BY table_name",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap(),
    };
    let mut out = Vec::new();
    for name in tables {
        // Names come from the catalogue, quoted as identifiers.
        let sql = format!("SELECT COUNT(*) FROM \"{}\"", name.replace('"', "\"\""));
        let n: i64 = match c.conn() {
            Conn::Sqlite(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *c)
                .await
                .unwrap(),
            Conn::Postgres(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *c)
                .await
                .unwrap(),
        };
        out.push((name, n));
    }
    out
}

#[tokio::test]
async fn every_api_operation_refuses_a_request_without_valid_credentials_before_writing() {
    for t in common::apps().await {
        let spec = common::ok(t.get("/api/v1/openapi.json").send().await.unwrap()).await;
        let prefix = spec["servers"][0]["url"].as_str().unwrap_or("").to_owned();
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
        let before = snapshot(&t).await;

        let mut checked = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, _) in item.as_object().unwrap() {
                let Ok(m) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                    continue;
                };
                if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) {
                    continue;
                }
                // Every path parameter gets a fresh id: nothing exists behind it, and the
                // answer must still be 401, not 404 (which would tell a stranger what exists).
                let mut url = String::new();
                let mut rest = path.as_str();
                while let Some(open) = rest.find('{') {
                    url.push_str(&rest[..open]);
                    url.push_str(&uuid::Uuid::now_v7().to_string());
                    rest = rest[open..].split_once('}').map_or("", |(_, r)| r);
                }
                url.push_str(rest);
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
        }
        assert!(checked > 300, "{}: only {checked} requests", t.name);
        assert_eq!(
            snapshot(&t).await,
            before,
            "{}: refused requests changed the database",
            t.name
        );
    }
}
