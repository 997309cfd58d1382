//! Lead quality by group: score and grade under the default model, how many qualified,
//! were disqualified or were quarantined by the data-quality policy.

use super::{Dimension, GroupKey, Scope};
use crate::db::Conn;
use crate::error::StoreResult;

/// One group's quality figures.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QualityCounts {
    #[sqlx(flatten)]
    pub key: GroupKey,
    pub leads: i64,
    /// Leads with a score under the default model, and the sum of those scores.
    pub scored: i64,
    pub score_sum: i64,
    pub grade_a: i64,
    pub grade_b: i64,
    pub grade_c: i64,
    pub grade_d: i64,
    pub grade_f: i64,
    /// Reached MQL by the report's moment.
    pub mql: i64,
    /// Disqualified at the report's moment.
    pub disqualified: i64,
    /// Quarantined by the data-quality policy.
    pub quarantined: i64,
}

/// Quality figures for leads created in the scope, by group: from the roll-up when it can
/// answer (as of a past moment, corrected by the leads that moved on since), else from the
/// leads.
pub async fn quality_counts(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
) -> StoreResult<Vec<QualityCounts>> {
    if !super::rollup_answers(s) && !super::asof_answers(s) {
        return scanned_quality_counts(conn, by, s, View::Then, "").await;
    }
    let mut conn = conn;
    let cuts = super::cut_days(s, false);
    let mut rows = super::rollup_quality_counts(conn.reborrow(), by, s, &cuts).await?;
    if !cuts.is_empty() {
        let only = super::created_in_days(conn.backend(), &cuts);
        rows.extend(scanned_quality_counts(conn.reborrow(), by, s, View::Then, &only).await?);
    }
    if s.past {
        // The roll-up holds today's figures: the leads that reached MQL, entered or left
        // `disqualified` (or, by owner, changed owner) since the moment leave as they are
        // now and come back as they were then. Scores, grades and quarantine are today's
        // either way.
        let moved = format!(
            "{}{}",
            super::created_not_in_days(&cuts),
            super::moved_on_since(
                conn.backend(),
                super::Since {
                    mql_only: true,
                    owners: by == Dimension::Owner,
                    disqualified: true,
                }
            )
        );
        let now = scanned_quality_counts(conn.reborrow(), by, s, View::Now, &moved).await?;
        rows.extend(now.into_iter().map(QualityCounts::negated));
        rows.extend(scanned_quality_counts(conn, by, s, View::Then, &moved).await?);
    }
    let mut rows = super::merge_by(rows, |r| r.key.clone(), QualityCounts::add);
    rows.retain(|r| r.leads != 0);
    Ok(rows)
}

/// How a scan reads a lead's group, stage and qualification.
#[derive(Debug, Clone, Copy)]
enum View {
    /// As they are now (what the roll-up holds).
    Now,
    /// At the scope's moment.
    Then,
}

impl QualityCounts {
    fn add(&mut self, o: &QualityCounts) {
        self.leads += o.leads;
        self.scored += o.scored;
        self.score_sum += o.score_sum;
        self.grade_a += o.grade_a;
        self.grade_b += o.grade_b;
        self.grade_c += o.grade_c;
        self.grade_d += o.grade_d;
        self.grade_f += o.grade_f;
        self.mql += o.mql;
        self.disqualified += o.disqualified;
        self.quarantined += o.quarantined;
    }

    /// The same counts taken away.
    fn negated(self) -> QualityCounts {
        QualityCounts {
            key: self.key,
            leads: -self.leads,
            scored: -self.scored,
            score_sum: -self.score_sum,
            grade_a: -self.grade_a,
            grade_b: -self.grade_b,
            grade_c: -self.grade_c,
            grade_d: -self.grade_d,
            grade_f: -self.grade_f,
            mql: -self.mql,
            disqualified: -self.disqualified,
            quarantined: -self.quarantined,
        }
    }
}

/// [`quality_counts`] from the leads (`only`: more SQL conditions on `l`), seen as `view`
/// says.
async fn scanned_quality_counts(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
    view: View,
    only: &str,
) -> StoreResult<Vec<QualityCounts>> {
    let (past, mql) = match view {
        View::Now => (false, "l.mql_at IS NOT NULL"),
        View::Then => (s.past, "l.mql_at <= $3"),
    };
    let stage = if past { super::STAGE_THEN } else { "l.stage" };
    let grade = |g: &str| {
        format!(
            "SUM(CASE WHEN ls.grade = '{g}' THEN 1 ELSE 0 END) AS grade_{}",
            g.to_lowercase()
        )
    };
    let sql = format!(
        "SELECT k_text, k_extra, k_id, COUNT(*) AS leads, COUNT(ls.score) AS scored, \
           CAST(COALESCE(SUM(ls.score), 0) AS BIGINT) AS score_sum, {a}, {b}, {c}, {d}, {f}, \
           SUM(CASE WHEN {mql} THEN 1 ELSE 0 END) AS mql, \
           SUM(CASE WHEN stage_then = 'disqualified' THEN 1 ELSE 0 END) AS disqualified, \
           SUM(CASE WHEN q.action = 'quarantine' THEN 1 ELSE 0 END) AS quarantined \
         FROM (SELECT l.id, l.mql_at, {key}, {stage} AS stage_then FROM leads l \
               WHERE {in_period}{only}) l \
         LEFT JOIN lead_scores ls ON ls.lead_id = l.id \
           AND ls.model_key = (SELECT key FROM scoring_models WHERE is_default) \
         LEFT JOIN lead_quality q ON q.lead_id = l.id \
         GROUP BY k_text, k_extra, k_id",
        in_period = super::leads_in_period(s),
        key = by.select(past),
        a = grade("A"),
        b = grade("B"),
        c = grade("C"),
        d = grade("D"),
        f = grade("F"),
    );
    super::fetch_scoped(conn, &sql, s).await
}
