//! A deal keeps a copy of its lead's creation time and first touch (migration 0036) so the
//! money reports need not look every lead up. The copy must always equal what a join to
//! the lead says, on both engines: after deals are inserted, the lead's first touch edited,
//! an unrelated edit, a deal linked to another lead and unlinked; and the reports must read
//! it (grouped and filtered by the deal's source, else its lead's).

use leadline_domain::pipeline::Opportunity;
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, LeadFields, Stage, Touch};
use leadline_store::analytics::{DealDimension, ReportFilter, Scope, deal_counts, won_deals};
use leadline_store::{Conn, Db, leads, pipeline, testing};
use uuid::Uuid;

fn lead(email: &str, touch: [&str; 3], hours_ago: i64) -> Lead {
    let created = from_micros(to_micros(now() - chrono::Duration::hours(hours_ago)));
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Lead {
        id: Uuid::now_v7(),
        fields: LeadFields {
            email: Some(email.into()),
            first_touch: Touch {
                source: some(touch[0]),
                medium: some(touch[1]),
                campaign: some(touch[2]),
                ..Default::default()
            },
            ..Default::default()
        },
        stage: Stage::Converted,
        disqualify_reason: None,
        score: 0,
        grade: None,
        created_at: created,
        updated_at: created,
        version: 1,
    }
}

fn deal(lead: Option<Uuid>, source: Option<&str>, stage: &str, amount: i64) -> Opportunity {
    let t = now();
    Opportunity {
        id: Uuid::now_v7(),
        name: "Deal".into(),
        account_id: None,
        contact_id: None,
        lead_id: lead,
        owner_id: None,
        amount: Some(amount),
        currency: Some("USD".into()),
        close_date: None,
        stage: stage.into(),
        probability: if stage == "won" { 100 } else { 0 },
        reason: None,
        source: source.map(str::to_owned),
        campaign: None,
        created_at: t,
        updated_at: t,
        closed_at: Some(t),
        version: 1,
    }
}

type Facts = Vec<(
    Uuid,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
)>;

/// Every deal's kept copy, and the same read through a join to its lead.
async fn facts(db: &Db) -> (Facts, Facts) {
    let kept = "SELECT o.id, o.lead_created_at, o.lead_source, o.lead_medium, o.lead_campaign \
                FROM opportunities o ORDER BY o.id";
    let joined = "SELECT o.id, l.created_at, l.first_source, l.first_medium, l.first_campaign \
                  FROM opportunities o LEFT JOIN leads l ON l.id = o.lead_id ORDER BY o.id";
    let mut c = db.acquire().await.unwrap();
    let mut out = Vec::new();
    for sql in [kept, joined] {
        out.push(match c.conn() {
            Conn::Sqlite(c) => sqlx::query_as(sql).fetch_all(c).await.unwrap(),
            Conn::Postgres(c) => sqlx::query_as(sql).fetch_all(c).await.unwrap(),
        });
    }
    let joined = out.pop().unwrap();
    (out.pop().unwrap(), joined)
}

async fn exec(db: &Db, sql: &'static str, a: Option<Uuid>, b: Uuid) {
    let mut c = db.acquire().await.unwrap();
    match c.conn() {
        Conn::Sqlite(c) => sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(c)
            .await
            .map(|r| r.rows_affected()),
        Conn::Postgres(c) => sqlx::query(sql)
            .bind(a)
            .bind(b)
            .execute(c)
            .await
            .map(|r| r.rows_affected()),
    }
    .unwrap();
}

fn scope(source: Option<&str>) -> Scope {
    Scope {
        from: i64::MIN,
        to: i64::MAX,
        as_of: to_micros(now()) + 1,
        past: false,
        bucket: 1,
        filter: ReportFilter {
            source: source.map(str::to_owned),
            ..Default::default()
        },
        period_starts: None,
    }
}

/// Won revenue by source (the deal's own, else its lead's), optionally filtered by source.
async fn won_by_source(db: &Db, filter: Option<&str>) -> Vec<(String, i64)> {
    let mut c = db.acquire().await.unwrap();
    let mut rows: Vec<(String, i64)> =
        deal_counts(c.conn(), DealDimension::Source, &scope(filter), &[])
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.won_amount != 0)
            .map(|d| (d.key.text, d.won_amount))
            .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn a_deal_keeps_what_its_lead_says_and_the_reports_read_it() {
    for t in testing::backends().await {
        let (db, name) = (&t.db, t.name);
        let a = lead("a@facts.example", ["google", "cpc", "spring"], 48);
        let b = lead("b@facts.example", ["linkedin", "social", ""], 24);
        {
            let mut tx = db.begin().await.unwrap();
            leads::insert(tx.conn(), &a).await.unwrap();
            leads::insert(tx.conn(), &b).await.unwrap();
            tx.commit().await.unwrap();
        }
        // Won from a (no source of its own), won from a with its own, won without a lead,
        // lost from b.
        let d1 = deal(Some(a.id), None, "won", 100);
        let d2 = deal(Some(a.id), Some("partner"), "won", 20);
        let d3 = deal(None, Some("event"), "won", 3);
        let d4 = deal(Some(b.id), None, "lost", 4000);
        {
            let mut c = db.acquire().await.unwrap();
            for d in [&d1, &d2, &d3, &d4] {
                pipeline::insert_opportunity(c.conn(), d).await.unwrap();
            }
        }
        let (kept, joined) = facts(db).await;
        assert_eq!(kept, joined, "{name}: after insert");
        assert_eq!(
            kept.iter().find(|f| f.0 == d1.id).unwrap().2.as_deref(),
            Some("google"),
            "{name}"
        );
        assert_eq!(
            won_by_source(db, None).await,
            [
                ("event".to_owned(), 3),
                ("google".to_owned(), 100),
                ("partner".to_owned(), 20)
            ],
            "{name}"
        );
        // Filtered as grouped: the deal without a source of its own counts under its lead's.
        assert_eq!(
            won_by_source(db, Some("google")).await,
            [("google".to_owned(), 100)],
            "{name}"
        );
        let mut c = db.acquire().await.unwrap();
        let won = won_deals(c.conn(), &scope(None)).await.unwrap();
        drop(c);
        let mut got: Vec<_> = won
            .iter()
            .map(|w| (w.lead_id, w.amount, w.first_source.clone(), w.lead_created))
            .collect();
        got.sort_by_key(|g| g.1);
        assert_eq!(
            got,
            [
                (a.id, 20, Some("google".to_owned()), to_micros(a.created_at)),
                (
                    a.id,
                    100,
                    Some("google".to_owned()),
                    to_micros(a.created_at)
                ),
            ],
            "{name}: won deals with a lead, with the lead's first touch"
        );

        // The lead's first touch corrected: its deals follow.
        let mut a2 = a.clone();
        a2.fields.first_touch.source = Some("bing".into());
        a2.fields.first_touch.medium = None;
        a2.fields.first_touch.campaign = Some("fall".into());
        a2.updated_at = now();
        a2.version = 2;
        {
            let mut c = db.acquire().await.unwrap();
            assert!(leads::update(c.conn(), &a2, 1).await.unwrap(), "{name}");
        }
        let (kept, joined) = facts(db).await;
        assert_eq!(kept, joined, "{name}: after the first touch changed");
        assert_eq!(
            won_by_source(db, Some("bing")).await,
            [("bing".to_owned(), 100)],
            "{name}"
        );
        // An edit that leaves the first touch alone.
        let mut b2 = b.clone();
        b2.fields.company = Some("Acme".into());
        b2.version = 2;
        {
            let mut c = db.acquire().await.unwrap();
            assert!(leads::update(c.conn(), &b2, 1).await.unwrap(), "{name}");
        }
        let (kept, joined) = facts(db).await;
        assert_eq!(kept, joined, "{name}: after another edit");

        // A deal linked to another lead, one unlinked.
        exec(
            db,
            "UPDATE opportunities SET lead_id = $1 WHERE id = $2",
            Some(b.id),
            d1.id,
        )
        .await;
        exec(
            db,
            "UPDATE opportunities SET lead_id = $1 WHERE id = $2",
            None,
            d2.id,
        )
        .await;
        let (kept, joined) = facts(db).await;
        assert_eq!(kept, joined, "{name}: after relinking");
        assert_eq!(
            won_by_source(db, None).await,
            [
                ("event".to_owned(), 3),
                ("linkedin".to_owned(), 100),
                ("partner".to_owned(), 20)
            ],
            "{name}"
        );
        // And b's first touch cleared.
        let mut b3 = b2.clone();
        b3.fields.first_touch = Touch::default();
        b3.version = 3;
        {
            let mut c = db.acquire().await.unwrap();
            assert!(leads::update(c.conn(), &b3, 2).await.unwrap(), "{name}");
        }
        let (kept, joined) = facts(db).await;
        assert_eq!(kept, joined, "{name}: after the first touch was cleared");
        assert!(
            kept.iter()
                .any(|f| f.0 == d1.id && f.1.is_some() && f.2.is_none()),
            "{name}: {kept:?}"
        );
    }
}
