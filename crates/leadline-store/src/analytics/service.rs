//! How sales served leads: time to first touch and SLA compliance (from each lead's
//! first-touch clock), and the time leads spent in each stage (from the stage history).

use super::{Dimension, GroupKey, Scope};
use crate::db::Conn;
use crate::error::StoreResult;

/// First-touch figures of one group.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResponseCounts {
    #[sqlx(flatten)]
    pub key: GroupKey,
    /// Leads whose first-touch clock had started by the moment.
    pub clocks: i64,
    /// … touched by the moment, and the sum of their minutes from start to touch.
    pub touched: i64,
    pub touch_minutes: i64,
    /// Touched by the deadline.
    pub met: i64,
    /// Deadline passed untouched (or touched late).
    pub breached: i64,
}

/// First-touch clocks of leads created in the scope, by group: from the response roll-up
/// (the days a period cuts read one by one), now corrected by the clocks still running, in
/// the past by the leads whose clocks or owners changed since; else from the clocks.
pub async fn response_counts(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
) -> StoreResult<Vec<ResponseCounts>> {
    if !super::rollup_answers(s) && !super::asof_answers(s) {
        return scanned_response_counts(conn, by, s, "").await;
    }
    let mut conn = conn;
    let cuts = super::cut_days(s);
    let mut rows = super::rollup_response_counts(conn.reborrow(), by, s, &cuts).await?;
    if !cuts.is_empty() {
        let only = super::created_in_days(conn.backend(), &cuts);
        rows.extend(scanned_response_counts(conn.reborrow(), by, s, &only).await?);
    }
    // The roll-up counts every untouched clock as breached.
    let not_cut = super::created_not_in_days(&cuts);
    if s.past {
        // Clocks that started, were touched or were running after the moment (and, by
        // owner, leads that changed hands) leave as the roll-up has them and come back as
        // they were, in one read; the running ones are among them.
        let owners = by == Dimension::Owner;
        let moved = super::moved_on_since(
            conn.backend(),
            super::Since {
                owners,
                clocks: true,
                ..Default::default()
            },
        );
        let then = "started_at <= $3";
        let sql = format!(
            "SELECT k_text, k_extra, k_id, then_id, COUNT(*) AS clocks, \
               SUM(CASE WHEN touched_at IS NOT NULL THEN 1 ELSE 0 END) AS touched, \
               CAST(COALESCE(SUM((touched_at - started_at) / 60000000), 0) AS BIGINT) \
                 AS touch_minutes, \
               SUM(CASE WHEN touched_at <= due_at THEN 1 ELSE 0 END) AS met, \
               SUM(CASE WHEN touched_at IS NULL OR touched_at > due_at THEN 1 ELSE 0 END) \
                 AS breached, \
               SUM(CASE WHEN {then} THEN 1 ELSE 0 END) AS clocks_then, \
               SUM(CASE WHEN {then} AND touched_at <= $3 THEN 1 ELSE 0 END) AS touched_then, \
               CAST(COALESCE(SUM(CASE WHEN {then} AND touched_at <= $3 \
                 THEN (touched_at - started_at) / 60000000 END), 0) AS BIGINT) \
                 AS touch_minutes_then, \
               SUM(CASE WHEN {then} AND touched_at <= $3 AND touched_at <= due_at \
                 THEN 1 ELSE 0 END) AS met_then, \
               SUM(CASE WHEN {then} AND due_at <= $3 \
                 AND (touched_at IS NULL OR touched_at > due_at) THEN 1 ELSE 0 END) \
                 AS breached_then \
             FROM (SELECT {key}, {then_id} AS then_id, c.started_at, c.due_at, c.touched_at \
                   FROM leads l JOIN sla_clocks c ON c.lead_id = l.id \
                   WHERE {in_period}{not_cut}{moved}) x \
             GROUP BY k_text, k_extra, k_id, then_id",
            key = by.select(false),
            then_id = if owners { super::OWNER_THEN } else { "NULL" },
            in_period = super::leads_in_period(s),
        );
        for m in super::fetch_scoped::<MovedClocks>(conn, &sql, s).await? {
            let then_key = if owners {
                GroupKey {
                    id: m.then_id,
                    ..m.now.key.clone()
                }
            } else {
                m.now.key.clone()
            };
            rows.push(ResponseCounts {
                clocks: -m.now.clocks,
                touched: -m.now.touched,
                touch_minutes: -m.now.touch_minutes,
                met: -m.now.met,
                breached: -m.now.breached,
                ..m.now
            });
            rows.push(ResponseCounts {
                key: then_key,
                clocks: m.clocks_then,
                touched: m.touched_then,
                touch_minutes: m.touch_minutes_then,
                met: m.met_then,
                breached: m.breached_then,
            });
        }
        return Ok(summed_response_counts(rows, &Default::default()));
    }
    // Now, those whose deadline is still ahead are running (few: the index
    // sla_clocks_open finds them).
    let running = format!(
        "SELECT k_text, k_extra, k_id, COUNT(*) AS n FROM ( \
           SELECT {key} FROM leads l JOIN sla_clocks c ON c.lead_id = l.id \
           WHERE {in_period}{not_cut} AND c.touched_at IS NULL AND c.due_at > $3) x \
         GROUP BY k_text, k_extra, k_id",
        key = by.select(false),
        in_period = super::leads_in_period(s),
    );
    let running: Vec<super::BucketlessCount> = super::fetch_scoped(conn, &running, s).await?;
    let running: std::collections::BTreeMap<GroupKey, i64> =
        running.into_iter().map(|r| (r.key, r.n)).collect();
    Ok(summed_response_counts(rows, &running))
}

/// First-touch figures of leads the roll-up counts wrongly at a past moment: as the
/// roll-up has them (every untouched clock breached) and as they were then.
#[derive(Debug, sqlx::FromRow)]
struct MovedClocks {
    #[sqlx(flatten)]
    now: ResponseCounts,
    /// The owner then (by owner only).
    then_id: Option<uuid::Uuid>,
    clocks_then: i64,
    touched_then: i64,
    touch_minutes_then: i64,
    met_then: i64,
    breached_then: i64,
}

/// Rows of one group summed, less the group's `running` clocks from those breached; groups
/// left without clocks dropped.
fn summed_response_counts(
    rows: Vec<ResponseCounts>,
    running: &std::collections::BTreeMap<GroupKey, i64>,
) -> Vec<ResponseCounts> {
    let mut sums = super::merge_by(
        rows,
        |r| r.key.clone(),
        |t, r| {
            t.clocks += r.clocks;
            t.touched += r.touched;
            t.touch_minutes += r.touch_minutes;
            t.met += r.met;
            t.breached += r.breached;
        },
    );
    for t in &mut sums {
        t.breached -= running.get(&t.key).copied().unwrap_or(0);
    }
    sums.retain(|r| r.clocks != 0);
    sums
}

/// [`response_counts`] from the clocks (`only`: more SQL conditions on `l`).
async fn scanned_response_counts(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
    only: &str,
) -> StoreResult<Vec<ResponseCounts>> {
    let sql = format!(
        "SELECT k_text, k_extra, k_id, COUNT(*) AS clocks, \
           SUM(CASE WHEN touched_at <= $3 THEN 1 ELSE 0 END) AS touched, \
           CAST(COALESCE(SUM(CASE WHEN touched_at <= $3 \
             THEN (touched_at - started_at) / 60000000 END), 0) AS BIGINT) AS touch_minutes, \
           SUM(CASE WHEN touched_at <= $3 AND touched_at <= due_at THEN 1 ELSE 0 END) AS met, \
           SUM(CASE WHEN due_at <= $3 AND (touched_at IS NULL OR touched_at > due_at) \
             THEN 1 ELSE 0 END) AS breached \
         FROM (SELECT {key}, c.started_at, c.due_at, c.touched_at FROM leads l \
               JOIN sla_clocks c ON c.lead_id = l.id \
               WHERE {in_period}{only} AND c.started_at <= $3) x \
         GROUP BY k_text, k_extra, k_id",
        in_period = super::leads_in_period(s),
        key = by.select(s.past)
    );
    super::fetch_scoped(conn, &sql, s).await
}

/// Time spent in one stage by leads created in the scope.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StageTime {
    pub stage: String,
    /// Stays that ended by the moment, and their total length in seconds.
    pub ended: i64,
    pub ended_seconds: i64,
    /// Leads still in the stage at the moment, and the total of their time so far.
    pub current: i64,
    pub current_seconds: i64,
}

/// Stays in each stage (consecutive stage-history rows of a lead) up to the moment: from
/// the stage roll-up when it can answer (no filter; now, or a past moment corrected by the
/// leads whose stages changed since), else from the history.
/// Times are whole seconds: a current stay counts from its start's second to the moment's.
pub async fn stage_times(conn: Conn<'_>, s: &Scope) -> StoreResult<Vec<StageTime>> {
    if !((super::rollup_answers(s) || super::asof_answers(s)) && s.filter.is_empty()) {
        return scanned_stage_times(conn, s, "").await;
    }
    let mut conn = conn;
    let cuts = super::cut_days(s);
    let mut rows = super::rollup_stage_times(conn.reborrow(), s, &cuts).await?;
    if !cuts.is_empty() {
        let only = super::created_in_days(conn.backend(), &cuts);
        rows.extend(scanned_stage_times(conn.reborrow(), s, &only).await?);
    }
    if s.past {
        // The roll-up holds every stay there is now, an open one counted up to the moment.
        // A lead without a stage change after the moment had exactly those stays then; the
        // others leave as they are now and come back as they were, in one read: a stay had
        // ended by then if the next one had started. They come from the index of the
        // lead's latest change, which holds its creation too, so the period and the cut
        // days are checked there and the lead is not read (no filter reaches here); their
        // history from its index alone, in window order (0038).
        let backend = conn.backend();
        let moved = super::id_in(
            backend,
            "sh.lead_id",
            &format!(
                "SELECT l.id FROM leads l{} WHERE l.deleted_at IS NULL \
                 AND l.stage_changed_at > $3 AND l.created_at <= $3 \
                 AND l.created_at >= $1 AND l.created_at < $2{}",
                match backend {
                    crate::Backend::Sqlite => " INDEXED BY leads_stage_changed",
                    crate::Backend::Postgres => "",
                },
                super::created_not_in_days(&cuts),
            ),
        );
        let secs = "CAST(COALESCE(SUM(CASE WHEN";
        let sql = format!(
            "SELECT to_stage AS stage, \
               SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END) AS ended, \
               {secs} next_at IS NOT NULL THEN (next_at - at) / 1000000 END), 0) AS BIGINT) \
                 AS ended_seconds, \
               SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END) AS current, \
               {secs} next_at IS NULL THEN $3 / 1000000 - at / 1000000 END), 0) AS BIGINT) \
                 AS current_seconds, \
               SUM(CASE WHEN at <= $3 AND next_at <= $3 THEN 1 ELSE 0 END) AS ended_then, \
               {secs} at <= $3 AND next_at <= $3 THEN (next_at - at) / 1000000 END), 0) \
                 AS BIGINT) AS ended_seconds_then, \
               SUM(CASE WHEN at <= $3 AND (next_at IS NULL OR next_at > $3) THEN 1 ELSE 0 END) \
                 AS current_then, \
               {secs} at <= $3 AND (next_at IS NULL OR next_at > $3) \
                 THEN $3 / 1000000 - at / 1000000 END), 0) AS BIGINT) AS current_seconds_then \
             FROM (SELECT sh.to_stage, sh.at, \
                     LEAD(sh.at) OVER (PARTITION BY sh.lead_id ORDER BY sh.at, sh.id) AS next_at \
                   FROM stage_history sh WHERE {moved}) x \
             GROUP BY to_stage"
        );
        for m in super::fetch_scoped::<MovedStays>(conn, &sql, s).await? {
            rows.push(StageTime {
                stage: m.now.stage.clone(),
                ended: m.ended_then - m.now.ended,
                ended_seconds: m.ended_seconds_then - m.now.ended_seconds,
                current: m.current_then - m.now.current,
                current_seconds: m.current_seconds_then - m.now.current_seconds,
            });
        }
    }
    let mut rows = super::merge_by(
        rows,
        |r| r.stage.clone(),
        |t, r| {
            t.ended += r.ended;
            t.ended_seconds += r.ended_seconds;
            t.current += r.current;
            t.current_seconds += r.current_seconds;
        },
    );
    rows.retain(|r| r.ended != 0 || r.current != 0);
    Ok(rows)
}

/// Stays of leads the roll-up counts wrongly at a past moment, by stage: as the roll-up
/// has them and as they were then.
#[derive(Debug, sqlx::FromRow)]
struct MovedStays {
    #[sqlx(flatten)]
    now: StageTime,
    ended_then: i64,
    ended_seconds_then: i64,
    current_then: i64,
    current_seconds_then: i64,
}

/// [`stage_times`] from the stage history (`only`: more SQL conditions on `l`).
async fn scanned_stage_times(conn: Conn<'_>, s: &Scope, only: &str) -> StoreResult<Vec<StageTime>> {
    let sql = format!(
        "SELECT to_stage AS stage, \
           SUM(CASE WHEN next_at IS NOT NULL THEN 1 ELSE 0 END) AS ended, \
           CAST(COALESCE(SUM(CASE WHEN next_at IS NOT NULL THEN (next_at - at) / 1000000 END), 0) AS BIGINT) AS ended_seconds, \
           SUM(CASE WHEN next_at IS NULL THEN 1 ELSE 0 END) AS current, \
           CAST(COALESCE(SUM(CASE WHEN next_at IS NULL THEN $3 / 1000000 - at / 1000000 END), 0) AS BIGINT) AS current_seconds \
         FROM (SELECT sh.to_stage, sh.at, \
                 LEAD(sh.at) OVER (PARTITION BY sh.lead_id ORDER BY sh.at, sh.id) AS next_at \
               FROM leads l JOIN stage_history sh ON sh.lead_id = l.id \
               WHERE {in_period}{only} AND sh.at <= $3) x \
         GROUP BY to_stage",
        in_period = super::leads_in_period(s),
    );
    super::fetch_scoped(conn, &sql, s).await
}
