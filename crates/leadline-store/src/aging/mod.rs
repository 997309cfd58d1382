//! What lead aging reads: a lead's last activity and last stage change, and the aging
//! report's counts by stage, owner and age bucket.

mod kept;
mod timelines;

pub use kept::{
    forget as forget_kept, forget_newest as forget_newest_kept, is_kept, keep_all, kept_moments,
    report_past,
};
pub use timelines::timelines;

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// A lead's last activity and the time it entered its current stage.
pub async fn lead_times(
    mut conn: Conn<'_>,
    lead_id: Uuid,
) -> StoreResult<(Option<Micros>, Option<Micros>)> {
    let activity: Option<Micros> = dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT MAX(occurred_at) FROM activities WHERE lead_id = $1"
    )
    .bind(lead_id)
    .fetch_one(c)
    .await)?;
    let stage: Option<Micros> = dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT MAX(at) FROM stage_history WHERE lead_id = $1"
    )
    .bind(lead_id)
    .fetch_one(c)
    .await)?;
    Ok((activity, stage))
}

/// One cell of the aging report.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AgingCount {
    pub stage: String,
    pub owner_id: Option<Uuid>,
    /// Index of the age bucket (days since the last activity).
    pub bucket: i32,
    pub stale: i32,
    pub leads: i64,
}

use leadline_domain::time::DAY_MICROS as DAY;
const HOUR: i64 = 3_600_000_000;

/// Live leads counted by stage, owner, bucket of days since their last activity (or their
/// creation), and whether they are stale. `bounds` are the buckets' upper bounds in days;
/// `stale_days` the limit per stage as `(stage, days)`. From the aging roll-up (whole
/// hours) and the leads of the hours a bucket or stale limit cuts through; in the past,
/// corrected by the leads that changed since (read as they were).
pub async fn report(
    conn: Conn<'_>,
    now: Micros,
    bounds: &[i64],
    stale_days: &[(&str, i64)],
    past: bool,
) -> StoreResult<Vec<AgingCount>> {
    let backend = conn.backend();
    // The UTC hours holding a bucket's or a stale limit's edge, and the current one: leads
    // whose last activity falls in them are read one by one, every other hour as a whole.
    let mut cut: Vec<i64> = bounds
        .iter()
        .chain(stale_days.iter().map(|(_, d)| d))
        .map(|d| (now - d * DAY).div_euclid(HOUR))
        .collect();
    let current = now.div_euclid(HOUR);
    cut.push(current);
    cut.sort_unstable();
    cut.dedup();
    let hours = cut
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    // One range an hour, each through the index `leads_aging_ref` (SQLite scans the table
    // for an OR of ranges). A lead created after the moment is left out like the other
    // paths leave it out; only the current hour and later can hold one whose last activity
    // is its creation (`+created_at` keeps that column's own index out of the plan) — in
    // the past, those before are corrected below.
    let ref_at = "COALESCE(l.last_activity_at, l.created_at)";
    let ranges: Vec<String> = cut
        .iter()
        .filter(|h| **h < current)
        .map(|h| format!("{ref_at} >= {} AND {ref_at} < {}", h * HOUR, (h + 1) * HOUR))
        .chain(std::iter::once(format!("{ref_at} >= {}", current * HOUR)))
        .collect();
    let (stage, owner, last) = if past { then_columns() } else { now_columns() };
    let per_lead = |cond: &str, n: i32, (stage, owner, last): (&str, &str, &str)| {
        format!(
            "SELECT {stage}, COALESCE({owner}, $2), $1 - COALESCE({last}, l.created_at), {n} \
             FROM leads l WHERE l.deleted_at IS NULL AND {cond}"
        )
    };
    let mut parts: Vec<String> = ranges
        .iter()
        .map(|r| {
            per_lead(
                &format!("+l.created_at <= $1 AND {r}"),
                1,
                (&stage, &owner, &last),
            )
        })
        .collect();
    if past {
        // The roll-up's hours hold leads as they are now. One without a stage or owner
        // change since the moment and last active by then (all in those hours) is as it
        // was; the others there leave as they are and come back as they were, and those
        // created since leave.
        let outside_cut = cut
            .iter()
            .filter(|h| **h < current)
            .map(|h| {
                format!(
                    " AND NOT ({ref_at} >= {} AND {ref_at} < {})",
                    h * HOUR,
                    (h + 1) * HOUR
                )
            })
            .collect::<String>();
        let in_rollup = format!("{ref_at} < {}{outside_cut}", current * HOUR);
        let since = |created| {
            crate::analytics::moved_on_since(
                backend,
                crate::analytics::Since {
                    owners: true,
                    stages: true,
                    created,
                    ..Default::default()
                },
            )
            .replace("$3", "$1")
        };
        let (stage_now, owner_now, last_now) = now_columns();
        parts.push(per_lead(
            &format!("{in_rollup}{}", since(true)),
            -1,
            (&stage_now, &owner_now, &last_now),
        ));
        parts.push(per_lead(
            &format!("+l.created_at <= $1 AND {in_rollup}{}", since(false)),
            1,
            (&stage, &owner, &last),
        ));
    }
    let from = format!(
        "SELECT stage, owner_id, $1 - hour * {HOUR} AS age, leads AS n FROM \
           (SELECT hour, stage, owner_id, leads FROM aging_rollup \
            UNION ALL SELECT hour, stage, owner_id, leads FROM aging_rollup_deltas) r \
         WHERE hour < {current} AND hour NOT IN ({hours}) \
         UNION ALL {}",
        parts.join(" UNION ALL ")
    );
    let mut rows = counts(conn, &from, now, bounds, stale_days).await?;
    // Pending deltas (and, in the past, corrections) can leave a group at nothing.
    rows.retain(|r| r.leads != 0);
    Ok(rows)
}

/// SQL for lead `l`'s stage, owner and last activity now.
fn now_columns() -> (String, String, String) {
    (
        "l.stage".into(),
        "l.owner_id".into(),
        "l.last_activity_at".into(),
    )
}

/// SQL for lead `l`'s stage, owner and last activity at the moment `$1`, from their
/// histories.
fn then_columns() -> (String, String, String) {
    (
        crate::analytics::STAGE_THEN.replace("$3", "$1"),
        crate::analytics::OWNER_THEN.replace("$3", "$1"),
        "(SELECT MAX(a.occurred_at) FROM activities a WHERE a.lead_id = l.id \
           AND a.occurred_at <= $1)"
            .into(),
    )
}

/// [`report`] computed from every live lead (the roll-up's check, and the past).
pub async fn report_from_leads(
    conn: Conn<'_>,
    now: Micros,
    bounds: &[i64],
    stale_days: &[(&str, i64)],
    past: bool,
) -> StoreResult<Vec<AgingCount>> {
    // As of a past moment, stage, owner and last activity come from their histories.
    let (stage, owner, last) = if past { then_columns() } else { now_columns() };
    let from = format!(
        "SELECT {stage} AS stage, COALESCE({owner}, $2) AS owner_id, \
           $1 - COALESCE({last}, l.created_at) AS age, 1 AS n \
         FROM leads l WHERE l.deleted_at IS NULL AND l.created_at <= $1"
    );
    counts(conn, &from, now, bounds, stale_days).await
}

/// Groups `from` (rows of stage, owner_id, age, n; `$1` the moment, `$2` the nil id) by
/// stage, owner, age bucket and staleness; the nil owner comes back as none.
async fn counts(
    conn: Conn<'_>,
    from: &str,
    now: Micros,
    bounds: &[i64],
    stale_days: &[(&str, i64)],
) -> StoreResult<Vec<AgingCount>> {
    let whens = bounds
        .iter()
        .enumerate()
        .map(|(i, b)| format!("WHEN age < {} THEN {i} ", b * DAY))
        .collect::<String>();
    // The first bucket whose bound the age is under; the last (open-ended) otherwise.
    let bucket = if whens.is_empty() {
        "0".to_owned()
    } else {
        format!("CASE {whens}ELSE {} END", bounds.len())
    };
    let limits = stale_days
        .iter()
        .map(|(s, d)| format!("WHEN '{s}' THEN {}", d * DAY))
        .collect::<Vec<_>>()
        .join(" ");
    // A stage's limit, -1 for none (no stage without one goes stale).
    let stale = if limits.is_empty() {
        "-1".to_owned()
    } else {
        format!("CASE stage {limits} ELSE -1 END")
    };
    // Stage names and numbers come from the domain, never from a request.
    let sql = format!(
        "SELECT stage, owner_id, CAST({bucket} AS INTEGER) AS bucket, \
                CAST(CASE WHEN age > ({stale}) AND ({stale}) >= 0 THEN 1 ELSE 0 END AS INTEGER) AS stale, \
                CAST(SUM(n) AS BIGINT) AS leads \
         FROM ({from}) x \
         GROUP BY stage, owner_id, 3, 4 ORDER BY stage, owner_id"
    );
    let mut rows: Vec<AgingCount> =
        dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(now)
            .bind(Uuid::nil())
            .fetch_all(c)
            .await)?;
    for r in &mut rows {
        if r.owner_id == Some(Uuid::nil()) {
            r.owner_id = None;
        }
    }
    Ok(rows)
}
