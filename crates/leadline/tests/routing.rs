//! Distribution end to end on SQLite and PostgreSQL: rules route new leads at once and say
//! why, reps away are passed over, nobody available goes to the fallback queue, rules are
//! versioned, tested and simulated, reassignment is recorded and refuses stale writes, and
//! round robin stays fair across two server processes on one PostgreSQL.

mod common;

use leadline_domain::Role;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn json_of(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn team(t: &common::TestApp, name: &str, members: &[uuid::Uuid]) -> String {
    let v = json_of(
        t.post("/api/v1/teams")
            .json(&json!({"name": name, "members": members}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    v["id"].as_str().unwrap().to_owned()
}

async fn lead(t: &common::TestApp, body: Value) -> Value {
    json_of(t.post("/api/v1/leads").json(&body).send().await.unwrap()).await
}

#[tokio::test]
async fn rules_route_new_leads_at_once_and_say_why() {
    for t in common::apps().await {
        let (ana, _) = t.user_with_key("ana@team.example", Role::Rep).await;
        let (ben, _) = t.user_with_key("ben@team.example", Role::Rep).await;
        let (cy, _) = t.user_with_key("cy@team.example", Role::Rep).await;
        let emea = team(&t, "EMEA", &[ana, ben, cy]).await;
        let inbox = team(&t, "Inbox", &[]).await;
        // Ben is away.
        let away = json_of(
            t.put(&format!("/api/v1/users/{ben}/routing"))
                .json(&json!({"time_zone": "Europe/Berlin",
                              "away_from": "2026-01-01T00:00:00Z", "away_until": "2099-01-01T00:00:00Z"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(away["settings"]["time_zone"], "Europe/Berlin", "{}", t.name);

        // Bad rule sets are refused with the field at fault.
        let r = t
            .post("/api/v1/routing/versions")
            .json(&json!({"rules": {"rules": [{"id": "x", "name": "X",
                "conditions": [{"field": "shoe_size", "op": "exists"}],
                "target": {"kind": "team", "team_id": uuid::Uuid::now_v7()}}]}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        let problem: Value = r.json().await.unwrap();
        let text = problem.to_string();
        assert!(text.contains("rules[0].conditions[0].field"), "{text}");

        let rules = json!({"rules": [
            {"id": "enterprise", "name": "Enterprise", "conditions": [
                {"field": "employees", "op": "range", "min": 1000}],
             "target": {"kind": "user", "user_id": cy}},
            {"id": "emea", "name": "EMEA", "conditions": [
                {"field": "country", "op": "in", "values": ["DE", "FR"]}],
             "target": {"kind": "team", "team_id": emea, "method": {"method": "round_robin"}}}
        ], "fallback_team": inbox});
        // Before any rule set is in force, leads stay where they were captured.
        let before = lead(&t, json!({"email": "early@x.example", "country": "DE"})).await;
        assert_eq!(before["owner_id"], Value::Null);
        let v = json_of(
            t.post("/api/v1/routing/versions")
                .json(&json!({"rules": rules, "note": "first cut", "activate": true}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (v["version"].as_i64(), v["in_force"].as_bool()),
            (Some(1), Some(true))
        );

        // Round robin in EMEA skips Ben: Ana, Cy, Ana, Cy.
        let mut owners = Vec::new();
        for i in 0..4 {
            let l = lead(
                &t,
                json!({"email": format!("de{i}@x.example"), "country": "DE"}),
            )
            .await;
            owners.push(l["owner_id"].as_str().unwrap().to_owned());
            assert_eq!(l["team_id"], emea.as_str());
        }
        let (a, c) = (ana.to_string(), cy.to_string());
        assert_eq!(owners, [&a, &c, &a, &c].map(String::as_str), "{}", t.name);
        // Why, in the owner history.
        let last = lead(&t, json!({"email": "de9@x.example", "country": "FR"})).await;
        let id = last["id"].as_str().unwrap();
        let h = json_of(
            t.get(&format!("/api/v1/leads/{id}/history"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let routed = &h["owners"][0];
        assert_eq!(routed["rule_id"], "emea", "{h}");
        assert_eq!(routed["method"], "round robin");
        assert_eq!(routed["routing_version"], 1);
        assert_eq!(routed["actor"], "routing");
        let why = routed["reason"].as_str().unwrap();
        assert!(
            why.starts_with("rule EMEA: round robin in team EMEA")
                && why.contains("ben@team.example skipped: out of office until 2099-01-01"),
            "{why}"
        );

        // A big company goes to Cy directly; nobody matching goes to the fallback queue.
        let big = lead(
            &t,
            json!({"email": "big@x.example", "country": "US", "employees": 5000}),
        )
        .await;
        assert_eq!(big["owner_id"], c.as_str());
        let us = lead(&t, json!({"email": "us@x.example", "country": "US"})).await;
        assert_eq!(
            (us["owner_id"].clone(), us["team_id"].clone()),
            (Value::Null, json!(inbox))
        );
        // The board shows it waiting in the Inbox queue, the early lead unassigned, and
        // each rep's load.
        let board = json_of(t.get("/api/v1/routing/board").send().await.unwrap()).await;
        assert_eq!(board["unassigned"], 1, "{board}");
        assert_eq!(board["queues"][0]["team_name"], "Inbox");
        assert_eq!(board["queues"][0]["leads"], 1);
        let load = |id: String| {
            board["reps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["user_id"] == id.as_str())
                .unwrap()
                .clone()
        };
        assert_eq!(load(c.clone())["open_leads"], 3, "{board}");
        assert!(
            load(ben.to_string())["status"]
                .as_str()
                .unwrap()
                .starts_with("out of office")
        );

        // The simulator says where a lead would go without taking a turn. EMEA has given
        // Ana three leads (the FR one too) and Cy two: Cy is next, and still is after the
        // test.
        let test = json_of(
            t.post("/api/v1/routing/test")
                .json(&json!({"lead_id": us["id"]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(test["rule_id"], Value::Null);
        assert_eq!(test["why"], "no rule matched; to the fallback queue");
        let draft = json!({"rules": [{"id": "all", "name": "Everyone to EMEA", "conditions": [],
            "target": {"kind": "team", "team_id": emea}}]});
        let test = json_of(
            t.post("/api/v1/routing/test")
                .json(&json!({"lead_id": us["id"], "rules": draft}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(test["owner_id"], c.as_str(), "{test}");
        let next = lead(&t, json!({"email": "de-next@x.example", "country": "DE"})).await;
        assert_eq!(
            next["owner_id"],
            c.as_str(),
            "{}: the test took no turn",
            t.name
        );

        // Who would have received what: every recent lead under the draft.
        let sim = json_of(
            t.post("/api/v1/routing/simulate")
                .json(&json!({"rules": draft, "days": 7}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let total = sim["leads"].as_u64().unwrap();
        assert_eq!(total, 9, "{sim}");
        assert_eq!(sim["by_rule"][0]["leads"].as_u64(), Some(total));
        // Under the draft every lead goes by rule "all"; in force, all but none matched.
        assert_eq!(sim["changed"].as_u64(), Some(total));
        // Conditions on the priority see each lead's stored priority (every lead is scored).
        let by_priority = json!({"rules": [{"id": "prio", "name": "Prioritised",
            "conditions": [{"field": "priority", "op": "exists"}],
            "target": {"kind": "team", "team_id": emea}}]});
        let sim = json_of(
            t.post("/api/v1/routing/simulate")
                .json(&json!({"rules": by_priority, "days": 7}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(sim["by_rule"][0]["leads"].as_u64(), Some(total), "{sim}");

        // Roll back to "no rules": a new version without rules, then version 1 again.
        let v2 = json_of(
            t.post("/api/v1/routing/versions")
                .json(&json!({"rules": {"rules": []}, "activate": true}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(v2["version"], 2);
        let quiet = lead(&t, json!({"email": "quiet@x.example", "country": "DE"})).await;
        assert_eq!(quiet["owner_id"], Value::Null);
        let back = json_of(
            t.post("/api/v1/routing/versions/1/activate")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(back["in_force"], true);
        let listed = json_of(t.get("/api/v1/routing/versions").send().await.unwrap()).await;
        assert_eq!(listed.as_array().map(Vec::len), Some(2));
        let cur = json_of(t.get("/api/v1/routing").send().await.unwrap()).await;
        assert_eq!(cur["version"], 1);
    }
}

#[tokio::test]
async fn reassignment_is_recorded_and_refuses_stale_writes() {
    for t in common::apps().await {
        let (ana, _) = t.user_with_key("ana@team.example", Role::Rep).await;
        let (ben, ben_key) = t.user_with_key("ben@team.example", Role::Rep).await;
        let l = lead(&t, json!({"email": "x@x.example"})).await;
        let id = l["id"].as_str().unwrap();
        let etag = format!("\"{}\"", l["version"]);
        // Two people reassign the same lead from the same version: one wins.
        let (r1, r2) = tokio::join!(
            t.post(&format!("/api/v1/leads/{id}/assign"))
                .header("If-Match", &etag)
                .json(&json!({"owner_id": ana, "note": "speaks German"}))
                .send(),
            t.post(&format!("/api/v1/leads/{id}/assign"))
                .header("If-Match", &etag)
                .json(&json!({"owner_id": ben}))
                .send()
        );
        let mut codes = [r1.unwrap().status().as_u16(), r2.unwrap().status().as_u16()];
        codes.sort();
        assert!(
            codes == [200, 409] || codes == [200, 412],
            "{}: {codes:?}",
            t.name
        );
        let h = json_of(
            t.get(&format!("/api/v1/leads/{id}/history"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let owners = h["owners"].as_array().unwrap();
        assert_eq!(owners.len(), 1, "{h}");
        assert_eq!(owners[0]["method"], "manual");

        // A rep may not give someone else's lead away.
        let r = t
            .client
            .post(t.url(&format!("/api/v1/leads/{id}/assign")))
            .bearer_auth(&ben_key)
            .json(&json!({"owner_id": ben}))
            .send()
            .await
            .unwrap();
        assert!(matches!(r.status().as_u16(), 403 | 404), "{}", r.status());

        // Bulk: the unknown lead is refused with its reason, the others are given.
        let l2 = lead(&t, json!({"email": "y@x.example"})).await;
        let ghost = uuid::Uuid::now_v7();
        let bulk = json_of(
            t.post("/api/v1/leads/assign")
                .json(&json!({"lead_ids": [id, l2["id"], ghost], "owner_id": ben}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(bulk["assigned"].as_array().map(Vec::len), Some(2), "{bulk}");
        assert_eq!(bulk["refused"][0]["lead_id"], ghost.to_string());
        let got = json_of(t.get(&format!("/api/v1/leads/{id}")).send().await.unwrap()).await;
        assert_eq!(got["owner_id"], ben.to_string());
        // Unknown owner → 422.
        let r = t
            .post(&format!("/api/v1/leads/{id}/assign"))
            .json(&json!({"owner_id": uuid::Uuid::now_v7()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
    }
}

/// Starts `leadline serve` on the database at `url`; returns the child and its base URL.
fn serve(url: &str, dir: &std::path::Path) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_leadline"))
        .current_dir(dir)
        .env("LEADLINE_LOG", "warn")
        .env_remove("LEADLINE_DATA_DIR")
        .args([
            "--database-url",
            url,
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, format!("http://127.0.0.1:{port}"))
}

#[tokio::test]
async fn round_robin_is_fair_across_two_server_processes() {
    let Some(t) = common::apps()
        .await
        .into_iter()
        .find(|t| t.name == "postgres")
    else {
        return;
    };
    let mut reps = Vec::new();
    for i in 0..5 {
        reps.push(
            t.user_with_key(&format!("rep{i}@team.example"), Role::Rep)
                .await
                .0,
        );
    }
    let sales = team(&t, "Sales", &reps).await;
    json_of(
        t.post("/api/v1/routing/versions")
            .json(
                &json!({"activate": true, "rules": {"rules": [{"id": "all", "name": "All",
                "target": {"kind": "team", "team_id": sales}}]}}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let servers = [serve(&t.db_url, dir.path()), serve(&t.db_url, dir.path())];
    for (_, base) in &servers {
        let mut up = false;
        for _ in 0..100 {
            if reqwest::get(format!("{base}/readyz"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "server at {base} did not start");
    }
    // 8 writers, 4 on each process, 25 leads each.
    let mut writers = Vec::new();
    for w in 0..8 {
        let base = servers[w % 2].1.clone();
        let key = t.key.clone();
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..25 {
                let r = client
                    .post(format!("{base}/api/v1/leads"))
                    .bearer_auth(&key)
                    .json(&json!({"email": format!("w{w}-{i}@x.example")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    for (mut child, _) in servers {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut counts = Vec::new();
    for r in &reps {
        let page = json_of(
            t.get(&format!("/api/v1/leads?owner={r}&limit=200"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        counts.push(page["data"].as_array().unwrap().len() as i64);
    }
    assert_eq!(counts.iter().sum::<i64>(), 200, "{counts:?}");
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(max - min <= 1, "assignments per rep: {counts:?}");
}

/// A lead through the capture API (which links it to its account by email domain), read
/// back after routing.
async fn captured(t: &common::TestApp, lead: Value) -> Value {
    let r = json_of(
        t.post("/api/v1/capture")
            .json(&json!({"lead": lead}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = r["lead_id"].as_str().unwrap_or_else(|| panic!("{r}"));
    json_of(t.get(&format!("/api/v1/leads/{id}")).send().await.unwrap()).await
}

#[tokio::test]
async fn leads_of_an_account_go_to_its_owner_first() {
    for t in common::apps().await {
        let (ana, _) = t.user_with_key("ana@acct.example", Role::Rep).await;
        let (ben, _) = t.user_with_key("ben@acct.example", Role::Rep).await;
        let emea = team(&t, "EMEA", &[ben]).await;
        json_of(
            t.post("/api/v1/routing/versions")
                .json(&json!({"activate": true, "rules": {"rules": [{"id": "all", "name": "All", "conditions": [],
                    "target": {"kind": "team", "team_id": emea, "method": {"method": "round_robin"}}}]}}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        json_of(
            t.post("/api/v1/accounts")
                .json(&json!({"name": "Globex", "domain": "globex.example", "owner_id": ana}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let l = captured(&t, json!({"email": "hank@globex.example"})).await;
        assert_eq!(l["owner_id"], ana.to_string(), "{}: {l}", t.name);
        let id = l["id"].as_str().unwrap();
        let h = json_of(
            t.get(&format!("/api/v1/leads/{id}/history"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let text = h.to_string();
        assert!(
            text.contains("account Globex") && text.contains("account_owner"),
            "{}: {text}",
            t.name
        );
        // Other domains follow the rules.
        let other = captured(&t, json!({"email": "x@initech.example"})).await;
        assert_eq!(other["owner_id"], ben.to_string(), "{}", t.name);
        // The owner away: the rules decide, and the why says so.
        json_of(
            t.put(&format!("/api/v1/users/{ana}/routing"))
                .json(&json!({"away_from": "2026-01-01T00:00:00Z", "away_until": "2099-01-01T00:00:00Z"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let l = captured(&t, json!({"email": "mona@globex.example"})).await;
        assert_eq!(l["owner_id"], ben.to_string(), "{}", t.name);
        let id = l["id"].as_str().unwrap();
        let h = json_of(
            t.get(&format!("/api/v1/leads/{id}/history"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(h.to_string().contains("out of office"), "{}: {h}", t.name);
    }
}
