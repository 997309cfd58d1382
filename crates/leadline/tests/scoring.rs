//! Scoring end to end on SQLite and PostgreSQL: events move scores at once, models are
//! versioned, activated and rolled back with a full re-score, files go in and out, and
//! every point is explained.

mod common;

use serde_json::{Value, json};
use std::time::Duration;

async fn json_of(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Polls `url` until the background work it shows has left the `busy` states.
async fn wait_until_done(t: &common::TestApp, url: &str, busy: &[&str]) -> Value {
    let mut v = Value::Null;
    for _ in 0..800 {
        v = json_of(t.get(url).send().await.unwrap()).await;
        if !busy.iter().any(|b| v["state"] == *b) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    v
}

async fn wait_job(t: &common::TestApp, id: &str) -> Value {
    wait_until_done(t, &format!("/api/v1/scoring/jobs/{id}"), &["running"]).await
}

#[tokio::test]
async fn events_score_a_lead_at_once_and_every_point_is_explained() {
    for t in common::apps().await {
        let lead = json_of(
            t.post("/api/v1/leads")
                .json(
                    &json!({"first_name": "Ana", "last_name": "Lima", "email": "ana@acme.example",
                               "title": "VP Purchasing", "employees": 300}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        let id = lead["id"].as_str().unwrap().to_owned();
        // Fit from the starter rules: decision maker 25 + company size 20 → grade B.
        assert_eq!(lead["grade"], "B", "{}: {lead}", t.name);
        assert_eq!(lead["score"], 0);
        for url in [
            "https://acme.example/pricing",
            "https://acme.example/pricing?x=1",
        ] {
            json_of(
                t.post(&format!("/api/v1/leads/{id}/activities"))
                    .json(&json!({"kind": "page_view", "properties": {"url": url}}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
        }
        json_of(
            t.post(&format!("/api/v1/leads/{id}/activities"))
                .json(
                    &json!({"kind": "webinar_attended", "properties": {"webinar": "Scoring 101"}}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        let now = json_of(t.get(&format!("/api/v1/leads/{id}")).send().await.unwrap()).await;
        // Pricing 2 × 10, page views 2 × 1, webinar 20.
        assert_eq!(now["score"], 42, "{now}");
        assert_eq!(now["stage"], "mql", "score 42 ≥ 40 and grade B ≥ C");
        let stages = json_of(
            t.get(&format!("/api/v1/leads/{id}/history"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let note = stages["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["to_stage"] == "mql")
            .map(|s| s["note"].clone())
            .unwrap_or(Value::Null);
        assert!(
            note.as_str().unwrap_or("").contains("model default v1"),
            "{stages}"
        );

        let explained = json_of(
            t.get(&format!("/api/v1/leads/{id}/score"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let d = &explained[0];
        assert_eq!(d["model_key"], "default");
        assert_eq!(d["mql"]["qualifies"], true);
        let contributions = d["contributions"].as_array().unwrap();
        let webinar = contributions
            .iter()
            .find(|c| c["rule_id"] == "webinar")
            .unwrap();
        assert!(webinar["activity_id"].is_string() && webinar["at"].is_string());
        assert_eq!(webinar["points"], 20.0);
        let history = json_of(
            t.get(&format!("/api/v1/leads/{id}/score/history"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(history.as_array().unwrap().len() >= 3, "{history}");
    }
}

#[tokio::test]
async fn versions_activate_roll_back_and_rescore_everyone() {
    for t in common::apps().await {
        let mut ids = Vec::new();
        for (i, country) in ["DE", "FR", "DE"].iter().enumerate() {
            let l = json_of(
                t.post("/api/v1/leads")
                    .json(&json!({"last_name": format!("L{i}"), "country": country}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            ids.push(l["id"].as_str().unwrap().to_owned());
        }
        let versions = json_of(
            t.get("/api/v1/scoring/models/default/versions")
                .send()
                .await
                .unwrap(),
        )
        .await;
        let mut def = versions[0]["definition"].clone();
        def["fit"] = json!([{"id": "dach", "name": "German-speaking", "field": "country",
                             "op": "in", "values": ["DE", "AT", "CH"], "points": 70}]);
        let r = t
            .post("/api/v1/scoring/models/default/versions")
            .json(&json!({"definition": def, "note": "DACH focus"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", t.name);
        let v2 = json_of(r).await;
        assert_eq!(v2["version"], 2);
        assert_eq!(v2["active"], false);
        // Not in force yet.
        let l = json_of(
            t.get(&format!("/api/v1/leads/{}", ids[0]))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(l["grade"], "F");

        let job = json_of(
            t.post("/api/v1/scoring/models/default/versions/2/activate")
                .send()
                .await
                .unwrap(),
        )
        .await;
        let job = wait_job(&t, job["id"].as_str().unwrap()).await;
        assert_eq!(job["state"], "done", "{job}");
        assert_eq!(job["done"], 3);
        assert_eq!(job["changed"], 3, "every score now records v2");
        for (i, grade) in [(0, "A"), (1, "F"), (2, "A")] {
            let l = json_of(
                t.get(&format!("/api/v1/leads/{}", ids[i]))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(l["grade"], grade, "{l}");
        }
        let s = json_of(
            t.get(&format!("/api/v1/leads/{}/score", ids[0]))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s[0]["version"], 2);

        // Roll back to v1.
        let job = json_of(
            t.post("/api/v1/scoring/models/default/versions/1/activate")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            wait_job(&t, job["id"].as_str().unwrap()).await["state"],
            "done"
        );
        let l = json_of(
            t.get(&format!("/api/v1/leads/{}", ids[0]))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(l["grade"], "F");

        // Files out and in.
        let toml = t
            .get("/api/v1/scoring/models/default/file?version=2")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            toml.contains("key = \"default\"") && toml.contains("German-speaking"),
            "{toml}"
        );
        let yaml = toml.replace("German-speaking", "DACH");
        let r = t
            .post("/api/v1/scoring/import")
            .header("content-type", "application/toml")
            .body(yaml)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(json_of(r).await["version"], 3);

        // Broken rules are refused with the field named; the rules in force stay.
        let mut bad = def.clone();
        bad["half_life_days"] = json!(0);
        bad["fit"][0]["op"] = json!("matches");
        bad["fit"][0]["pattern"] = json!("(unclosed");
        let r = t
            .post("/api/v1/scoring/models/default/versions")
            .json(&json!({"definition": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&"half_life_days") && fields.contains(&"fit[0].test"),
            "{p}"
        );
        let r = t
            .post("/api/v1/scoring/import")
            .body("this is = not [toml")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let models = json_of(t.get("/api/v1/scoring/models").send().await.unwrap()).await;
        assert_eq!(models[0]["active_version"], 1);
        assert_eq!(models[0]["latest_version"], 3);
    }
}

#[tokio::test]
async fn a_backtest_ranks_history_before_rules_go_live() {
    for t in common::apps().await {
        t.history(
            (0..10)
                .map(|i| {
                    let won = i % 2 == 0;
                    let country = if won { "DE" } else { "FR" };
                    (
                        json!({"last_name": format!("H{i}"), "country": country}),
                        won,
                    )
                })
                .collect(),
        )
        .await;
        let versions = json_of(
            t.get("/api/v1/scoring/models/default/versions")
                .send()
                .await
                .unwrap(),
        )
        .await;
        let mut def = versions[0]["definition"].clone();
        def["fit"] = json!([{"id": "dach", "name": "German-speaking", "field": "country",
                             "op": "in", "values": ["DE", "AT", "CH"], "points": 70}]);
        def["behaviour"] = json!([]);
        def["qualification"] = json!({"mql_score": 0, "mql_grade": "A"});
        let r = json_of(
            t.post("/api/v1/scoring/backtest")
                .json(&def)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r["with_outcome"], 10, "{}: {r}", t.name);
        assert_eq!(r["converted"], 5);
        assert_eq!(r["auc"], 1.0, "the DACH rule separates them perfectly");
        assert_eq!(r["mql"]["qualified_conversion"], 1.0);
        assert_eq!(r["mql"]["conversions_captured"], 1.0);
        assert_eq!(r["deciles"][0]["lift"], 2.0);
        // The starter rules know nothing of countries: no better than chance.
        let r = json_of(
            t.post("/api/v1/scoring/models/default/versions/1/backtest")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r["auc"], 0.5, "{r}");
    }
}

#[tokio::test]
async fn sql_needs_the_bant_fields_an_admin_requires() {
    for t in common::apps().await {
        let r = t
            .client
            .put(t.url("/api/v1/scoring/qualification"))
            .bearer_auth(&t.key)
            .json(&json!({"sql_requires": ["timeline", "need", "need"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            json_of(r).await["sql_requires"],
            json!(["need", "timeline"])
        );
        let l = json_of(
            t.post("/api/v1/leads")
                .json(&json!({"last_name": "Q", "email": "q@acme.example"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let id = l["id"].as_str().unwrap().to_owned();
        json_of(
            t.post(&format!("/api/v1/leads/{id}/stage"))
                .json(&json!({"to": "sal"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let r = t
            .post(&format!("/api/v1/leads/{id}/stage"))
            .json(&json!({"to": "sql"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        let p: Value = r.json().await.unwrap();
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["need", "timeline"], "{p}");
        json_of(
            t.patch(&format!("/api/v1/leads/{id}"))
                .json(&json!({"need": "Routing for 40 reps", "timeline": "within3_months"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let moved = json_of(
            t.post(&format!("/api/v1/leads/{id}/stage"))
                .json(&json!({"to": "sql"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(moved["stage"], "sql");
    }
}

#[tokio::test]
async fn aging_shows_each_lead_and_stale_ones_by_stage_and_owner() {
    for t in common::apps().await {
        let old = chrono::Utc::now() - chrono::Duration::days(10);
        let lead = leadline_domain::Lead {
            id: uuid::Uuid::now_v7(),
            fields: leadline_domain::LeadFields {
                last_name: Some("Old".into()),
                ..Default::default()
            },
            stage: leadline_domain::Stage::New,
            disqualify_reason: None,
            score: 0,
            grade: None,
            created_at: old,
            updated_at: old,
            version: 1,
        };
        {
            let mut tx = t.app.db.begin().await.unwrap();
            leadline_store::leads::insert(tx.conn(), &lead)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        json_of(
            t.post("/api/v1/leads")
                .json(&json!({"last_name": "Fresh"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let a = json_of(
            t.get(&format!("/api/v1/leads/{}/aging", lead.id))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(a["since_created"], 10, "{}: {a}", t.name);
        assert_eq!(a["stale"], true, "new and untouched for 10 days (limit 2)");
        let r = json_of(t.get("/api/v1/reports/aging").send().await.unwrap()).await;
        let row = r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stage"] == "new" && x["owner_id"].is_null())
            .cloned()
            .unwrap();
        assert_eq!(row["leads"], 2, "{r}");
        assert_eq!(row["stale"], 1);
        assert_eq!(row["by_age"], json!([1, 0, 1, 0, 0]));
        assert_eq!(r["total_stale"], 1);
        // An activity today makes it fresh again.
        json_of(
            t.post(&format!("/api/v1/leads/{}/activities", lead.id))
                .json(&json!({"kind": "call", "properties": {"outcome": "connected"}}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let a = json_of(
            t.get(&format!("/api/v1/leads/{}/aging", lead.id))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(a["stale"], false);
        assert_eq!(a["since_activity"], 0);
    }
}

async fn wait_training(t: &common::TestApp, id: &str) -> Value {
    wait_until_done(
        t,
        &format!("/api/v1/prediction/models/{id}"),
        &["training", "scoring"],
    )
    .await
}

#[tokio::test]
async fn a_predictive_model_trains_in_the_background_and_explains_each_lead() {
    for t in common::apps().await {
        // Without outcomes, training fails with the reason and nothing is in force.
        let run = json_of(
            t.post("/api/v1/prediction/train")
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let run = wait_training(&t, run["id"].as_str().unwrap()).await;
        assert_eq!(run["state"], "failed", "{}: {run}", t.name);
        assert!(
            run["error"].as_str().unwrap().contains("too few outcomes"),
            "{run}"
        );
        let status = json_of(t.get("/api/v1/prediction").send().await.unwrap()).await;
        assert!(status["active"].is_null(), "{status}");

        // History: software companies bought; retailers did not.
        t.history(
            (0..60)
                .map(|i| {
                    let won = i % 2 == 0;
                    let industry = if won { "Software" } else { "Retail" };
                    let city = if i % 3 == 0 { "Lyon" } else { "Porto" };
                    (
                        json!({"last_name": format!("H{i}"), "industry": industry, "city": city}),
                        won,
                    )
                })
                .collect(),
        )
        .await;
        // An unknown field cannot be kept out; a known one can.
        let r = t
            .put("/api/v1/prediction/settings")
            .json(&json!({"excluded": ["shoe_size"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        let s = json_of(
            t.put("/api/v1/prediction/settings")
                .json(&json!({"excluded": ["City"]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s["excluded"], json!(["city"]));

        let run = json_of(
            t.post("/api/v1/prediction/train")
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let model_id = run["id"].as_str().unwrap().to_owned();
        let run = wait_training(&t, &model_id).await;
        assert_eq!(run["state"], "ready", "{}: {run}", t.name);
        assert_eq!(run["report"]["excluded"], json!(["city"]));
        assert_eq!(run["report"]["holdout_auc"], 1.0, "{run}");
        assert_eq!(run["done"], run["total"]);
        let status = json_of(t.get("/api/v1/prediction").send().await.unwrap()).await;
        assert_eq!(status["active"]["id"], model_id.as_str());
        assert_eq!(status["predicted_leads"], 60);
        assert_eq!(status["top_features"][0]["label"], "Industry", "{status}");
        assert!(
            status["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "city" && f["excluded"] == true)
        );

        // A new lead is predicted when it arrives, and explained.
        let mut p = Vec::new();
        for industry in ["Software", "Retail"] {
            let l = json_of(
                t.post("/api/v1/leads")
                    .json(&json!({"last_name": "New", "industry": industry}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            let pred = json_of(
                t.get(&format!(
                    "/api/v1/leads/{}/prediction",
                    l["id"].as_str().unwrap()
                ))
                .send()
                .await
                .unwrap(),
            )
            .await;
            assert_eq!(pred["model_id"], model_id.as_str());
            assert_eq!(pred["reasons"][0]["label"], "Industry", "{pred}");
            assert_eq!(pred["reasons"][0]["value"], industry);
            p.push(pred["probability"].as_f64().unwrap());
        }
        assert!(p[0] > 0.5 && p[1] < 0.5, "{}: {p:?}", t.name);
        let stored = {
            let mut c = t.app.db.acquire().await.unwrap();
            leadline_store::prediction::count_by_model(c.conn(), model_id.parse().unwrap())
                .await
                .unwrap()
        };
        assert_eq!(
            stored, 62,
            "leads created after training are predicted at once"
        );
    }
}

#[tokio::test]
async fn a_training_run_cut_short_by_a_stop_is_marked_failed_at_start() {
    for t in common::apps().await {
        let run = leadline_store::prediction::ModelRow {
            id: uuid::Uuid::now_v7(),
            state: "training".into(),
            active: false,
            excluded: vec![],
            report: None,
            error: None,
            total: 0,
            done: 0,
            started_by: "test".into(),
            started_at: 1,
            updated_at: 1,
            finished_at: None,
        };
        {
            let mut tx = t.app.db.begin().await.unwrap();
            leadline_store::prediction::insert(tx.conn(), &run)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        assert_eq!(t.app.fail_interrupted_training().await.unwrap(), 1);
        let got = json_of(
            t.get(&format!("/api/v1/prediction/models/{}", run.id))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got["state"], "failed", "{}: {got}", t.name);
        assert!(got["error"].as_str().unwrap().contains("interrupted"));
        assert_eq!(t.app.fail_interrupted_training().await.unwrap(), 0);

        // Weekly retraining only retrains a model somebody trained, once it is old.
        let by = leadline_domain::Principal::system("test");
        let week = chrono::Duration::days(7);
        assert!(t.app.retrain_if_stale(&by, week).await.unwrap().is_none());
        let old = leadline_store::prediction::ModelRow {
            id: uuid::Uuid::now_v7(),
            state: "ready".into(),
            ..run
        };
        {
            let mut tx = t.app.db.begin().await.unwrap();
            leadline_store::prediction::insert(tx.conn(), &old)
                .await
                .unwrap();
            leadline_store::prediction::activate(tx.conn(), old.id)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        // It tries (and, with no outcomes in this database, fails and keeps the old one).
        let err = t.app.retrain_if_stale(&by, week).await.unwrap_err();
        assert!(err.to_string().contains("too few outcomes"), "{err}");
        let status = json_of(t.get("/api/v1/prediction").send().await.unwrap()).await;
        assert_eq!(status["active"]["id"], old.id.to_string(), "{}", t.name);
    }
}
