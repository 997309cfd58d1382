//! The aging report as of past moments, kept once computed (migration 0033).
//!
//! As of a past moment the report needs each lead's last activity before it: a probe per
//! lead active since, seconds at a million leads. What it finds changes only through writes
//! dated at or before the moment (a backdated activity, a lead created, deleted or restored,
//! a history row), and the migration's triggers drop what was kept from such a write's date
//! on. A computation that overlapped such a write does not keep its result: the triggers
//! count their drops in `aging_kept_state.version`, read before computing and checked when
//! keeping. Triggers skip their work for writes dated after the `horizon`, the latest moment
//! kept or being computed — nearly every write, as writes are dated now.
//!
//! Many moments at once (the server's daily snapshots) are computed by one walk over every
//! lead's timeline instead ([`keep_all`], `leadline_domain::aging::PastAging`).

use super::{AgingCount, report};
use crate::db::{Conn, Db, DbTx};
use crate::error::StoreResult;
use leadline_domain::aging::PastAging;
use leadline_domain::time::Micros;
use std::time::Duration;
use uuid::Uuid;

/// How long keeping a report waits for SQLite's writer or a PostgreSQL lock before it gives
/// up keeping (the report is still answered): a report must not queue behind an import.
const WAIT: Duration = Duration::from_secs(2);

/// [`report`] as of the past moment `at`: what was kept for it under the same bucket
/// bounds and stale limits, or else computed and kept.
pub async fn report_past(
    db: &Db,
    at: Micros,
    bounds: &[i64],
    stale_days: &[(&str, i64)],
) -> StoreResult<Vec<AgingCount>> {
    let policy = policy_key(bounds, stale_days);
    {
        let mut c = db.acquire().await?;
        if let Some(rows) = kept(c.conn(), at, &policy).await? {
            return Ok(rows);
        }
    }
    let version = raise_horizon(db, at).await?;
    let rows = {
        let mut c = db.acquire().await?;
        report(c.conn(), at, bounds, stale_days, true).await?
    };
    if let Some(version) = version {
        keep(db, at, &policy, version, &rows).await?;
    }
    Ok(rows)
}

/// Whether a report as of `at` under these bounds and limits is kept.
pub async fn is_kept(
    conn: Conn<'_>,
    at: Micros,
    bounds: &[i64],
    stale_days: &[(&str, i64)],
) -> StoreResult<bool> {
    let policy = policy_key(bounds, stale_days);
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM aging_kept_moments WHERE at = $1 AND policy = $2)"
    )
    .bind(at)
    .bind(&policy)
    .fetch_one(c)
    .await)?)
}

/// The moments from `since` on with a report kept under these bounds and limits.
pub async fn kept_moments(
    conn: Conn<'_>,
    since: Micros,
    bounds: &[i64],
    stale_days: &[(&str, i64)],
) -> StoreResult<Vec<Micros>> {
    let policy = policy_key(bounds, stale_days);
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT at FROM aging_kept_moments WHERE at >= $1 AND policy = $2"
    )
    .bind(since)
    .bind(&policy)
    .fetch_all(c)
    .await)?)
}

/// Forgets every kept report (the benchmark times the first computation).
pub async fn forget(db: &Db) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    for sql in ["DELETE FROM aging_kept", "DELETE FROM aging_kept_moments"] {
        dispatch!(tx.conn(), |c| sqlx::query(sql).execute(c).await.map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(())
}

/// Forgets the newest kept moment (the benchmark times keeping the day that just ended).
pub async fn forget_newest(mut conn: Conn<'_>) -> StoreResult<()> {
    for sql in [
        "DELETE FROM aging_kept WHERE at = (SELECT MAX(at) FROM aging_kept_moments)",
        "DELETE FROM aging_kept_moments WHERE at = (SELECT MAX(at) FROM aging_kept_moments)",
    ] {
        dispatch!(conn.reborrow(), |c| sqlx::query(sql)
            .execute(c)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

/// The bounds and limits a report is computed under, as the key it is kept by.
fn policy_key(bounds: &[i64], stale_days: &[(&str, i64)]) -> String {
    let bounds = bounds
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let stale = stale_days
        .iter()
        .map(|(s, d)| format!("{s}={d}"))
        .collect::<Vec<_>>()
        .join(",");
    format!("{bounds};{stale}")
}

/// One row of a kept moment; a moment kept with no leads has one row of nulls.
#[derive(sqlx::FromRow)]
struct KeptRow {
    stage: Option<String>,
    owner_id: Option<Uuid>,
    bucket: Option<i32>,
    stale: Option<i32>,
    leads: Option<i64>,
}

/// The kept report as of `at`, if there is one. One statement, so a drop cannot fall
/// between finding the moment and reading its rows.
async fn kept(conn: Conn<'_>, at: Micros, policy: &str) -> StoreResult<Option<Vec<AgingCount>>> {
    let rows: Vec<KeptRow> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT k.stage, k.owner_id, k.bucket, k.stale, k.leads \
         FROM aging_kept_moments m LEFT JOIN aging_kept k ON k.at = m.at AND k.policy = m.policy \
         WHERE m.at = $1 AND m.policy = $2 ORDER BY k.stage, k.owner_id, k.bucket, k.stale"
    )
    .bind(at)
    .bind(policy)
    .fetch_all(c)
    .await)?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        rows.into_iter()
            .filter_map(|r| {
                Some(AgingCount {
                    stage: r.stage?,
                    owner_id: r.owner_id.filter(|o| !o.is_nil()),
                    bucket: r.bucket?,
                    stale: r.stale?,
                    leads: r.leads?,
                })
            })
            .collect(),
    ))
}

/// Makes the triggers watch writes dated up to `at` from now on and returns the drop count
/// to check when keeping; `None` when the writers did not let go within [`WAIT`] (the
/// report is then computed without being kept).
async fn raise_horizon(db: &Db, at: Micros) -> StoreResult<Option<i64>> {
    let (horizon, version): (i64, i64) = {
        let mut c = db.acquire().await?;
        dispatch!(c.conn(), |c| sqlx::query_as(
            "SELECT horizon, version FROM aging_kept_state WHERE id = 1"
        )
        .fetch_one(c)
        .await)?
    };
    if horizon >= at {
        // Watched already: every write dated by then since counts a drop, so a computation
        // that misses one finds the count changed.
        return Ok(Some(version));
    }
    let Some(mut tx) = begin_briefly(db).await? else {
        return Ok(None);
    };
    let raise = "UPDATE aging_kept_state SET horizon = CASE WHEN horizon < $1 THEN $1 \
                 ELSE horizon END WHERE id = 1 RETURNING version";
    let version = match tx.conn() {
        // SQLite has one writer at a time: a write either committed before this (and the
        // computation sees it) or runs after it and finds the new horizon.
        Conn::Sqlite(c) => Some(
            sqlx::query_scalar(raise)
                .bind(at)
                .fetch_one(&mut *c)
                .await?,
        ),
        Conn::Postgres(c) => {
            // A writer whose trigger read the old horizon may commit after the computation
            // starts, unseen and uncounted: wait for those in flight (SHARE conflicts with
            // writers) before moving the horizon.
            set_lock_timeout(c).await?;
            let locked = sqlx::query(
                "LOCK TABLE activities, leads, stage_history, owner_history IN SHARE MODE",
            )
            .execute(&mut *c)
            .await;
            match locked {
                Ok(_) => Some(
                    sqlx::query_scalar(raise)
                        .bind(at)
                        .fetch_one(&mut *c)
                        .await?,
                ),
                Err(e) if is_lock_timeout(&e) => None,
                Err(e) => return Err(e.into()),
            }
        }
    };
    if version.is_some() {
        tx.commit().await?;
    }
    Ok(version)
}

/// Keeps `rows` as the report as of `at` unless a drop was counted since `version`; keeps
/// nothing under other bounds and limits (they are out of date).
async fn keep(
    db: &Db,
    at: Micros,
    policy: &str,
    version: i64,
    rows: &[AgingCount],
) -> StoreResult<bool> {
    keep_moments(db, policy, version, &[(at, rows.to_vec())]).await
}

/// [`keep`] for several moments in one transaction.
async fn keep_moments(
    db: &Db,
    policy: &str,
    version: i64,
    moments: &[(Micros, Vec<AgingCount>)],
) -> StoreResult<bool> {
    let Some(mut tx) = begin_briefly(db).await? else {
        return Ok(false);
    };
    // On PostgreSQL a trigger's count holds the row until its write commits: wait for it
    // (briefly).
    let now_version: i64 = match tx.conn() {
        Conn::Sqlite(c) => {
            sqlx::query_scalar("SELECT version FROM aging_kept_state WHERE id = 1")
                .fetch_one(&mut *c)
                .await?
        }
        Conn::Postgres(c) => {
            set_lock_timeout(c).await?;
            match sqlx::query_scalar("SELECT version FROM aging_kept_state WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *c)
                .await
            {
                Ok(v) => v,
                Err(e) if is_lock_timeout(&e) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
    };
    if now_version != version {
        return Ok(false);
    }
    // What was kept under other bounds and limits is out of date.
    for sql in [
        "DELETE FROM aging_kept_moments WHERE policy <> $1",
        "DELETE FROM aging_kept WHERE policy <> $1",
    ] {
        dispatch!(tx.conn(), |c| sqlx::query(sql)
            .bind(policy)
            .execute(c)
            .await
            .map(|_| ()))?;
    }
    let kept_at = leadline_domain::time::to_micros(leadline_domain::time::now());
    for (at, _) in moments {
        for sql in [
            "DELETE FROM aging_kept WHERE at = $1",
            "DELETE FROM aging_kept_moments WHERE at = $1",
        ] {
            dispatch!(tx.conn(), |c| sqlx::query(sql)
                .bind(*at)
                .execute(c)
                .await
                .map(|_| ()))?;
        }
        dispatch!(tx.conn(), |c| sqlx::query(
            "INSERT INTO aging_kept_moments (at, policy, kept_at) VALUES ($1, $2, $3)"
        )
        .bind(*at)
        .bind(policy)
        .bind(kept_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    let rows: Vec<(Micros, &AgingCount)> = moments
        .iter()
        .flat_map(|(at, rows)| rows.iter().map(move |r| (*at, r)))
        .collect();
    let backend = tx.conn().backend();
    for chunk in rows.chunks(crate::sql::bulk_rows(backend, 7)) {
        let sql = format!(
            "INSERT INTO aging_kept (at, policy, stage, owner_id, bucket, stale, leads) VALUES {}",
            crate::sql::values_rows(backend, chunk.len(), 7)
        );
        dispatch!(tx.conn(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (at, r) in chunk {
                q = q
                    .bind(*at)
                    .bind(policy)
                    .bind(&r.stage)
                    .bind(r.owner_id.unwrap_or_else(Uuid::nil))
                    .bind(r.bucket)
                    .bind(r.stale)
                    .bind(r.leads);
            }
            q.execute(c).await.map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Leads read per chunk when keeping many moments at once.
const CHUNK: i64 = 5_000;

/// Moments kept per transaction: SQLite's writer is not held for long.
const MOMENTS_PER_WRITE: usize = 30;

/// Keeps the report as of each of `moments` not kept yet under these bounds and limits,
/// computed in one walk over the leads and their timelines (where [`report_past`] probes
/// every lead active since, per moment); returns how many it kept. They are stored
/// [`MOMENTS_PER_WRITE`] at a time; once a write dated by the latest of them has landed
/// since the walk began, the rest are not (the next call computes them again).
pub async fn keep_all(
    db: &Db,
    moments: &[Micros],
    bounds: &[i64],
    stale_days: &[(&str, i64)],
) -> StoreResult<usize> {
    keep_all_by(db, moments, bounds, stale_days, CHUNK).await
}

/// [`keep_all`] reading `chunk` leads at a time.
async fn keep_all_by(
    db: &Db,
    moments: &[Micros],
    bounds: &[i64],
    stale_days: &[(&str, i64)],
    chunk: i64,
) -> StoreResult<usize> {
    let policy = policy_key(bounds, stale_days);
    let Some(oldest) = moments.iter().min().copied() else {
        return Ok(0);
    };
    let kept: std::collections::HashSet<Micros> = {
        let mut c = db.acquire().await?;
        kept_moments(c.conn(), oldest, bounds, stale_days)
            .await?
            .into_iter()
            .collect()
    };
    let missing: Vec<Micros> = moments
        .iter()
        .copied()
        .filter(|m| !kept.contains(m))
        .collect();
    let Some(latest) = missing.iter().max().copied() else {
        return Ok(0);
    };
    let Some(version) = raise_horizon(db, latest).await? else {
        return Ok(0);
    };
    let mut past = PastAging::new(&missing, bounds, stale_days);
    let mut after = None;
    loop {
        let leads = {
            let mut c = db.acquire().await?;
            super::timelines::timelines(c.conn(), after, chunk).await?
        };
        for (_, t) in &leads {
            past.add(t);
        }
        match leads.last() {
            Some((id, _)) if leads.len() as i64 == chunk => after = Some(*id),
            _ => break,
        }
    }
    let moments: Vec<Micros> = past.moments().to_vec();
    let mut by_moment: std::collections::BTreeMap<Micros, Vec<AgingCount>> =
        moments.iter().map(|m| (*m, Vec::new())).collect();
    for c in past.counts() {
        if let Some(rows) = by_moment.get_mut(&c.at) {
            rows.push(AgingCount {
                stage: c.stage,
                owner_id: c.owner,
                bucket: c.bucket,
                stale: i32::from(c.stale),
                leads: c.leads,
            });
        }
    }
    let by_moment: Vec<(Micros, Vec<AgingCount>)> = by_moment.into_iter().collect();
    let mut done = 0;
    for part in by_moment.chunks(MOMENTS_PER_WRITE) {
        if !keep_moments(db, &policy, version, part).await? {
            break;
        }
        done += part.len();
    }
    Ok(done)
}

/// A write transaction, unless SQLite's writer stays busy for [`WAIT`].
async fn begin_briefly(db: &Db) -> StoreResult<Option<DbTx>> {
    match tokio::time::timeout(WAIT, db.begin()).await {
        Ok(tx) => Ok(Some(tx?)),
        Err(_) => Ok(None),
    }
}

/// Makes this PostgreSQL transaction's lock waits give up after [`WAIT`].
async fn set_lock_timeout(c: &mut sqlx::PgConnection) -> StoreResult<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SET LOCAL lock_timeout = '{}ms'",
        WAIT.as_millis()
    )))
    .execute(c)
    .await?;
    Ok(())
}

/// PostgreSQL's "lock not available" (`lock_timeout` ran out).
fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadline_domain::time::{DAY_MICROS, now, to_micros};

    /// A new lead created at `at`.
    fn new_lead(at: Micros) -> leadline_domain::Lead {
        let created = leadline_domain::time::from_micros(at);
        leadline_domain::Lead {
            id: Uuid::now_v7(),
            fields: Default::default(),
            stage: leadline_domain::Stage::New,
            disqualify_reason: None,
            score: 0,
            grade: None,
            created_at: created,
            updated_at: created,
            version: 1,
        }
    }

    /// Kept a few leads at a time (every chunk boundary crossed, a deleted lead between),
    /// the moments are what the report computes one by one.
    #[tokio::test]
    async fn keeping_many_moments_reads_the_leads_chunk_by_chunk() {
        for t in crate::testing::backends().await {
            let db = &t.db;
            let day = to_micros(now()).div_euclid(DAY_MICROS) * DAY_MICROS;
            let bounds = [1, 3];
            let stale = [("new", 2)];
            let mut c = db.acquire().await.unwrap();
            for i in 0..7 {
                let lead = new_lead(day - (9 - i) * DAY_MICROS);
                let created = lead.created_at;
                crate::leads::insert(c.conn(), &lead).await.unwrap();
                let note = leadline_domain::Activity {
                    id: Uuid::now_v7(),
                    lead_id: lead.id,
                    kind: "note".into(),
                    occurred_at: created + chrono::Duration::hours(30 * i),
                    properties: Default::default(),
                    recorded_by: None,
                    created_at: now(),
                };
                crate::activities::insert(c.conn(), &note).await.unwrap();
                if i == 3 {
                    crate::leads::soft_delete(c.conn(), lead.id, to_micros(now()))
                        .await
                        .unwrap();
                }
            }
            let moments: Vec<Micros> = (0..10).map(|k| day - k * DAY_MICROS).collect();
            let mut expected = Vec::new();
            for at in &moments {
                let mut rows =
                    super::super::report_from_leads(c.conn(), *at, &bounds, &stale, true)
                        .await
                        .unwrap();
                rows.retain(|r| r.leads != 0);
                rows.sort_by_key(|r| (r.stage.clone(), r.owner_id, r.bucket, r.stale));
                expected.push(rows);
            }
            drop(c);
            assert_eq!(
                keep_all_by(db, &moments, &bounds, &stale, 2).await.unwrap(),
                moments.len(),
                "{}",
                t.name
            );
            for (at, rows) in moments.iter().zip(expected) {
                let mut c = db.acquire().await.unwrap();
                let policy = policy_key(&bounds, &stale);
                let kept = kept(c.conn(), *at, &policy).await.unwrap();
                assert_eq!(kept, Some(rows), "{}: as of {at}", t.name);
            }
        }
    }

    /// A write dated before the moment that lands between computing a report and keeping it
    /// leaves nothing kept; without one, the report is kept.
    #[tokio::test]
    async fn a_write_during_the_computation_stops_keeping() {
        for t in crate::testing::backends().await {
            let db = &t.db;
            let at = to_micros(now()) - DAY_MICROS;
            let bounds = [1, 7];
            let policy = policy_key(&bounds, &[]);
            for overlapped in [true, false] {
                let version = raise_horizon(db, at).await.unwrap().expect("not contended");
                let rows = {
                    let mut c = db.acquire().await.unwrap();
                    report(c.conn(), at, &bounds, &[], true).await.unwrap()
                };
                if overlapped {
                    let lead = new_lead(at - 1);
                    let mut c = db.acquire().await.unwrap();
                    crate::leads::insert(c.conn(), &lead).await.unwrap();
                }
                let kept = keep(db, at, &policy, version, &rows).await.unwrap();
                assert_eq!(kept, !overlapped, "overlapped by a write: {overlapped}");
                let mut c = db.acquire().await.unwrap();
                assert_eq!(
                    is_kept(c.conn(), at, &bounds, &[]).await.unwrap(),
                    !overlapped
                );
            }
        }
    }
}
