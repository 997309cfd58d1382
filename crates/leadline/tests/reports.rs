//! Reports on both databases against hand-computed figures: the funnel by source from
//! stage history and won deals, as of a past day, with bad input refused.

mod common;

use common::ok;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn lead(t: &common::TestApp, email: &str, source: &str, stages: &[&str]) -> String {
    let l = ok(t
        .post("/api/v1/leads")
        .json(&json!({"email": email, "first_touch": {"source": source}}))
        .send()
        .await
        .unwrap())
    .await;
    let id = l["id"].as_str().unwrap().to_owned();
    for to in stages {
        ok(t.post(&format!("/api/v1/leads/{id}/stage"))
            .json(&json!({"to": to}))
            .send()
            .await
            .unwrap())
        .await;
    }
    id
}

fn row<'a>(r: &'a Value, key: &str) -> &'a Value {
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {r}"))
}

fn figures(row: &Value) -> Vec<i64> {
    ["leads", "mql", "sal", "sql", "converted", "won"]
        .iter()
        .map(|k| row[k].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_funnel_by_source_matches_hand_counts_and_travels_in_time() {
    for t in common::apps().await {
        let name = t.name;
        // google: one won deal (new → mql → sal → sql → converted, deal won), one MQL,
        // one that went straight to SAL (counts as having passed MQL), one untouched.
        let won = lead(&t, "a@g.example", "google", &["mql", "sal", "sql"]).await;
        let c = ok(t
            .post(&format!("/api/v1/leads/{won}/convert"))
            .json(&json!({"opportunity": {"amount": "1000", "stage": "proposal"}}))
            .send()
            .await
            .unwrap())
        .await;
        let opp = c["opportunity"]["id"].as_str().unwrap().to_owned();
        ok(t.post(&format!("/api/v1/opportunities/{opp}/stage"))
            .json(&json!({"stage": "won", "reason": "product fit"}))
            .send()
            .await
            .unwrap())
        .await;
        lead(&t, "b@g.example", "google", &["mql"]).await;
        lead(&t, "c@g.example", "google", &["sal"]).await;
        lead(&t, "d@g.example", "google", &[]).await;
        // linkedin: one recycled to nurture after MQL, one new; no source: one.
        lead(&t, "e@l.example", "linkedin", &["mql", "nurture"]).await;
        lead(&t, "f@l.example", "linkedin", &[]).await;
        ok(t.post("/api/v1/leads")
            .json(&json!({"email": "g@none.example"}))
            .send()
            .await
            .unwrap())
        .await;

        let r = ok(t
            .get("/api/v1/reports/funnel?by=source")
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            figures(row(&r, "google")),
            [4, 3, 2, 1, 1, 1],
            "{name}: {r}"
        );
        assert_eq!(figures(row(&r, "linkedin")), [2, 1, 0, 0, 0, 0], "{name}");
        assert_eq!(figures(row(&r, "(none)")), [1, 0, 0, 0, 0, 0], "{name}");
        assert_eq!(figures(&r["total"]), [7, 4, 2, 1, 1, 1], "{name}");
        assert_eq!(row(&r, "google")["conversion_rate"], 0.25);

        // As of yesterday none of these leads existed: no rows, totals zero, no NaN.
        let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).date_naive();
        let r = ok(t
            .get(&format!(
                "/api/v1/reports/funnel?by=source&as_of={yesterday}"
            ))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(r["rows"].as_array().unwrap().len(), 0, "{name}: {r}");
        assert_eq!(r["total"]["leads"], 0);
        assert_eq!(r["total"]["conversion_rate"], Value::Null);
        // A period that ended before today, and bad input.
        let r = ok(t
            .get(&format!("/api/v1/reports/funnel?to={yesterday}"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(r["total"]["leads"], 0, "{name}");
        for bad in [
            "by=colour",
            "from=2026-02-01&to=2026-01-01",
            "as_of=yesterday",
        ] {
            let r = t
                .get(&format!("/api/v1/reports/funnel?{bad}"))
                .send()
                .await
                .unwrap();
            assert!(
                r.status() == StatusCode::UNPROCESSABLE_ENTITY
                    || r.status() == StatusCode::BAD_REQUEST,
                "{name}: {bad}: {}",
                r.status()
            );
        }
        // Reps do not see reports.
        let (_, rep) = t
            .user_with_key("reports.rep@example.com", leadline_domain::Role::Rep)
            .await;
        let r = t
            .client
            .get(t.url("/api/v1/reports/funnel"))
            .bearer_auth(rep)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
    }
}
