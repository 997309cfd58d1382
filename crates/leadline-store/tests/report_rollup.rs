//! The lead roll-up (kept by triggers, folded by `compact_rollup`) must always give the same
//! funnel counts as reading the leads, on both engines: after inserts, owner and stage
//! changes, milestones, deletes, restores and a deleted owner, folded or not.

use leadline_domain::Role;
use leadline_domain::account::User;
use leadline_domain::quality::verify::{Action, Verification, VerificationStatus};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, LeadFields, Stage, Touch};
use leadline_store::analytics::{
    Dimension, FunnelCount, ReportFilter, Scope, compact_rollup, funnel_counts,
    qualified_in_ranges, qualified_span, quality_counts, rebuild_rollup, response_counts,
    stage_times,
};
use leadline_store::scoring::{ModelRow, ScoreRow};
use leadline_store::{Conn, Db};
use leadline_store::{
    activities, aging, history, leads, milestones, quality, scoring, sla, testing, users,
};
use uuid::Uuid;

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;

/// A small deterministic generator (no dependency needed for a test's choices).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// One `as_of` per comparison: two reads a second apart would disagree on open stays.
fn scope(utc_days: bool, filter: ReportFilter, from: i64) -> Scope {
    scope_at(utc_days, filter, from, to_micros(now()))
}

fn scope_at(utc_days: bool, filter: ReportFilter, from: i64, as_of: i64) -> Scope {
    Scope {
        from,
        to: i64::MAX,
        as_of,
        past: false,
        bucket: HOUR,
        filter,
        period_starts: utc_days.then(Vec::new),
    }
}

/// Two-day periods starting `offset` from UTC midnight (at 23:00 UTC, a zone an hour ahead;
/// at 05:00, one five hours behind), from 30 days before the report's moment on: the period
/// of an instant, and the instants they start at.
struct OffsetPeriods {
    base: i64,
}

impl OffsetPeriods {
    fn new(as_of: i64) -> Self {
        Self::at(as_of, -HOUR)
    }
    fn at(as_of: i64, offset: i64) -> Self {
        OffsetPeriods {
            base: (as_of.div_euclid(DAY) - 30) * DAY + offset,
        }
    }
    fn of(&self, t: i64) -> i64 {
        (t - self.base).div_euclid(2 * DAY)
    }
    fn start(&self, k: i64) -> i64 {
        self.base + k * 2 * DAY
    }
    fn cuts(&self) -> Vec<i64> {
        (0..20).map(|k| self.start(k)).collect()
    }
}

/// Counts as sorted (text, extra, id, day, furthest, n), day buckets folded to days.
async fn counts(
    db: &Db,
    by: Dimension,
    bucketed: bool,
    s: &Scope,
) -> Vec<(String, String, Option<Uuid>, i64, i32, i64)> {
    counts_in(db, by, bucketed, s, |t| t.div_euclid(DAY)).await
}

/// Counts as sorted (text, extra, id, period, furthest, n), buckets folded by `period`.
async fn counts_in(
    db: &Db,
    by: Dimension,
    bucketed: bool,
    s: &Scope,
    period: impl Fn(i64) -> i64,
) -> Vec<(String, String, Option<Uuid>, i64, i32, i64)> {
    let mut c = db.acquire().await.unwrap();
    let rows: Vec<FunnelCount> = funnel_counts(c.conn(), by, bucketed, s).await.unwrap();
    let mut m = std::collections::BTreeMap::new();
    for r in rows {
        let day = period(r.bucket * s.bucket);
        *m.entry((r.key.text, r.key.extra, r.key.id, day, r.furthest))
            .or_insert(0) += r.n;
    }
    m.into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|((a, b, c, d, e), n)| (a, b, c, d, e, n))
        .collect()
}

/// First-touch figures as sorted strings.
async fn response(db: &Db, by: Dimension, s: &Scope) -> Vec<String> {
    let mut c = db.acquire().await.unwrap();
    let mut v: Vec<String> = response_counts(c.conn(), by, s)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{:?} {} {} {} {} {}",
                r.key, r.clocks, r.touched, r.touch_minutes, r.met, r.breached
            )
        })
        .collect();
    v.sort();
    v
}

/// A first-touch clock for `lead`: started at its creation, due up to three days later
/// (some still ahead), touched before or after that or not yet.
fn clock(rng: &mut Lcg, lead: &Lead) -> sla::ClockRow {
    let started = to_micros(lead.created_at);
    let due = started + rng.next(72) as i64 * HOUR + rng.next(60) as i64 * 60_000_000;
    let touched = match rng.next(3) {
        0 => None,
        _ => Some((started + rng.next(72 * 60) as i64 * 60_000_000).min(to_micros(now()))),
    };
    sla::ClockRow {
        lead_id: lead.id,
        stage: "new".into(),
        target: "first_touch".into(),
        minutes: 60,
        started_at: started,
        warn_at: due,
        due_at: due,
        touched_at: touched,
        warned_at: None,
        breached_at: None,
        reassigned: 0,
    }
}

/// Quality figures as sorted tuples.
async fn quality(db: &Db, by: Dimension, s: &Scope) -> Vec<Vec<String>> {
    let mut c = db.acquire().await.unwrap();
    let mut v: Vec<Vec<String>> = quality_counts(c.conn(), by, s)
        .await
        .unwrap()
        .into_iter()
        .map(|q| {
            vec![
                format!("{:?}", q.key),
                format!(
                    "{} {} {} {} {} {} {} {} {} {} {}",
                    q.leads,
                    q.scored,
                    q.score_sum,
                    q.grade_a,
                    q.grade_b,
                    q.grade_c,
                    q.grade_d,
                    q.grade_f,
                    q.mql,
                    q.disqualified,
                    q.quarantined
                ),
            ]
        })
        .collect();
    v.sort();
    v
}

/// Appends a note on `lead` at `at` (which moves its last activity when newer).
async fn note(db_conn: Conn<'_>, lead: Uuid, at: chrono::DateTime<chrono::Utc>) {
    let a = leadline_domain::Activity {
        id: Uuid::now_v7(),
        lead_id: lead,
        kind: "note".into(),
        occurred_at: at,
        properties: Default::default(),
        recorded_by: None,
        created_at: now(),
    };
    activities::insert(db_conn, &a).await.unwrap();
}

/// Scores `ids` under `model` with pseudo-random scores and grades.
async fn score(db: &Db, rng: &mut Lcg, model: &str, ids: &[Uuid]) {
    let rows: Vec<ScoreRow> = ids
        .iter()
        .map(|id| {
            let score = rng.next(100) as i32;
            ScoreRow {
                lead_id: *id,
                model_key: model.into(),
                score,
                fit: score / 2,
                grade: ["A", "B", "C", "D", "F"][rng.next(5) as usize].into(),
                priority: "p2".into(),
                version: 1,
                computed_at: to_micros(now()),
            }
        })
        .collect();
    let mut tx = db.begin().await.unwrap();
    scoring::upsert_scores(tx.conn(), &rows).await.unwrap();
    tx.commit().await.unwrap();
}

/// Time in stage as sorted (stage, ended, seconds, current, seconds), empty stages left out.
async fn stays(c: Conn<'_>, s: &Scope) -> Vec<(String, i64, i64, i64, i64)> {
    let mut v: Vec<_> = stage_times(c, s)
        .await
        .unwrap()
        .into_iter()
        .map(|t| {
            (
                t.stage,
                t.ended,
                t.ended_seconds,
                t.current,
                t.current_seconds,
            )
        })
        .filter(|t| t.1 != 0 || t.3 != 0)
        .collect();
    v.sort();
    v
}

/// Velocity's figures: leads first qualified in each two-day period off UTC (one index
/// range count each) and the first and last such moment, against every lead's `mql_at`
/// read back and counted here; now and as of a past moment, from the start or a later day,
/// for all leads and one source. How many qualified leads it counted.
async fn assert_velocity(db: &Db, what: &str) -> usize {
    let q = "SELECT mql_at, first_source FROM leads WHERE deleted_at IS NULL";
    let mut c = db.acquire().await.unwrap();
    let leads: Vec<(Option<i64>, Option<String>)> = match c.conn() {
        Conn::Sqlite(x) => sqlx::query_as(q).fetch_all(x).await,
        Conn::Postgres(x) => sqlx::query_as(q).fetch_all(x).await,
    }
    .unwrap();
    let as_of = to_micros(now());
    let p = OffsetPeriods::new(as_of);
    let periods: Vec<(i64, i64)> = (0..20).map(|k| (p.start(k), p.start(k + 1))).collect();
    // And ranges from one lead's moment to another's: a lead on a range's first instant
    // counts in it, one on its end in the next.
    let mut moments: Vec<i64> = leads.iter().filter_map(|(m, _)| *m).collect();
    moments.sort_unstable();
    moments.dedup();
    let edges: Vec<i64> = moments.iter().step_by(3).copied().collect();
    let between: Vec<(i64, i64)> = edges.windows(2).map(|w| (w[0], w[1])).collect();
    let past = (as_of.div_euclid(DAY) - 2) * DAY - HOUR;
    let mut counted = 0;
    for source in [None, Some("google")] {
        for (t, from) in [
            (as_of, i64::MIN),
            (past, i64::MIN),
            (as_of, (as_of - 3 * DAY).div_euclid(DAY) * DAY),
        ] {
            let mut s = scope_at(false, ReportFilter::default(), from, t);
            s.past = t != as_of;
            s.filter.source = source.map(String::from);
            let qualified: Vec<i64> = leads
                .iter()
                .filter(|(_, src)| source.is_none() || src.as_deref() == source)
                .filter_map(|(m, _)| m.filter(|m| *m >= from && *m <= t))
                .collect();
            let case = format!("{what}: velocity {source:?} as of {t} from {from}");
            for ranges in [&periods, &between] {
                let expected: Vec<(i64, i64)> = ranges
                    .iter()
                    .map(|(a, b)| {
                        let n = qualified.iter().filter(|m| **m >= *a && **m < *b).count();
                        (*a, n as i64)
                    })
                    .collect();
                let mut got = qualified_in_ranges(c.conn(), &s, ranges).await.unwrap();
                got.sort_unstable();
                assert_eq!(got, expected, "{case}");
            }
            let span = qualified
                .iter()
                .min()
                .copied()
                .zip(qualified.iter().max().copied());
            assert_eq!(qualified_span(c.conn(), &s).await.unwrap(), span, "{case}");
            counted += qualified.len();
        }
    }
    counted
}

async fn assert_same(db: &Db, owners: &[Uuid], what: &str) {
    assert_velocity(db, what).await;
    // Each lead's latest stage change (0035) is its history's latest row.
    {
        let q = "SELECT COUNT(*) FROM leads l WHERE COALESCE(l.stage_changed_at, -1) <> \
                 COALESCE((SELECT MAX(sh.at) FROM stage_history sh WHERE sh.lead_id = l.id), -1)";
        let mut c = db.acquire().await.unwrap();
        let off: i64 = match c.conn() {
            Conn::Sqlite(x) => sqlx::query_scalar(q).fetch_one(x).await,
            Conn::Postgres(x) => sqlx::query_scalar(q).fetch_one(x).await,
        }
        .unwrap();
        assert_eq!(
            off, 0,
            "{what}: leads whose stage_changed_at is not their history's"
        );
    }
    // Time in stage: the stage roll-up against the stage history (the last from an hour
    // off midnight: its day is read from the history).
    for from in [
        i64::MIN,
        (to_micros(now()) - 3 * DAY).div_euclid(DAY) * DAY,
        (to_micros(now()) - 3 * DAY).div_euclid(DAY) * DAY - HOUR,
    ] {
        let mut c = db.acquire().await.unwrap();
        let mut times = Vec::new();
        let as_of = to_micros(now());
        for utc_days in [true, false] {
            let s = scope_at(utc_days, ReportFilter::default(), from, as_of);
            times.push(stays(c.conn(), &s).await);
        }
        assert_eq!(times[0], times[1], "{what}: stage times from {from}");
    }
    // Time in stage as of past moments (a UTC day's start; an hour before one, with periods
    // off UTC): today's roll-up, corrected by the leads whose stages changed since, against
    // the history read up to then.
    let day_start = (to_micros(now()).div_euclid(DAY) - 2) * DAY;
    for (t, cuts, from) in [
        (day_start, Vec::new(), i64::MIN),
        (
            day_start - HOUR,
            OffsetPeriods::new(to_micros(now())).cuts(),
            i64::MIN,
        ),
        // Only the leads created in the day before the moment.
        (day_start, Vec::new(), day_start - DAY),
    ] {
        let mut rolled = scope_at(false, ReportFilter::default(), from, t);
        rolled.past = true;
        rolled.period_starts = Some(cuts.clone());
        let scan = Scope {
            period_starts: None,
            ..rolled.clone()
        };
        let mut c = db.acquire().await.unwrap();
        let mut times = Vec::new();
        for s in [&rolled, &scan] {
            times.push(stays(c.conn(), s).await);
        }
        assert_eq!(times[0], times[1], "{what}: stage times as of {t}");
    }
    // Aging, now and as of past moments (one a few minutes off the hour): the roll-up
    // (whole hours; in the past corrected by the leads that changed since) and the cut
    // hours' leads against every lead.
    for (t, past) in [
        (to_micros(now()), false),
        (day_start, true),
        (day_start - 29 * HOUR - 17 * 60_000_000, true),
    ] {
        let mut c = db.acquire().await.unwrap();
        let bounds = [1, 2, 3, 7];
        let stale = [("new", 4), ("mql", 5), ("disqualified", 6)];
        let mut rolled = aging::report(c.conn(), t, &bounds, &stale, past)
            .await
            .unwrap();
        let mut scanned = aging::report_from_leads(c.conn(), t, &bounds, &stale, past)
            .await
            .unwrap();
        let key = |a: &aging::AgingCount| (a.stage.clone(), a.owner_id, a.bucket, a.stale);
        rolled.sort_by_key(key);
        scanned.sort_by_key(key);
        assert_eq!(rolled, scanned, "{what}: aging as of {t} (past: {past})");
    }
    // Aging as of many moments kept at once (one walk over every lead's timeline): what is
    // kept is what the leads say moment by moment.
    {
        let bounds = [1, 2, 3, 7];
        let stale = [("new", 4), ("mql", 5), ("disqualified", 6)];
        let moments: Vec<i64> = (0..30)
            .map(|k| day_start - k * DAY)
            .chain([day_start - 29 * HOUR - 17 * 60_000_000, day_start + HOUR])
            .collect();
        aging::forget_kept(db).await.unwrap();
        let kept = aging::keep_all(db, &moments, &bounds, &stale)
            .await
            .unwrap();
        assert_eq!(kept, moments.len(), "{what}: every moment kept");
        for t in &moments {
            let mut c = db.acquire().await.unwrap();
            assert!(
                aging::is_kept(c.conn(), *t, &bounds, &stale).await.unwrap(),
                "{what}: kept as of {t}"
            );
            let key = |a: &aging::AgingCount| (a.stage.clone(), a.owner_id, a.bucket, a.stale);
            let mut scanned = aging::report_from_leads(c.conn(), *t, &bounds, &stale, true)
                .await
                .unwrap();
            scanned.retain(|r| r.leads != 0);
            scanned.sort_by_key(key);
            drop(c);
            let mut read = aging::report_past(db, *t, &bounds, &stale).await.unwrap();
            read.sort_by_key(key);
            assert_eq!(read, scanned, "{what}: aging kept as of {t}");
        }
        assert_eq!(
            aging::keep_all(db, &moments, &bounds, &stale)
                .await
                .unwrap(),
            0,
            "{what}: nothing left to keep"
        );
    }
    let dims = [
        Dimension::All,
        Dimension::Source,
        Dimension::Medium,
        Dimension::Campaign,
        Dimension::Channel,
        Dimension::Owner,
        Dimension::Team,
    ];
    let filters = [
        ReportFilter::default(),
        ReportFilter {
            source: Some("google".into()),
            ..Default::default()
        },
        ReportFilter {
            campaign: Some(String::new()),
            owner: Some(owners[0]),
            ..Default::default()
        },
    ];
    let as_of = to_micros(now());
    let from = [i64::MIN, as_of - 3 * DAY];
    for by in dims {
        for bucketed in [false, true] {
            for f in &filters {
                for from in from {
                    let from = if from == i64::MIN {
                        from
                    } else {
                        from.div_euclid(DAY) * DAY
                    };
                    let rolled =
                        counts(db, by, bucketed, &scope_at(true, f.clone(), from, as_of)).await;
                    let scanned =
                        counts(db, by, bucketed, &scope_at(false, f.clone(), from, as_of)).await;
                    assert_eq!(
                        rolled, scanned,
                        "{what}: {by:?} bucketed={bucketed} {f:?} from={from}"
                    );
                    if !bucketed {
                        let rolled =
                            response(db, by, &scope_at(true, f.clone(), from, as_of)).await;
                        let scanned =
                            response(db, by, &scope_at(false, f.clone(), from, as_of)).await;
                        assert_eq!(rolled, scanned, "{what}: response {by:?} {f:?} from={from}");
                        let rolled = quality(db, by, &scope_at(true, f.clone(), from, as_of)).await;
                        let scanned =
                            quality(db, by, &scope_at(false, f.clone(), from, as_of)).await;
                        assert_eq!(rolled, scanned, "{what}: quality {by:?} {f:?} from={from}");
                    }
                }
                // Periods of a zone an hour ahead of UTC (five behind): the roll-up answers
                // for the days and the leads of the hours a period start splits off are
                // read one by one.
                for (p, from) in [
                    (OffsetPeriods::new(as_of), i64::MIN),
                    (
                        OffsetPeriods::new(as_of),
                        OffsetPeriods::new(as_of).start(12),
                    ),
                    (OffsetPeriods::at(as_of, 5 * HOUR), i64::MIN),
                ] {
                    let mut cut = scope_at(true, f.clone(), from, as_of);
                    cut.period_starts = Some(p.cuts());
                    let scan = scope_at(false, f.clone(), from, as_of);
                    let rolled = counts_in(db, by, bucketed, &cut, |t| p.of(t)).await;
                    let scanned = counts_in(db, by, bucketed, &scan, |t| p.of(t)).await;
                    assert_eq!(
                        rolled, scanned,
                        "{what}: {by:?} bucketed={bucketed} {f:?} from={from}, periods off UTC"
                    );
                    if !bucketed {
                        let rolled = response(db, by, &cut).await;
                        let scanned = response(db, by, &scan).await;
                        assert_eq!(rolled, scanned, "{what}: response {by:?} {f:?}, off UTC");
                        let rolled = quality(db, by, &cut).await;
                        let scanned = quality(db, by, &scan).await;
                        assert_eq!(rolled, scanned, "{what}: quality {by:?} {f:?}, off UTC");
                    }
                }
                // As of a past moment (a UTC day's start; an hour before one, with periods
                // off UTC): today's roll-up, corrected by the leads that moved on since,
                // against the leads read as they were then.
                let day_start = (as_of.div_euclid(DAY) - 2) * DAY;
                for (t, p) in [
                    (day_start, None),
                    (day_start - HOUR, Some(OffsetPeriods::new(as_of))),
                    (
                        day_start - 3 * HOUR,
                        Some(OffsetPeriods::at(as_of, 5 * HOUR)),
                    ),
                ] {
                    let cuts = p.as_ref().map(OffsetPeriods::cuts).unwrap_or_default();
                    let fold = |x: i64| match &p {
                        None => x.div_euclid(DAY),
                        Some(p) => p.of(x),
                    };
                    let mut rolled = scope_at(false, f.clone(), i64::MIN, t);
                    rolled.past = true;
                    rolled.period_starts = Some(cuts.clone());
                    let scan = Scope {
                        period_starts: None,
                        ..rolled.clone()
                    };
                    let a = counts_in(db, by, bucketed, &rolled, fold).await;
                    let b = counts_in(db, by, bucketed, &scan, fold).await;
                    assert_eq!(
                        a, b,
                        "{what}: {by:?} bucketed={bucketed} {f:?} as of {t} (cuts {cuts:?})"
                    );
                    if !bucketed {
                        assert_eq!(
                            quality(db, by, &rolled).await,
                            quality(db, by, &scan).await,
                            "{what}: quality {by:?} {f:?} as of {t} (cuts {cuts:?})"
                        );
                        assert_eq!(
                            response(db, by, &rolled).await,
                            response(db, by, &scan).await,
                            "{what}: response {by:?} {f:?} as of {t} (cuts {cuts:?})"
                        );
                    }
                }
            }
        }
    }
}

fn lead(rng: &mut Lcg, owners: &[Uuid]) -> Lead {
    let created = now() - chrono::Duration::hours(rng.next(24 * 8) as i64);
    let source = ["google", "linkedin", ""][rng.next(3) as usize];
    let campaign = ["spring", "fall", ""][rng.next(3) as usize];
    let owner = [None, Some(owners[0]), Some(owners[1])][rng.next(3) as usize];
    Lead {
        id: Uuid::now_v7(),
        fields: LeadFields {
            email: Some(format!("l{}@rollup.example", rng.next(1 << 30))),
            first_touch: Touch {
                source: (!source.is_empty()).then(|| source.into()),
                medium: (!source.is_empty()).then(|| "cpc".into()),
                campaign: (!campaign.is_empty()).then(|| campaign.into()),
                ..Default::default()
            },
            owner_id: owner,
            ..Default::default()
        },
        stage: Stage::New,
        disqualify_reason: None,
        score: 0,
        grade: None,
        created_at: from_micros(to_micros(created)),
        updated_at: created,
        version: 1,
    }
}

#[tokio::test]
async fn the_rollup_answers_exactly_what_the_leads_say() {
    for t in testing::backends().await {
        let db = &t.db;
        let mut rng = Lcg(7);
        let mut owners = Vec::new();
        for i in 0..2 {
            let u = User {
                id: Uuid::now_v7(),
                email: format!("rep{i}@rollup.example"),
                name: format!("Rep {i}"),
                role: Role::Rep,
                sees_all_leads: false,
                active: true,
                created_at: now(),
            };
            let mut c = db.acquire().await.unwrap();
            users::insert(c.conn(), &u, None).await.unwrap();
            owners.push(u.id);
        }
        let mut all: Vec<Lead> = (0..60).map(|_| lead(&mut rng, &owners)).collect();
        {
            let mut tx = db.begin().await.unwrap();
            leads::insert_many(tx.conn(), &all[..40]).await.unwrap();
            for l in &all[40..] {
                leads::insert(tx.conn(), l).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        // First-touch clocks for two leads in three.
        {
            let mut rows = Vec::new();
            for l in &all {
                if rng.next(3) != 0 {
                    rows.push(clock(&mut rng, l));
                }
            }
            let mut c = db.acquire().await.unwrap();
            sla::put_clocks(c.conn(), &rows).await.unwrap();
        }
        // Two scoring models, the first the default; scores under both; some quarantined.
        {
            let mut c = db.acquire().await.unwrap();
            for (key, is_default) in [("fit", true), ("other", false)] {
                scoring::insert_model(
                    c.conn(),
                    &ModelRow {
                        key: key.into(),
                        is_default: false,
                        active_version: None,
                        created_at: to_micros(now()),
                    },
                )
                .await
                .unwrap();
                if is_default {
                    scoring::set_default(c.conn(), key).await.unwrap();
                }
            }
        }
        let ids: Vec<Uuid> = all.iter().map(|l| l.id).collect();
        score(db, &mut rng, "fit", &ids[..45]).await;
        score(db, &mut rng, "other", &ids[20..]).await;
        {
            let mut c = db.acquire().await.unwrap();
            for id in ids.iter().step_by(7) {
                let v = Verification {
                    status: VerificationStatus::Suspect,
                    findings: Vec::new(),
                };
                quality::upsert(c.conn(), *id, &v, Action::Quarantine, to_micros(now()))
                    .await
                    .unwrap();
            }
        }
        // Leads whose last activity lies a minute either side of each aging edge.
        {
            let mut c = db.acquire().await.unwrap();
            for days in [1, 2, 3, 4, 5, 6, 7] {
                for side in [-1, 1] {
                    let mut l = lead(&mut rng, &owners);
                    l.created_at = from_micros(to_micros(now()) - 20 * DAY);
                    leads::insert(c.conn(), &l).await.unwrap();
                    let at = now() - chrono::Duration::days(days) + chrono::Duration::minutes(side);
                    note(c.conn(), l.id, at).await;
                }
            }
            // Created exactly where a test period starts (the first instant of its period).
            for p in [
                OffsetPeriods::new(to_micros(now())),
                OffsetPeriods::at(to_micros(now()), 5 * HOUR),
            ] {
                let mut l = lead(&mut rng, &owners);
                l.created_at = from_micros(p.start(13));
                leads::insert(c.conn(), &l).await.unwrap();
            }
            // Imported with its past: created now, last active days before.
            let mut l = lead(&mut rng, &owners);
            l.created_at = from_micros(to_micros(now()));
            leads::insert(c.conn(), &l).await.unwrap();
            note(c.conn(), l.id, now() - chrono::Duration::days(4)).await;
        }
        assert_same(db, &owners, &format!("{}: inserted", t.name)).await;
        compact_rollup(db).await.unwrap();
        assert_same(db, &owners, &format!("{}: inserted, folded", t.name)).await;

        // Owners move, stages change, milestones are reached, leads are deleted and restored.
        let mut c = db.acquire().await.unwrap();
        let db_ref = db;
        let mut rng2 = Lcg(11);
        let mut rng3 = Lcg(5);
        for round in 0..3 {
            for l in all.iter_mut() {
                // Clocks are touched, dropped (the lead left the covered stages) or restarted.
                match rng3.next(6) {
                    0 => {
                        sla::touch(c.conn(), l.id, to_micros(now())).await.unwrap();
                    }
                    1 => sla::drop_clock(c.conn(), l.id).await.unwrap(),
                    2 => {
                        // Restarted up to four days ago (the lead entered a covered stage
                        // again): reports as of a past day see some clocks not started yet.
                        let mut row = clock(&mut rng3, l);
                        let start =
                            (to_micros(now()) - rng3.next(96) as i64 * HOUR).max(row.started_at);
                        let shift = start - row.started_at;
                        row.started_at += shift;
                        row.warn_at += shift;
                        row.due_at += shift;
                        row.touched_at = row.touched_at.map(|t| (t + shift).min(to_micros(now())));
                        sla::put_clocks(c.conn(), &[row]).await.unwrap();
                    }
                    _ => {}
                }
                match rng.next(8) {
                    6 if round == 0 => {
                        // An activity some hours ago moves the lead's last activity.
                        let at = now() - chrono::Duration::minutes(rng.next(60 * 24 * 8) as i64);
                        note(c.conn(), l.id, at).await;
                    }
                    6 => score(db_ref, &mut rng2, "fit", &[l.id]).await,
                    7 => {
                        let v = Verification {
                            status: VerificationStatus::Verified,
                            findings: Vec::new(),
                        };
                        let act = if rng.next(2) == 0 {
                            Action::Accept
                        } else {
                            Action::Quarantine
                        };
                        quality::upsert(c.conn(), l.id, &v, act, to_micros(now()))
                            .await
                            .unwrap();
                    }
                    0 => {
                        let mut n = l.clone();
                        n.fields.owner_id =
                            [None, Some(owners[0]), Some(owners[1])][rng.next(3) as usize];
                        n.version = l.version + 1;
                        if leads::update(c.conn(), &n, l.version).await.unwrap() {
                            // Recorded some hours ago (reports as of a past day read it),
                            // each round later than the last, as a lead's changes happen.
                            let hours_ago = (3 - round as i64) * 48 - rng.next(48) as i64;
                            let at = to_micros(now()) - hours_ago * HOUR;
                            let ch = leadline_domain::history::OwnerChange {
                                id: Uuid::now_v7(),
                                lead_id: l.id,
                                from_owner: l.fields.owner_id,
                                to_owner: n.fields.owner_id,
                                reason: None,
                                actor: "test".into(),
                                at: from_micros(at),
                                team_id: None,
                                rule_id: None,
                                method: None,
                                routing_version: None,
                            };
                            history::record_owner(c.conn(), &ch).await.unwrap();
                            *l = n;
                        }
                    }
                    1 => {
                        let mut n = l.clone();
                        n.stage = if l.stage == Stage::Disqualified {
                            Stage::New
                        } else {
                            Stage::Disqualified
                        };
                        n.version = l.version + 1;
                        if leads::update(c.conn(), &n, l.version).await.unwrap() {
                            // Recorded like the owner changes above.
                            let hours_ago = (3 - round as i64) * 48 - rng.next(48) as i64;
                            let ch = leadline_domain::history::StageChange {
                                id: Uuid::now_v7(),
                                lead_id: l.id,
                                from_stage: Some(l.stage.as_str().into()),
                                to_stage: n.stage.as_str().into(),
                                reason: None,
                                note: None,
                                actor: "test".into(),
                                at: from_micros(to_micros(now()) - hours_ago * HOUR),
                            };
                            history::record_stage(c.conn(), &ch).await.unwrap();
                            *l = n;
                        }
                    }
                    2 => {
                        // A stage change, sometimes dated before the lead's last one.
                        let at = now() - chrono::Duration::minutes(rng.next(60 * 24 * 3) as i64);
                        let ch = leadline_domain::history::StageChange {
                            id: Uuid::now_v7(),
                            lead_id: l.id,
                            from_stage: None,
                            to_stage: ["mql", "sal", "nurture"][rng.next(3) as usize].into(),
                            reason: None,
                            note: None,
                            actor: "test".into(),
                            at: from_micros(to_micros(at)),
                        };
                        history::record_stage(c.conn(), &ch).await.unwrap();
                    }
                    3 => {
                        let step = 1 + rng.next(5) as usize;
                        // Reached some hours ago: reports as of a past day see some.
                        let at = to_micros(now()) - rng.next(24 * 6) as i64 * HOUR;
                        milestones::reach(c.conn(), l.id, step, at).await.unwrap();
                    }
                    4 => {
                        leads::soft_delete(c.conn(), l.id, to_micros(now()))
                            .await
                            .unwrap();
                    }
                    5 => {
                        leads::restore(c.conn(), l.id, to_micros(now()))
                            .await
                            .unwrap();
                    }
                    _ => unreachable!(),
                }
            }
            assert_same(db, &owners, &format!("{}: round {round}", t.name)).await;
            if round == 1 {
                // The other model becomes the default: its scores count from now on.
                scoring::set_default(c.conn(), "other").await.unwrap();
                assert_same(db, &owners, &format!("{}: default switched", t.name)).await;
                compact_rollup(db).await.unwrap();
                assert_same(db, &owners, &format!("{}: round {round}, folded", t.name)).await;
            }
        }
        // A clock restarted an hour ago, then touched by an activity dated days before (a
        // backdated touch): as of a past day it had not started.
        {
            let mut l = lead(&mut rng, &owners);
            l.created_at = from_micros(to_micros(now()) - 5 * DAY);
            leads::insert(c.conn(), &l).await.unwrap();
            let mut row = clock(&mut rng3, &l);
            row.started_at = to_micros(now()) - HOUR;
            row.warn_at = row.started_at + HOUR;
            row.due_at = row.started_at + HOUR;
            row.touched_at = Some(to_micros(now()) - 3 * DAY);
            sla::put_clocks(c.conn(), &[row]).await.unwrap();
        }
        assert_same(db, &owners, &format!("{}: backdated touch", t.name)).await;
        // A merge moves history rows to another lead.
        // Two rows in one statement (a bulk load): each row's stay must see the other.
        let changes: Vec<_> = ["mql", "sal"]
            .iter()
            .enumerate()
            .map(|(i, to)| leadline_domain::history::StageChange {
                id: Uuid::now_v7(),
                lead_id: all[3].id,
                from_stage: None,
                to_stage: (*to).into(),
                reason: None,
                note: None,
                actor: "test".into(),
                at: from_micros(to_micros(now()) - (2 - i as i64) * HOUR),
            })
            .collect();
        history::record_stages(c.conn(), &changes).await.unwrap();
        leads::restore(c.conn(), all[2].id, to_micros(now()))
            .await
            .unwrap();
        leads::restore(c.conn(), all[3].id, to_micros(now()))
            .await
            .unwrap();
        let q = "UPDATE stage_history SET lead_id = $1 WHERE lead_id = $2";
        match c.conn() {
            Conn::Sqlite(x) => sqlx::query(q)
                .bind(all[2].id)
                .bind(all[3].id)
                .execute(x)
                .await
                .map(|_| ()),
            Conn::Postgres(x) => sqlx::query(q)
                .bind(all[2].id)
                .bind(all[3].id)
                .execute(x)
                .await
                .map(|_| ()),
        }
        .unwrap();
        assert_same(db, &owners, &format!("{}: history moved", t.name)).await;
        // Deleting a user unassigns their leads (ON DELETE SET NULL): the roll-up follows.
        match c.conn() {
            Conn::Sqlite(x) => sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(owners[1])
                .execute(x)
                .await
                .map(|_| ()),
            Conn::Postgres(x) => sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(owners[1])
                .execute(x)
                .await
                .map(|_| ()),
        }
        .unwrap();
        assert_same(db, &owners, &format!("{}: owner deleted", t.name)).await;
        drop(c);
        let folded = compact_rollup(db).await.unwrap();
        assert!(folded > 0, "{}: nothing to fold", t.name);
        assert_eq!(
            compact_rollup(db).await.unwrap(),
            0,
            "{}: folded twice",
            t.name
        );
        assert_same(db, &owners, &format!("{}: all folded", t.name)).await;
        // Some leads reached MQL by now: the velocity comparisons counted something.
        assert!(
            assert_velocity(db, t.name).await > 0,
            "{}: no qualified lead",
            t.name
        );
        // A rebuild from the leads gives the same roll-up, and the triggers carry on after it.
        let before = counts(
            db,
            Dimension::Owner,
            true,
            &scope(true, ReportFilter::default(), i64::MIN),
        )
        .await;
        assert!(
            rebuild_rollup(db).await.unwrap() > 0,
            "{}: rebuilt nothing",
            t.name
        );
        let after = counts(
            db,
            Dimension::Owner,
            true,
            &scope(true, ReportFilter::default(), i64::MIN),
        )
        .await;
        assert_eq!(before, after, "{}: rebuild", t.name);
        {
            let mut c = db.acquire().await.unwrap();
            leads::soft_delete(c.conn(), all[0].id, to_micros(now()))
                .await
                .unwrap();
            leads::restore(c.conn(), all[1].id, to_micros(now()))
                .await
                .unwrap();
        }
        assert_same(db, &owners, &format!("{}: rebuilt, then changed", t.name)).await;
    }
}
