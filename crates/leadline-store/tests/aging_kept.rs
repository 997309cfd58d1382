//! The aging report as of a past moment is computed once and kept (migration 0033); any
//! write dated at or before a kept moment must drop it, and writes dated later must not.
//! Checked against reading every lead, on both engines.

use leadline_domain::history::{OwnerChange, StageChange};
use leadline_domain::time::{DAY_MICROS as DAY, from_micros, now, to_micros};
use leadline_domain::{Activity, Lead, LeadFields, Stage};
use leadline_store::{Conn, Db};
use leadline_store::{activities, aging, history, leads, testing};
use uuid::Uuid;

const BOUNDS: [i64; 3] = [1, 2, 5];
const STALE: [(&str, i64); 2] = [("new", 1), ("mql", 3)];

fn lead(created: i64, owner: Option<Uuid>) -> Lead {
    Lead {
        id: Uuid::now_v7(),
        fields: LeadFields {
            email: Some(format!("{}@kept.example", Uuid::now_v7().simple())),
            owner_id: owner,
            ..Default::default()
        },
        stage: Stage::New,
        disqualify_reason: None,
        score: 0,
        grade: None,
        created_at: from_micros(created),
        updated_at: from_micros(created),
        version: 1,
    }
}

async fn note(c: Conn<'_>, lead: Uuid, at: i64) {
    let a = Activity {
        id: Uuid::now_v7(),
        lead_id: lead,
        kind: "note".into(),
        occurred_at: from_micros(at),
        properties: Default::default(),
        recorded_by: None,
        created_at: now(),
    };
    activities::insert(c, &a).await.unwrap();
}

/// The report as of `at` read from every lead and its history (the reference).
async fn scanned(db: &Db, at: i64) -> Vec<aging::AgingCount> {
    let mut c = db.acquire().await.unwrap();
    let mut v = aging::report_from_leads(c.conn(), at, &BOUNDS, &STALE, true)
        .await
        .unwrap();
    v.retain(|r| r.leads != 0);
    sorted(v)
}

async fn past(db: &Db, at: i64) -> Vec<aging::AgingCount> {
    sorted(aging::report_past(db, at, &BOUNDS, &STALE).await.unwrap())
}

fn sorted(mut v: Vec<aging::AgingCount>) -> Vec<aging::AgingCount> {
    v.sort_by_key(|a| (a.stage.clone(), a.owner_id, a.bucket, a.stale));
    v
}

async fn is_kept(db: &Db, at: i64) -> bool {
    let mut c = db.acquire().await.unwrap();
    aging::is_kept(c.conn(), at, &BOUNDS, &STALE).await.unwrap()
}

/// Adds `n` to every kept count as of `at`, bypassing the store: a report read back with
/// the change came from what was kept, not from a new computation.
async fn tamper(db: &Db, at: i64, n: i64) {
    let mut tx = db.begin().await.unwrap();
    let sql = "UPDATE aging_kept SET leads = leads + $1 WHERE at = $2";
    match tx.conn() {
        Conn::Sqlite(c) => {
            sqlx::query(sql).bind(n).bind(at).execute(c).await.unwrap();
        }
        Conn::Postgres(c) => {
            sqlx::query(sql).bind(n).bind(at).execute(c).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
}

/// Keeps the report as of `at`, checks it is what the leads say, and that it is read back.
async fn keep_checked(db: &Db, at: i64, what: &str) {
    let expected = scanned(db, at).await;
    assert_eq!(past(db, at).await, expected, "{what}: first computation");
    assert!(is_kept(db, at).await, "{what}: kept");
    tamper(db, at, 1000).await;
    let read = past(db, at).await;
    assert!(
        read.iter()
            .zip(&expected)
            .all(|(r, e)| r.leads == e.leads + 1000)
            && !read.is_empty(),
        "{what}: read back from what was kept"
    );
    tamper(db, at, -1000).await;
}

#[tokio::test]
async fn kept_aging_is_dropped_by_writes_dated_before_it() {
    for t in testing::backends().await {
        let db = &t.db;
        let today = to_micros(now()).div_euclid(DAY) * DAY;
        let (m1, m2) = (today - 6 * DAY, today - 3 * DAY);
        let owner = None;
        // Leads created over ten days, each with a note or two, some in stages later.
        let mut all = Vec::new();
        {
            let mut tx = db.begin().await.unwrap();
            for i in 0..12 {
                let l = lead(today - 10 * DAY + i * 17 * 3_600_000_000, owner);
                leads::insert(tx.conn(), &l).await.unwrap();
                let created = to_micros(l.created_at);
                note(tx.conn(), l.id, created + DAY / 3).await;
                if i % 3 == 0 {
                    note(tx.conn(), l.id, created + 2 * DAY).await;
                }
                all.push(l);
            }
            tx.commit().await.unwrap();
        }
        keep_checked(db, m1, "m1").await;
        keep_checked(db, m2, "m2").await;

        // Dated now: nothing kept changes.
        {
            let mut c = db.acquire().await.unwrap();
            note(c.conn(), all[0].id, to_micros(now())).await;
            leads::insert(c.conn(), &lead(to_micros(now()), owner))
                .await
                .unwrap();
        }
        assert!(
            is_kept(db, m1).await && is_kept(db, m2).await,
            "writes dated now"
        );

        // Each write dated between the two moments drops the later one only; the report
        // computed again is what the leads say now.
        let between = m2 - DAY;
        let old = all[1].id;
        let writes: Vec<(&str, i64)> = vec![
            ("a backdated activity", between),
            ("a lead created in the past", between),
            ("a stage change in the past", between),
            ("an owner change in the past", between),
            ("a deleted lead", to_micros(all[7].created_at)),
            ("a restored lead", to_micros(all[7].created_at)),
        ];
        for (what, at) in writes {
            assert!(at > m1 && at <= m2, "{what}: dated between the moments");
            {
                let mut c = db.acquire().await.unwrap();
                match what {
                    "a backdated activity" => note(c.conn(), old, at).await,
                    "a lead created in the past" => {
                        leads::insert(c.conn(), &lead(at, owner)).await.unwrap()
                    }
                    "a stage change in the past" => history::record_stage(
                        c.conn(),
                        &StageChange {
                            id: Uuid::now_v7(),
                            lead_id: old,
                            from_stage: Some("new".into()),
                            to_stage: "mql".into(),
                            reason: None,
                            note: None,
                            actor: "test".into(),
                            at: from_micros(at),
                        },
                    )
                    .await
                    .unwrap(),
                    "an owner change in the past" => history::record_owner(
                        c.conn(),
                        &OwnerChange {
                            id: Uuid::now_v7(),
                            lead_id: all[2].id,
                            from_owner: None,
                            to_owner: None,
                            reason: None,
                            actor: "test".into(),
                            at: from_micros(at),
                            team_id: None,
                            rule_id: None,
                            method: None,
                            routing_version: None,
                        },
                    )
                    .await
                    .unwrap(),
                    "a deleted lead" => {
                        assert!(
                            leads::soft_delete(c.conn(), all[7].id, to_micros(now()))
                                .await
                                .unwrap()
                        )
                    }
                    _ => assert!(
                        leads::restore(c.conn(), all[7].id, to_micros(now()))
                            .await
                            .unwrap()
                    ),
                }
            }
            assert!(
                is_kept(db, m1).await,
                "{what}: the moment before stays kept"
            );
            assert!(
                !is_kept(db, m2).await,
                "{what}: the moment after is dropped"
            );
            keep_checked(db, m2, what).await;
        }

        // A write dated at the moment itself counts in it; a microsecond later does not.
        {
            let mut c = db.acquire().await.unwrap();
            note(c.conn(), old, m2 + 1).await;
        }
        assert!(is_kept(db, m2).await, "dated just after the moment");
        {
            let mut c = db.acquire().await.unwrap();
            note(c.conn(), old, m2).await;
        }
        assert!(!is_kept(db, m2).await, "dated at the moment");
        keep_checked(db, m2, "at the moment").await;

        // Dated before both: both go.
        {
            let mut c = db.acquire().await.unwrap();
            note(c.conn(), old, m1 - DAY).await;
        }
        assert!(
            !is_kept(db, m1).await && !is_kept(db, m2).await,
            "dated before both"
        );
        keep_checked(db, m1, "m1 again").await;

        // A moment with no leads yet is kept too, and read back empty.
        let early = today - 30 * DAY;
        assert!(past(db, early).await.is_empty());
        assert!(is_kept(db, early).await, "an empty moment is kept");
        assert!(past(db, early).await.is_empty());
        // Other bounds are computed, not read from another policy's report.
        let mut c = db.acquire().await.unwrap();
        assert!(!aging::is_kept(c.conn(), m1, &[1, 2], &STALE).await.unwrap());
        drop(c);
        aging::forget_kept(db).await.unwrap();
        assert!(!is_kept(db, m1).await, "forgotten");
    }
}

/// A writer holding on (SQLite's single writer; on PostgreSQL a transaction in flight on the
/// watched tables) does not hold up the report: it is answered, computed, and not kept.
#[tokio::test]
async fn a_report_is_answered_while_a_writer_holds_on() {
    for t in testing::backends().await {
        let db = &t.db;
        let at = to_micros(now()).div_euclid(DAY) * DAY - 2 * DAY;
        {
            let mut c = db.acquire().await.unwrap();
            leads::insert(c.conn(), &lead(at - DAY, None))
                .await
                .unwrap();
        }
        let expected = scanned(db, at).await;
        let mut writer = db.begin().await.unwrap();
        leads::insert(writer.conn(), &lead(to_micros(now()), None))
            .await
            .unwrap();
        assert_eq!(past(db, at).await, expected, "{}: answered", t.name);
        assert!(!is_kept(db, at).await, "{}: not kept meanwhile", t.name);
        writer.commit().await.unwrap();
        assert_eq!(past(db, at).await, expected, "{}: computed again", t.name);
        assert!(
            is_kept(db, at).await,
            "{}: kept once the writer let go",
            t.name
        );
    }
}
