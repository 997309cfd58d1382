//! Privacy, proven on SQLite and PostgreSQL: a person's data exported (JSON and CSV) and
//! erased from every table, found by searching every stored text for what they gave us,
//! with the reports unchanged; consent withdrawals stop tracking and mail at once; the
//! retention job erases and deletes what is past its time, and only that.

mod common;

use common::nurture::enroll;
use common::{TestApp, ok};
use leadline_domain::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/7.1 Zanzibar";
const EMAIL: &str = "zeb.quixotic@privacy.example";
const OLD_EMAIL: &str = "zquixotic@oldmail.example";
/// Everything the person gave us, one way or another; none of it may survive erasure.
const SECRETS: &[&str] = &[
    "zeb.quixotic",
    "zquixotic",
    "Zebulon",
    "Quixotic",
    "5550 1234",
    "5550-9876",
    "Prefers calls after four",
    "falconry-zz",
    "PrivacyProbe",
    "203.0.113.77",
    "visitorPRIV0001",
    "Quixotic Widgets",
];

async fn lead(t: &TestApp, body: Value) -> String {
    ok(t.post("/api/v1/leads").json(&body).send().await.unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn track(t: &TestApp, visitor: &str, body: Value) -> reqwest::Response {
    let mut body = body;
    body["visitor_id"] = visitor.into();
    t.client
        .post(t.url("/t/e"))
        .header("content-type", "text/plain")
        .header("user-agent", BROWSER_UA)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// What the person left everywhere: a form with consent, visits, a note, a task, a custom
/// field, a consent recorded over the API with its IP, mail sent to them, a webhook event,
/// a refused submission, and an older lead of theirs merged in. Returns the lead's id.
async fn a_person_everywhere(t: &TestApp) -> String {
    let name = t.name;
    ok(t.post("/api/v1/custom-fields")
        .json(&json!({"key": "hobby", "label": "Hobby", "kind": "text"}))
        .send()
        .await
        .unwrap())
    .await;
    ok(t.post("/api/v1/webhooks/endpoints")
        .json(&json!({"url": "https://hooks.example.com/in", "events": ["lead.*"]}))
        .send()
        .await
        .unwrap())
    .await;
    let r = t
        .post("/api/v1/forms")
        .json(&json!({
            "slug": "contact",
            "name": "Contact",
            "definition": {
                "fields": [
                    {"target": "full_name", "required": true},
                    {"target": "email", "required": true},
                    {"target": "phone"},
                    {"target": "company"}
                ],
                "consent_text": "You may email me news.",
                "consent_required": true,
                "source": "website"
            }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{name}");
    // Anonymous visits first, then the form with the visitor's cookie.
    let r = track(
        t,
        "visitorPRIV0001",
        json!({"kind": "page_view", "url": "https://www.example.com/pricing?who=zeb.quixotic", "title": "Pricing"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{name}");
    let post = |body: String| {
        t.client
            .post(t.url("/f/contact"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", BROWSER_UA)
            .body(body)
            .send()
    };
    // Refused (no consent): kept with the reason.
    let r = post(format!(
        "full_name=Zebulon+Quixotic&email={}&phone=%2B49+30+5550+1234",
        EMAIL.replace('@', "%40")
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    let r = post(format!(
        "full_name=Zebulon+Quixotic&email={}&phone=%2B49+30+5550+1234&company=Quixotic+Widgets&consent=on&ll_vid=visitorPRIV0001",
        EMAIL.replace('@', "%40")
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{name}");
    let list = ok(t
        .get(&format!("/api/v1/leads?q={EMAIL}"))
        .send()
        .await
        .unwrap())
    .await;
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    let r = track(
        t,
        "visitorPRIV0001",
        json!({"kind": "page_view", "url": "https://www.example.com/docs", "title": "Docs"}),
    )
    .await;
    assert!(r.headers().get("leadline-ignored").is_none(), "{name}");
    let r = t
        .patch(&format!("/api/v1/leads/{id}"))
        .json(&json!({"custom": {"hobby": "falconry-zz"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{name}: {}",
        r.text().await.unwrap()
    );
    ok(t.post(&format!("/api/v1/leads/{id}/activities"))
        .json(&json!({"kind": "note", "properties": {"text": "Prefers calls after four"}}))
        .send()
        .await
        .unwrap())
    .await;
    ok(t.post(&format!("/api/v1/leads/{id}/tasks"))
        .json(&json!({"kind": "call", "title": "Call Zebulon", "due_at": "2030-01-01T10:00:00Z"}))
        .send()
        .await
        .unwrap())
    .await;
    let r = t
        .post(&format!("/api/v1/leads/{id}/consents"))
        .json(
            &json!({"purpose": "tracking", "granted": true, "source": "cookie banner",
                      "ip": "203.0.113.77", "lawful_basis": "consent", "text_version": "v3",
                      "proof": "banner click by Zebulon"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{name}: {}",
        r.text().await.unwrap()
    );
    // Mail to them, through a real SMTP conversation.
    let (_sink, port) = common::sink::Sink::start().await;
    let mailer = leadline_app::mail::Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "News <news@example.com>",
        Some("https://leads.example.com"),
    )
    .unwrap();
    let seq = common::nurture::one_email_sequence(
        t,
        "Hello",
        "<p>Dear {{ lead.first_name }} {{ lead.last_name }}, welcome. <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>",
    )
    .await;
    assert_eq!(enroll(t, &seq, &[&id]).await, ["enrolled"], "{name}");
    t.app.run_sequences().await.unwrap();
    t.app.send_mail(&mailer).await.unwrap();
    // An older lead of theirs, merged in.
    let old = lead(
        t,
        json!({"email": OLD_EMAIL, "first_name": "Zebulon", "last_name": "Quixotic",
               "mobile": "+49 170 5550-9876"}),
    )
    .await;
    ok(t.post("/api/v1/merges")
        .json(&json!({"survivor_id": id, "merged_ids": [old]}))
        .send()
        .await
        .unwrap())
    .await;
    id
}

/// Every stored text that still holds one of the person's values.
async fn leftovers(t: &TestApp) -> Vec<String> {
    let mut c = t.app.db.acquire().await.unwrap();
    let all = leadline_store::privacy::all_text(c.conn()).await.unwrap();
    let mut found = Vec::new();
    for (table, text) in all {
        let lower = text.to_lowercase();
        for s in SECRETS {
            if lower.contains(&s.to_lowercase()) {
                found.push(format!("{table}: {s} in {}", &text[..text.len().min(300)]));
            }
        }
    }
    found
}

async fn reports(t: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/reports/funnel?by=source",
        "/api/v1/reports/leads",
        "/api/v1/reports/sales?by=source",
    ] {
        let mut r = ok(t.get(path).send().await.unwrap()).await;
        r.as_object_mut().unwrap().remove("as_of");
        out.push(r);
    }
    out
}

#[tokio::test]
async fn a_person_is_exported_then_erased_from_every_table_and_reports_stay_the_same() {
    for t in common::apps().await {
        let name = t.name;
        let id = a_person_everywhere(&t).await;
        // Before: what we are about to erase is really there (the search can fail).
        let before = leftovers(&t).await;
        for s in SECRETS {
            assert!(
                before.iter().any(|l| l
                    .to_lowercase()
                    .contains(&format!(": {}", s.to_lowercase()))),
                "{name}: the setup stored no {s}"
            );
        }

        // Export: JSON, table by table.
        let export = ok(t
            .get(&format!("/api/v1/leads/{id}/personal-data"))
            .send()
            .await
            .unwrap())
        .await;
        let tables: Vec<&str> = export["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["table"].as_str().unwrap())
            .collect();
        for want in [
            "leads",
            "activities",
            "consents",
            "tasks",
            "outbound_messages",
            "visitors",
            "events",
            "audit_log",
            "lead_merges",
            "rejected_submissions (mentioning the address)",
        ] {
            assert!(tables.contains(&want), "{name}: no {want} in {tables:?}");
        }
        let text = export.to_string();
        for s in [
            EMAIL,
            "Prefers calls after four",
            "203.0.113.77",
            "falconry-zz",
        ] {
            assert!(text.contains(s), "{name}: export lacks {s}");
        }
        assert!(
            !text.contains("unsubscribe_token") && !text.contains("search_text"),
            "{name}: tokens and derived keys stay out of the export"
        );
        // The lead and the older one merged into it (whose newer address the merge kept).
        let lead_rows = export["sections"][0]["rows"].as_array().unwrap();
        assert_eq!(lead_rows.len(), 2, "{name}");
        let lead_row = &lead_rows[0];
        assert_eq!(lead_row["email"], OLD_EMAIL, "{name}");
        assert!(
            lead_row["created_at"].as_str().unwrap().ends_with('Z'),
            "{name}: times as RFC 3339"
        );
        // CSV: one line per value, formula-safe.
        let r = t
            .get(&format!("/api/v1/leads/{id}/personal-data.csv"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let csv = r.text().await.unwrap();
        assert!(csv.starts_with("table,row,column,value\n"), "{name}");
        assert!(
            csv.contains(&format!("leads,1,email,{OLD_EMAIL}")),
            "{name}"
        );
        // Phone numbers start with + and are neutralised like every other cell.
        assert!(csv.contains(",phone,'+49"), "{name}: {csv:.300}");

        // Roles: a marketer may not export, a manager may not erase.
        let (_, marketer) = t.user_with_key("mk@privacy.example", Role::Marketer).await;
        let (_, manager) = t.user_with_key("mg@privacy.example", Role::Manager).await;
        let r = t
            .client
            .get(t.url(&format!("/api/v1/leads/{id}/personal-data")))
            .bearer_auth(&marketer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        let r = t
            .client
            .post(t.url(&format!("/api/v1/leads/{id}/erase")))
            .bearer_auth(&manager)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");

        // Erase.
        let reports_before = reports(&t).await;
        let erased = ok(t
            .post(&format!("/api/v1/leads/{id}/erase"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            erased["absorbed_leads"].as_array().unwrap().len(),
            1,
            "{name}"
        );
        let left = leftovers(&t).await;
        assert!(
            left.is_empty(),
            "{name}: {} values survived erasure:\n{}",
            left.len(),
            left.join("\n")
        );
        assert_eq!(reports(&t).await, reports_before, "{name}: reports changed");
        let l = ok(t.get(&format!("/api/v1/leads/{id}")).send().await.unwrap()).await;
        assert_eq!(l["email"], Value::Null, "{name}");
        assert_eq!(l["email_opt_out"], true, "{name}");
        assert_eq!(
            l["first_touch"]["source"], "website",
            "{name}: the source stays"
        );
        let r = t
            .post(&format!("/api/v1/leads/{id}/erase"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT, "{name}: erased twice");
        // Audited, by ids and counts only (the search above covered the audit log).
        let mut c = t.app.db.acquire().await.unwrap();
        let audit = leadline_store::audit::for_entity(c.conn(), "lead", id.parse().unwrap(), 100)
            .await
            .unwrap();
        let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        assert!(
            actions.contains(&"lead.erased") && actions.contains(&"lead.personal_data_exported"),
            "{name}: {actions:?}"
        );
        drop(c);

        // The browser that was theirs is a stranger now.
        let r = track(
            &t,
            "visitorPRIV0001",
            json!({"kind": "page_view", "url": "https://www.example.com/again"}),
        )
        .await;
        assert!(r.headers().get("leadline-ignored").is_none(), "{name}");
        let acts = ok(t
            .get(&format!("/api/v1/leads/{id}/activities"))
            .send()
            .await
            .unwrap())
        .await;
        assert!(
            !acts.to_string().contains("/again"),
            "{name}: a visit after erasure landed on the erased lead"
        );
        // And the address, captured again, is never mailed: it stays suppressed by hash.
        let again = lead(&t, json!({"email": EMAIL, "first_name": "Z"})).await;
        assert_ne!(again, id, "{name}: a new lead, not the erased one");
        let seq = ok(t
            .post("/api/v1/sequences")
            .json(&json!({"name": "Again", "steps": [{"type": "wait", "days": 1}]}))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            enroll(&t, seq["id"].as_str().unwrap(), &[&again]).await,
            ["unsubscribed"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn every_table_keyed_by_a_lead_is_exported() {
    for t in common::apps().await {
        let mut c = t.app.db.acquire().await.unwrap();
        let live = leadline_store::privacy::tables_with_lead_column(c.conn())
            .await
            .unwrap();
        let known: Vec<&str> = leadline_store::privacy::LEAD_TABLES
            .iter()
            .map(|(t, _)| *t)
            .collect();
        let missing: Vec<&String> = live
            .iter()
            .filter(|t| !known.contains(&t.as_str()) && !t.ends_with("_deltas"))
            .collect();
        assert!(
            missing.is_empty(),
            "{}: tables with a lead_id the export does not read: {missing:?}",
            t.name
        );
        assert!(
            live.len() > 20,
            "{}: the schema query found {live:?}",
            t.name
        );
    }
}

#[tokio::test]
async fn withdrawing_consent_stops_tracking_and_mail_at_once() {
    for t in common::apps().await {
        let name = t.name;
        let id = lead(
            &t,
            json!({"email": "wd@privacy.example", "first_name": "Wanda"}),
        )
        .await;
        // The visitor is identified through a tracked link of theirs.
        let link = ok(t
            .post("/api/v1/links")
            .json(&json!({"url": "https://www.example.com/offer", "lead_id": id}))
            .send()
            .await
            .unwrap())
        .await;
        let token = link["token"].as_str().unwrap();
        let r = track(
            &t,
            "visitorWANDA00001",
            json!({"kind": "page_view", "url": "https://www.example.com/a", "link": token}),
        )
        .await;
        assert!(r.headers().get("leadline-ignored").is_none(), "{name}");
        let count = |t: &TestApp| {
            let id = id.clone();
            let t = t.get(&format!("/api/v1/leads/{id}/activities"));
            async move {
                ok(t.send().await.unwrap())
                    .await
                    .as_array()
                    .map(|a| a.len())
                    .unwrap_or_default()
            }
        };
        let before = count(&t).await;
        let r = t
            .post(&format!("/api/v1/leads/{id}/consents"))
            .json(&json!({"purpose": "tracking", "granted": false, "source": "privacy center"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{name}");
        let r = track(
            &t,
            "visitorWANDA00001",
            json!({"kind": "page_view", "url": "https://www.example.com/b"}),
        )
        .await;
        assert_eq!(
            r.headers()["leadline-ignored"],
            "consent_withdrawn",
            "{name}"
        );
        // Their tracked link still leads on, without counting or identifying.
        let r = t
            .client
            .get(t.url(&format!("/r/{token}")))
            .header("user-agent", BROWSER_UA)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{name}");
        assert!(
            !r.headers()["location"].to_str().unwrap().contains("ll_t="),
            "{name}"
        );
        assert_eq!(
            count(&t).await,
            before,
            "{name}: nothing tracked after withdrawal"
        );
        // A declined banner is honoured even where consent is not required.
        let r = track(
            &t,
            "visitorOTHER00001",
            json!({"kind": "page_view", "consent": false}),
        )
        .await;
        assert_eq!(r.headers()["leadline-ignored"], "no_consent", "{name}");

        // Marketing email: a withdrawal stops a sequence that does not even ask for consent.
        let seq = ok(t
            .post("/api/v1/sequences")
            .json(&json!({"name": "No consent needed", "steps": [{"type": "wait", "days": 1}]}))
            .send()
            .await
            .unwrap())
        .await;
        let seq = seq["id"].as_str().unwrap().to_owned();
        let r = t
            .post(&format!("/api/v1/leads/{id}/consents"))
            .json(&json!({"granted": false, "source": "phone call", "proof": "call log 17"}))
            .send()
            .await
            .unwrap();
        let c = r.json::<Value>().await.unwrap();
        assert_eq!(
            c["lawful_basis"],
            Value::Null,
            "{name}: a withdrawal has no basis"
        );
        assert_eq!(enroll(&t, &seq, &[&id]).await, ["no_consent"], "{name}");
        // Given again: mail may flow again.
        let r = t
            .post(&format!("/api/v1/leads/{id}/consents"))
            .json(&json!({"granted": true, "source": "form", "text_version": "2026-11"}))
            .send()
            .await
            .unwrap();
        let c = r.json::<Value>().await.unwrap();
        assert_eq!(c["lawful_basis"], "consent", "{name}");
        assert_eq!(enroll(&t, &seq, &[&id]).await, ["enrolled"], "{name}");
        // A basis outside article 6 is refused by name.
        let r = t
            .post(&format!("/api/v1/leads/{id}/consents"))
            .json(&json!({"granted": true, "lawful_basis": "because"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    }
}

#[tokio::test]
async fn retention_erases_and_deletes_what_is_past_its_time_and_nothing_else() {
    use chrono::{Duration, Utc};
    for t in common::apps().await {
        let name = t.name;
        let stale = lead(
            &t,
            json!({"email": "stale@privacy.example", "first_name": "Stale"}),
        )
        .await;
        let kept = lead(
            &t,
            json!({"email": "kept@privacy.example", "first_name": "Kept"}),
        )
        .await;
        let trashed = lead(
            &t,
            json!({"email": "trash@privacy.example", "first_name": "Trash"}),
        )
        .await;
        // The kept lead converted: customers are not the retention job's business.
        for to in ["sal", "sql"] {
            ok(t.post(&format!("/api/v1/leads/{kept}/stage"))
                .json(&json!({ "to": to }))
                .send()
                .await
                .unwrap())
            .await;
        }
        ok(t.post(&format!("/api/v1/leads/{kept}/convert"))
            .json(&json!({}))
            .send()
            .await
            .unwrap())
        .await;
        let r = t
            .delete(&format!("/api/v1/leads/{trashed}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{name}");
        let r = track(&t, "visitorANON000001", json!({"kind": "page_view"})).await;
        assert!(r.headers().get("leadline-ignored").is_none(), "{name}");

        // Nothing happens without a policy.
        let run = t
            .app
            .run_retention(Utc::now() + Duration::days(3650))
            .await
            .unwrap();
        assert_eq!(run.erased_leads + run.deleted_visits, 0, "{name}");

        let r = t
            .put("/api/v1/settings/retention")
            .json(&json!({"erase_unconverted_after_months": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        ok(t.put("/api/v1/settings/retention")
            .json(&json!({"erase_unconverted_after_months": 6, "erase_deleted_after_days": 30,
                          "delete_anonymous_visits_after_days": 90, "delete_rejected_after_days": 30}))
            .send()
            .await
            .unwrap())
        .await;
        // Now: nothing is old enough yet.
        let run = ok(t.post("/api/v1/retention/run").send().await.unwrap()).await;
        assert_eq!(run["erased_leads"], 0, "{name}");
        assert_eq!(run["deleted_visits"], 0, "{name}");
        // Seven months on: the unconverted and the trashed leads go, the customer stays.
        let later = Utc::now() + Duration::days(213);
        let run = t.app.run_retention(later).await.unwrap();
        assert_eq!(run.erased_leads, 2, "{name}");
        assert!(run.deleted_visits >= 1, "{name}");
        let erased_at = |id: &str| t.app.lead_erased_at(id.parse().unwrap());
        assert!(erased_at(&stale).await.unwrap().is_some(), "{name}");
        assert!(erased_at(&trashed).await.unwrap().is_some(), "{name}");
        assert!(erased_at(&kept).await.unwrap().is_none(), "{name}");
        let k = ok(t
            .get(&format!("/api/v1/leads/{kept}"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(k["email"], "kept@privacy.example", "{name}");
        // Again: nothing left to do.
        let run = t.app.run_retention(later).await.unwrap();
        assert_eq!(run.erased_leads + run.deleted_visits, 0, "{name}");
        // A rep may not read or run the policy.
        let (_, rep) = t.user_with_key("rep@privacy.example", Role::Rep).await;
        let r = t
            .client
            .post(t.url("/api/v1/retention/run"))
            .bearer_auth(&rep)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
    }
}
