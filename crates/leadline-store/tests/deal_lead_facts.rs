//! Copies of a lead's facts kept on other rows so reports need not look every lead up: a
//! deal's copy of its lead's creation time and first touch (migration 0036), and the
//! owner-history rows' and clocks' copy of the creation time (0037). A copy must always
//! equal what a join to the lead says, on both engines: after inserts, the lead's first
//! touch edited, an unrelated edit, rows moved to another lead and unlinked; and the deal
//! reports must read it (grouped and filtered by the deal's source, else its lead's).

use leadline_domain::history::OwnerChange;
use leadline_domain::pipeline::Opportunity;
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, LeadFields, Stage, Touch};
use leadline_store::analytics::{DealDimension, ReportFilter, Scope, deal_counts, won_deals};
use leadline_store::{Conn, Db, history, leads, pipeline, sla, testing};
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

/// Rows of `kept` (the copies) and of `joined` (the same read through a join to the lead).
async fn kept_and_joined<T>(db: &Db, kept: &'static str, joined: &'static str) -> (Vec<T>, Vec<T>)
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
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

/// Every deal's kept copy, and the same read through a join to its lead.
async fn facts(db: &Db) -> (Facts, Facts) {
    kept_and_joined(
        db,
        "SELECT o.id, o.lead_created_at, o.lead_source, o.lead_medium, o.lead_campaign \
         FROM opportunities o ORDER BY o.id",
        "SELECT o.id, l.created_at, l.first_source, l.first_medium, l.first_campaign \
         FROM opportunities o LEFT JOIN leads l ON l.id = o.lead_id ORDER BY o.id",
    )
    .await
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

/// Each owner-history row's and clock's copy of its lead's creation time, and the same read
/// through a join to the lead.
async fn created_copies(db: &Db) -> (Vec<(String, Option<i64>)>, Vec<(String, Option<i64>)>) {
    kept_and_joined(
        db,
        "SELECT 'owner ' || CAST(h.at AS TEXT), h.lead_created_at FROM owner_history h \
         UNION ALL SELECT 'clock ' || CAST(c.started_at AS TEXT), c.lead_created_at \
         FROM sla_clocks c UNION ALL SELECT 'deal ' || o.name, o.lead_created_at \
         FROM opportunities o ORDER BY 1",
        "SELECT 'owner ' || CAST(h.at AS TEXT), l.created_at FROM owner_history h \
         LEFT JOIN leads l ON l.id = h.lead_id \
         UNION ALL SELECT 'clock ' || CAST(c.started_at AS TEXT), l.created_at \
         FROM sla_clocks c LEFT JOIN leads l ON l.id = c.lead_id \
         UNION ALL SELECT 'deal ' || o.name, l.created_at \
         FROM opportunities o LEFT JOIN leads l ON l.id = o.lead_id ORDER BY 1",
    )
    .await
}

#[tokio::test]
async fn owner_history_and_clocks_keep_their_leads_creation() {
    for t in testing::backends().await {
        let (db, name) = (&t.db, t.name);
        let a = lead("a@created.example", ["google", "", ""], 72);
        let b = lead("b@created.example", ["", "", ""], 5);
        let mut c = db.acquire().await.unwrap();
        leads::insert(c.conn(), &a).await.unwrap();
        leads::insert(c.conn(), &b).await.unwrap();
        let owner_row = |lead: Uuid, hours_ago: i64| OwnerChange {
            id: Uuid::now_v7(),
            lead_id: lead,
            from_owner: None,
            to_owner: None,
            reason: None,
            actor: "test".into(),
            at: from_micros(to_micros(now()) - hours_ago * 3_600_000_000),
            team_id: None,
            rule_id: None,
            method: None,
            routing_version: None,
        };
        for (l, h) in [(a.id, 70), (a.id, 1), (b.id, 4)] {
            history::record_owner(c.conn(), &owner_row(l, h))
                .await
                .unwrap();
        }
        let clock = |lead: &Lead, started: i64| sla::ClockRow {
            lead_id: lead.id,
            stage: "new".into(),
            target: "first_touch".into(),
            minutes: 60,
            started_at: started,
            warn_at: started,
            due_at: started,
            touched_at: None,
            warned_at: None,
            breached_at: None,
            reassigned: 0,
        };
        let started = to_micros(a.created_at);
        sla::put_clocks(c.conn(), &[clock(&a, started), clock(&b, started + 1)])
            .await
            .unwrap();
        // Restarted (the upsert path).
        sla::put_clocks(c.conn(), &[clock(&a, started + 2)])
            .await
            .unwrap();
        pipeline::insert_opportunity(c.conn(), &deal(Some(b.id), None, "won", 1))
            .await
            .unwrap();
        drop(c);
        // A row written without the copy (as a user's deletion writes its leads' owner
        // rows): the insert trigger fills it.
        exec(
            db,
            "INSERT INTO owner_history (lead_id, id, actor, at) VALUES ($1, $2, 'raw', 7)",
            Some(b.id),
            Uuid::now_v7(),
        )
        .await;
        let (kept, joined) = created_copies(db).await;
        assert_eq!(kept.len(), 7, "{name}: {kept:?}");
        assert!(kept.iter().all(|k| k.1.is_some()), "{name}: {kept:?}");
        assert_eq!(kept, joined, "{name}: after inserts");
        // A merge moves history rows to the survivor.
        exec(
            db,
            "UPDATE owner_history SET lead_id = $1 WHERE lead_id = $2",
            Some(a.id),
            b.id,
        )
        .await;
        let (kept, joined) = created_copies(db).await;
        assert_eq!(kept, joined, "{name}: after a merge moved rows");
        // Never done by Leadline, but its copies would follow.
        exec(
            db,
            "UPDATE leads SET created_at = created_at - 1000000 WHERE id = $2 OR id = $1",
            Some(b.id),
            b.id,
        )
        .await;
        let (kept, joined) = created_copies(db).await;
        assert_eq!(kept, joined, "{name}: after the creation time changed");
    }
}
