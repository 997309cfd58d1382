//! The leads repository on both engines: the same story must hold on SQLite and PostgreSQL.

use leadline_domain::filter::LeadQuery;
use leadline_domain::time::now;
use leadline_domain::{Grade, Lead, LeadFields, Stage, Touch};
use leadline_store::leads::{self, Visibility};
use leadline_store::testing;
use serde_json::json;
use uuid::Uuid;

fn lead(first: &str, last: &str, company: &str, score: i32, source: &str) -> Lead {
    let t = now();
    let mut custom = serde_json::Map::new();
    custom.insert(
        "segment".into(),
        json!(if score > 50 { "ENT" } else { "SMB" }),
    );
    custom.insert(
        "tags".into(),
        json!(["a", if score % 2 == 0 { "even" } else { "odd" }]),
    );
    Lead {
        id: Uuid::now_v7(),
        fields: LeadFields {
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            email: Some(format!(
                "{}.{}@{}.example",
                first.to_lowercase(),
                last.to_lowercase(),
                company.to_lowercase()
            )),
            company: Some(company.into()),
            first_touch: Touch {
                source: Some(source.into()),
                ..Default::default()
            },
            custom,
            ..Default::default()
        },
        stage: Stage::New,
        disqualify_reason: None,
        score,
        grade: Some(if score > 50 { Grade::A } else { Grade::C }),
        created_at: t,
        updated_at: t,
        version: 1,
    }
}

fn q(pairs: &[(&str, &str)]) -> LeadQuery {
    let defs = vec![
        leadline_domain::CustomFieldDef {
            id: Uuid::nil(),
            key: "segment".into(),
            label: "Segment".into(),
            kind: leadline_domain::CustomFieldKind::Choice,
            options: vec!["SMB".into(), "ENT".into()],
            created_at: now(),
        },
        leadline_domain::CustomFieldDef {
            id: Uuid::nil(),
            key: "tags".into(),
            label: "Tags".into(),
            kind: leadline_domain::CustomFieldKind::MultiChoice,
            options: vec!["a".into(), "even".into(), "odd".into()],
            created_at: now(),
        },
    ];
    let p: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    LeadQuery::parse(&p, &defs).unwrap()
}

#[tokio::test]
async fn insert_get_update_delete_and_list_on_both_engines() {
    for t in testing::backends().await {
        let db = &t.db;
        let mut tx = db.begin().await.unwrap();
        let mut all = Vec::new();
        for i in 0..25 {
            let l = lead(
                &format!("Ann{i:02}"),
                "Smith",
                if i % 3 == 0 { "Acme" } else { "Globex" },
                i * 4,
                if i % 2 == 0 { "google" } else { "linkedin" },
            );
            all.push(l);
        }
        leads::insert_many(tx.conn(), &all[..20]).await.unwrap();
        for l in &all[20..] {
            leads::insert(tx.conn(), l).await.unwrap();
        }
        // Scores live in lead_scores; leads read the default model's.
        leadline_store::scoring::insert_model(
            tx.conn(),
            &leadline_store::scoring::ModelRow {
                key: "default".into(),
                is_default: true,
                active_version: None,
                created_at: 0,
            },
        )
        .await
        .unwrap();
        let rows: Vec<leadline_store::scoring::ScoreRow> = all
            .iter()
            .map(|l| leadline_store::scoring::ScoreRow {
                lead_id: l.id,
                model_key: "default".into(),
                score: l.score,
                fit: 0,
                grade: l.grade.map_or("F", |g| g.as_str()).into(),
                priority: String::new(),
                version: 1,
                computed_at: 0,
            })
            .collect();
        leadline_store::scoring::upsert_scores(tx.conn(), &rows)
            .await
            .unwrap();
        // A score computed earlier never replaces a later one (a re-score's page written
        // after an event scored one of its leads).
        let mut fresh = rows[0].clone();
        fresh.score = 77;
        fresh.computed_at = 10;
        leadline_store::scoring::upsert_scores(tx.conn(), std::slice::from_ref(&fresh))
            .await
            .unwrap();
        let mut stale = fresh.clone();
        stale.score = 5;
        stale.computed_at = 9;
        leadline_store::scoring::upsert_scores(tx.conn(), &[stale])
            .await
            .unwrap();
        let kept = leadline_store::scoring::scores_of(tx.conn(), fresh.lead_id)
            .await
            .unwrap();
        assert_eq!(kept[0].score, 77, "{}", t.name);
        // A later one does (the lead's own score again, for the checks below).
        let restored = leadline_store::scoring::ScoreRow {
            computed_at: 11,
            ..rows[0].clone()
        };
        leadline_store::scoring::upsert_scores(tx.conn(), &[restored])
            .await
            .unwrap();
        let kept = leadline_store::scoring::scores_of(tx.conn(), fresh.lead_id)
            .await
            .unwrap();
        assert_eq!(kept[0].score, rows[0].score);
        tx.commit().await.unwrap();

        let mut c = db.acquire().await.unwrap();
        let got = leads::get(c.conn(), all[3].id).await.unwrap().unwrap();
        assert_eq!(got, all[3], "{}: round trip", t.name);

        // A batch walk can read only the fields it needs; the rest read as empty.
        let fields = vec![
            "company".to_owned(),
            "first_touch.source".into(),
            "custom.segment".into(),
        ];
        let slim = leads::page_by_id_with(c.conn(), None, None, 100, &fields)
            .await
            .unwrap();
        assert_eq!(slim.len(), 25);
        let full = leads::page_by_id(c.conn(), None, 100).await.unwrap();
        for (s, f) in slim.iter().zip(&full) {
            assert_eq!((s.id, s.stage), (f.id, f.stage), "{}", t.name);
            assert_eq!(s.fields.company, f.fields.company);
            assert_eq!(s.fields.first_touch.source, f.fields.first_touch.source);
            assert_eq!(s.fields.custom, f.fields.custom);
            assert_eq!(s.fields.email, None);
            assert_eq!(s.fields.first_name, None);
        }
        assert_eq!(leads::count(c.conn()).await.unwrap(), 25);

        // Split at the 10th lead, the two halves read every lead once.
        let mid = leads::id_at(c.conn(), 9).await.unwrap().unwrap();
        assert_eq!(mid, full[9].id, "{}", t.name);
        let low = leads::page_by_id_with(c.conn(), None, Some(mid), 100, &fields)
            .await
            .unwrap();
        let high = leads::page_by_id_with(c.conn(), Some(mid), None, 100, &fields)
            .await
            .unwrap();
        assert_eq!((low.len(), high.len()), (10, 15), "{}", t.name);
        let ids: Vec<_> = low.iter().chain(&high).map(|l| l.id).collect();
        assert_eq!(ids, full.iter().map(|l| l.id).collect::<Vec<_>>());
        assert_eq!(leads::id_at(c.conn(), 25).await.unwrap(), None);

        // Keyset pagination walks every lead exactly once, in order.
        let mut seen = Vec::new();
        let mut query = q(&[("sort", "-score"), ("limit", "7")]);
        loop {
            let page = leads::list(c.conn(), &query, Visibility::All, None)
                .await
                .unwrap();
            seen.extend(page.leads.iter().map(|l| l.score));
            match page.next_cursor {
                Some(cur) => query = q(&[("sort", "-score"), ("limit", "7"), ("cursor", &cur)]),
                None => break,
            }
        }
        let mut expected: Vec<i32> = all.iter().map(|l| l.score).collect();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, expected, "{}: pagination", t.name);

        // Name sort pages through ties on last name by the id tie-breaker.
        let mut names = Vec::new();
        let mut query = q(&[("sort", "name"), ("limit", "4")]);
        loop {
            let page = leads::list(c.conn(), &query, Visibility::All, None)
                .await
                .unwrap();
            names.extend(
                page.leads
                    .iter()
                    .map(|l| l.fields.first_name.clone().unwrap()),
            );
            match page.next_cursor {
                Some(cur) => query = q(&[("sort", "name"), ("limit", "4"), ("cursor", &cur)]),
                None => break,
            }
        }
        assert_eq!(names.len(), 25, "{}", t.name);
        assert!(
            names.windows(2).all(|w| w[0] < w[1]),
            "{}: {names:?}",
            t.name
        );

        let count = |query: LeadQuery| {
            let db = db.clone();
            async move {
                let mut c = db.acquire().await.unwrap();
                leads::list(c.conn(), &query, Visibility::All, None)
                    .await
                    .unwrap()
                    .leads
                    .len()
            }
        };
        assert_eq!(
            count(q(&[("source", "google"), ("limit", "200")])).await,
            13,
            "{}",
            t.name
        );
        assert_eq!(
            count(q(&[
                ("score_min", "40"),
                ("score_max", "60"),
                ("limit", "200")
            ]))
            .await,
            6,
            "{}",
            t.name
        );
        assert_eq!(
            count(q(&[("grade", "A"), ("limit", "200")])).await,
            12,
            "{}",
            t.name
        );
        assert_eq!(
            count(q(&[("q", "ACME"), ("limit", "200")])).await,
            9,
            "{}: search",
            t.name
        );
        assert_eq!(
            count(q(&[("q", "ann07"), ("limit", "200")])).await,
            1,
            "{}: search",
            t.name
        );
        assert_eq!(
            count(q(&[("q", "n0"), ("limit", "200")])).await,
            10,
            "{}: short search",
            t.name
        );
        assert_eq!(
            count(q(&[("q", "100%"), ("limit", "200")])).await,
            0,
            "{}: LIKE escaping",
            t.name
        );
        assert_eq!(
            count(q(&[("q", "Ann07.Smith@globex.example"), ("limit", "200")])).await,
            1,
            "{}: a whole email",
            t.name
        );
        assert_eq!(
            count(q(&[("q", "smith@acme"), ("limit", "200")])).await,
            9,
            "{}: local part and domain together",
            t.name
        );
        assert_eq!(
            count(q(&[("custom.segment", "ENT"), ("limit", "200")])).await,
            12,
            "{}: custom eq",
            t.name
        );
        assert_eq!(
            count(q(&[("custom.tags", "even"), ("limit", "200")])).await,
            25,
            "{}: custom contains",
            t.name
        );
        assert_eq!(
            count(q(&[("stage", "mql"), ("limit", "200")])).await,
            0,
            "{}",
            t.name
        );

        // Visibility: a rep sees their own and unassigned leads only.
        let owner = Uuid::now_v7();
        let user = leadline_domain::account::User {
            id: owner,
            email: "rep@example.com".into(),
            name: "Rep".into(),
            role: leadline_domain::Role::Rep,
            sees_all_leads: false,
            active: true,
            created_at: now(),
        };
        let mut tx = db.begin().await.unwrap();
        leadline_store::users::insert(tx.conn(), &user, None)
            .await
            .unwrap();
        let mut owned = all[0].clone();
        owned.fields.owner_id = Some(owner);
        owned.version = 2;
        assert!(leads::update(tx.conn(), &owned, 1).await.unwrap());
        assert!(
            !leads::update(tx.conn(), &owned, 1).await.unwrap(),
            "{}: stale version refused",
            t.name
        );
        tx.commit().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        let mut other = all[1].clone();
        other.fields.owner_id = Some(Uuid::now_v7());
        // An owner that does not exist is refused by the foreign key.
        assert!(
            matches!(
                leads::update(tx.conn(), &other, 1).await,
                Err(leadline_store::StoreError::Conflict(_))
            ),
            "{}: fk",
            t.name
        );
        drop(tx);
        let mut tx = db.begin().await.unwrap();
        assert!(leads::soft_delete(tx.conn(), all[2].id, 1).await.unwrap());
        tx.commit().await.unwrap();
        let mut c = db.acquire().await.unwrap();
        assert!(leads::get(c.conn(), all[2].id).await.unwrap().is_none());
        let mine = leads::list(
            c.conn(),
            &q(&[("owner", "me"), ("limit", "200")]),
            Visibility::OwnOrUnassigned(Some(owner)),
            Some(owner),
        )
        .await
        .unwrap();
        assert_eq!(mine.leads.len(), 1);
        let visible = leads::list(
            c.conn(),
            &q(&[("limit", "200")]),
            Visibility::OwnOrUnassigned(Some(owner)),
            Some(owner),
        )
        .await
        .unwrap();
        assert_eq!(
            visible.leads.len(),
            24,
            "{}: own + unassigned, minus the deleted one",
            t.name
        );
        assert_eq!(
            leads::find_by_email(c.conn(), "ANN07.smith@globex.example")
                .await
                .unwrap()
                .len(),
            1
        );
    }
}
