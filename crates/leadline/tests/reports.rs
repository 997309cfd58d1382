//! Reports on both databases against hand-computed figures: the funnel by source from
//! stage history and won deals, as of a past day; leads by period, cohorts, velocity, sales
//! per currency, the forecast, campaign ROI and attribution; CSV; bad input refused.

mod common;

use common::ok;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn lead(t: &common::TestApp, email: &str, source: &str, stages: &[&str]) -> String {
    lead_from(t, email, json!({"source": source}), stages).await
}

async fn lead_from(t: &common::TestApp, email: &str, touch: Value, stages: &[&str]) -> String {
    let l = ok(t
        .post("/api/v1/leads")
        .json(&json!({"email": email, "first_touch": touch}))
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
    let col = r["columns"][0]["key"].as_str().unwrap().to_owned();
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x[&col] == key)
        .unwrap_or_else(|| panic!("no row {key} in {r}"))
}

fn figures(row: &Value) -> Vec<i64> {
    ["leads", "mql", "sal", "sql", "converted", "won"]
        .iter()
        .map(|k| row[k].as_i64().unwrap())
        .collect()
}

/// The rows of `r` whose `col` is `value`.
fn rows_where<'a>(r: &'a Value, col: &str, value: &str) -> Vec<&'a Value> {
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x[col] == value)
        .collect()
}

async fn convert(t: &common::TestApp, lead: &str, opportunity: Value) -> String {
    let c = ok(t
        .post(&format!("/api/v1/leads/{lead}/convert"))
        .json(&json!({ "opportunity": opportunity }))
        .send()
        .await
        .unwrap())
    .await;
    c["opportunity"]["id"].as_str().unwrap().to_owned()
}

async fn close(t: &common::TestApp, opp: &str, stage: &str, reason: &str) {
    ok(t.post(&format!("/api/v1/opportunities/{opp}/stage"))
        .json(&json!({"stage": stage, "reason": reason}))
        .send()
        .await
        .unwrap())
    .await;
}

#[tokio::test]
async fn the_funnel_by_source_matches_hand_counts_and_travels_in_time() {
    for t in common::apps().await {
        let name = t.name;
        // A campaign with a cost this month, for ROI.
        let today = chrono::Utc::now().date_naive();
        let camp = ok(t
            .post("/api/v1/campaigns")
            .json(&json!({"key": "spring", "channel": "paid_search"}))
            .send()
            .await
            .unwrap())
        .await;
        ok(t.post(&format!("/api/v1/campaigns/{}/costs", camp["id"].as_str().unwrap()))
            .json(&json!({"period_start": today, "period_end": today, "amount": 30000, "currency": "USD"}))
            .send()
            .await
            .unwrap())
        .await;
        // google (spring campaign, cpc): one won deal (new → mql → sal → sql → converted,
        // deal won) with a later LinkedIn ad visit, one MQL (also spring), one that went
        // straight to SAL (counts as having passed MQL), one untouched.
        let spring = json!({"source": "google", "medium": "cpc", "campaign": "spring"});
        let won = lead_from(&t, "a@g.example", spring.clone(), &["mql", "sal", "sql"]).await;
        ok(t.post(&format!("/api/v1/leads/{won}/activities"))
            .json(&json!({"kind": "page_view", "properties": {
                "url": "https://example.com/pricing", "utm_source": "linkedin",
                "utm_medium": "paid_social", "utm_campaign": "retarget"}}))
            .send()
            .await
            .unwrap())
        .await;
        let opp = convert(
            &t,
            &won,
            json!({"amount": "1000", "currency": "USD", "stage": "proposal"}),
        )
        .await;
        close(&t, &opp, "won", "product fit").await;
        lead_from(&t, "b@g.example", spring, &["mql"]).await;
        lead(&t, "c@g.example", "google", &["sal"]).await;
        lead(&t, "d@g.example", "google", &[]).await;
        // linkedin: one recycled to nurture after MQL, one new, one converted whose deal was
        // lost; partnerco: one converted with an open deal in euros; no source: one.
        lead(&t, "e@l.example", "linkedin", &["mql", "nurture"]).await;
        lead(&t, "f@l.example", "linkedin", &[]).await;
        let h = lead(&t, "h@l.example", "linkedin", &["mql", "sal", "sql"]).await;
        let lost = convert(
            &t,
            &h,
            json!({"amount": "500", "currency": "USD", "stage": "proposal"}),
        )
        .await;
        close(&t, &lost, "lost", "price").await;
        let i = lead(&t, "i@p.example", "partnerco", &["mql", "sal", "sql"]).await;
        convert(
            &t,
            &i,
            json!({"amount": "2000", "currency": "EUR", "stage": "proposal", "close_date": today}),
        )
        .await;
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
        assert_eq!(figures(row(&r, "linkedin")), [3, 2, 1, 1, 1, 0], "{name}");
        assert_eq!(figures(row(&r, "partnerco")), [1, 1, 1, 1, 1, 0], "{name}");
        assert_eq!(figures(row(&r, "(none)")), [1, 0, 0, 0, 0, 0], "{name}");
        assert_eq!(figures(&r["total"]), [9, 6, 4, 3, 3, 1], "{name}");
        assert_eq!(row(&r, "google")["conversion_rate"], 0.25);
        assert_eq!(row(&r, "google")["mql_rate"], 0.75);
        assert_eq!(row(&r, "google")["_filter"]["source"], "google");
        // The same figures read from the leads instead of the UTC roll-up (a zone that is
        // UTC by another name takes the scan path): identical rows.
        let scanned = ok(t
            .get("/api/v1/reports/funnel?by=source&tz=Etc/GMT")
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(scanned["rows"], r["rows"], "{name}: roll-up vs scan");
        assert_eq!(scanned["total"], r["total"], "{name}: roll-up vs scan");

        // Filters: one campaign (the two spring leads: one won, one MQL), both paths; the
        // drill-down keeps the filter.
        for tz in ["UTC", "Etc/GMT"] {
            let r = ok(t
                .get(&format!(
                    "/api/v1/reports/funnel?by=source&campaign=spring&tz={tz}"
                ))
                .send()
                .await
                .unwrap())
            .await;
            assert_eq!(
                r["rows"].as_array().map(Vec::len),
                Some(1),
                "{name} {tz}: {r}"
            );
            assert_eq!(
                figures(row(&r, "google")),
                [2, 2, 1, 1, 1, 1],
                "{name} {tz}"
            );
            assert_eq!(row(&r, "google")["_filter"]["campaign"], "spring", "{name}");
        }
        // Sales filtered to the source of its deals: linkedin's one lost deal.
        let r = ok(t
            .get("/api/v1/reports/sales?source=linkedin")
            .send()
            .await
            .unwrap())
        .await;
        let lost: i64 = r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["lost"].as_i64().unwrap_or(0))
            .sum();
        let won: i64 = r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["won"].as_i64().unwrap_or(0))
            .sum();
        assert_eq!((won, lost), (0, 1), "{name}: {r}");
        // By medium (a deal's is its lead's first medium): the spring lead's won deal only.
        let r = ok(t
            .get("/api/v1/reports/sales?medium=cpc")
            .send()
            .await
            .unwrap())
        .await;
        let (won, lost): (i64, i64) = r["rows"].as_array().unwrap().iter().fold((0, 0), |a, x| {
            (
                a.0 + x["won"].as_i64().unwrap_or(0),
                a.1 + x["lost"].as_i64().unwrap_or(0),
            )
        });
        assert_eq!((won, lost), (1, 0), "{name}: {r}");

        // Leads by month and cohorts: everything is this month's.
        let month = today.format("%Y-%m").to_string();
        let r = ok(t.get("/api/v1/reports/leads").send().await.unwrap()).await;
        let m = row(&r, &month);
        assert_eq!(
            (
                m["leads"].as_i64(),
                m["mql"].as_i64(),
                m["converted"].as_i64()
            ),
            (Some(9), Some(6), Some(3)),
            "{name}: {r}"
        );
        let r = ok(t
            .get("/api/v1/reports/cohorts?period=week")
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(r["rows"].as_array().unwrap().len(), 1, "{name}: {r}");
        assert_eq!(figures(&r["rows"][0]), [9, 6, 4, 3, 3, 1], "{name}");
        let r = ok(t.get("/api/v1/reports/velocity").send().await.unwrap()).await;
        assert_eq!(row(&r, &month)["qualified"], 6, "{name}: {r}");
        assert_eq!(row(&r, &month)["velocity_rate"], Value::Null, "{name}");

        // Sales per currency, never added together.
        let r = ok(t.get("/api/v1/reports/sales").send().await.unwrap()).await;
        let usd = rows_where(&r, "currency", "USD");
        let eur = rows_where(&r, "currency", "EUR");
        assert_eq!((usd.len(), eur.len()), (1, 1), "{name}: {r}");
        let (usd, eur) = (usd[0], eur[0]);
        assert_eq!(
            (
                usd["won"].as_i64(),
                usd["lost"].as_i64(),
                usd["open"].as_i64()
            ),
            (Some(1), Some(1), Some(0)),
            "{name}: {r}"
        );
        assert_eq!(usd["win_rate"], 0.5);
        assert_eq!(usd["won_amount"], 100000);
        assert_eq!(usd["avg_deal_size"], 100000);
        assert_eq!(
            (
                eur["open"].as_i64(),
                eur["pipeline"].as_i64(),
                eur["weighted"].as_i64()
            ),
            (Some(1), Some(200000), Some(100000)),
            "{name}: {r}"
        );
        assert_eq!(eur["win_rate"], Value::Null);
        let r = ok(t
            .get("/api/v1/reports/sales?by=source")
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(
            rows_where(&r, "source", "google")[0]["won_amount"],
            100000,
            "{name}: {r}"
        );

        // Forecast: the euro deal closes this month at 50 %; of the two closed deals that
        // passed through proposal one was won, so the historical forecast is 50 % too.
        let r = ok(t.get("/api/v1/reports/forecast").send().await.unwrap()).await;
        let f: Vec<_> = rows_where(&r, "month", &month);
        let eur = f.iter().find(|x| x["currency"] == "EUR").unwrap();
        assert_eq!(
            (eur["weighted"].as_i64(), eur["historical"].as_i64()),
            (Some(100000), Some(100000)),
            "{name}: {r}"
        );
        let usd = f.iter().find(|x| x["currency"] == "USD").unwrap();
        assert_eq!(usd["won_amount"], 100000, "{name}: {r}");

        // ROI of the spring campaign: 300.00 for 2 leads, 2 MQLs, 1 customer, 1000.00 won.
        let r = ok(t.get("/api/v1/reports/roi").send().await.unwrap()).await;
        let s = rows_where(&r, "campaign", "spring");
        assert_eq!(s.len(), 1, "{name}: {r}");
        let s = s[0];
        assert_eq!(
            [
                &s["cost"],
                &s["leads"],
                &s["mql"],
                &s["customers"],
                &s["cost_per_lead"],
                &s["cost_per_customer"],
                &s["revenue"]
            ]
            .map(|v| v.as_i64()),
            [
                Some(30000),
                Some(2),
                Some(2),
                Some(1),
                Some(15000),
                Some(30000),
                Some(100000)
            ],
            "{name}: {r}"
        );
        assert_eq!(s["roi"], 2.3333);

        // Attribution: first touch google/cpc (paid search), then a LinkedIn ad (paid social).
        let r = ok(t.get("/api/v1/reports/attribution").send().await.unwrap()).await;
        let ps = row(&r, "paid_search");
        let so = row(&r, "paid_social");
        assert_eq!(
            (ps["first_touch"].as_i64(), so["first_touch"].as_i64()),
            (Some(100000), Some(0)),
            "{name}: {r}"
        );
        assert_eq!(
            (ps["last_touch"].as_i64(), so["last_touch"].as_i64()),
            (Some(0), Some(100000)),
            "{name}"
        );
        assert_eq!(
            (ps["linear"].as_i64(), so["linear"].as_i64()),
            (Some(50000), Some(50000)),
            "{name}"
        );
        for m in ["position_based", "time_decay"] {
            assert_eq!(
                ps[m].as_i64().unwrap() + so[m].as_i64().unwrap(),
                100000,
                "{name}: {m}"
            );
        }

        // Aging counts every lead once; all of them in the newest bucket (created today,
        // and the one with a page view had it today). `/reports/aging` keeps the shape it
        // had before the report catalogue; the catalogue's table form is its CSV.
        let r = ok(t.get("/api/v1/reports/aging").send().await.unwrap()).await;
        let rows = r["rows"].as_array().unwrap();
        let total: i64 = rows.iter().map(|x| x["leads"].as_i64().unwrap()).sum();
        let newest: i64 = rows.iter().map(|x| x["by_age"][0].as_i64().unwrap()).sum();
        assert_eq!((total, newest), (9, 9), "{name}: {r}");
        let csv = t.get("/api/v1/reports/aging/csv").send().await.unwrap();
        let body = csv.text().await.unwrap();
        assert!(
            body.starts_with("stage,owner,leads,stale,age_0"),
            "{name}: {body}"
        );
        assert!(
            body.contains("\nconverted,(unassigned),3,0,3,0,0,0,0"),
            "{name}: {body}"
        );

        // CSV: one line per row, money in major units.
        let csv = t.get("/api/v1/reports/sales/csv").send().await.unwrap();
        assert_eq!(csv.status(), StatusCode::OK);
        let body = csv.text().await.unwrap();
        assert!(
            body.starts_with("all,currency,open,pipeline"),
            "{name}: {body}"
        );
        assert!(body.contains(",EUR,1,2000.00,1000.00,"), "{name}: {body}");

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
        // Aging as of yesterday: the header alone, the second time from what the first kept.
        for round in ["computed", "kept"] {
            let csv = t
                .get(&format!("/api/v1/reports/aging/csv?as_of={yesterday}"))
                .send()
                .await
                .unwrap();
            assert_eq!(csv.status(), StatusCode::OK, "{name}: aging as of, {round}");
            let body = csv.text().await.unwrap();
            assert_eq!(
                body.lines().count(),
                1,
                "{name}: aging as of, {round}: {body}"
            );
        }
        // A period that ended before today, and bad input.
        let r = ok(t
            .get(&format!("/api/v1/reports/funnel?to={yesterday}"))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(r["total"]["leads"], 0, "{name}");
        for bad in [
            "funnel?by=colour",
            "funnel?from=2026-02-01&to=2026-01-01",
            "funnel?as_of=yesterday",
            "funnel?tz=Mars/Olympus",
            "leads?period=fortnight",
            "cohorts?by=source",
            "forecast?source=google",
            "sales?team=emea",
            "funnel?owner=nobody@example.com",
            "funnel?team=no-such-team",
            "nonsense",
        ] {
            let r = t
                .get(&format!("/api/v1/reports/{bad}"))
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
        // The lead list filters by the step reached, as the reports count it (drill-down).
        let l = ok(t.get("/api/v1/leads?reached=won").send().await.unwrap()).await;
        assert_eq!(l["data"].as_array().map(Vec::len), Some(1), "{name}: {l}");
        let l = ok(t
            .get("/api/v1/leads?reached=sql&source=linkedin")
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(l["data"].as_array().map(Vec::len), Some(1), "{name}: {l}");
        let r = t.get("/api/v1/leads?reached=bogus").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
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
        // The server keeps aging as of each UTC midnight of the last three years: the one
        // requested above is kept, the others are computed once (in one walk over the
        // leads); a backdated activity drops those from its date on (ten), and the next run
        // computes them again.
        let days = leadline_app::aging::KEPT_AGING_DAYS as usize;
        assert_eq!(t.app.keep_past_aging().await.unwrap(), days - 1, "{name}");
        assert_eq!(t.app.keep_past_aging().await.unwrap(), 0, "{name}");
        let id = lead(&t, "backdated@example.com", "referral", &[]).await;
        let when = chrono::Utc::now() - chrono::Duration::days(10);
        ok(t.post(&format!("/api/v1/leads/{id}/activities"))
            .json(&json!({"kind": "call", "occurred_at": when}))
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(t.app.keep_past_aging().await.unwrap(), 10, "{name}");
        // Asked for as of a past day in another zone, that zone's day ends of the last
        // quarter are kept from then on too (the one asked for already is); UTC's are all
        // there.
        let day = (chrono::Utc::now() - chrono::Duration::days(20)).date_naive();
        let path = format!("/api/v1/reports/aging/csv?as_of={day}&tz=America/New_York");
        let csv = || async { t.get(&path).send().await.unwrap().text().await.unwrap() };
        let asked = csv().await;
        let zone_days = leadline_app::aging::KEPT_ZONE_DAYS as usize;
        assert_eq!(
            t.app.keep_past_aging().await.unwrap(),
            zone_days - 1,
            "{name}"
        );
        assert_eq!(t.app.keep_past_aging().await.unwrap(), 0, "{name}");
        assert_eq!(csv().await, asked, "{name}: read back as computed");
    }
}

/// The emails of the lead list selected by a report row's `_filter` (plus `extra`).
async fn drilled(t: &common::TestApp, filter: &Value, extra: &[(&str, &str)]) -> Vec<String> {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in filter.as_object().expect("a filter object") {
        q.append_pair(k, v.as_str().expect("filter values are text"));
    }
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    q.append_pair("limit", "200");
    let l = ok(t
        .get(&format!("/api/v1/leads?{}", q.finish()))
        .send()
        .await
        .unwrap())
    .await;
    let mut emails: Vec<String> = l["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    emails
}

#[tokio::test]
async fn channel_rows_drill_down_to_exactly_the_leads_they_count() {
    for t in common::apps().await {
        let name = t.name;
        for (key, channel) in [("google-ads", "paid_search"), ("partnerco", "partner")] {
            ok(t.post("/api/v1/sources")
                .json(&json!({"key": key, "channel": channel}))
                .send()
                .await
                .unwrap())
            .await;
        }
        // (email, first touch, stages, the channel the reports give it)
        let leads = [
            (
                "a@x.example",
                json!({"source": "google-ads", "medium": "email"}),
                &["mql", "sal"][..],
                "paid_search",
            ),
            (
                "b@x.example",
                json!({"source": "news-x", "medium": "Email"}),
                &["mql"][..],
                "email",
            ),
            ("c@x.example", json!({}), &[][..], "direct"),
            (
                "d@x.example",
                json!({"medium": "(none)"}),
                &["mql"][..],
                "direct",
            ),
            (
                "e@x.example",
                json!({"source": "unknown-x", "medium": "carrier-pigeon"}),
                &[][..],
                "other",
            ),
            (
                "f@x.example",
                json!({"source": "unknown-x"}),
                &["sal"][..],
                "other",
            ),
            (
                "g@x.example",
                json!({"medium": "cpc"}),
                &[][..],
                "paid_search",
            ),
            (
                "h@x.example",
                json!({"source": "partnerco", "medium": "cpc"}),
                &["mql"][..],
                "partner",
            ),
        ];
        for (email, touch, stages, _) in &leads {
            lead_from(&t, email, touch.clone(), stages).await;
        }
        let r = ok(t
            .get("/api/v1/reports/funnel?by=channel")
            .send()
            .await
            .unwrap())
        .await;
        let rows = r["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 5, "{name}: {r}");
        for row in rows {
            let channel = row["channel"].as_str().unwrap();
            let mut expected: Vec<String> = leads
                .iter()
                .filter(|l| l.3 == channel)
                .map(|l| l.0.to_owned())
                .collect();
            expected.sort();
            assert_eq!(row["leads"], expected.len(), "{name} {channel}");
            let filter = &row["_filter"];
            assert_eq!(filter["channel"], channel, "{name}: {row}");
            assert_eq!(drilled(&t, filter, &[]).await, expected, "{name} {channel}");
            // Each step's figure opens the leads that reached it.
            for step in ["mql", "sal", "sql", "converted", "won"] {
                let n = drilled(&t, filter, &[("reached", step)]).await.len();
                assert_eq!(row[step], n, "{name} {channel} {step}");
            }
        }
        // Leads by period and channel: each row opens its period's leads of its channel.
        let r = ok(t
            .get("/api/v1/reports/leads?by=channel&period=month")
            .send()
            .await
            .unwrap())
        .await;
        for row in r["rows"].as_array().unwrap() {
            let emails = drilled(&t, &row["_filter"], &[]).await;
            assert_eq!(row["leads"], emails.len(), "{name}: {row}");
            assert!(row["_filter"]["created_from"].is_string(), "{name}: {row}");
        }
        // Rows without a value (`(none)`) open exactly the leads that lack it; a medium
        // literally called `(none)` is in that row too.
        for (by, without) in [("source", 3), ("medium", 3), ("campaign", 8), ("team", 8)] {
            let r = ok(t
                .get(&format!("/api/v1/reports/funnel?by={by}"))
                .send()
                .await
                .unwrap())
            .await;
            let mut seen = 0;
            for row in r["rows"].as_array().unwrap() {
                let emails = drilled(&t, &row["_filter"], &[]).await;
                assert_eq!(row["leads"], emails.len(), "{name} by {by}: {row}");
                if row["_filter"]["missing"] == by {
                    assert_eq!(emails.len(), without, "{name} by {by}: {row}");
                    seen += 1;
                }
            }
            assert_eq!(seen, 1, "{name}: one row without a {by}: {r}");
        }
        // The list refuses a channel or a missing field that does not exist.
        let bad = t.get("/api/v1/leads?channel=tv").send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let bad = t.get("/api/v1/leads?missing=owner").send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    }
}
