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
        return scanned_quality_counts(conn, by, s, "").await;
    }
    let mut conn = conn;
    let cuts = super::cut_days(s);
    let mut rows = super::rollup_quality_counts(conn.reborrow(), by, s, &cuts).await?;
    if !cuts.is_empty() {
        let only = super::created_in_days(conn.backend(), &cuts);
        rows.extend(scanned_quality_counts(conn.reborrow(), by, s, &only).await?);
    }
    if s.past {
        // The roll-up holds today's figures: the leads that reached MQL, entered or left
        // `disqualified` (or, by owner, changed owner) since the moment leave as they are
        // now and come back as they were then, in one read. Scores, grades and quarantine
        // are today's either way.
        let owners = by == Dimension::Owner;
        let only = format!(
            "{}{}",
            super::created_not_in_days(&cuts),
            super::moved_on_since(
                conn.backend(),
                super::Since {
                    steps: true,
                    owners,
                    disqualified: true,
                    ..Default::default()
                }
            )
        );
        for m in moved_quality(conn, by, s, &only).await? {
            let (now, then) = m.split(owners);
            rows.push(now.negated());
            rows.push(then);
        }
    }
    let mut rows = super::merge_by(rows, |r| r.key.clone(), QualityCounts::add);
    rows.retain(|r| r.leads != 0);
    Ok(rows)
}

/// Leads that moved on since a past moment, by their group now and owner then and by what
/// differs between now and then (MQL reached, disqualified).
#[derive(Debug, sqlx::FromRow)]
struct MovedQuality {
    #[sqlx(flatten)]
    counts: QualityCounts,
    then_id: Option<uuid::Uuid>,
    mql_now: i32,
    mql_then: i32,
    disq_now: i32,
    disq_then: i32,
}

impl MovedQuality {
    /// The group's figures as the roll-up holds them (now) and as they were then.
    fn split(self, owners: bool) -> (QualityCounts, QualityCounts) {
        let n = self.counts.leads;
        let now = QualityCounts {
            mql: n * i64::from(self.mql_now),
            disqualified: n * i64::from(self.disq_now),
            ..self.counts.clone()
        };
        let mut then = QualityCounts {
            mql: n * i64::from(self.mql_then),
            disqualified: n * i64::from(self.disq_then),
            ..self.counts
        };
        if owners {
            then.key.id = self.then_id;
        }
        (now, then)
    }
}

/// The leads of `only` (more SQL conditions on `l`) in one read, now and then.
async fn moved_quality(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
    only: &str,
) -> StoreResult<Vec<MovedQuality>> {
    let then_id = if by == Dimension::Owner {
        super::OWNER_THEN
    } else {
        "NULL"
    };
    // Grouped as now, a lead's score, grade and quarantine count the same now and then
    // (they are today's either way) and cancel out: only by owner, where its group then can
    // differ, are they read (two lookups per lead fewer otherwise).
    let (measures, joins) = if by == Dimension::Owner {
        (MEASURES.as_str(), JOINS)
    } else {
        (UNREAD_MEASURES, "")
    };
    let sql = format!(
        "SELECT k_text, k_extra, k_id, then_id, mql_now, mql_then, disq_now, disq_then, \
           {measures}, CAST(0 AS BIGINT) AS mql, CAST(0 AS BIGINT) AS disqualified \
         FROM (SELECT l.id, {key}, {then_id} AS then_id, \
                 CASE WHEN l.mql_at IS NOT NULL THEN 1 ELSE 0 END AS mql_now, \
                 CASE WHEN l.mql_at <= $3 THEN 1 ELSE 0 END AS mql_then, \
                 CASE WHEN l.stage = 'disqualified' THEN 1 ELSE 0 END AS disq_now, \
                 CASE WHEN {stage_then} = 'disqualified' THEN 1 ELSE 0 END AS disq_then \
               FROM leads l WHERE {in_period}{only}) l \
         {joins} \
         GROUP BY k_text, k_extra, k_id, then_id, mql_now, mql_then, disq_now, disq_then",
        key = by.select(false),
        stage_then = super::STAGE_THEN,
        in_period = super::leads_in_period(s),
    );
    super::fetch_scoped(conn, &sql, s).await
}

/// Score, grade and quarantine measures over the leads `l` joined by [`JOINS`].
static MEASURES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let grade = |g: &str| {
        format!(
            "SUM(CASE WHEN ls.grade = '{g}' THEN 1 ELSE 0 END) AS grade_{}",
            g.to_lowercase()
        )
    };
    format!(
        "COUNT(*) AS leads, COUNT(ls.score) AS scored, \
         CAST(COALESCE(SUM(ls.score), 0) AS BIGINT) AS score_sum, {}, {}, {}, {}, {}, \
         SUM(CASE WHEN q.action = 'quarantine' THEN 1 ELSE 0 END) AS quarantined",
        grade("A"),
        grade("B"),
        grade("C"),
        grade("D"),
        grade("F")
    )
});

/// [`MEASURES`] but the lead count, as zeros: for leads whose score, grade and quarantine
/// are not read.
const UNREAD_MEASURES: &str = "COUNT(*) AS leads, CAST(0 AS BIGINT) AS scored, \
     CAST(0 AS BIGINT) AS score_sum, CAST(0 AS BIGINT) AS grade_a, CAST(0 AS BIGINT) AS grade_b, \
     CAST(0 AS BIGINT) AS grade_c, CAST(0 AS BIGINT) AS grade_d, CAST(0 AS BIGINT) AS grade_f, \
     CAST(0 AS BIGINT) AS quarantined";

/// A lead's default-model score and its data-quality finding.
const JOINS: &str = "LEFT JOIN lead_scores ls ON ls.lead_id = l.id \
       AND ls.model_key = (SELECT key FROM scoring_models WHERE is_default) \
     LEFT JOIN lead_quality q ON q.lead_id = l.id";

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

/// [`quality_counts`] from the leads (`only`: more SQL conditions on `l`), as they were at
/// the scope's moment.
async fn scanned_quality_counts(
    conn: Conn<'_>,
    by: Dimension,
    s: &Scope,
    only: &str,
) -> StoreResult<Vec<QualityCounts>> {
    let stage = if s.past { super::STAGE_THEN } else { "l.stage" };
    let sql = format!(
        "SELECT k_text, k_extra, k_id, {measures}, \
           SUM(CASE WHEN l.mql_at <= $3 THEN 1 ELSE 0 END) AS mql, \
           SUM(CASE WHEN stage_then = 'disqualified' THEN 1 ELSE 0 END) AS disqualified \
         FROM (SELECT l.id, l.mql_at, {key}, {stage} AS stage_then FROM leads l \
               WHERE {in_period}{only}) l \
         {joins} \
         GROUP BY k_text, k_extra, k_id",
        measures = MEASURES.as_str(),
        in_period = super::leads_in_period(s),
        key = by.select(s.past),
        joins = JOINS,
    );
    super::fetch_scoped(conn, &sql, s).await
}
