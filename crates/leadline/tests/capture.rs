//! Capture channels end to end against the real server on both databases: Web-to-Lead,
//! the capture API with idempotency, tracking and tracked links, sources and campaigns,
//! rejected submissions.

mod common;

use common::TestApp;
use leadline_domain::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";

async fn settings(t: &TestApp, body: Value) {
    let r = t
        .client
        .put(t.url("/api/v1/capture/settings"))
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

async fn leads_by_q(t: &TestApp, q: &str) -> Vec<Value> {
    let body: Value = t
        .get(&format!("/api/v1/leads?q={q}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"].as_array().unwrap().clone()
}

async fn activities(t: &TestApp, lead_id: &str) -> Vec<Value> {
    let body: Value = t
        .get(&format!("/api/v1/leads/{lead_id}/activities"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| body.as_array().unwrap().clone())
}

async fn rejected(t: &TestApp) -> Vec<Value> {
    t.get("/api/v1/rejected-submissions")
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

fn w2l(t: &TestApp, body: &'static str) -> reqwest::RequestBuilder {
    t.client
        .post(t.url("/servlet/servlet.WebToLead?encoding=UTF-8"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("user-agent", BROWSER_UA)
        .body(body)
}

#[tokio::test]
async fn a_salesforce_form_works_by_changing_only_its_action() {
    for t in common::apps().await {
        t.post("/api/v1/custom-fields")
            .json(&json!({"key": "product_interest", "label": "Product interest", "kind": "text"}))
            .send()
            .await
            .unwrap();
        settings(
            &t,
            json!({
                "allowed_redirect_hosts": ["www.example.com"],
                "field_aliases": {"00N5e00000ABCDE": "product_interest"}
            }),
        )
        .await;
        let r = w2l(
            &t,
            "oid=00D000000000062&retURL=https%3A%2F%2Fwww.example.com%2Fthanks&first_name=Ana&last_name=Lima\
             &email=ana%40acme.example&company=Acme&lead_source=Trade+Show&Campaign_ID=701000000000001\
             &00N5e00000ABCDE=Scoring&salutation=Ms.&employees=1%2C200",
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        assert_eq!(r.headers()["location"], "https://www.example.com/thanks");
        let found = leads_by_q(&t, "ana@acme.example").await;
        assert_eq!(found.len(), 1, "{}", t.name);
        let lead = &found[0];
        assert_eq!(lead["first_touch"]["source"], "Trade Show");
        assert_eq!(lead["first_touch"]["campaign"], "701000000000001");
        assert_eq!(lead["custom"]["product_interest"], "Scoring");
        assert_eq!(lead["employees"], 1200);
        let acts = activities(&t, lead["id"].as_str().unwrap()).await;
        let form = acts
            .iter()
            .find(|a| a["kind"] == "form_submitted")
            .expect("a form activity");
        assert_eq!(form["properties"]["extra"]["unmapped"]["salutation"], "Ms.");

        // The same person again: no second lead, gaps filled, a second timeline entry.
        let r = w2l(
            &t,
            "last_name=Lima&email=ANA%40acme.example&company=Other&phone=%2B49+30+123&lead_source=Webinar",
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "no retURL: a thank-you page");
        assert!(r.text().await.unwrap().contains("Thank you"));
        let found = leads_by_q(&t, "ana@acme.example").await;
        assert_eq!(found.len(), 1, "{}: a repeat updates", t.name);
        assert_eq!(found[0]["company"], "Acme", "existing values win");
        assert_eq!(found[0]["phone"], "+4930123", "normalised to E.164");
        assert_eq!(found[0]["last_touch"]["source"], "Webinar");
        assert_eq!(found[0]["first_touch"]["source"], "Trade Show");
        let acts = activities(&t, found[0]["id"].as_str().unwrap()).await;
        assert_eq!(
            acts.iter()
                .filter(|a| a["kind"] == "form_submitted")
                .count(),
            2
        );

        // A retURL to a host nobody allowed is not followed.
        let r = w2l(
            &t,
            "last_name=Evil&company=X&retURL=https%3A%2F%2Fevil.example%2F",
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", t.name);
    }
}

#[tokio::test]
async fn web_to_lead_decodes_charsets_and_multipart() {
    for t in common::apps().await {
        let r = t
            .client
            .post(t.url("/w2l?encoding=ISO-8859-1"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("last_name=M%FCller&company=B%E4ckerei&email=mueller%40b.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", t.name);
        let found = leads_by_q(&t, "mueller@b.example").await;
        assert_eq!(found[0]["last_name"], "Müller");
        assert_eq!(found[0]["company"], "Bäckerei");

        let form = reqwest::multipart::Form::new()
            .text("last_name", "Sato")
            .text("company", "日本株式会社")
            .text("email", "sato@jp.example");
        let r = t
            .client
            .post(t.url("/w2l"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", t.name);
        let found = leads_by_q(&t, "sato@jp.example").await;
        assert_eq!(found[0]["company"], "日本株式会社");

        let r = t
            .client
            .post(t.url("/w2l"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}

#[tokio::test]
async fn bad_and_spam_submissions_are_kept_with_the_reason() {
    for t in common::apps().await {
        let before = t.lead_count().await;
        let r = w2l(&t, "last_name=Bad&email=not-an-email")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", t.name);
        let page = r.text().await.unwrap();
        assert!(page.contains("email"), "{page}");
        let r = w2l(&t, "last_name=Bot&company=Spam&ll_hp=gotcha")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "a bot is not told");
        assert_eq!(t.lead_count().await, before, "{}", t.name);
        let kept = rejected(&t).await;
        let codes: Vec<&str> = kept
            .iter()
            .map(|r| r["reason_code"].as_str().unwrap())
            .collect();
        assert!(
            codes.contains(&"invalid") && codes.contains(&"honeypot"),
            "{codes:?}"
        );
        let invalid = kept.iter().find(|r| r["reason_code"] == "invalid").unwrap();
        assert_eq!(invalid["channel"], "web_to_lead");
        assert!(
            invalid["payload"].to_string().contains("not-an-email"),
            "what was sent is kept"
        );

        settings(&t, json!({"submissions_per_ip_per_minute": 2})).await;
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(
                w2l(&t, "last_name=Flood&company=F")
                    .send()
                    .await
                    .unwrap()
                    .status(),
            );
        }
        assert_eq!(statuses[2], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
        assert!(
            rejected(&t)
                .await
                .iter()
                .any(|r| r["reason_code"] == "rate_limited")
        );

        // Only admins read rejected submissions.
        let (_, rep) = t.user_with_key("rep@capture.test", Role::Rep).await;
        let r = t
            .client
            .get(t.url("/api/v1/rejected-submissions"))
            .bearer_auth(rep)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn the_capture_api_never_captures_a_retry_twice() {
    for t in common::apps().await {
        let body = json!({"lead": {"email": "idem@x.example", "last_name": "Idem",
                          "first_touch": {"source": "partner-api"}},
                          "referral": {"referrer_name": "Rui Referrer", "referrer_email": "rui@partner.example"},
                          "properties": {"form": "partner"}});
        let send = |key: &'static str, body: Value| {
            t.post("/api/v1/capture")
                .header("idempotency-key", key)
                .json(&body)
                .send()
        };
        let r = send("k-1", body.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", t.name);
        let first: Value = r.json().await.unwrap();
        let count = t.lead_count().await;
        let r = send("k-1", body.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        let again: Value = r.json().await.unwrap();
        assert_eq!(again["lead_id"], first["lead_id"]);
        assert_eq!(t.lead_count().await, count);
        let acts = activities(&t, first["lead_id"].as_str().unwrap()).await;
        assert_eq!(
            acts.iter().filter(|a| a["kind"] == "api_capture").count(),
            1,
            "{}",
            t.name
        );

        // Where the lead came from, including who referred it.
        let attribution: Value = t
            .get(&format!(
                "/api/v1/leads/{}/attribution",
                first["lead_id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(attribution["first_touch"]["source"], "partner-api");
        assert_eq!(
            attribution["referral"]["referrer_email"],
            "rui@partner.example"
        );

        let r = send("k-1", json!({"lead": {"last_name": "Other"}}))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT);

        // Concurrent retries of one request make one lead.
        let fresh = json!({"lead": {"email": "race@x.example", "last_name": "Race"}});
        let mut tries = Vec::new();
        for _ in 0..6 {
            let req = t
                .post("/api/v1/capture")
                .header("idempotency-key", "k-race")
                .json(&fresh);
            tries.push(tokio::spawn(async move {
                let r = req.send().await.unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                r.json::<Value>().await.unwrap()
            }));
        }
        let mut ids = std::collections::BTreeSet::new();
        for h in tries {
            ids.insert(h.await.unwrap()["lead_id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids.len(), 1, "{}", t.name);
        assert_eq!(leads_by_q(&t, "race@x.example").await.len(), 1);

        // A batch reports each item; the invalid one does not stop the others.
        let r = t
            .post("/api/v1/capture")
            .json(&json!([
                {"lead": {"email": "b1@x.example"}},
                {"lead": {"email": "broken"}},
                {"lead": {"email": "idem@x.example", "city": "Lisbon"}}
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let b: Value = r.json().await.unwrap();
        let outcomes: Vec<&str> = b["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes, ["created", "invalid", "updated"], "{b}");
        assert_eq!(b["results"][1]["errors"][0]["field"], "email");

        // Keys are forgotten after a day, not before.
        assert_eq!(
            t.app.purge_idempotency_keys().await.unwrap(),
            0,
            "fresh keys stay"
        );
        let age = "UPDATE idempotency_keys SET created_at = created_at - 90000000000";
        match &t.app.db {
            leadline_store::Db::Sqlite { write, .. } => {
                sqlx::query(age).execute(write).await.unwrap();
            }
            leadline_store::Db::Postgres(p) => {
                sqlx::query(age).execute(p).await.unwrap();
            }
        }
        assert_eq!(
            t.app.purge_idempotency_keys().await.unwrap(),
            2,
            "k-1 and k-race"
        );

        // Reps may not capture.
        let (_, rep) = t.user_with_key("rep@api.test", Role::Rep).await;
        let r = t
            .client
            .post(t.url("/api/v1/capture"))
            .bearer_auth(rep)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn anonymous_visits_join_the_lead_when_the_visitor_identifies() {
    for t in common::apps().await {
        let vid = "visitorABC12345";
        let event = |kind: &str, ua: &str| {
            t.client
                .post(t.url("/t/e"))
                .header("content-type", "text/plain")
                .header("user-agent", ua.to_owned())
                .body(
                    json!({"visitor_id": vid, "kind": kind,
                           "url": "https://www.example.com/pricing?utm_source=google&utm_medium=cpc",
                           "title": "Pricing"})
                    .to_string(),
                )
                .send()
        };
        let r = event("page_view", BROWSER_UA).await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", t.name);
        assert!(r.headers().get("leadline-ignored").is_none());
        let r = event("page_view", "Googlebot/2.1").await.unwrap();
        assert_eq!(r.headers()["leadline-ignored"], "bot");
        let r = t
            .client
            .post(t.url("/t/e"))
            .header("user-agent", BROWSER_UA)
            .header("dnt", "1")
            .body(json!({"visitor_id": vid}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["leadline-ignored"], "do_not_track");
        let r = t
            .client
            .get(t.url(&format!(
                "/t/p.gif?v={vid}&k=whitepaper_downloaded&u=https%3A%2F%2Fwww.example.com%2Fwp"
            )))
            .header("user-agent", BROWSER_UA)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "image/gif");
        assert!(r.headers().get("leadline-ignored").is_none());

        // A forged call gets a clear answer.
        let r = t
            .client
            .post(t.url("/t/e"))
            .header("user-agent", BROWSER_UA)
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = t
            .client
            .post(t.url("/t/e"))
            .header("user-agent", BROWSER_UA)
            .body(json!({"visitor_id": "x", "kind": "DROP TABLE"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // The form carries the visitor id the snippet added.
        let r = w2l(
            &t,
            "last_name=Visitor&email=vis%40x.example&ll_vid=visitorABC12345",
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let lead = leads_by_q(&t, "vis@x.example").await.remove(0);
        let id = lead["id"].as_str().unwrap().to_owned();
        let acts = activities(&t, &id).await;
        let kinds: Vec<&str> = acts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
        assert!(
            kinds.contains(&"page_view") && kinds.contains(&"whitepaper_downloaded"),
            "{kinds:?}"
        );
        let pv = acts.iter().find(|a| a["kind"] == "page_view").unwrap();
        assert_eq!(pv["properties"]["utm_source"], "google");
        assert_eq!(
            acts.iter().filter(|a| a["kind"] == "page_view").count(),
            1,
            "bot and DNT calls were dropped"
        );

        // Once identified, new events go straight to the lead.
        event("page_view", BROWSER_UA).await.unwrap();
        assert_eq!(
            activities(&t, &id)
                .await
                .iter()
                .filter(|a| a["kind"] == "page_view")
                .count(),
            2
        );

        // Custom events through the API, by email.
        let r = t
            .post("/api/v1/events")
            .json(&json!({"email": "vis@x.example", "kind": "webinar_attended", "properties": {"webinar": "Q3"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert!(
            activities(&t, &id)
                .await
                .iter()
                .any(|a| a["kind"] == "webinar_attended")
        );
        let r = t
            .post("/api/v1/events")
            .json(&json!({"email": "nobody@x.example", "kind": "webinar_attended"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Tracked links: the click is the lead's, the target gets ll_t for the snippet.
        let link: Value = t
            .post("/api/v1/links")
            .json(&json!({"url": "https://www.example.com/offer?x=1", "lead_id": id, "campaign": "spring"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let r = t
            .client
            .get(t.url(link["path"].as_str().unwrap()))
            .header("user-agent", BROWSER_UA)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            loc.starts_with("https://www.example.com/offer?x=1&ll_t="),
            "{loc}"
        );
        assert!(
            activities(&t, &id)
                .await
                .iter()
                .any(|a| a["kind"] == "link_clicked")
        );
        // A bot (a mail scanner) follows it too: redirected, not counted.
        let r = t
            .client
            .get(t.url(link["path"].as_str().unwrap()))
            .header("user-agent", "Mozilla/5.0 (compatible; bingbot/2.0)")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let counted: Value = t
            .get(&format!(
                "/api/v1/links/{}",
                link["token"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(counted["clicks"], 1, "{counted}");
        let r = t.client.get(t.url("/r/nope")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // A new browser arriving through the link is identified as the lead.
        let token = loc.split("ll_t=").nth(1).unwrap();
        let r = t
            .client
            .post(t.url("/t/e"))
            .header("user-agent", BROWSER_UA)
            .body(json!({"visitor_id": "otherBrowser99", "link": token, "url": "https://www.example.com/offer"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            activities(&t, &id)
                .await
                .iter()
                .filter(|a| a["kind"] == "page_view")
                .count(),
            3,
            "{}",
            t.name
        );
        let js = t.client.get(t.url("/t.js")).send().await.unwrap();
        assert_eq!(
            js.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
    }
}

#[tokio::test]
async fn sources_campaigns_and_costs() {
    for t in common::apps().await {
        let r = t
            .post("/api/v1/sources")
            .json(&json!({"key": "google-ads", "name": "Google Ads", "channel": "paid_search"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", t.name);
        let r = t
            .post("/api/v1/sources")
            .json(&json!({"key": "google-ads", "channel": "paid_search"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "duplicate key"
        );
        let r = t
            .post("/api/v1/sources")
            .json(&json!({"key": "x", "channel": "carrier_pigeon"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let c: Value = t
            .post("/api/v1/campaigns")
            .json(&json!({"key": "spring-2026", "channel": "paid_search", "source_key": "google-ads"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cid = c["id"].as_str().unwrap();
        let r = t
            .post(&format!("/api/v1/campaigns/{cid}/costs"))
            .json(&json!({"period_start": "2026-03-01", "period_end": "2026-03-31", "amount": 125000, "currency": "eur"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let r = t
            .post(&format!("/api/v1/campaigns/{cid}/costs"))
            .json(&json!({"period_start": "2026-03-31", "period_end": "2026-03-01", "amount": -1, "currency": "EUR"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let costs: Vec<Value> = t
            .get(&format!("/api/v1/campaigns/{cid}/costs"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(costs.len(), 1);
        assert_eq!(costs[0]["currency"], "EUR");
        assert_eq!(costs[0]["amount"], 125000);
        let list: Vec<Value> = t
            .get("/api/v1/campaigns")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list[0]["source_key"], "google-ads");
        let r = t
            .delete(&format!("/api/v1/campaigns/{cid}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn hosted_forms_take_submissions_and_keep_what_they_refuse() {
    for t in common::apps().await {
        settings(&t, json!({"cors_origins": ["https://www.example.com"]})).await;
        let r = t
            .post("/api/v1/forms")
            .json(&json!({
                "slug": "demo-request",
                "name": "Request a demo",
                "definition": {
                    "fields": [
                        {"target": "full_name", "label": "Your name", "required": true},
                        {"target": "email", "required": true},
                        {"target": "employees", "label": "Team size"},
                        {"target": "industry", "hidden": true, "value": "Logistics"}
                    ],
                    "consent_text": "Leadline may email me about the demo.",
                    "consent_required": true,
                    "thank_you_message": "Thanks, talk soon!",
                    "source": "website"
                }
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}: {}",
            t.name,
            r.text().await.unwrap()
        );
        let page = t
            .client
            .get(t.url("/f/demo-request?utm_source=newsletter&utm_campaign=nov"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Your name") && page.contains("name=\"utm_source\" value=\"newsletter\""),
            "{page}"
        );
        assert!(page.contains("name=\"ll_hp\""), "a honeypot");

        let post = |body: &'static str| {
            t.client
                .post(t.url("/f/demo-request"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", "https://www.example.com")
                .body(body)
                .send()
        };
        // Missing consent and a bad email: the page comes back with the errors and values.
        let r = post("full_name=Ana+Lima&email=nope&employees=40")
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", t.name);
        let again = r.text().await.unwrap();
        assert!(
            again.contains("consent") && again.contains("value=\"Ana Lima\""),
            "{again}"
        );
        let r = post("full_name=Ana+Lima&email=ana%40form.example&employees=40&consent=on&utm_source=newsletter&utm_campaign=nov")
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://www.example.com"
        );
        assert!(r.text().await.unwrap().contains("Thanks, talk soon!"));
        let lead = leads_by_q(&t, "ana@form.example").await.remove(0);
        assert_eq!(lead["first_name"], "Ana");
        assert_eq!(lead["industry"], "Logistics");
        assert_eq!(lead["employees"], 40);
        assert_eq!(lead["first_touch"]["source"], "newsletter");
        assert_eq!(lead["first_touch"]["campaign"], "nov");
        let acts = activities(&t, lead["id"].as_str().unwrap()).await;
        let sub = acts.iter().find(|a| a["kind"] == "form_submitted").unwrap();
        assert_eq!(sub["properties"]["extra"]["form"], "demo-request");
        assert_eq!(
            sub["properties"]["extra"]["consent"]["text"],
            "Leadline may email me about the demo."
        );

        let kept = rejected(&t).await;
        assert!(
            kept.iter()
                .any(|r| r["channel"] == "form" && r["reason_code"] == "invalid")
        );

        // The embed fragment is for configured origins only.
        let r = t
            .client
            .get(t.url("/f/demo-request/embed"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("access-control-allow-origin").is_none());
        assert!(r.text().await.unwrap().starts_with("<form"));
        // A redirect after sending: the page's policy lets the form lead there.
        let form: Value = t
            .get("/api/v1/forms")
            .send()
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
            .remove(0);
        let mut input = json!({"slug": form["slug"], "name": form["name"], "definition": form["definition"], "active": true});
        input["definition"]["redirect_url"] = json!("https://www.example.com/thanks");
        let r = t
            .client
            .put(t.url(&format!("/api/v1/forms/{}", form["id"].as_str().unwrap())))
            .bearer_auth(&t.key)
            .json(&input)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = t.client.get(t.url("/f/demo-request")).send().await.unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("form-action 'self' https://www.example.com"),
            "{csp}"
        );
        let r = post("full_name=Bo+Berg&email=bo%40form.example&consent=on")
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "https://www.example.com/thanks");
        assert_eq!(
            t.client
                .get(t.url("/f/nope"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        let bad = t
            .post("/api/v1/forms")
            .json(&json!({"slug": "Bad Slug", "name": "x", "definition": {"fields": [{"target": "nope"}]}}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn captured_leads_are_verified_with_reasons() {
    for t in common::apps().await {
        let capture = |lead: Value| {
            t.post("/api/v1/capture")
                .json(&json!({ "lead": lead }))
                .send()
        };
        let good: Value = capture(json!({"first_name": "Ana", "last_name": "Lima",
            "email": "ana.lima@acme-logistics.de", "phone": "030 1234567", "country": "Germany"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let q: Value = t
            .get(&format!(
                "/api/v1/leads/{}/quality",
                good["lead_id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(q["status"], "verified", "{}: {q}", t.name);
        let fake: Value = capture(
            json!({"first_name": "test", "last_name": "test", "email": "x@mailinator.com"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let id = fake["lead_id"].as_str().unwrap();
        let q: Value = t
            .get(&format!("/api/v1/leads/{id}/quality"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(q["status"], "suspect", "{q}");
        let codes: Vec<&str> = q["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert!(
            codes.contains(&"disposable_email") && codes.contains(&"junk_name"),
            "{codes:?}"
        );
        // A lead created by hand was never checked.
        let manual: Value = t
            .post("/api/v1/leads")
            .json(&json!({"last_name": "Manual"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let q: Value = t
            .get(&format!(
                "/api/v1/leads/{}/quality",
                manual["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(q.is_null());
    }
}

#[tokio::test]
async fn source_policies_quarantine_or_reject_and_people_review_in_bulk() {
    for t in common::apps().await {
        let r = t
            .client
            .put(t.url("/api/v1/quality/settings"))
            .bearer_auth(&t.key)
            .json(&json!({
                "disposable_domains": ["throwaway.example"],
                "source_policies": {"partner-list": {"flagged": "review", "suspect": "reject", "invalid": "reject"}}
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", t.name);
        let capture = |lead: Value| {
            t.post("/api/v1/capture")
                .json(&json!({ "lead": lead }))
                .send()
        };
        // The default policy quarantines a suspect lead…
        let q1: Value = capture(json!({"last_name": "Lima", "email": "ana@throwaway.example"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // …the partner list's policy rejects it, and puts a free-mail lead up for review.
        let r = capture(json!({"last_name": "Berg", "email": "bo@throwaway.example",
                               "first_touch": {"source": "partner-list"}}))
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", t.name);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "disposable_email", "{body}");
        let q2: Value = capture(json!({"last_name": "Cole", "email": "cy.cole@gmail.com",
                                       "first_touch": {"source": "partner-list"}}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        // In a batch, a refused submission is reported and the others go through.
        let b: Value = t
            .post("/api/v1/capture")
            .json(&json!([
                {"lead": {"last_name": "Dee", "email": "dee@throwaway.example", "first_touch": {"source": "partner-list"}}},
                {"lead": {"last_name": "Eve", "email": "eve@acme.example", "first_touch": {"source": "partner-list"}}}
            ]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(b["results"][0]["outcome"], "invalid", "{b}");
        assert_eq!(b["results"][1]["outcome"], "created", "{b}");
        let queue: Vec<Value> = t
            .get("/api/v1/review-queue")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ids: Vec<&str> = queue
            .iter()
            .map(|i| i["lead"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                q1["lead_id"].as_str().unwrap(),
                q2["lead_id"].as_str().unwrap()
            ],
            "{queue:?}"
        );
        assert_eq!(queue[0]["quality"]["action"], "quarantine");
        assert_eq!(queue[1]["quality"]["action"], "review");
        // Reject the first, approve the second: both leave the queue.
        for (id, decision) in [(&q1, "reject"), (&q2, "approve")] {
            let r: Value = t
                .post("/api/v1/review")
                .json(&json!({"lead_ids": [id["lead_id"]], "decision": decision}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(r["reviewed"], 1);
        }
        let queue: Vec<Value> = t
            .get("/api/v1/review-queue")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(queue.is_empty(), "{queue:?}");
        let rejected: Value = t
            .get(&format!(
                "/api/v1/leads/{}",
                q1["lead_id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                rejected["stage"].as_str(),
                rejected["disqualify_reason"].as_str()
            ),
            (Some("disqualified"), Some("spam"))
        );
        // The overview counts statuses by source and the fields people filled.
        let o: Value = t
            .get("/api/v1/quality/overview")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let partner = o["by_source"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == "partner-list")
            .unwrap();
        assert_eq!(
            (partner["verified"].as_i64(), partner["flagged"].as_i64()),
            (Some(1), Some(1)),
            "{o}"
        );
        let email = o["completeness"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == "email")
            .unwrap();
        assert_eq!(
            email["filled"], o["leads"],
            "every lead here has an email: {o}"
        );
        assert_eq!(o["waiting_for_review"], 0);
        let (_, rep) = t.user_with_key("rep@review.test", Role::Rep).await;
        let r = t
            .client
            .get(t.url("/api/v1/review-queue"))
            .bearer_auth(rep)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_repeat_from_a_plus_address_or_the_same_phone_finds_the_lead() {
    for t in common::apps().await {
        let capture = |lead: Value| {
            t.post("/api/v1/capture")
                .json(&json!({ "lead": lead }))
                .send()
        };
        let first: Value = capture(json!({"last_name": "Lima", "email": "Ana.Lima@gmail.com",
                                          "phone": "+49 30 1234567"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(first["outcome"], "created", "{}", t.name);
        let id = first["lead_id"].clone();
        for (lead, why) in [
            (
                json!({"last_name": "Lima", "email": "analima+webinar@googlemail.com"}),
                "plus tag, Gmail dots and domain",
            ),
            (
                json!({"last_name": "Lima", "phone": "030 1234567", "country": "Germany"}),
                "the same phone written locally",
            ),
        ] {
            let r: Value = capture(lead).await.unwrap().json().await.unwrap();
            assert_eq!(r["outcome"], "updated", "{}: {why}: {r}", t.name);
            assert_eq!(r["lead_id"], id, "{why}");
        }
        let other: Value = capture(json!({"last_name": "Lima", "email": "ana.lima@other.example"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            other["outcome"], "created",
            "another address is another lead"
        );
    }
}

#[tokio::test]
async fn duplicates_are_found_across_the_whole_database() {
    for t in common::apps().await {
        // Leads entered by hand, so nothing was matched at capture.
        let mut ids = Vec::new();
        for lead in [
            json!({"first_name": "William", "last_name": "Müller", "email": "w.mueller@acme-logistics.de", "company": "Acme Logistics GmbH"}),
            json!({"first_name": "Bill", "last_name": "Mueller", "email": "bill@acme-logistics.de"}),
            json!({"first_name": "Ana", "last_name": "Lima", "phone": "+49 30 1234567"}),
            json!({"first_name": "Ana", "last_name": "Lima", "phone": "+49 (30) 123 45 67", "company": "Other"}),
            json!({"first_name": "Bruno", "last_name": "Costa", "email": "bruno@acme-logistics.de"}),
        ] {
            let l: Value = t
                .post("/api/v1/leads")
                .json(&lead)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            ids.push(l["id"].as_str().unwrap().to_owned());
        }
        let r = t
            .app
            .find_duplicates(&leadline_domain::Principal::system("t"), 0.75, true, |_| {})
            .await
            .unwrap();
        assert_eq!(r.leads_scanned, 5, "{}", t.name);
        let found: Vec<(String, String)> = r
            .pairs
            .iter()
            .map(|p| {
                let (a, b) = (p.a.to_string(), p.b.to_string());
                if a < b { (a, b) } else { (b, a) }
            })
            .collect();
        let pair = |i: usize, j: usize| {
            let (a, b) = (ids[i].clone(), ids[j].clone());
            if a < b { (a, b) } else { (b, a) }
        };
        assert!(found.contains(&pair(0, 1)), "nickname and spelling: {r:?}");
        assert!(found.contains(&pair(2, 3)), "same phone: {r:?}");
        assert_eq!(found.len(), 2, "the colleague is not a duplicate: {r:?}");
    }
}
