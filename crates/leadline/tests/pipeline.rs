//! Conversion and the pipeline over the API on SQLite and PostgreSQL: a sales-qualified lead
//! becomes a contact at the account its domain matches and an opportunity carrying its
//! source; conversion is refused before `sql` and the second time (also when two race);
//! opportunities move through the configured stages, close with a listed reason and record
//! the lead's outcome; the board totals amounts per stage.

mod common;

use common::ok;

use serde_json::{Value, json};

async fn sql_lead(t: &common::TestApp, email: &str, company: &str) -> String {
    let l = ok(t
        .post("/api/v1/leads")
        .json(&json!({"first_name": "Ana", "last_name": "Lima", "email": email, "company": company,
                      "currency": "USD", "first_touch": {"source": "webinar", "campaign": "q4-launch"}}))
        .send()
        .await
        .unwrap())
    .await;
    let id = l["id"].as_str().unwrap().to_owned();
    for to in ["sal", "sql"] {
        ok(t.post(&format!("/api/v1/leads/{id}/stage"))
            .json(&json!({"to": to}))
            .send()
            .await
            .unwrap())
        .await;
    }
    id
}

#[tokio::test]
async fn a_qualified_lead_converts_once_and_its_deal_closes_with_a_reason() {
    for t in common::apps().await {
        let acme = ok(t
            .post("/api/v1/accounts")
            .json(&json!({"name": "Acme Corp", "domain": "acme.example"}))
            .send()
            .await
            .unwrap())
        .await;
        let acme_id = acme["account"]["id"]
            .as_str()
            .or(acme["id"].as_str())
            .unwrap()
            .to_owned();

        // Not yet sales-qualified: refused, nothing created.
        let early = ok(t
            .post("/api/v1/leads")
            .json(&json!({"email": "early@acme.example"}))
            .send()
            .await
            .unwrap())
        .await;
        let r = t
            .post(&format!(
                "/api/v1/leads/{}/convert",
                early["id"].as_str().unwrap()
            ))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{}", t.name);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("cannot move from new to converted")
        );

        let id = sql_lead(&t, "ana@acme.example", "Acme").await;
        // Bad opportunity input names the field and converts nothing.
        let r = t
            .post(&format!("/api/v1/leads/{id}/convert"))
            .json(&json!({"opportunity": {"amount": "twelve", "stage": "proposal"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        assert!(r.text().await.unwrap().contains("opportunity.amount"));
        let r = t
            .post(&format!("/api/v1/leads/{id}/convert"))
            .json(&json!({"opportunity": {"stage": "won"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        let lead = ok(t.get(&format!("/api/v1/leads/{id}")).send().await.unwrap()).await;
        assert_eq!(
            lead["stage"], "sql",
            "{}: a refused conversion changes nothing",
            t.name
        );

        // Two conversions at once: one wins, the other is refused.
        let body = json!({"opportunity": {"amount": "12,500.50", "close_date": "2027-03-31", "stage": "proposal"}});
        let a = t
            .post(&format!("/api/v1/leads/{id}/convert"))
            .json(&body)
            .send();
        let b = t
            .post(&format!("/api/v1/leads/{id}/convert"))
            .json(&body)
            .send();
        let (a, b) = tokio::join!(a, b);
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "{}", t.name);
        let won = if a.status() == 201 { a } else { b };
        let c: Value = won.json().await.unwrap();
        assert_eq!(c["lead"]["stage"], "converted", "{}", t.name);
        assert_eq!(
            c["account"]["id"],
            acme_id.as_str(),
            "{}: matched by domain: {c}",
            t.name
        );
        assert_eq!(c["account_matched_by"], "domain");
        assert_eq!(c["contact"]["email"], "ana@acme.example");
        let o = &c["opportunity"];
        assert_eq!(o["amount"], 1_250_050, "{}: {o}", t.name);
        assert_eq!(o["currency"], "USD", "the lead's currency");
        assert_eq!(o["stage"], "proposal");
        assert_eq!(o["probability"], 50);
        assert_eq!(o["source"], "webinar", "source carried over");
        assert_eq!(o["campaign"], "q4-launch");
        assert_eq!(o["lead_id"], id.as_str());
        let opp = o["id"].as_str().unwrap().to_owned();
        let r = t
            .post(&format!("/api/v1/leads/{id}/convert"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{}: converting again", t.name);
        // The lead's history says so; the lead keeps its attribution.
        let h = ok(t
            .get(&format!("/api/v1/leads/{id}/history"))
            .send()
            .await
            .unwrap())
        .await;
        assert!(
            h.to_string().contains("converted: contact at Acme Corp"),
            "{h}"
        );
        let attr = ok(t
            .get(&format!("/api/v1/leads/{id}/attribution"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(attr["first_touch"]["source"], "webinar");

        // A company without an account gets a new one.
        let other = sql_lead(&t, "bo@initech.example", "Initech").await;
        let c2 = ok(t
            .post(&format!("/api/v1/leads/{other}/convert"))
            .json(&json!({}))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(c2["account_matched_by"], "created", "{}: {c2}", t.name);
        assert_eq!(c2["account"]["name"], "Initech");
        assert!(c2["opportunity"].is_null());

        // Moving: unknown stages and reasons are refused; stale versions too.
        let r = t
            .post(&format!("/api/v1/opportunities/{opp}/stage"))
            .json(&json!({"stage": "lost"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        assert!(
            r.text().await.unwrap().contains("competitor"),
            "the reasons are listed"
        );
        let r = t
            .post(&format!("/api/v1/opportunities/{opp}/stage"))
            .header("if-match", "\"7\"")
            .json(&json!({"stage": "negotiation"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 412, "{}", t.name);
        let moved = ok(t
            .post(&format!("/api/v1/opportunities/{opp}/stage"))
            .header("if-match", "\"1\"")
            .json(&json!({"stage": "negotiation"}))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(moved["probability"], 75);
        let won = ok(t
            .post(&format!("/api/v1/opportunities/{opp}/stage"))
            .json(&json!({"stage": "won", "reason": "product fit"}))
            .send()
            .await
            .unwrap())
        .await;
        assert!(won["closed_at"].is_string(), "{}: {won}", t.name);
        let attr = ok(t
            .get(&format!("/api/v1/leads/{id}/attribution"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            attr["outcome"], "won",
            "{}: the lead's outcome: {attr}",
            t.name
        );
        let d = ok(t
            .get(&format!("/api/v1/opportunities/{opp}"))
            .send()
            .await
            .unwrap())
        .await;
        let stages: Vec<&str> = d["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["to_stage"].as_str().unwrap())
            .collect();
        assert_eq!(stages, ["proposal", "negotiation", "won"], "{}", t.name);
        assert_eq!(d["account_name"], "Acme Corp");

        // Editing details.
        let r = t
            .patch(&format!("/api/v1/opportunities/{opp}"))
            .json(&json!({"amount": -3}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        let e = ok(t
            .patch(&format!("/api/v1/opportunities/{opp}"))
            .json(&json!({"amount": "20000", "name": "Acme renewal"}))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(e["amount"], 2_000_000);

        // The board: per stage counts and totals.
        let board = ok(t.get("/api/v1/pipeline/board").send().await.unwrap()).await;
        let col = board
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["stage"] == "won")
            .unwrap();
        assert_eq!(col["count"], 1, "{}: {board}", t.name);
        assert_eq!(col["amounts"]["USD"], 2_000_000);
        assert_eq!(col["weighted"]["USD"], 2_000_000);

        // The pipeline is configurable; a stage in use cannot be removed.
        let mut p = ok(t.get("/api/v1/pipeline").send().await.unwrap()).await;
        p["stages"]
            .as_array_mut()
            .unwrap()
            .retain(|s| s["key"] != "won");
        p["stages"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "signed", "label": "Signed", "probability": 100, "kind": "won"}));
        let r = t.put("/api/v1/pipeline").json(&p).send().await.unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        assert!(r.text().await.unwrap().contains("stage won"));
        let mut p = ok(t.get("/api/v1/pipeline").send().await.unwrap()).await;
        p["stages"].as_array_mut().unwrap().insert(
            1,
            json!({"key": "demo", "label": "Demo", "probability": 30}),
        );
        let saved = ok(t.put("/api/v1/pipeline").json(&p).send().await.unwrap()).await;
        assert_eq!(saved["stages"][1]["key"], "demo");
    }
}
