//! Duplicates, merges, accounts and enrichment end to end, on SQLite and PostgreSQL.

mod common;

use leadline_domain::Role;
use serde_json::{Value, json};
use std::time::Duration;

async fn json_of(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn create(t: &common::TestApp, lead: Value) -> String {
    let l = json_of(t.post("/api/v1/leads").json(&lead).send().await.unwrap()).await;
    l["id"].as_str().unwrap().to_owned()
}

async fn capture(t: &common::TestApp, lead: Value) -> Value {
    json_of(
        t.post("/api/v1/capture")
            .json(&json!({ "lead": lead }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn note(t: &common::TestApp, id: &str, text: &str) {
    json_of(
        t.post(&format!("/api/v1/leads/{id}/activities"))
            .json(&json!({"kind": "note", "properties": {"text": text}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
}

/// The ids of the leads that reached MQL (the lead list's milestone filter).
async fn reached_mql(t: &common::TestApp) -> Vec<String> {
    let l = json_of(t.get("/api/v1/leads?reached=mql").send().await.unwrap()).await;
    l["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn notes(t: &common::TestApp, id: &str) -> Vec<String> {
    let a = json_of(
        t.get(&format!("/api/v1/leads/{id}/activities"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let items = a["items"].as_array().or(a.as_array()).cloned().unwrap();
    items
        .iter()
        .map(|x| {
            format!(
                "{}:{}",
                x["kind"].as_str().unwrap_or(""),
                x["properties"]["text"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn merge_moves_the_timeline_and_unmerge_restores_both_leads() {
    for t in common::apps().await {
        let a = create(
            &t,
            json!({"first_name": "Ana", "last_name": "Lima", "email": "ana@acme.example",
                   "title": "Buyer", "phone": "+49 30 1111111"}),
        )
        .await;
        let b = create(
            &t,
            json!({"first_name": "Ana", "last_name": "Lima", "email": "ana.lima@acme.example",
                   "title": "Head of Purchasing", "company": "Acme", "external_id": "crm-7",
                   "email_opt_out": true}),
        )
        .await;
        note(&t, &a, "first call").await;
        note(&t, &b, "asked for pricing").await;
        // b was qualified; the survivor inherits its history and so its milestones.
        json_of(
            t.post(&format!("/api/v1/leads/{b}/stage"))
                .json(&json!({"to": "mql"}))
                .send()
                .await
                .unwrap(),
        )
        .await;

        // The preview follows the rule: the newer lead's title, the older's phone.
        let p = json_of(
            t.post("/api/v1/merges/preview")
                .json(&json!({"survivor_id": a, "merged_ids": [b]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(p["result"]["title"], "Head of Purchasing", "{}", t.name);
        assert_eq!(p["result"]["phone"], "+49 30 1111111");

        // A person keeps the older email.
        let r = t
            .post("/api/v1/merges")
            .json(&json!({"survivor_id": a, "merged_ids": [b], "fields": {"email": a}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", t.name);
        let m = json_of(r).await;
        let merge_id = m["id"].as_str().unwrap().to_owned();
        assert_eq!(m["merged_ids"], json!([b]));

        let gone = t.get(&format!("/api/v1/leads/{b}")).send().await.unwrap();
        assert_eq!(gone.status(), 404, "the merged lead is gone");
        let s = json_of(t.get(&format!("/api/v1/leads/{a}")).send().await.unwrap()).await;
        assert_eq!(s["email"], "ana@acme.example");
        assert_eq!(s["title"], "Head of Purchasing");
        assert_eq!(s["company"], "Acme");
        assert_eq!(
            s["external_id"], "crm-7",
            "the merged lead's external id moves"
        );
        assert_eq!(s["email_opt_out"], true, "an opt-out sticks");
        let timeline = notes(&t, &a).await;
        assert!(
            timeline.contains(&"note:asked for pricing".to_owned()),
            "{timeline:?}"
        );
        assert!(
            timeline.iter().any(|n| n.starts_with("merged:")),
            "{timeline:?}"
        );
        let listed = json_of(
            t.get(&format!("/api/v1/merges?lead={a}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(
            reached_mql(&t).await,
            vec![a.clone()],
            "{}: milestones follow the merge",
            t.name
        );

        // Edited after the merge: the newer title survives the unmerge.
        json_of(
            t.patch(&format!("/api/v1/leads/{a}"))
                .json(&json!({"title": "CFO"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let u = json_of(
            t.post(&format!("/api/v1/merges/{merge_id}/undo"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(u["kept_fields"], json!(["title"]), "{u}");
        assert_eq!(u["survivor"]["title"], "CFO");
        assert_eq!(
            u["survivor"]["company"],
            Value::Null,
            "back to before the merge"
        );
        assert_eq!(u["survivor"]["external_id"], Value::Null);
        assert_eq!(u["survivor"]["email_opt_out"], false);
        let back = json_of(t.get(&format!("/api/v1/leads/{b}")).send().await.unwrap()).await;
        assert_eq!(back["external_id"], "crm-7");
        assert_eq!(back["email_opt_out"], true);
        assert_eq!(
            reached_mql(&t).await,
            vec![b.clone()],
            "{}: and its undo",
            t.name
        );
        assert!(
            notes(&t, &b)
                .await
                .contains(&"note:asked for pricing".to_owned())
        );
        assert!(
            !notes(&t, &a)
                .await
                .contains(&"note:asked for pricing".to_owned())
        );
        let again = t
            .post(&format!("/api/v1/merges/{merge_id}/undo"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 409);

        // Bad requests get precise problems.
        let r = t
            .post("/api/v1/merges")
            .json(&json!({"survivor_id": a, "merged_ids": [a]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["errors"][0]["code"], "contains_survivor");
        let r = t
            .post("/api/v1/merges")
            .json(&json!({"survivor_id": a, "merged_ids": [uuid::Uuid::now_v7()]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);

        // Reps do not merge.
        let (_, rep) = t.user_with_key("rep@x.example", Role::Rep).await;
        let r = t
            .client
            .post(t.url("/api/v1/merges"))
            .bearer_auth(rep)
            .json(&json!({"survivor_id": a, "merged_ids": [b]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
}

#[tokio::test]
async fn duplicates_are_flagged_on_capture_found_by_a_scan_and_merged_in_bulk() {
    for t in common::apps().await {
        let first = capture(
            &t,
            json!({"first_name": "William", "last_name": "Müller",
                   "email": "w.mueller@acme-logistics.de", "company": "Acme Logistics GmbH"}),
        )
        .await;
        let second = capture(
            &t,
            json!({"first_name": "Bill", "last_name": "Mueller", "email": "bill@acme-logistics.de"}),
        )
        .await;
        assert_eq!(second["outcome"], "created", "another address: a new lead");
        let pairs = json_of(t.get("/api/v1/duplicates").send().await.unwrap()).await;
        let pairs = pairs.as_array().unwrap();
        assert_eq!(pairs.len(), 1, "{}: {pairs:?}", t.name);
        assert_eq!(pairs[0]["found_by"], "capture");
        assert_eq!(
            pairs[0]["a"], first["lead_id"],
            "the older lead comes first"
        );
        assert_eq!(pairs[0]["b"], second["lead_id"]);
        let r = t
            .get(&format!(
                "/api/v1/leads/{}/duplicates",
                first["lead_id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(r).await.as_array().unwrap().len(), 1);

        // Dismissed pairs stay dismissed, also after a scan.
        let r = t
            .post("/api/v1/duplicates/dismiss")
            .json(&json!({"a": pairs[0]["a"], "b": pairs[0]["b"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);

        // Entered by hand: nothing checked them on the way in.
        let x = create(
            &t,
            json!({"first_name": "Ana", "last_name": "Lima", "phone": "+49 30 1234567"}),
        )
        .await;
        let y = create(&t, json!({"first_name": "Ana", "last_name": "Lima", "phone": "030 123 45 67", "country": "DE"})).await;

        let r = t.post("/api/v1/duplicates/scan").send().await.unwrap();
        assert_eq!(r.status(), 202, "{}", t.name);
        let mut status = Value::Null;
        for _ in 0..200 {
            status = json_of(t.get("/api/v1/duplicates/scan").send().await.unwrap()).await;
            if status["state"] != "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status["state"], "done", "{status}");
        assert_eq!(status["leads_scanned"], 4);
        let pairs = json_of(t.get("/api/v1/duplicates").send().await.unwrap()).await;
        let pairs = pairs.as_array().unwrap();
        assert_eq!(pairs.len(), 1, "{}: {pairs:?} {status}", t.name);
        assert_eq!(
            (pairs[0]["a"].as_str(), pairs[0]["b"].as_str()),
            (Some(x.as_str()), Some(y.as_str()))
        );
        assert_eq!(pairs[0]["found_by"], "scan");

        // Cursor paging and its errors.
        let r = t
            .get("/api/v1/duplicates?after=nonsense")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        let r = t
            .post("/api/v1/merges/bulk")
            .json(&json!({"min_confidence": 0.5}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "bulk merges need ≥ 0.9");
        let done = json_of(
            t.post("/api/v1/merges/bulk")
                .json(&json!({"min_confidence": 0.9}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(done["merged"], 1);
        assert_eq!(t.lead_count().await, 3);
        let o = json_of(t.get("/api/v1/quality/overview").send().await.unwrap()).await;
        assert_eq!(o["duplicates"]["open_pairs"], 0, "{o}");
        assert_eq!(o["duplicates"]["merged_pairs"], 1);
        assert_eq!(o["duplicates"]["dismissed_pairs"], 1);
        assert_eq!(o["duplicates"]["leads_merged"], 1);
    }
}

/// A tiny enrichment service on a real socket: answers every lookup with `answer` and
/// counts the requests.
async fn enrichment_service(
    answer: Value,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::post;
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/lookup",
        post(move |axum::Json(body): axum::Json<Value>| {
            let answer = answer.clone();
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                assert!(body["email"].is_string(), "{body}");
                axum::Json(answer)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/lookup", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

#[tokio::test]
async fn enrichment_fills_empty_fields_with_provenance_and_links_accounts() {
    for t in common::apps().await {
        // A lead already here when the account is created is linked to it.
        let early = create(&t, json!({"email": "old@acme-logistics.de"})).await;
        let acc = t
            .post("/api/v1/accounts")
            .json(
                &json!({"name": "Acme Logistics", "domain": "https://www.acme-logistics.de/about"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(acc.status(), 201, "{}", t.name);
        let acc = json_of(acc).await;
        assert_eq!(acc["domain"], "acme-logistics.de");
        assert_eq!(acc["leads"], 1);
        let linked = json_of(
            t.get(&format!("/api/v1/leads/{early}/account"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(linked["account"]["name"], "Acme Logistics");
        let dup = t
            .post("/api/v1/accounts")
            .json(&json!({"name": "Other", "domain": "acme-logistics.de"}))
            .send()
            .await
            .unwrap();
        assert_eq!(dup.status(), 422, "one account per domain");

        let c = capture(
            &t,
            json!({"email": "w.mueller@acme-logistics.de", "phone": "+49 30 1234567"}),
        )
        .await;
        let id = c["lead_id"].as_str().unwrap().to_owned();
        let l = &c["lead"];
        assert_eq!(l["company"], "Acme Logistics", "{l}");
        assert_eq!(l["website"], "https://acme-logistics.de");
        assert_eq!(l["country"], "DE");
        assert_eq!(l["time_zone"], "Europe/Berlin");
        let e = json_of(
            t.get(&format!("/api/v1/leads/{id}/enrichment"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let by_field = |f: &str| {
            e.as_array()
                .unwrap()
                .iter()
                .find(|x| x["field"] == f)
                .cloned()
                .unwrap()
        };
        assert_eq!(by_field("company")["provider"], "email_domain");
        assert_eq!(by_field("company")["basis"], "acme-logistics.de");
        assert_eq!(by_field("country")["provider"], "phone_prefix");
        assert_eq!(by_field("country")["basis"], "+49");
        assert_eq!(by_field("time_zone")["applied"], true);
        let a = json_of(
            t.get(&format!("/api/v1/leads/{id}/account"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(a["matched_by"], "domain");

        // What a person typed is never overwritten.
        let c = capture(
            &t,
            json!({"email": "ana@beta-labs.example", "company": "Beta Laboratories"}),
        )
        .await;
        assert_eq!(c["lead"]["company"], "Beta Laboratories");

        // The outside service: off by default, then asked about each new lead.
        let (url, hits) = enrichment_service(json!({
            "industry": "Logistics", "employees": 250, "company": "Not This", "owner_id": "x"
        }))
        .await;
        let mut settings = json_of(t.get("/api/v1/quality/settings").send().await.unwrap()).await;
        assert_eq!(settings["enrichment_hook_url"], Value::Null);
        settings["enrichment_hook_url"] = json!(url);
        json_of(
            t.client
                .put(t.url("/api/v1/quality/settings"))
                .bearer_auth(&t.key)
                .json(&settings)
                .send()
                .await
                .unwrap(),
        )
        .await;
        // The service listens on loopback: refused (SSRF guard) until an admin allows the
        // host, and a name that resolves to loopback is refused as surely as the address.
        let enrich_early = |url: String| {
            let t = &t;
            let early = early.clone();
            async move {
                let mut s = json_of(t.get("/api/v1/quality/settings").send().await.unwrap()).await;
                s["enrichment_hook_url"] = json!(url);
                json_of(
                    t.put("/api/v1/quality/settings")
                        .json(&s)
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
                let r = t
                    .post(&format!("/api/v1/leads/{early}/enrich"))
                    .send()
                    .await
                    .unwrap();
                (
                    r.status().as_u16(),
                    r.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
        };
        let (status, p) = enrich_early(url.clone()).await;
        assert_eq!(status, 502, "{}: {p}", t.name);
        let detail = p["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("refused") && detail.contains("loopback"),
            "{detail}"
        );
        let by_name = url.replace("127.0.0.1", "localhost");
        let (status, p) = enrich_early(by_name).await;
        assert_eq!(status, 502, "{}: {p}", t.name);
        let detail = p["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("refused: localhost resolves to") && detail.contains("loopback"),
            "{detail}"
        );
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "nothing reached it"
        );
        json_of(
            t.put("/api/v1/webhooks/settings")
                .json(&json!({"allowed_private_hosts": ["127.0.0.1"]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        settings["enrichment_hook_url"] = json!(url);
        json_of(
            t.put("/api/v1/quality/settings")
                .json(&settings)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let c = capture(
            &t,
            json!({"email": "kim@gamma-freight.example", "company": "Gamma Freight"}),
        )
        .await;
        let id = c["lead_id"].as_str().unwrap().to_owned();
        let mut lead = Value::Null;
        for _ in 0..200 {
            lead = json_of(t.get(&format!("/api/v1/leads/{id}")).send().await.unwrap()).await;
            if lead["industry"].is_string() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(lead["industry"], "Logistics", "{}: {lead}", t.name);
        assert_eq!(lead["employees"], 250);
        assert_eq!(lead["company"], "Gamma Freight");
        assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        let e = json_of(
            t.get(&format!("/api/v1/leads/{id}/enrichment"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let hook: Vec<&Value> = e
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["provider"] == "hook")
            .collect();
        assert_eq!(
            hook.len(),
            3,
            "industry, employees and the unapplied company: {e}"
        );
        assert!(
            hook.iter()
                .any(|x| x["field"] == "company" && x["applied"] == false)
        );
        assert!(hook.iter().all(|x| x["basis"] == "127.0.0.1"));

        // Asked again by hand: nothing left to fill.
        let again = json_of(
            t.post(&format!("/api/v1/leads/{id}/enrich"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(again, json!([]));

        // A service that is down is a clear 502, and the lead stays as it was.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("http://{}/lookup", closed.local_addr().unwrap());
        drop(closed);
        settings["enrichment_hook_url"] = json!(dead);
        json_of(
            t.client
                .put(t.url("/api/v1/quality/settings"))
                .bearer_auth(&t.key)
                .json(&settings)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let r = t
            .post(&format!("/api/v1/leads/{id}/enrich"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
        let p: Value = r.json().await.unwrap();
        assert!(p["type"].as_str().unwrap().ends_with("upstream"), "{p}");

        settings["enrichment_hook_url"] = json!("ftp://nope");
        let r = t
            .client
            .put(t.url("/api/v1/quality/settings"))
            .bearer_auth(&t.key)
            .json(&settings)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
    }
}

#[tokio::test]
async fn unicode_names_long_values_and_look_alikes_get_clear_results() {
    for t in common::apps().await {
        // Decomposed accents are composed; right-to-left names are kept; an override is dropped.
        let c = capture(
            &t,
            json!({"first_name": "Jose\u{301}", "last_name": "\u{202E}כהן", "email": "jose@acme.example"}),
        )
        .await;
        assert_eq!(c["lead"]["first_name"], "Jos\u{e9}", "{}", t.name);
        assert_eq!(c["lead"]["last_name"], "כהן");
        let q = json_of(
            t.get(&format!(
                "/api/v1/leads/{}/quality",
                c["lead_id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(q["status"], "verified", "{q}");

        // A look-alike name (Cyrillic А in a Latin word) is suspect: quarantined for review.
        let c = capture(&t, json!({"first_name": "\u{410}lice", "last_name": "Smith", "email": "alice@acme.example"})).await;
        let id = c["lead_id"].as_str().unwrap().to_owned();
        let q = json_of(
            t.get(&format!("/api/v1/leads/{id}/quality"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(q["status"], "suspect", "{q}");
        assert!(
            q["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "mixed_scripts")
        );
        let queue = json_of(t.get("/api/v1/review-queue").send().await.unwrap()).await;
        assert!(
            queue
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["lead"]["id"] == id.as_str())
        );

        // An absurdly long value is refused with the field and the limit.
        let r = t
            .post("/api/v1/capture")
            .json(&json!({"lead": {"last_name": "x".repeat(5_000), "email": "long@acme.example"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "last_name", "{p}");
        assert_eq!(p["errors"][0]["code"], "too_long");
        // Empty strings are missing values, not values.
        let c = capture(&t, json!({"first_name": "  ", "last_name": "Nunes", "company": "", "email": "n@acme.example"})).await;
        assert_eq!(c["lead"]["first_name"], Value::Null);
        assert_eq!(
            c["lead"]["company"], "Acme",
            "an empty company is filled from the domain"
        );
    }
}

#[tokio::test]
async fn key_groups_are_read_whole_across_small_pages() {
    for t in common::apps().await {
        let mut ids = Vec::new();
        for i in 0..7 {
            let id = create(&t, json!({"last_name": format!("K{i}")})).await;
            ids.push(id.parse::<uuid::Uuid>().unwrap());
        }
        // a: 3 leads, b: 1 (not shared), c: 2, d: 4 (over the limit of 3).
        let plan: [(&str, &[usize]); 4] = [
            ("a", &[0, 1, 2]),
            ("b", &[3]),
            ("c", &[4, 5]),
            ("d", &[0, 1, 2, 6]),
        ];
        {
            let mut tx = t.app.db.begin().await.unwrap();
            let mut by_lead: std::collections::BTreeMap<uuid::Uuid, Vec<String>> =
                Default::default();
            for (k, members) in plan {
                for m in members {
                    by_lead.entry(ids[*m]).or_default().push(k.to_owned());
                }
            }
            let items: Vec<(uuid::Uuid, Vec<String>)> = by_lead.into_iter().collect();
            leadline_store::quality::set_keys_many(tx.conn(), &items)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        for rows in [2i64, 3, 5, 100] {
            let mut after = String::new();
            let mut seen = Vec::new();
            for _ in 0..50 {
                let mut c = t.app.db.acquire().await.unwrap();
                let (groups, next) =
                    leadline_store::quality::shared_keys_page(c.conn(), 3, &after, rows)
                        .await
                        .unwrap();
                seen.extend(groups.into_iter().map(|(k, v)| (k, v.len())));
                match next {
                    Some(n) => after = n,
                    None => break,
                }
            }
            assert_eq!(
                seen,
                vec![("a".to_owned(), 3), ("c".to_owned(), 2)],
                "{} with pages of {rows}",
                t.name
            );
        }
    }
}
