//! The follow-up guarantee, proven by simulation on SQLite and PostgreSQL: a week of 10,000
//! leads arriving in a steady stream through the API and in bursts of imported lists, routed to reps who work their own hours
//! in their own time zones and take days off, each rep working their queue at a human pace.
//! After every sweep, every lead left untouched past its first-touch deadline has an alert
//! for the managers and shows on the board; no lead touched in time has one.
//!
//! `LEADLINE_SLA_WEEK_LEADS` sets how many leads the week brings (default 10,000; CI runs
//! 3,000 to fit its time budget, bursts and stream scaled alike).
//!
//! The week runs on the settable clock (`leadline_domain::time::manual_clock`), which is why
//! this test lives in its own binary: the clock is process-wide.

mod common;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use leadline_app::admin::TeamInput;
use leadline_domain::routing::{
    Method, RepSettings, RoutingRule, RoutingRules, Target, WorkingHours,
};
use leadline_domain::sla::{BusinessCalendar, SlaPolicy};
use leadline_domain::time::{from_micros, manual_clock, to_micros};
use leadline_domain::{NewActivity, Principal, Role};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// How many leads the week brings: the stream is 70 %, the bursts 30 % of them.
fn week_leads() -> usize {
    std::env::var("LEADLINE_SLA_WEEK_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// A small deterministic generator (xorshift), so every run simulates the same week.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The four bursts: lists imported at once (a webinar's attendees, a trade-show scan, two
/// bought lists), 30 % of the week's leads (3,000 of 10,000).
fn bursts(start: DateTime<Utc>, leads: usize) -> Vec<(DateTime<Utc>, usize)> {
    let share = |per_10k: usize| per_10k * leads / 10_000;
    vec![
        (start + Duration::hours(24 + 10), share(900)), // Tuesday 10:00
        (start + Duration::hours(48 + 15), share(700)), // Wednesday 15:00
        (start + Duration::hours(96 + 9), share(800)),  // Friday 09:00
        (
            start + Duration::hours(96 + 19),
            leads * 3 / 10 - share(2400),
        ), // Friday 19:00, just before closing
    ]
}

/// When each lead of the steady stream (70 % of the week's) arrives: mostly on weekday business
/// hours, a trickle by night and at the weekend.
fn steady(start: DateTime<Utc>, rng: &mut Rng, count: usize) -> Vec<DateTime<Utc>> {
    let mut at = Vec::new();
    while at.len() < count {
        let minute = rng.below(7 * 24 * 60) as i64;
        let hour = (minute / 60) % 24;
        let weekday = minute / (24 * 60) < 5;
        // Four times as likely on weekday business hours.
        let keep = if weekday && (8..20).contains(&hour) {
            4
        } else {
            1
        };
        if rng.below(4) < keep {
            at.push(start + Duration::minutes(minute));
        }
    }
    at.sort();
    at
}

fn rep(id: Uuid, email: &str) -> Principal {
    Principal {
        user_id: Some(id),
        api_key_id: None,
        role: Role::Rep,
        sees_all_leads: false,
        label: email.into(),
    }
}

#[tokio::test]
async fn a_week_of_ten_thousand_leads_leaves_none_past_its_sla_without_an_alert() {
    // Monday 2026-11-30 00:00 UTC.
    let start = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
    for t in common::apps().await {
        manual_clock::set(start - Duration::hours(1));
        let app = &t.app;
        let admin = Principal::system("simulation");
        let hours = |s: u32, e: u32| WorkingHours {
            days: vec![1, 2, 3, 4, 5],
            start: NaiveTime::from_hms_opt(s, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(e, 0, 0).unwrap(),
        };
        // Six reps: three in Berlin, three in New York; one Berliner is off Tuesday and
        // Wednesday, one New Yorker from Thursday noon on.
        let mut reps = Vec::new();
        for (i, (tz, away)) in [
            ("Europe/Berlin", None),
            ("Europe/Berlin", Some((24, 72))),
            ("Europe/Berlin", None),
            ("America/New_York", None),
            ("America/New_York", Some((72 + 12, 200))),
            ("America/New_York", None),
        ]
        .into_iter()
        .enumerate()
        {
            let email = format!("rep{i}@sim.example");
            let (id, _) = t.user_with_key(&email, Role::Rep).await;
            let settings = RepSettings {
                time_zone: tz.into(),
                working_hours: Some(hours(9, 17)),
                away_from: away.map(|(a, _)| start + Duration::hours(a)),
                away_until: away.map(|(_, b)| start + Duration::hours(b)),
                ..RepSettings::default()
            };
            app.set_rep_routing(&admin, id, settings.clone())
                .await
                .unwrap();
            reps.push((id, rep(id, &email), settings));
        }
        let inside = app
            .create_team(
                &admin,
                TeamInput {
                    name: "Inside".into(),
                    members: reps.iter().map(|r| r.0).collect(),
                },
            )
            .await
            .unwrap();
        let overflow = app
            .create_team(
                &admin,
                TeamInput {
                    name: "Overflow".into(),
                    members: vec![],
                },
            )
            .await
            .unwrap();
        app.save_routing_version(
            &admin,
            RoutingRules {
                rules: vec![RoutingRule {
                    id: "all".into(),
                    name: "Everyone".into(),
                    conditions: vec![],
                    target: Target::Team {
                        team_id: inside.id,
                        method: Method::RoundRobin,
                    },
                }],
                fallback_team: Some(overflow.id),
                ..RoutingRules::default()
            },
            None,
            true,
        )
        .await
        .unwrap();
        let policy = SlaPolicy {
            calendar: BusinessCalendar {
                time_zone: "UTC".into(),
                days: vec![1, 2, 3, 4, 5],
                start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
                holidays: vec![],
            },
            ..SlaPolicy::default()
        };
        app.set_sla_policy(&admin, policy.clone()).await.unwrap();

        let mut rng = Rng(0x5eed_1ead_u64);
        let leads = week_leads();
        let times = steady(start, &mut rng, leads - leads * 3 / 10);
        let mut pending_bursts = bursts(start, leads);
        let mut imported = 0;
        // Per lead: its deadline (computed here from the policy and the lead's priority)
        // and when a rep touched it.
        let mut due: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        let mut touched: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        let mut next = 0;
        let tick = Duration::minutes(10);
        let mut now = start;
        let end = start + Duration::days(7);
        let mut checks = 0;
        while now <= end {
            manual_clock::set(now);
            // Captures up to now: the stream through the API, the bursts as imports.
            let mut batch = Vec::new();
            while next < times.len() && times[next] <= now {
                let n = next;
                let title = ["CEO", "VP Sales", "Engineer", "Intern"][rng.below(4) as usize];
                let employees = [5, 50, 500, 5000][rng.below(4) as usize];
                let body = json!({
                    "email": format!("lead{n}@sim{}.example", n % 97),
                    "first_name": format!("Lead{n}"),
                    "title": title,
                    "employees": employees,
                    "country": "DE",
                });
                let lead = app.create_lead(&admin, body).await.unwrap();
                batch.push(lead.id);
                next += 1;
            }
            while let Some((at, rows)) = pending_bursts.first().copied()
                && at <= now
            {
                pending_bursts.remove(0);
                let mut csv = String::from("Email,First Name,Title,Employees,Country\n");
                for i in 0..rows {
                    let title = ["CEO", "VP Sales", "Engineer", "Intern"][rng.below(4) as usize];
                    csv.push_str(&format!(
                        "burst{imported}-{i}@list{}.example,Burst{i},{title},{},DE\n",
                        i % 89,
                        [5, 50, 500, 5000][rng.below(4) as usize]
                    ));
                }
                let job = app
                    .create_import(&admin, "burst.csv", csv.as_bytes(), Default::default())
                    .await
                    .unwrap();
                // As every import path does: the rows, then verifying, scoring, routing and
                // starting their clocks page by page.
                app.run_import(job.id, |_| {}).await.unwrap();
                app.verify_unchecked(job.created_at).await.unwrap();
                let mut c = app.db.acquire().await.unwrap();
                let new: Vec<Uuid> =
                    leadline_store::leads::created_since(c.conn(), to_micros(now), None, 5_000)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|l| l.id)
                        .filter(|id| !due.contains_key(id) && !batch.contains(id))
                        .collect();
                assert_eq!(new.len(), rows, "{}: the burst's leads", t.name);
                batch.extend(new);
                imported += rows;
            }
            if !batch.is_empty() {
                let mut c = app.db.acquire().await.unwrap();
                let prio: HashMap<Uuid, String> =
                    leadline_store::scoring::default_priorities(c.conn(), &batch)
                        .await
                        .unwrap()
                        .into_iter()
                        .collect();
                for id in batch {
                    let lead = leadline_store::leads::get(c.conn(), id)
                        .await
                        .unwrap()
                        .unwrap();
                    let target = policy
                        .target_for(lead.stage, prio.get(&id).map(String::as_str))
                        .expect("every new lead is covered");
                    due.insert(id, policy.deadlines(now, target.minutes).due_at);
                }
            }
            // Reps at work take the first five leads of their queue (priority, then time
            // left) and call them.
            for (id, p, settings) in &reps {
                if settings.away(now).is_some() || settings.off_hours(now).is_some() {
                    continue;
                }
                let queue = app.my_queue(p, 10).await.unwrap();
                for item in queue
                    .iter()
                    .filter(|i| i.sla_state.is_some() && i.owner_id == Some(*id))
                    .take(5)
                {
                    app.add_activity(
                        p,
                        item.lead_id,
                        NewActivity {
                            kind: "call".into(),
                            occurred_at: None,
                            properties: Default::default(),
                        },
                    )
                    .await
                    .unwrap();
                    touched.insert(item.lead_id, now);
                }
            }
            app.sweep_sla(now).await.unwrap();
            // The guarantee, checked after every sweep of the first and last day and
            // hourly in between (a check reads every alert).
            let hour_mark = (now - start).num_minutes() % 60 == 0;
            if hour_mark || now < start + Duration::days(1) || now > end - Duration::days(1) {
                checks += 1;
                let mut c = app.db.acquire().await.unwrap();
                let alerted: HashMap<Uuid, DateTime<Utc>> =
                    leadline_store::sla::alerted_leads(c.conn(), "sla_breach")
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|(id, at)| (id, from_micros(at)))
                        .collect();
                let past: Vec<Uuid> = due
                    .iter()
                    .filter(|(id, d)| **d <= now && touched.get(id).is_none_or(|t| t > *d))
                    .map(|(id, _)| *id)
                    .collect();
                let missing: Vec<&Uuid> =
                    past.iter().filter(|id| !alerted.contains_key(id)).collect();
                assert!(
                    missing.is_empty(),
                    "{}: at {now}, {} of {} leads past their SLA have no alert (e.g. {:?})",
                    t.name,
                    missing.len(),
                    past.len(),
                    missing.first()
                );
                // And no alert for a lead touched in time, or raised before its deadline.
                for (id, at) in &alerted {
                    let d = due[id];
                    assert!(
                        *at >= d,
                        "{}: alert for {id} at {at} before its deadline {d}",
                        t.name
                    );
                    assert!(
                        touched.get(id).is_none_or(|t| *t > d),
                        "{}: {id} was touched in time",
                        t.name
                    );
                }
                // The board counts exactly the untouched ones past their deadline.
                let open_past = past.iter().filter(|id| !touched.contains_key(id)).count();
                let board = app.sla_board(&admin).await.unwrap();
                assert_eq!(
                    board.breached as usize, open_past,
                    "{}: board at {now}",
                    t.name
                );
            }
            now += tick;
        }
        assert_eq!(next + imported, leads, "{}: every lead arrived", t.name);
        assert_eq!(due.len(), leads, "{}", t.name);
        let breached = due
            .iter()
            .filter(|(id, d)| touched.get(id).is_none_or(|t| t > *d))
            .count();
        // The simulation must exercise both sides: leads handled in time and leads missed.
        assert!(
            touched.len() > leads / 5,
            "{}: reps touched {}",
            t.name,
            touched.len()
        );
        assert!(
            breached > leads / 100,
            "{}: only {breached} breaches; the week is too easy",
            t.name
        );
        eprintln!(
            "{}: {leads} leads, {} touched, {breached} past SLA, all alerted; {checks} checks",
            t.name,
            touched.len()
        );
        manual_clock::clear();
    }
}
