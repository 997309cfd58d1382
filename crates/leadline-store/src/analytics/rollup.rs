//! The report roll-ups (migrations 0020–0023, 0025): leads per UTC day of creation and first
//! touch, owner and team, with how many have reached each funnel step now and their quality
//! (`lead_rollup`); live leads per UTC hour of last activity, stage and owner
//! (`aging_rollup`); stays per UTC creation day and stage (`stage_rollup`); first-touch
//! clocks keyed like `lead_rollup` (`response_rollup`). Triggers append
//! deltas; [`compact_rollup`] folds them in; readers add up both tables, so a report is
//! exact whether or not the deltas were folded yet. The fold is written per
//! engine here (not in `dialect`): what differs is how it stays exact under concurrent
//! writers, not only the SQL's spelling.

use super::{Dimension, FilterColumns, FunnelCount, GroupKey, QualityCounts, Scope, StageTime};
use crate::db::{Backend, Conn, Db};
use crate::error::StoreResult;
use uuid::Uuid;

/// A day in microseconds.
pub(crate) use leadline_domain::time::DAY_MICROS as DAY;

/// Measures: the funnel steps (the leads, then mql … won), then quality (0021).
const MEASURE_NAMES: [&str; 15] = [
    "leads",
    "mql",
    "sal",
    "sql_reached",
    "converted",
    "won",
    "disqualified",
    "scored",
    "score_sum",
    "grade_a",
    "grade_b",
    "grade_c",
    "grade_d",
    "grade_f",
    "quarantined",
];
const KEY: &str = "day, source, medium, campaign, owner_id, team_id";

/// Whether the roll-ups can answer a scope: the present (they hold where leads are now,
/// not where they were) and a zone whose periods cut few UTC days (they are keyed by UTC
/// day; the cut days are read lead by lead).
pub fn rollup_answers(s: &Scope) -> bool {
    !s.past && s.period_starts.is_some()
}

/// Whether the roll-ups, corrected by the leads that moved on since, can answer a past
/// scope (funnel, quality, response, time in stage). Not for one owner: a lead that left
/// the owner since is not in the owner's roll-up rows to be corrected.
pub fn asof_answers(s: &Scope) -> bool {
    s.past && s.period_starts.is_some() && s.as_of > 0 && s.filter.owner.is_none()
}

/// What a past report needs to know changed about a lead since its moment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Since {
    /// A funnel step reached (funnel, quality).
    pub steps: bool,
    /// Its owner (grouped by owner).
    pub owners: bool,
    /// Entering or leaving `disqualified` (quality).
    pub disqualified: bool,
    /// Any stage change (time in stage, aging).
    pub stages: bool,
    /// Its first-touch clock started, was touched or was still running (response).
    pub clocks: bool,
    /// Created after the moment (aging, whose roll-up is keyed by last activity, which can
    /// precede creation).
    pub created: bool,
}

/// SQL (` AND …`) keeping leads of `l` that may be counted differently at `$3` than now,
/// as `since` asks: one set, a union of index reads, so only those leads are visited.
/// Steps come from `leads_last_step` (0024); owner changes from the owner history's `at`
/// index (every change writes a row; a deleted user's unassigned leads too since 0030);
/// stage changes from the lead's latest one (`leads_stage_changed`, 0035). A lead's stage
/// then is the one the first change after the moment left, so its disqualification then and
/// now can differ only if such a change left `disqualified` (the partial index of 0031) or
/// it is disqualified now and changed since (`leads_disqualified_changed`: its last change
/// need not be the one that disqualified it once merges move rows). A clock counts the same
/// then and now if it had started and been touched by then, or, untouched, was due by then
/// (the indexes of 0032 and `sla_clocks_open`).
pub(crate) fn moved_on_since(backend: Backend, since: Since) -> String {
    lead_set(backend, &moved_on_parts(backend, since))
}

/// The parts of [`moved_on_since`]'s union: queries of lead ids.
fn moved_on_parts(backend: Backend, since: Since) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    if since.steps {
        // Any step, even where only MQL counts: the index `leads_last_step` covers the
        // query (a superset of leads costs nothing but their read; `leads_mql_at` would
        // visit every lead qualified since, created then or not).
        let last = match backend {
            Backend::Sqlite => {
                "max(COALESCE(mql_at, 0), COALESCE(sal_at, 0), COALESCE(sql_at, 0), \
                 COALESCE(converted_at, 0), COALESCE(won_at, 0))"
            }
            Backend::Postgres => "GREATEST(mql_at, sal_at, sql_at, converted_at, won_at)",
        };
        parts.push(format!(
            "SELECT id FROM leads WHERE deleted_at IS NULL AND {last} > $3 AND created_at <= $3"
        ));
    }
    // Rows after the moment are mostly those of leads created since, which no report as
    // of then counts: they are dropped here, inside the index, so the report does not
    // look each of them up.
    if since.owners {
        parts.push(format!(
            "SELECT lead_id FROM owner_history WHERE at > $3{BORN_BY_THEN}"
        ));
    }
    // A lead's latest stage change is on it (0035), beside its creation in the index.
    // SQLite is told the index: with the moment a parameter, it took `leads_stage` for the
    // disqualified leads (every one created by then read, 0.3–3 s at a million leads,
    // against 9 ms).
    let indexed_by = |index: &str| match backend {
        Backend::Sqlite => format!(" INDEXED BY {index}"),
        Backend::Postgres => String::new(),
    };
    if since.stages {
        parts.push(format!(
            "SELECT id FROM leads{} WHERE deleted_at IS NULL AND stage_changed_at > $3 \
             AND created_at <= $3",
            indexed_by("leads_stage_changed")
        ));
    } else if since.disqualified {
        parts.push(
            "SELECT lead_id FROM stage_history WHERE at > $3 AND from_stage = 'disqualified'"
                .into(),
        );
        parts.push(format!(
            "SELECT id FROM leads{} WHERE stage = 'disqualified' AND deleted_at IS NULL \
             AND stage_changed_at > $3 AND created_at <= $3",
            indexed_by("leads_disqualified_changed")
        ));
    }
    if since.clocks {
        parts.push(format!(
            "SELECT lead_id FROM sla_clocks WHERE started_at > $3{BORN_BY_THEN}"
        ));
        // Started by then (the part above has the others): checked inside the index.
        parts.push(
            "SELECT lead_id FROM sla_clocks WHERE touched_at > $3 AND started_at <= $3".into(),
        );
        parts.push(
            "SELECT lead_id FROM sla_clocks WHERE touched_at IS NULL AND due_at > $3 \
             AND started_at <= $3"
                .into(),
        );
    }
    if since.created {
        parts.push("SELECT id FROM leads WHERE created_at > $3".into());
    }
    parts
}

/// SQL (` AND …`) keeping owner-history and clock rows of leads created by `$3`: each row
/// carries its lead's creation time (0037), beside the moment in the index the part reads.
/// (Telling the rows of leads created since apart through a list of those leads took two
/// thirds of "response as of 30 days ago" at a million leads.)
const BORN_BY_THEN: &str = " AND lead_created_at <= $3";

/// SQL (` AND …`) keeping leads of `l` whose id one of the `parts` (queries of lead ids)
/// gives: one set, so each lead is visited once however many parts find it. (`UNION ALL`:
/// SQLite's IN list and PostgreSQL's index scan over an array drop repeats themselves, so
/// a union's own sort would be wasted.)
pub(crate) fn lead_set(backend: Backend, parts: &[String]) -> String {
    if parts.is_empty() {
        return " AND 1 = 0".into();
    }
    format!(
        " AND {}",
        id_in(backend, "l.id", &parts.join(" UNION ALL "))
    )
}

/// SQL for `column` being one of the ids the query `set` gives.
pub(crate) fn id_in(backend: Backend, column: &str, set: &str) -> String {
    match backend {
        Backend::Sqlite => format!("{column} IN ({set})"),
        // As an array, so the planner looks the few leads up by key: over a union it
        // expects several times the rows and hash-joins every lead created by then.
        Backend::Postgres => format!("{column} = ANY(ARRAY({set}))"),
    }
}

/// The most split-off ranges PostgreSQL reads as one `UNION ALL` branch each (planning 183
/// took 32 ms).
const MAX_UNION_RANGES: usize = 400;

/// How a bucketed report splits the UTC days one of its periods starts inside (off UTC
/// midnight, in a zone away from UTC): the day's roll-up row is counted in the period
/// holding most of the day, and only the leads of the rest are read one by one — an hour
/// or two of each day for daily periods in Europe, not the whole day.
#[derive(Debug, Default)]
pub(crate) struct DaySplits {
    /// Day → the instant its roll-up row is counted at, when not the day's start: the
    /// period start, when that lies in the day's first half.
    moved_rows: std::collections::BTreeMap<i64, i64>,
    /// Creation ranges `[a, b)` whose leads the roll-up counts in the wrong period.
    ranges: Vec<(i64, i64)>,
}

impl DaySplits {
    /// The splits of the scope's period starts, but on the `whole` days (read lead by lead
    /// anyway) and outside the days the roll-up answers for.
    pub(crate) fn of(s: &Scope, whole: &[i64]) -> Self {
        let (from_day, until_day) = day_range(s);
        let mut starts: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
        for b in s.period_starts.iter().flatten() {
            let d = b.div_euclid(DAY);
            if d >= from_day && d < until_day && whole.binary_search(&d).is_err() {
                starts.entry(d).or_default().push(*b);
            }
        }
        let mut splits = DaySplits::default();
        for (d, b) in starts {
            let (start, end) = (d * DAY, (d + 1) * DAY);
            match b.as_slice() {
                [b] if b - start >= DAY / 2 => splits.ranges.push((*b, end)),
                [b] => {
                    splits.moved_rows.insert(d, *b);
                    splits.ranges.push((start, *b));
                }
                // Two periods starting in one day (none of ours): read all of it.
                _ => splits.ranges.push((start, end)),
            }
        }
        splits
    }

    /// The bucket (in the scope's bucket widths) the roll-up's row of UTC `day` counts at.
    pub(crate) fn rollup_bucket(&self, s: &Scope, day: i64) -> i64 {
        self.moved_rows.get(&day).copied().unwrap_or(day * DAY) / s.bucket.max(1)
    }

    /// SQL `FROM` the leads `l` created in the split-off ranges and a condition on them
    /// (` AND …`), if there are any. SQLite joins a list of the ranges to the covering
    /// index `leads_report`, one index range each however many days (it is told the index:
    /// left to itself it takes `leads_created` and visits every row). PostgreSQL would
    /// filter every lead by every range in that join; a `UNION ALL` of one query per range
    /// gets an index-only scan of `leads_report` each, in parallel (0.13 s for a fifth of a
    /// million leads, against 0.89 s looking them up by id). Planning grows with the
    /// branches, so past [`MAX_UNION_RANGES`] it looks the leads up by id after all.
    pub(crate) fn leads_from(&self, backend: Backend) -> Option<(String, String)> {
        if self.ranges.is_empty() {
            return None;
        }
        let values = || {
            self.ranges
                .iter()
                .map(|(a, b)| format!("({a}, {b})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let in_range =
            |t: &str| format!("{t}.created_at >= r.column1 AND {t}.created_at < r.column2");
        Some(match backend {
            Backend::Sqlite => (
                format!(
                    "FROM (VALUES {}) AS r JOIN leads l INDEXED BY leads_report ON {}",
                    values(),
                    in_range("l")
                ),
                String::new(),
            ),
            Backend::Postgres if self.ranges.len() <= MAX_UNION_RANGES => (
                format!(
                    "FROM ({}) l",
                    self.ranges
                        .iter()
                        .map(|(a, b)| format!(
                            "SELECT * FROM leads WHERE deleted_at IS NULL \
                             AND created_at >= {a} AND created_at < {b}"
                        ))
                        .collect::<Vec<_>>()
                        .join(" UNION ALL ")
                ),
                String::new(),
            ),
            Backend::Postgres => (
                "FROM leads l".into(),
                format!(
                    " AND l.id = ANY(ARRAY(SELECT x.id FROM (VALUES {}) AS r \
                     JOIN leads x ON {} WHERE x.deleted_at IS NULL))",
                    values(),
                    in_range("x")
                ),
            ),
        })
    }

    /// Whether bucket `b` (in the scope's bucket widths; a split starts on a bucket's
    /// edge) lies in a split-off range: its leads are read by [`DaySplits::leads_from`].
    pub(crate) fn holds_bucket(&self, s: &Scope, b: i64) -> bool {
        let t = b * s.bucket.max(1);
        // Ranges are in order and do not overlap: the last one starting at or before `t`.
        let i = self.ranges.partition_point(|(a, _)| *a <= t);
        i > 0 && t < self.ranges[i - 1].1
    }
}

/// The UTC days a roll-up must leave to the leads: those the scope's ends (and a past
/// moment) fall inside. (Days a period starts inside are split: [`DaySplits`].)
pub(crate) fn cut_days(s: &Scope) -> Vec<i64> {
    let past = if s.past { s.as_of } else { i64::MAX };
    let mut days: Vec<i64> = [s.from, s.to, past]
        .into_iter()
        .filter(|t| *t != i64::MIN && *t != i64::MAX && t.rem_euclid(DAY) != 0)
        .map(|t| t.div_euclid(DAY))
        .collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// Runs of consecutive UTC days (sorted) as `[start, end)` instants.
fn day_ranges(days: &[i64]) -> Vec<(i64, i64)> {
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for d in days {
        match ranges.last_mut() {
            Some((_, end)) if *end == *d => *end = d + 1,
            _ => ranges.push((*d, d + 1)),
        }
    }
    ranges
        .into_iter()
        .map(|(a, b)| (a.saturating_mul(DAY), b.saturating_mul(DAY)))
        .collect()
}

/// SQL for lead `l` created on one of the given UTC days (sorted): an OR of ranges.
fn ranges_sql(days: &[i64]) -> String {
    day_ranges(days)
        .iter()
        .map(|(a, b)| format!("(l.created_at >= {a} AND l.created_at < {b})"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// SQL (` AND …`) keeping leads `l` created on the given UTC days (sorted). SQLite gets
/// their ids from one index range per run of days (for an OR of ranges it reads every lead
/// of the report's period through the index and filters); PostgreSQL combines the ranges
/// in one bitmap and visits each lead once.
pub(crate) fn created_in_days(backend: Backend, days: &[i64]) -> String {
    if days.is_empty() {
        return " AND 1 = 0".into();
    }
    if backend == Backend::Postgres {
        return format!(" AND ({})", ranges_sql(days));
    }
    let ranges = day_ranges(days)
        .iter()
        .map(|(a, b)| {
            format!(
                "SELECT id FROM leads WHERE deleted_at IS NULL \
                 AND created_at >= {a} AND created_at < {b}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!(" AND l.id IN ({ranges})")
}

/// SQL (` AND …`) leaving out leads `l` created on the given UTC days (sorted).
pub(crate) fn created_not_in_days(days: &[i64]) -> String {
    if days.is_empty() {
        return String::new();
    }
    format!(" AND NOT ({})", ranges_sql(days))
}

/// SQL (` AND …`) leaving out the given days of a roll-up's `day` column.
fn not_on_days(days: &[i64]) -> String {
    if days.is_empty() {
        return String::new();
    }
    let list = days
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    format!(" AND day NOT IN ({list})")
}

/// A group's sums from the roll-up.
#[derive(Debug, sqlx::FromRow)]
struct RollupRow {
    #[sqlx(flatten)]
    key: GroupKey,
    day: i64,
    leads: i64,
    mql: i64,
    sal: i64,
    sql_reached: i64,
    converted: i64,
    won: i64,
    disqualified: i64,
    scored: i64,
    score_sum: i64,
    grade_a: i64,
    grade_b: i64,
    grade_c: i64,
    grade_d: i64,
    grade_f: i64,
    quarantined: i64,
}

/// The UTC days `[from, until)` a scope covers, up to the day of its moment.
fn day_range(s: &Scope) -> (i64, i64) {
    let from_day = if s.from == i64::MIN {
        i64::MIN
    } else {
        s.from.div_euclid(DAY)
    };
    // A day `to` falls inside is in range (and cut: its leads are read one by one).
    let until_day = if s.to == i64::MAX {
        i64::MAX
    } else {
        s.to.div_euclid(DAY) + i64::from(s.to.rem_euclid(DAY) != 0)
    }
    // Up to the moment's day (a past moment's own day is cut unless it starts it).
    .min(s.as_of.div_euclid(DAY) + i64::from(!s.past || s.as_of.rem_euclid(DAY) != 0));
    (from_day, until_day)
}

/// SQL for a group's (text, extra, id) over a roll-up row `r` keyed like `lead_rollup`.
fn group_exprs(by: Dimension) -> (&'static str, &'static str, &'static str) {
    match by {
        Dimension::All => ("''", "''", "NULL"),
        Dimension::Source => ("r.source", "''", "NULL"),
        Dimension::Medium => ("r.medium", "''", "NULL"),
        Dimension::Campaign => ("r.campaign", "''", "NULL"),
        Dimension::Channel => ("r.source", "r.medium", "NULL"),
        Dimension::Owner => ("''", "''", "r.owner_id"),
        Dimension::Team => ("''", "''", "r.team_id"),
    }
}

/// A filter's columns on a roll-up row `r` keyed like `lead_rollup`.
const ROLLUP_FILTER: FilterColumns = FilterColumns {
    source: Some("r.source"),
    medium: Some("r.medium"),
    campaign: Some("r.campaign"),
    owner: Some("r.owner_id"),
    team: Some("r.team_id"),
};

/// Sums of the roll-up over the scope's UTC days up to the day of its moment but the
/// `cut` ones, by group (and day when `bucketed`).
async fn rollup_rows(
    conn: Conn<'_>,
    by: Dimension,
    bucketed: bool,
    s: &Scope,
    cut: &[i64],
) -> StoreResult<Vec<RollupRow>> {
    let (from_day, until_day) = day_range(s);
    let (t, x, i) = group_exprs(by);
    let day = if bucketed { "r.day" } else { "0" };
    let cols = ROLLUP_FILTER;
    let sums = MEASURE_NAMES
        .iter()
        .map(|m| format!("CAST(SUM(r.{m}) AS BIGINT) AS {m}"))
        .collect::<Vec<_>>()
        .join(", ");
    let measures = MEASURE_NAMES.join(", ");
    let sql = format!(
        "SELECT {t} AS k_text, {x} AS k_extra, {i} AS k_id, CAST({day} AS BIGINT) AS day, {sums} \
         FROM (SELECT {KEY}, {measures} FROM lead_rollup WHERE day >= $1 AND day < $2{cut} \
               UNION ALL \
               SELECT {KEY}, {measures} FROM lead_rollup_deltas \
               WHERE day >= $1 AND day < $2{cut}) r \
         WHERE 1 = 1{filter} \
         GROUP BY 1, 2, 3, 4",
        filter = s.filter.sql(&cols, 3),
        cut = not_on_days(cut),
    );
    let mut rows: Vec<RollupRow> =
        super::fetch_filtered(conn, &sql, &[from_day, until_day], &s.filter).await?;
    for r in &mut rows {
        if r.key.id == Some(Uuid::nil()) {
            r.key.id = None;
        }
    }
    Ok(rows)
}

/// [`super::funnel_counts`] from the roll-up, but for the `cut` days.
pub async fn rollup_funnel_counts(
    conn: Conn<'_>,
    by: Dimension,
    bucketed: bool,
    s: &Scope,
    cut: &[i64],
) -> StoreResult<Vec<FunnelCount>> {
    let rows = rollup_rows(conn, by, bucketed, s, cut).await?;
    let per_day = DAY / s.bucket.max(1);
    let mut out = Vec::with_capacity(rows.len() * 2);
    for r in rows {
        let reached = [r.leads, r.mql, r.sal, r.sql_reached, r.converted, r.won];
        for (step, n) in reached.iter().enumerate() {
            // Reaching a step implies the earlier ones: leads whose furthest step is this one.
            let n = n - reached.get(step + 1).copied().unwrap_or(0);
            if n > 0 {
                out.push(FunnelCount {
                    key: r.key.clone(),
                    bucket: if bucketed { r.day * per_day } else { 0 },
                    furthest: step as i32,
                    n,
                });
            }
        }
    }
    Ok(out)
}

/// [`super::quality_counts`] from the roll-up, but for the `cut` days.
pub async fn rollup_quality_counts(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
    cut: &[i64],
) -> StoreResult<Vec<QualityCounts>> {
    let rows = rollup_rows(conn, by, false, s, cut).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.leads != 0)
        .map(|r| QualityCounts {
            key: r.key,
            leads: r.leads,
            scored: r.scored,
            score_sum: r.score_sum,
            grade_a: r.grade_a,
            grade_b: r.grade_b,
            grade_c: r.grade_c,
            grade_d: r.grade_d,
            grade_f: r.grade_f,
            mql: r.mql,
            disqualified: r.disqualified,
            quarantined: r.quarantined,
        })
        .collect())
}

/// A roll-up table, its delta table, key and measures.
struct Rollup {
    table: &'static str,
    deltas: &'static str,
    key: &'static str,
    measures: &'static [&'static str],
}

const LEAD_ROLLUP: Rollup = Rollup {
    table: "lead_rollup",
    deltas: "lead_rollup_deltas",
    key: KEY,
    measures: &MEASURE_NAMES,
};

/// Live leads per UTC hour of last activity (or creation), stage and owner (migration 0022).
const AGING_ROLLUP: Rollup = Rollup {
    table: "aging_rollup",
    deltas: "aging_rollup_deltas",
    key: "hour, stage, owner_id",
    measures: &["leads"],
};

/// First-touch clocks per UTC day of the lead's creation and its key (migration 0025).
const RESPONSE_ROLLUP: Rollup = Rollup {
    table: "response_rollup",
    deltas: "response_rollup_deltas",
    key: KEY,
    measures: &["clocks", "touched", "touch_minutes", "met", "late"],
};

/// Stays per UTC day of the lead's creation and stage (migration 0023).
const STAGE_ROLLUP: Rollup = Rollup {
    table: "stage_rollup",
    deltas: "stage_rollup_deltas",
    key: "day, stage",
    measures: &["ended", "ended_seconds", "current", "current_at"],
};

/// The first UTC day the lead roll-up holds (folded or not), if any: where a report over
/// all time starts looking for days its periods cut.
pub async fn first_rollup_day(conn: Conn<'_>) -> StoreResult<Option<i64>> {
    let (d,): (Option<i64>,) = super::fetch_filtered(
        conn,
        "SELECT CAST(MIN(day) AS BIGINT) FROM (SELECT MIN(day) AS day FROM lead_rollup \
         UNION ALL SELECT MIN(day) FROM lead_rollup_deltas) x",
        &[],
        &super::ReportFilter::default(),
    )
    .await?
    .into_iter()
    .next()
    .unwrap_or((None,));
    Ok(d)
}

/// Folds the pending deltas of the roll-ups into them and drops groups left empty;
/// returns how many deltas it folded. Safe to run from several processes at once.
pub async fn compact_rollup(db: &Db) -> StoreResult<u64> {
    // Most runs find nothing: ask on a read connection before taking SQLite's write lock.
    {
        let mut c = db.acquire().await?;
        let (pending,): (bool,) = super::fetch_filtered(
            c.conn(),
            "SELECT EXISTS (SELECT 1 FROM lead_rollup_deltas) \
               OR EXISTS (SELECT 1 FROM aging_rollup_deltas) \
               OR EXISTS (SELECT 1 FROM stage_rollup_deltas) \
               OR EXISTS (SELECT 1 FROM response_rollup_deltas)",
            &[],
            &super::ReportFilter::default(),
        )
        .await?
        .into_iter()
        .next()
        .unwrap_or((true,));
        if !pending {
            return Ok(0);
        }
    }
    let mut tx = db.begin().await?;
    if let Conn::Postgres(c) = tx.conn() {
        // One compactor at a time; the others skip (their deltas wait for the next run).
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(7203841120017)")
            .fetch_one(&mut *c)
            .await?;
        if !got {
            return Ok(0);
        }
    }
    let mut folded = 0;
    for r in [LEAD_ROLLUP, AGING_ROLLUP, STAGE_ROLLUP, RESPONSE_ROLLUP] {
        folded += fold(tx.conn(), &r).await?;
    }
    tx.commit().await?;
    // Deleted deltas stay in PostgreSQL's pages until a vacuum, and every report scans the
    // delta tables: after a large fold (a bulk load, an import) clean them at once rather
    // than wait for autovacuum (a million-lead load left reads 150 ms slower).
    if folded >= 10_000 && db.backend() == crate::db::Backend::Postgres {
        let mut c = db.acquire().await?;
        if let Conn::Postgres(c) = c.conn() {
            sqlx::query(
                "VACUUM (ANALYZE) lead_rollup_deltas, aging_rollup_deltas, stage_rollup_deltas, \
                 response_rollup_deltas",
            )
            .execute(&mut *c)
            .await?;
        }
    }
    Ok(folded)
}

async fn fold(conn: Conn<'_>, r: &Rollup) -> StoreResult<u64> {
    let Rollup {
        table,
        deltas,
        key,
        measures,
    } = r;
    let upsert = format!(
        "ON CONFLICT ({key}) DO UPDATE SET {}",
        measures
            .iter()
            .map(|m| format!("{m} = {table}.{m} + excluded.{m}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let sums = measures
        .iter()
        .map(|m| format!("CAST(SUM({m}) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ");
    let list = measures.join(", ");
    // A group is empty when it counts nothing (no leads; no stays; no clocks).
    let first = measures.first().copied().unwrap_or("leads");
    let empty = if first == "ended" {
        format!("DELETE FROM {table} WHERE ended = 0 AND current = 0")
    } else {
        format!("DELETE FROM {table} WHERE {first} = 0")
    };
    let folded = match conn {
        Conn::Sqlite(c) => {
            // The write transaction holds SQLite's only write lock: no delta can arrive
            // between reading and deleting them.
            let max: Option<i64> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT MAX(id) FROM {deltas}")))
                    .fetch_one(&mut *c)
                    .await?;
            let Some(max) = max else {
                return Ok(0);
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} ({key}, {list}) SELECT {key}, {sums} \
                 FROM {deltas} WHERE id <= $1 GROUP BY {key} {upsert}"
            )))
            .bind(max)
            .execute(&mut *c)
            .await?;
            let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {deltas} WHERE id <= $1"
            )))
            .bind(max)
            .execute(&mut *c)
            .await?
            .rows_affected();
            sqlx::query(sqlx::AssertSqlSafe(empty))
                .execute(&mut *c)
                .await?;
            n
        }
        Conn::Postgres(c) => {
            // One statement, one snapshot: exactly the deltas deleted are added, even
            // while other transactions append new ones.
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "WITH moved AS (DELETE FROM {deltas} RETURNING {key}, {list}), \
                 n AS (SELECT COUNT(*) AS n FROM moved), \
                 up AS (INSERT INTO {table} ({key}, {list}) \
                        SELECT {key}, {sums} FROM moved GROUP BY {key} {upsert}) \
                 SELECT n FROM n"
            )))
            .fetch_one(&mut *c)
            .await?;
            if n > 0 {
                sqlx::query(sqlx::AssertSqlSafe(empty))
                    .execute(&mut *c)
                    .await?;
            }
            n as u64
        }
    };
    Ok(folded)
}

/// Rebuilds the roll-ups from the leads (a repair: the triggers keep it right, but a lead's
/// key change racing a change of its score on PostgreSQL can leave a group off by that
/// score; see docs/reports.md). Returns the groups written.
pub async fn rebuild_rollup(db: &Db) -> StoreResult<u64> {
    let grades = ["A", "B", "C", "D", "F"]
        .iter()
        .map(|g| format!("CAST(SUM(CASE WHEN s.grade = '{g}' THEN 1 ELSE 0 END) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ");
    let measures = MEASURE_NAMES.join(", ");
    let sql = format!(
        "INSERT INTO lead_rollup ({KEY}, {measures}) \
         SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / {DAY} \
                  ELSE (l.created_at + 1) / {DAY} - 1 END, \
           COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), \
           COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, $1), COALESCE(l.team_id, $1), \
           COUNT(*), COUNT(l.mql_at), COUNT(l.sal_at), COUNT(l.sql_at), COUNT(l.converted_at), \
           COUNT(l.won_at), CAST(SUM(CASE WHEN l.stage = 'disqualified' THEN 1 ELSE 0 END) AS BIGINT), \
           COUNT(s.lead_id), CAST(COALESCE(SUM(s.score), 0) AS BIGINT), {grades}, \
           CAST(SUM(CASE WHEN q.action = 'quarantine' THEN 1 ELSE 0 END) AS BIGINT) \
         FROM leads l \
         LEFT JOIN lead_scores s ON s.lead_id = l.id \
           AND s.model_key = (SELECT m.key FROM scoring_models m WHERE m.is_default) \
         LEFT JOIN lead_quality q ON q.lead_id = l.id \
         WHERE l.deleted_at IS NULL \
         GROUP BY 1, 2, 3, 4, 5, 6"
    );
    let mut tx = db.begin().await?;
    if let Conn::Postgres(c) = tx.conn() {
        // One snapshot for the deletes and the read of the leads: changes committed
        // meanwhile keep their deltas and are not in what is read, so none counts twice.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *c)
            .await?;
    }
    let conn = tx.conn();
    let n = dispatch!(conn, |c| {
        for r in [LEAD_ROLLUP, AGING_ROLLUP, STAGE_ROLLUP, RESPONSE_ROLLUP] {
            for t in [r.deltas, r.table] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {t}")))
                    .execute(&mut *c)
                    .await?;
            }
        }
        sqlx::query(STAGE_REBUILD).execute(&mut *c).await?;
        sqlx::query(sqlx::AssertSqlSafe(RESPONSE_REBUILD))
            .bind(Uuid::nil())
            .execute(&mut *c)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(AGING_REBUILD))
            .bind(Uuid::nil())
            .execute(&mut *c)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(Uuid::nil())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(n)
}

/// The response roll-up from the clocks of live leads (`$1` the nil id for none).
const RESPONSE_REBUILD: &str = "INSERT INTO response_rollup \
       (day, source, medium, campaign, owner_id, team_id, clocks, touched, touch_minutes, met, late) \
     SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 \
              ELSE (l.created_at + 1) / 86400000000 - 1 END, \
       COALESCE(l.first_source, ''), COALESCE(l.first_medium, ''), \
       COALESCE(l.first_campaign, ''), COALESCE(l.owner_id, $1), COALESCE(l.team_id, $1), \
       COUNT(*), COUNT(c.touched_at), \
       CAST(COALESCE(SUM((c.touched_at - c.started_at) / 60000000), 0) AS BIGINT), \
       SUM(CASE WHEN c.touched_at <= c.due_at THEN 1 ELSE 0 END), \
       SUM(CASE WHEN c.touched_at > c.due_at THEN 1 ELSE 0 END) \
     FROM sla_clocks c JOIN leads l ON l.id = c.lead_id AND l.deleted_at IS NULL \
     GROUP BY 1, 2, 3, 4, 5, 6";

/// [`super::response_counts`] from the response roll-up for the scope's days but the
/// `cut` ones; `breached` still counts the untouched clocks whose deadline is ahead (the
/// caller takes the running ones out).
pub async fn rollup_response_counts(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
    cut: &[i64],
) -> StoreResult<Vec<super::ResponseCounts>> {
    let (from_day, until_day) = day_range(s);
    let (t, x, i) = group_exprs(by);
    let sql = format!(
        "SELECT {t} AS k_text, {x} AS k_extra, {i} AS k_id, \
           CAST(SUM(r.clocks) AS BIGINT) AS clocks, CAST(SUM(r.touched) AS BIGINT) AS touched, \
           CAST(SUM(r.touch_minutes) AS BIGINT) AS touch_minutes, \
           CAST(SUM(r.met) AS BIGINT) AS met, \
           CAST(SUM(r.late + r.clocks - r.touched) AS BIGINT) AS breached \
         FROM (SELECT {KEY}, clocks, touched, touch_minutes, met, late FROM response_rollup \
               WHERE day >= $1 AND day < $2{cut} \
               UNION ALL SELECT {KEY}, clocks, touched, touch_minutes, met, late \
               FROM response_rollup_deltas WHERE day >= $1 AND day < $2{cut}) r \
         WHERE 1 = 1{filter} \
         GROUP BY 1, 2, 3",
        filter = s.filter.sql(&ROLLUP_FILTER, 3),
        cut = not_on_days(cut),
    );
    let mut rows: Vec<super::ResponseCounts> =
        super::fetch_filtered(conn, &sql, &[from_day, until_day], &s.filter).await?;
    for r in &mut rows {
        if r.key.id == Some(Uuid::nil()) {
            r.key.id = None;
        }
    }
    Ok(rows)
}

/// The aging roll-up from the leads (`$1` the nil id for no owner).
const AGING_REBUILD: &str = "INSERT INTO aging_rollup (hour, stage, owner_id, leads) \
     SELECT CASE WHEN COALESCE(l.last_activity_at, l.created_at) >= 0 \
              THEN COALESCE(l.last_activity_at, l.created_at) / 3600000000 \
              ELSE (COALESCE(l.last_activity_at, l.created_at) + 1) / 3600000000 - 1 END, \
       l.stage, COALESCE(l.owner_id, $1), COUNT(*) \
     FROM leads l WHERE l.deleted_at IS NULL GROUP BY 1, 2, 3";

/// The stage roll-up from the stage history of live leads.
const STAGE_REBUILD: &str = "INSERT INTO stage_rollup \
       (day, stage, ended, ended_seconds, current, current_at) \
     SELECT d, to_stage, \
       SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END), \
       SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 ELSE 0 END), \
       SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END), \
       SUM(CASE WHEN next_at IS NULL THEN at / 1000000 ELSE 0 END) \
     FROM (SELECT CASE WHEN l.created_at >= 0 THEN l.created_at / 86400000000 \
                    ELSE (l.created_at + 1) / 86400000000 - 1 END AS d, sh.to_stage, sh.at, \
             LEAD(sh.at) OVER (PARTITION BY sh.lead_id ORDER BY sh.at, sh.id) AS next_at \
           FROM stage_history sh JOIN leads l ON l.id = sh.lead_id AND l.deleted_at IS NULL) x \
     GROUP BY d, to_stage";

/// [`super::stage_times`] from the stage roll-up but for the `cut` days (no filters: it
/// is keyed by day only).
pub async fn rollup_stage_times(
    conn: Conn<'_>,
    s: &Scope,
    cut: &[i64],
) -> StoreResult<Vec<StageTime>> {
    let (from_day, until_day) = day_range(s);
    let sql = format!(
        "SELECT stage, CAST(SUM(ended) AS BIGINT), CAST(SUM(ended_seconds) AS BIGINT), \
           CAST(SUM(current) AS BIGINT), CAST(SUM(current_at) AS BIGINT) \
         FROM (SELECT day, stage, ended, ended_seconds, current, current_at FROM stage_rollup \
               UNION ALL SELECT day, stage, ended, ended_seconds, current, current_at \
               FROM stage_rollup_deltas) r \
         WHERE day >= $1 AND day < $2{cut} GROUP BY stage",
        cut = not_on_days(cut)
    );
    let rows: Vec<(String, i64, i64, i64, i64)> = super::fetch_filtered(
        conn,
        &sql,
        &[from_day, until_day],
        &super::ReportFilter::default(),
    )
    .await?;
    let now_s = s.as_of.div_euclid(1_000_000);
    Ok(rows
        .into_iter()
        .filter(|r| r.1 != 0 || r.3 != 0)
        .map(
            |(stage, ended, ended_seconds, current, current_at)| StageTime {
                stage,
                ended,
                ended_seconds,
                current,
                // The time so far of each current stay: now − its start, summed.
                current_seconds: current * now_s - current_at,
            },
        )
        .collect())
}
