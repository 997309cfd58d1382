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

/// Quality figures for leads created in the scope, by group.
pub async fn quality_counts(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
) -> StoreResult<Vec<QualityCounts>> {
    if super::rollup_answers(s) {
        return super::rollup_quality_counts(conn, by, s).await;
    }
    let stage = if s.past { super::STAGE_THEN } else { "l.stage" };
    let grade = |g: &str| {
        format!(
            "SUM(CASE WHEN ls.grade = '{g}' THEN 1 ELSE 0 END) AS grade_{}",
            g.to_lowercase()
        )
    };
    let sql = format!(
        "SELECT k_text, k_extra, k_id, COUNT(*) AS leads, COUNT(ls.score) AS scored, \
           CAST(COALESCE(SUM(ls.score), 0) AS BIGINT) AS score_sum, {a}, {b}, {c}, {d}, {f}, \
           SUM(CASE WHEN l.mql_at <= $3 THEN 1 ELSE 0 END) AS mql, \
           SUM(CASE WHEN stage_then = 'disqualified' THEN 1 ELSE 0 END) AS disqualified, \
           SUM(CASE WHEN q.action = 'quarantine' THEN 1 ELSE 0 END) AS quarantined \
         FROM (SELECT l.id, l.mql_at, {key}, {stage} AS stage_then FROM leads l \
               WHERE {in_period}) l \
         LEFT JOIN lead_scores ls ON ls.lead_id = l.id \
           AND ls.model_key = (SELECT key FROM scoring_models WHERE is_default) \
         LEFT JOIN lead_quality q ON q.lead_id = l.id \
         GROUP BY k_text, k_extra, k_id",
        in_period = super::leads_in_period(s),
        key = by.select(s.past),
        a = grade("A"),
        b = grade("B"),
        c = grade("C"),
        d = grade("D"),
        f = grade("F"),
    );
    super::fetch_scoped(conn, &sql, s).await
}
