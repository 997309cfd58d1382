//! Follow-up over the API on SQLite and PostgreSQL: SLA policies are validated, a lead's
//! clock starts at capture and stops at the first touch, the sweeper warns and escalates
//! (and reassigns when asked to), tasks end with one-click outcomes that become activities,
//! unanswered calls follow the cadence until the lead is recycled to marketing, and the
//! rep's queue puts the most urgent lead first.

mod common;

use common::ok;

use leadline_domain::Role;
use serde_json::{Value, json};

/// A policy whose every target is one business minute on a calendar open all week, so a
/// test can pass deadlines by sweeping a little in the future.
fn tight_policy(reassign: bool) -> Value {
    json!({
        "calendar": {"time_zone": "UTC", "days": [1,2,3,4,5,6,7], "start": "00:00:00", "end": "23:59:00"},
        "targets": [{"name": "fast", "minutes": 2}],
        "warn_before_minutes": 1,
        "reassign_on_breach": reassign,
        "cadence": {"retry_after_minutes": [60], "max_attempts": 2}
    })
}

#[tokio::test]
async fn clocks_alerts_tasks_and_cadence_end_to_end() {
    for t in common::apps().await {
        let (ana, ana_key) = t.user_with_key("ana@f.example", Role::Rep).await;
        let (ben, ben_key) = t.user_with_key("ben@f.example", Role::Rep).await;
        let (_, rep_key_other) = t.user_with_key("cy@f.example", Role::Rep).await;

        // Bad policies are refused with the field; reps may not change it.
        let mut bad = tight_policy(false);
        bad["targets"][0]["minutes"] = json!(0);
        bad["calendar"]["time_zone"] = json!("Nowhere/Land");
        let r = t.put("/api/v1/sla/policy").json(&bad).send().await.unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        let text = r.text().await.unwrap();
        assert!(
            text.contains("targets[0].minutes") && text.contains("calendar.time_zone"),
            "{text}"
        );
        let r = t
            .client
            .put(t.url("/api/v1/sla/policy"))
            .bearer_auth(&ana_key)
            .json(&tight_policy(false))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{}", t.name);
        ok(t.put("/api/v1/sla/policy")
            .json(&tight_policy(true))
            .send()
            .await
            .unwrap())
        .await;

        // A team with both reps; the rule gives every lead to it by round robin.
        let team = ok(t
            .post("/api/v1/teams")
            .json(&json!({"name": "Inside", "members": [ana, ben]}))
            .send()
            .await
            .unwrap())
        .await;
        ok(t.post("/api/v1/routing/versions")
            .json(&json!({"activate": true, "rules": {"rules": [{"id": "all", "name": "All", "conditions": [],
                "target": {"kind": "team", "team_id": team["id"], "method": {"method": "round_robin"}}}]}}))
            .send()
            .await
            .unwrap())
        .await;

        let lead = ok(t
            .post("/api/v1/leads")
            .json(&json!({"email": "urgent@f.example", "first_name": "Urgent"}))
            .send()
            .await
            .unwrap())
        .await;
        let id = lead["id"].as_str().unwrap().to_owned();
        let first_owner = lead["owner_id"].as_str().unwrap().to_owned();
        let sla = ok(t
            .get(&format!("/api/v1/leads/{id}/sla"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(sla["clock"]["state"], "running", "{}: {sla}", t.name);
        assert_eq!(sla["clock"]["target"], "fast");

        // The sweep at the warning time warns the owner; past the deadline it alerts the
        // managers and, as the policy asks, gives the lead to the other rep.
        let app = &t.app;
        let now = leadline_domain::time::now();
        let warned = app
            .sweep_sla(now + chrono::Duration::seconds(70))
            .await
            .unwrap();
        assert_eq!(warned.warned, 1, "{}", t.name);
        let swept = app
            .sweep_sla(now + chrono::Duration::minutes(3))
            .await
            .unwrap();
        assert_eq!(
            (swept.breached, swept.reassigned),
            (1, 1),
            "{}: {swept:?}",
            t.name
        );
        let after = ok(t.get(&format!("/api/v1/leads/{id}")).send().await.unwrap()).await;
        assert_ne!(
            after["owner_id"].as_str().unwrap(),
            first_owner,
            "{}",
            t.name
        );
        let history = ok(t
            .get(&format!("/api/v1/leads/{id}/history"))
            .send()
            .await
            .unwrap())
        .await;
        assert!(
            history.to_string().contains("first-touch SLA breached"),
            "{}: {history}",
            t.name
        );
        // Swept again, nothing new: each clock is alerted once.
        let again = app
            .sweep_sla(now + chrono::Duration::minutes(3))
            .await
            .unwrap();
        assert_eq!(again.breached, 0, "{}", t.name);
        let board = ok(t.get("/api/v1/sla/board").send().await.unwrap()).await;
        let breach = board["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "sla_breach" && a["lead_id"] == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{}: no breach alert on the board: {board}", t.name));
        assert!(breach["message"].as_str().unwrap().contains("breached"));

        // The new owner's queue has the lead at the top with its timer.
        let new_owner = after["owner_id"].as_str().unwrap();
        let owner_key = if new_owner == ana.to_string() {
            &ana_key
        } else {
            &ben_key
        };
        assert!([ana.to_string(), ben.to_string()].contains(&new_owner.to_owned()));
        let q = ok(t
            .client
            .get(t.url("/api/v1/queue"))
            .bearer_auth(owner_key)
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(q[0]["lead_id"], id.as_str(), "{}: {q}", t.name);
        assert!(q[0]["seconds_left"].is_i64());
        // The new owner was told, on their queue.
        let mine = ok(t
            .client
            .get(t.url("/api/v1/alerts"))
            .bearer_auth(owner_key)
            .send()
            .await
            .unwrap())
        .await;
        assert!(
            mine.as_array()
                .unwrap()
                .iter()
                .any(|a| a["kind"] == "lead_assigned" && a["lead_id"] == id.as_str()),
            "{}: {mine}",
            t.name
        );

        // Tasks: bad input is refused precisely.
        let r = t
            .post(&format!("/api/v1/leads/{id}/tasks"))
            .json(&json!({"kind": "fax", "due_at": "2026-12-01T10:00:00Z"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        let r = t
            .post(&format!("/api/v1/leads/{id}/tasks"))
            .json(&json!({"kind": "call", "due_at": "2026-12-01T10:00:00Z", "remind_at": "2026-12-02T10:00:00Z"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        assert!(r.text().await.unwrap().contains("remind_at"));
        let task = ok(t
            .post(&format!("/api/v1/leads/{id}/tasks"))
            .json(&json!({"kind": "call", "due_at": "2026-12-01T10:00:00Z"}))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            task["assignee_id"], new_owner,
            "{}: defaults to the owner",
            t.name
        );
        let task_id = task["id"].as_str().unwrap();
        // A rep who cannot see the lead cannot see its task either.
        let r = t
            .client
            .post(t.url(&format!("/api/v1/tasks/{task_id}/outcome")))
            .bearer_auth(&rep_key_other)
            .json(&json!({"outcome": "no_answer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{}", t.name);
        // An email outcome on a call is refused.
        let r = t
            .post(&format!("/api/v1/tasks/{task_id}/outcome"))
            .json(&json!({"outcome": "sent"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);

        // No answer: an activity, the clock stops (met: the new owner's clock restarted at
        // the reassignment), the breach alert is resolved, and the cadence schedules
        // attempt 2.
        let first = ok(t
            .post(&format!("/api/v1/tasks/{task_id}/outcome"))
            .json(&json!({"outcome": "no_answer", "note": "rang out"}))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(first["activity"]["kind"], "call", "{}", t.name);
        assert_eq!(first["activity"]["properties"]["outcome"], "no_answer");
        assert_eq!(first["recycled"], false);
        let next = first["next_task"].clone();
        assert_eq!(next["attempt"], 2, "{}: {first}", t.name);
        let r = t
            .post(&format!("/api/v1/tasks/{task_id}/outcome"))
            .json(&json!({"outcome": "connected"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{}: logging twice", t.name);
        let sla = ok(t
            .get(&format!("/api/v1/leads/{id}/sla"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(sla["clock"]["state"], "met", "{}: {sla}", t.name);
        assert!(
            sla["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| !a["resolved_at"].is_null()),
            "{}: {sla}",
            t.name
        );

        // Voicemail on the last attempt: the lead goes back to marketing.
        let last = ok(t
            .post(&format!(
                "/api/v1/tasks/{}/outcome",
                next["id"].as_str().unwrap()
            ))
            .json(&json!({"outcome": "voicemail"}))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(last["recycled"], true, "{}: {last}", t.name);
        assert!(last["next_task"].is_null());
        let lead = ok(t.get(&format!("/api/v1/leads/{id}")).send().await.unwrap()).await;
        assert_eq!(lead["stage"], "nurture", "{}", t.name);
        let history = ok(t
            .get(&format!("/api/v1/leads/{id}/history"))
            .send()
            .await
            .unwrap())
        .await;
        assert!(
            history
                .to_string()
                .contains("after 2 attempts without connecting"),
            "{history}"
        );
        // Recycled leads can re-qualify.
        ok(t.post(&format!("/api/v1/leads/{id}/stage"))
            .json(&json!({"to": "mql"}))
            .send()
            .await
            .unwrap())
        .await;
        let sla = ok(t
            .get(&format!("/api/v1/leads/{id}/sla"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            sla["clock"]["stage"], "mql",
            "{}: a new clock for the new stage: {sla}",
            t.name
        );
        // Converted or disqualified leads take no new tasks.
        ok(t.post(&format!("/api/v1/leads/{id}/stage"))
            .json(&json!({"to": "disqualified", "reason": "unresponsive"}))
            .send()
            .await
            .unwrap())
        .await;
        let r = t
            .post(&format!("/api/v1/leads/{id}/tasks"))
            .json(&json!({"kind": "call", "due_at": "2026-12-01T10:00:00Z"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{}", t.name);

        // Task reminders reach the assignee as alerts.
        let other = ok(t
            .post("/api/v1/leads")
            .json(&json!({"email": "remind@f.example"}))
            .send()
            .await
            .unwrap())
        .await;
        let due = leadline_domain::time::now() + chrono::Duration::minutes(20);
        ok(t.post(&format!(
            "/api/v1/leads/{}/tasks",
            other["id"].as_str().unwrap()
        ))
        .json(&json!({"kind": "meeting", "due_at": due, "assignee_id": ana}))
        .send()
        .await
        .unwrap())
        .await;
        let swept = app.sweep_sla(due).await.unwrap();
        assert_eq!(swept.reminded, 1, "{}", t.name);
        let mine = ok(t
            .client
            .get(t.url("/api/v1/alerts"))
            .bearer_auth(&ana_key)
            .send()
            .await
            .unwrap())
        .await;
        let reminder = mine
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "task_due")
            .cloned()
            .unwrap_or_else(|| panic!("{}: {mine}", t.name));
        let rid = reminder["id"].as_str().unwrap();
        ok(t.client
            .post(t.url(&format!("/api/v1/alerts/{rid}/resolve")))
            .bearer_auth(&ana_key)
            .send()
            .await
            .unwrap())
        .await;
        let r = t
            .client
            .post(t.url(&format!("/api/v1/alerts/{rid}/resolve")))
            .bearer_auth(&ana_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{}", t.name);
    }
}

#[tokio::test]
async fn the_queue_puts_the_least_time_left_first_within_a_priority() {
    for t in common::apps().await {
        let (ana, ana_key) = t.user_with_key("qa@f.example", Role::Rep).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let l = ok(t
                .post("/api/v1/leads")
                .json(&json!({"email": format!("q{i}@f.example"), "owner_id": ana}))
                .send()
                .await
                .unwrap())
            .await;
            ids.push(l["id"].as_str().unwrap().to_owned());
        }
        // The second lead is touched: it leaves the timers (still in the queue, last).
        ok(t.post(&format!("/api/v1/leads/{}/activities", ids[1]))
            .json(&json!({"kind": "call"}))
            .send()
            .await
            .unwrap())
        .await;
        let q = ok(t
            .client
            .get(t.url("/api/v1/queue"))
            .bearer_auth(&ana_key)
            .send()
            .await
            .unwrap())
        .await;
        let order: Vec<&str> = q
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["lead_id"].as_str().unwrap())
            .collect();
        assert_eq!(order.len(), 3, "{}: {q}", t.name);
        assert_eq!(
            order[2], ids[1],
            "{}: the touched lead comes last: {q}",
            t.name
        );
        assert_eq!(
            order[0], ids[0],
            "{}: the oldest deadline first: {q}",
            t.name
        );
        assert!(q[2]["sla_state"].is_null());
        assert_eq!(q[0]["sla_state"], "running");
    }
}

#[tokio::test]
async fn nurtured_leads_come_back_on_their_reengage_day_and_unroutable_ones_alert() {
    for t in common::apps().await {
        let l = ok(t
            .post("/api/v1/leads")
            .json(&json!({"email": "later@f.example", "country": "DE"}))
            .send()
            .await
            .unwrap())
        .await;
        let id = l["id"].as_str().unwrap().to_owned();
        let stage = format!("/api/v1/leads/{id}/stage");
        // A re-engage day goes only with nurture, and lies ahead.
        let r = t
            .post(&stage)
            .json(&json!({"to": "mql", "reengage_on": "2099-01-01"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        let r = t
            .post(&stage)
            .json(&json!({"to": "nurture", "reengage_on": "2020-01-01"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{}", t.name);
        let tomorrow = (leadline_domain::time::now() + chrono::Duration::days(1)).date_naive();
        ok(t.post(&stage)
            .json(&json!({"to": "nurture", "reengage_on": tomorrow.to_string()}))
            .send()
            .await
            .unwrap())
        .await;
        let sla = ok(t
            .get(&format!("/api/v1/leads/{id}/sla"))
            .send()
            .await
            .unwrap())
        .await;
        let at: chrono::DateTime<chrono::Utc> = sla["reengage_at"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {sla}", t.name))
            .parse()
            .unwrap();
        assert!(at.date_naive() >= tomorrow, "{}: {at}", t.name);
        // Not before its time; then back to sales with a new clock and the why.
        let early = t
            .app
            .sweep_sla(at - chrono::Duration::minutes(1))
            .await
            .unwrap();
        assert_eq!(early.reengaged, 0, "{}", t.name);
        let due = t.app.sweep_sla(at).await.unwrap();
        assert_eq!(due.reengaged, 1, "{}", t.name);
        let lead = ok(t.get(&format!("/api/v1/leads/{id}")).send().await.unwrap()).await;
        assert_eq!(lead["stage"], "mql", "{}", t.name);
        let sla = ok(t
            .get(&format!("/api/v1/leads/{id}/sla"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(sla["clock"]["stage"], "mql", "{}: {sla}", t.name);
        assert_eq!(sla["clock"]["state"], "running");
        assert!(sla["reengage_at"].is_null());
        let h = ok(t
            .get(&format!("/api/v1/leads/{id}/history"))
            .send()
            .await
            .unwrap())
        .await;
        assert!(
            h.to_string().contains("re-engage day reached"),
            "{}: {h}",
            t.name
        );

        // Rules that match nobody: the lead stays unassigned and the managers hear of it.
        let (zz, _) = t.user_with_key("zz@f.example", Role::Rep).await;
        ok(t.post("/api/v1/routing/versions")
            .json(
                &json!({"activate": true, "rules": {"rules": [{"id": "zz", "name": "Nowhere",
                "conditions": [{"field": "country", "op": "equals", "value": "ZZ"}],
                "target": {"kind": "user", "user_id": zz}}]}}),
            )
            .send()
            .await
            .unwrap())
        .await;
        let lost = ok(t
            .post("/api/v1/leads")
            .json(&json!({"email": "nobody@f.example", "country": "DE"}))
            .send()
            .await
            .unwrap())
        .await;
        assert!(lost["owner_id"].is_null());
        let alerts = ok(t.get("/api/v1/alerts").send().await.unwrap()).await;
        assert!(
            alerts
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["kind"] == "unrouted"
                    && a["lead_id"] == lost["id"]
                    && a["message"].as_str().unwrap().contains("no rule matched")),
            "{}: {alerts}",
            t.name
        );
    }
}
