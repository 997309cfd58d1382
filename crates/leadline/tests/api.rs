//! The HTTP API against the real server on both databases.

mod common;

use leadline_domain::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn problem(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = r.json().await.unwrap();
    assert_eq!(ct, "application/problem+json", "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    (status, body)
}

#[tokio::test]
async fn every_api_route_requires_auth_and_keys_can_be_revoked() {
    for t in common::apps().await {
        for (method, path) in [
            ("GET", "/api/v1/leads"),
            ("POST", "/api/v1/leads"),
            ("GET", "/api/v1/users"),
            ("GET", "/api/v1/me"),
        ] {
            let r = t
                .client
                .request(method.parse().unwrap(), t.url(path))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let (status, body) = problem(r).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {method} {path}",
                t.name
            );
            assert_eq!(body["type"], "urn:leadline:problem:unauthenticated");
        }
        let r = t
            .client
            .get(t.url("/api/v1/leads"))
            .bearer_auth("ll_not-a-real-key")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // A revoked key stops working at once.
        let created: Value = t
            .post("/api/v1/api-keys")
            .json(&json!({"name": "temp", "role": "marketer"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("ll_"));
        let r = t
            .client
            .get(t.url("/api/v1/me"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let me: Value = r.json().await.unwrap();
        assert_eq!(me["role"], "marketer");
        let r = t
            .delete(&format!(
                "/api/v1/api-keys/{}",
                created["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = t
            .client
            .get(t.url("/api/v1/me"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{}: revoked key",
            t.name
        );
        // Health checks are public.
        assert_eq!(
            t.client
                .get(t.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            t.client
                .get(t.url("/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        let anonymous = t.client.get(t.url("/metrics")).send().await.unwrap();
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{}: metrics need a key",
            t.name
        );
        let metrics = t
            .get("/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("leadline_http_requests_total"),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn lead_crud_with_etags() {
    for t in common::apps().await {
        let r = t
            .post("/api/v1/leads")
            .json(&json!({"first_name": " Ana ", "last_name": "Lima", "email": "ana@acme.example", "company": "Acme",
                         "employees": 120, "first_touch": {"source": "google", "campaign": "brand"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", t.name);
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let lead: Value = r.json().await.unwrap();
        assert_eq!(lead["first_name"], "Ana");
        assert_eq!(lead["stage"], "new");
        assert_eq!(etag, "\"1\"");
        let id = lead["id"].as_str().unwrap().to_owned();
        assert_eq!(location, format!("/api/v1/leads/{id}"));

        let got: Value = t.get(&location).send().await.unwrap().json().await.unwrap();
        assert_eq!(got, lead);

        let r = t
            .patch(&location)
            .header("if-match", &etag)
            .json(&json!({"title": "CTO", "employees": null}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["etag"], "\"2\"");
        let updated: Value = r.json().await.unwrap();
        assert_eq!(updated["title"], "CTO");
        assert_eq!(updated["employees"], Value::Null);
        assert_eq!(updated["first_touch"]["source"], "google");

        // A stale ETag loses nothing: 412, and the lead is as it was.
        let r = t
            .patch(&location)
            .header("if-match", &etag)
            .json(&json!({"title": "CEO"}))
            .send()
            .await
            .unwrap();
        let (status, body) = problem(r).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{}", t.name);
        assert_eq!(body["type"], "urn:leadline:problem:stale-version");
        let got: Value = t.get(&location).send().await.unwrap().json().await.unwrap();
        assert_eq!(got["title"], "CTO");
        let r = t
            .patch(&location)
            .header("if-match", "garbage")
            .json(&json!({"title": "CEO"}))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(r).await.0, StatusCode::BAD_REQUEST);

        let history: Value = t
            .get(&format!("{location}/history"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(history["stages"][0]["to_stage"], "new");

        assert_eq!(
            t.delete(&location).send().await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
        let (status, _) = problem(t.get(&location).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let r = t.get("/api/v1/leads/not-a-uuid").send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::BAD_REQUEST,
            "{}: bad path id",
            t.name
        );
    }
}

#[tokio::test]
async fn bad_input_gets_precise_problems_and_writes_nothing() {
    for t in common::apps().await {
        let before = t.lead_count().await;
        let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
            (
                t.post("/api/v1/leads")
                    .header("content-type", "application/json")
                    .body("{\"email\": "),
                StatusCode::BAD_REQUEST,
                "malformed-json",
            ),
            (
                t.post("/api/v1/leads").body("email=a@b.co"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
            ),
            (
                t.post("/api/v1/leads").json(&json!({"emial": "a@b.co"})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                t.post("/api/v1/leads")
                    .json(&json!({"employees": "many", "last_name": "X"})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                t.post("/api/v1/leads")
                    .json(&json!({"email": "not an email"})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                t.post("/api/v1/leads").json(&json!({})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                t.post("/api/v1/leads").json(&json!([1, 2])),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                t.post("/api/v1/leads")
                    .json(&json!({"last_name": "X", "authority": "king"})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                t.post("/api/v1/leads")
                    .json(&json!({"last_name": "X", "owner_id": uuid::Uuid::now_v7()})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                t.post("/api/v1/leads")
                    .json(&json!({"last_name": "X".repeat(2_000_000)})),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
            ),
            (
                t.get("/api/v1/leads?stage=won"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                t.get("/api/v1/leads?cursor=bm90LWEtY3Vyc29y"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (
                t.get("/api/v1/leads?colour=red"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
            ),
            (t.get("/api/v1/nowhere"), StatusCode::NOT_FOUND, "not-found"),
        ];
        for (req, status, kind) in cases {
            let r = req.send().await.unwrap();
            let (got, body) = problem(r).await;
            assert_eq!(got, status, "{}: {body}", t.name);
            assert_eq!(
                body["type"],
                format!("urn:leadline:problem:{kind}"),
                "{}: {body}",
                t.name
            );
            if kind == "validation" {
                assert!(!body["errors"].as_array().unwrap().is_empty(), "{body}");
            }
        }
        let r = t
            .post("/api/v1/leads")
            .json(&json!({"emial": "a@b.co", "first_touch": {"sauce": "x"}}))
            .send()
            .await
            .unwrap();
        let (_, body) = problem(r).await;
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, vec!["emial", "first_touch.sauce"]);
        assert_eq!(t.lead_count().await, before, "{}: nothing written", t.name);
    }
}

#[tokio::test]
async fn stage_transitions_follow_the_lifecycle() {
    for t in common::apps().await {
        let lead: Value = t
            .post("/api/v1/leads")
            .json(&json!({"last_name": "Stage"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let path = format!("/api/v1/leads/{}/stage", lead["id"].as_str().unwrap());
        let r = t
            .post(&path)
            .json(&json!({"to": "mql", "note": "downloaded the whitepaper"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", t.name);
        let l: Value = r.json().await.unwrap();
        assert_eq!(l["stage"], "mql");
        let (status, body) = problem(
            t.post(&path)
                .json(&json!({"to": "converted"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            body["type"],
            "urn:leadline:problem:illegal-stage-transition"
        );
        let (status, _) = problem(
            t.post(&path)
                .json(&json!({"to": "disqualified"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "reason required");
        let (status, _) = problem(
            t.post(&path)
                .json(&json!({"to": "lost"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown enum value"
        );
        let r = t
            .post(&path)
            .header("if-match", "\"1\"")
            .json(&json!({"to": "sal"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
        let r = t
            .post(&path)
            .json(&json!({"to": "disqualified", "reason": "no_budget"}))
            .send()
            .await
            .unwrap();
        let l: Value = r.json().await.unwrap();
        assert_eq!(
            (l["stage"].as_str(), l["disqualify_reason"].as_str()),
            (Some("disqualified"), Some("no_budget"))
        );
        let r = t
            .post(&path)
            .json(&json!({"to": "nurture"}))
            .send()
            .await
            .unwrap();
        let l: Value = r.json().await.unwrap();
        assert_eq!(
            l["disqualify_reason"],
            Value::Null,
            "{}: reason cleared on recycle",
            t.name
        );
        let history: Value = t
            .get(&format!(
                "/api/v1/leads/{}/history",
                l["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let stages: Vec<&str> = history["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["to_stage"].as_str().unwrap())
            .collect();
        assert_eq!(stages, vec!["new", "mql", "disqualified", "nurture"]);
        assert_eq!(history["stages"][1]["note"], "downloaded the whitepaper");
    }
}

#[tokio::test]
async fn reps_see_their_own_and_unassigned_leads_only() {
    for t in common::apps().await {
        let (ana, ana_key) = t.user_with_key("ana@example.com", Role::Rep).await;
        let (ben, _) = t.user_with_key("ben@example.com", Role::Rep).await;
        let (_, marketer_key) = t.user_with_key("mo@example.com", Role::Marketer).await;
        let mk = |body: Value| {
            let t = &t;
            async move {
                t.post("/api/v1/leads")
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        };
        let anas = mk(json!({"last_name": "A", "owner_id": ana})).await;
        let bens = mk(json!({"last_name": "B", "owner_id": ben})).await;
        let free = mk(json!({"last_name": "C"})).await;
        let as_ana = |path: String| t.client.get(t.url(&path)).bearer_auth(&ana_key);
        let list: Value = as_ana("/api/v1/leads".into())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut names: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["last_name"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, vec!["A", "C"], "{}", t.name);
        let r = as_ana(format!("/api/v1/leads/{}", bens["id"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "{}: another rep's lead does not exist for Ana",
            t.name
        );
        let r = t
            .client
            .patch(t.url(&format!("/api/v1/leads/{}", bens["id"].as_str().unwrap())))
            .bearer_auth(&ana_key)
            .json(&json!({"title": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // Ana may take the unassigned lead, but not give hers to Ben.
        let r = t
            .client
            .patch(t.url(&format!("/api/v1/leads/{}", free["id"].as_str().unwrap())))
            .bearer_auth(&ana_key)
            .json(&json!({"owner_id": ana}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = t
            .client
            .patch(t.url(&format!("/api/v1/leads/{}", anas["id"].as_str().unwrap())))
            .bearer_auth(&ana_key)
            .json(&json!({"owner_id": ben}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // A rep's new lead is theirs; reps cannot delete.
        let mine: Value = t
            .client
            .post(t.url("/api/v1/leads"))
            .bearer_auth(&ana_key)
            .json(&json!({"last_name": "D"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(mine["owner_id"], ana.to_string());
        let r = t
            .client
            .delete(t.url(&format!("/api/v1/leads/{}", mine["id"].as_str().unwrap())))
            .bearer_auth(&ana_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // Marketers do not manage users.
        let r = t
            .client
            .post(t.url("/api/v1/users"))
            .bearer_auth(&marketer_key)
            .json(&json!({"email": "x@y.co", "name": "X", "role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            t.app.list_users().await.unwrap().len(),
            3,
            "{}: nothing written on 403",
            t.name
        );
        // owner=me
        let list: Value = as_ana("/api/v1/leads?owner=me".into())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["data"].as_array().unwrap().len(), 3);
    }
}

#[tokio::test]
async fn list_filters_custom_fields_and_cursor_pages() {
    for t in common::apps().await {
        let r = t.post("/api/v1/custom-fields").json(&json!({"key": "segment", "label": "Segment", "kind": "choice", "options": ["SMB"]})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", t.name);
        let field: Value = r.json().await.unwrap();
        let path = format!("/api/v1/custom-fields/{}", field["id"].as_str().unwrap());
        let r = t
            .patch(&path)
            .json(&json!({"options": ["SMB", "ENT"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}: options can grow", t.name);
        let (status, _) = problem(
            t.patch(&path)
                .json(&json!({"kind": "text"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the kind is fixed"
        );
        let (status, _) = problem(
            t.patch(&path)
                .json(&json!({"options": []}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a choice keeps at least one option"
        );
        let (status, body) = problem(
            t.post("/api/v1/custom-fields")
                .json(&json!({"key": "email", "label": "E", "kind": "text"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        for i in 0..12 {
            let body = json!({"last_name": format!("L{i:02}"), "company": if i % 2 == 0 { "Acme" } else { "Initech" },
                              "custom": {"segment": if i < 4 { "ENT" } else { "SMB" }}, "first_touch": {"source": if i % 3 == 0 { "linkedin" } else { "google" }}});
            assert_eq!(
                t.post("/api/v1/leads")
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status(),
                StatusCode::CREATED
            );
        }
        let (status, body) = problem(
            t.post("/api/v1/leads")
                .json(&json!({"last_name": "Z", "custom": {"segment": "MID"}}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["errors"][0]["field"], "custom.segment");
        let count = |q: &'static str| {
            let t = &t;
            async move {
                let v: Value = t
                    .get(&format!("/api/v1/leads?{q}"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                v["data"].as_array().unwrap().len()
            }
        };
        assert_eq!(count("custom.segment=ENT").await, 4, "{}", t.name);
        assert_eq!(count("source=linkedin").await, 4);
        assert_eq!(count("q=acme&custom.segment=SMB").await, 4);
        assert_eq!(count("stage=new,mql&limit=200").await, 12);
        let mut seen = Vec::new();
        let mut url = "/api/v1/leads?sort=name&limit=5".to_owned();
        loop {
            let v: Value = t.get(&url).send().await.unwrap().json().await.unwrap();
            seen.extend(
                v["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["last_name"].as_str().unwrap().to_owned()),
            );
            match v["next_cursor"].as_str() {
                Some(c) => url = format!("/api/v1/leads?sort=name&limit=5&cursor={c}"),
                None => break,
            }
        }
        let expected: Vec<String> = (0..12).map(|i| format!("L{i:02}")).collect();
        assert_eq!(seen, expected, "{}", t.name);
        // Activities.
        let v: Value = t
            .get("/api/v1/leads?limit=1")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = v["data"][0]["id"].as_str().unwrap();
        let r = t
            .post(&format!("/api/v1/leads/{id}/activities"))
            .json(&json!({"kind": "webinar_attended", "properties": {"webinar": "Scoring 101"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let (status, _) = problem(
            t.post(&format!("/api/v1/leads/{id}/activities"))
                .json(&json!({"kind": "Bad Kind"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let acts: Value = t
            .get(&format!("/api/v1/leads/{id}/activities"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(acts[0]["properties"]["webinar"], "Scoring 101");
    }
}

#[tokio::test]
async fn openapi_document_describes_every_api_route() {
    for t in common::apps().await.into_iter().take(1) {
        let doc: Value = t
            .client
            .get(t.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
        for p in [
            "/leads",
            "/leads/{id}",
            "/leads/{id}/stage",
            "/leads/{id}/activities",
            "/leads/{id}/history",
            "/leads/{id}/attribution",
            "/leads/{id}/quality",
            "/quality/settings",
            "/review-queue",
            "/quality/overview",
            "/review",
            "/duplicates",
            "/duplicates/scan",
            "/duplicates/dismiss",
            "/leads/{id}/duplicates",
            "/merges",
            "/merges/preview",
            "/merges/bulk",
            "/merges/{id}",
            "/merges/{id}/undo",
            "/accounts",
            "/accounts/{id}",
            "/leads/{id}/account",
            "/leads/{id}/enrichment",
            "/leads/{id}/enrich",
            "/leads/{id}/score",
            "/leads/{id}/score/history",
            "/scoring/models",
            "/scoring/models/{key}/versions",
            "/scoring/models/{key}/versions/{version}",
            "/scoring/models/{key}/versions/{version}/activate",
            "/scoring/models/{key}/versions/{version}/backtest",
            "/scoring/models/{key}/default",
            "/scoring/models/{key}/rescore",
            "/scoring/models/{key}/file",
            "/scoring/import",
            "/scoring/backtest",
            "/scoring/jobs",
            "/scoring/jobs/{id}",
            "/scoring/qualification",
            "/leads/{id}/aging",
            "/reports/aging",
            "/scoring/models/{key}/diff",
            "/users",
            "/teams",
            "/api-keys",
            "/custom-fields",
            "/me",
            "/capture",
            "/events",
            "/links",
            "/links/{token}",
            "/imports",
            "/imports/{id}",
            "/imports/{id}/errors.csv",
            "/inbound/email",
            "/forms",
            "/forms/{id}",
            "/sources",
            "/campaigns",
            "/campaigns/{id}/costs",
            "/capture/settings",
            "/rejected-submissions",
        ] {
            assert!(
                paths.iter().any(|x| x.as_str() == p),
                "{p} missing from {paths:?}"
            );
        }
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        let ui = t.client.get(t.url("/api-docs/")).send().await.unwrap();
        assert_eq!(ui.status(), StatusCode::OK);
    }
}
