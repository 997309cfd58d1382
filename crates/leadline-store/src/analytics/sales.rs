//! Opportunities: pipeline, won and lost deals, cycle length per group and currency; open
//! deals by expected close month for the forecast; the stage-to-win history it learns from;
//! won deals with the touches of their leads for attribution.

use super::{GroupKey, Scope};
use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// What deals are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealDimension {
    All,
    /// The deal's owner (its current one: deal owners have no history).
    Owner,
    /// The deal's source, else its lead's first source.
    Source,
    Campaign,
    /// The lead's first medium (with the source, for channels).
    Channel,
    Team,
}

impl DealDimension {
    /// The join to the deal's lead (`l`), only for its team: what else the groups read of
    /// the lead (its first touch) is kept on the deal (migration 0036).
    fn lead_join(self) -> &'static str {
        match self {
            DealDimension::Team => "LEFT JOIN leads l ON l.id = o.lead_id",
            _ => "",
        }
    }

    fn select(self) -> &'static str {
        match self {
            DealDimension::All => "'' AS k_text, '' AS k_extra, NULL AS k_id",
            DealDimension::Owner => "'' AS k_text, '' AS k_extra, o.owner_id AS k_id",
            DealDimension::Source => {
                "COALESCE(o.source, o.lead_source, '') AS k_text, '' AS k_extra, NULL AS k_id"
            }
            DealDimension::Campaign => {
                "COALESCE(o.campaign, o.lead_campaign, '') AS k_text, '' AS k_extra, NULL AS k_id"
            }
            DealDimension::Channel => {
                "COALESCE(o.source, o.lead_source, '') AS k_text, \
                 COALESCE(o.lead_medium, '') AS k_extra, NULL AS k_id"
            }
            DealDimension::Team => "'' AS k_text, '' AS k_extra, l.team_id AS k_id",
        }
    }
}

/// SQL for a deal's stage at `$3`: from its history when `past`, else its stage now.
fn stage_then(past: bool) -> &'static str {
    if past {
        "COALESCE((SELECT h.to_stage FROM opportunity_history h WHERE h.opportunity_id = o.id \
          AND h.at <= $3 ORDER BY h.at DESC LIMIT 1), o.stage)"
    } else {
        "o.stage"
    }
}

/// `CASE` mapping a stage (column `st`) to its probability, from the configured pipeline.
fn probability_case(probabilities: &[(String, u8)]) -> String {
    if probabilities.is_empty() {
        return "0".into();
    }
    let arms: String = probabilities
        .iter()
        .map(|(k, p)| format!(" WHEN '{}' THEN {p}", k.replace('\'', "''")))
        .collect();
    format!("CASE st{arms} ELSE 0 END")
}

/// One group's deal figures in one currency (amounts in minor units; a deal without an
/// amount counts with 0).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DealCounts {
    #[sqlx(flatten)]
    pub key: GroupKey,
    pub currency: String,
    /// Open at the moment (created by then, not closed by then).
    pub open: i64,
    pub pipeline: i64,
    /// Σ amount × stage probability / 100 at the moment.
    pub weighted: i64,
    /// Closed won / lost in the period, by the moment.
    pub won: i64,
    pub won_amount: i64,
    pub lost: i64,
    /// Won deals with a lead, and the total seconds from lead creation to the win.
    pub cycles: i64,
    pub cycle_seconds: i64,
}

/// Deal figures by group and currency: open pipeline at `as_of`, won and lost in
/// `[from, to)`. The lead's creation (the cycle) and first touch (the groups) are read off
/// the deal (0036): looking the lead up was most of the report's time. Only the team
/// needs the lead itself.
pub async fn deal_counts(
    conn: Conn<'_>,
    by: DealDimension,
    s: &Scope,
    probabilities: &[(String, u8)],
) -> StoreResult<Vec<DealCounts>> {
    let closed_in = "d.closed_at >= $1 AND d.closed_at < $2 AND d.closed_at <= $3";
    let sql = format!(
        "SELECT k_text, k_extra, k_id, currency, \
           SUM(CASE WHEN is_open = 1 THEN 1 ELSE 0 END) AS open, \
           CAST(COALESCE(SUM(CASE WHEN is_open = 1 THEN amount END), 0) AS BIGINT) AS pipeline, \
           CAST(COALESCE(SUM(CASE WHEN is_open = 1 THEN amount * ({prob}) / 100 END), 0) AS BIGINT) AS weighted, \
           SUM(CASE WHEN d.stage = 'won' AND {closed_in} THEN 1 ELSE 0 END) AS won, \
           CAST(COALESCE(SUM(CASE WHEN d.stage = 'won' AND {closed_in} THEN amount END), 0) AS BIGINT) AS won_amount, \
           SUM(CASE WHEN d.stage = 'lost' AND {closed_in} THEN 1 ELSE 0 END) AS lost, \
           SUM(CASE WHEN d.stage = 'won' AND {closed_in} AND lead_created IS NOT NULL THEN 1 ELSE 0 END) AS cycles, \
           CAST(COALESCE(SUM(CASE WHEN d.stage = 'won' AND {closed_in} AND lead_created IS NOT NULL \
             THEN (d.closed_at - lead_created) / 1000000 END), 0) AS BIGINT) AS cycle_seconds \
         FROM (SELECT {key}, COALESCE(o.currency, '') AS currency, COALESCE(o.amount, 0) AS amount, \
                 o.stage, o.closed_at, o.lead_created_at AS lead_created, {st} AS st, \
                 CASE WHEN o.created_at <= $3 AND (o.closed_at IS NULL OR o.closed_at > $3) \
                   THEN 1 ELSE 0 END AS is_open \
               FROM opportunities o {key_join} \
               WHERE o.created_at <= $3{filter}) d \
         GROUP BY k_text, k_extra, k_id, currency",
        key = by.select(),
        key_join = by.lead_join(),
        st = stage_then(s.past),
        prob = probability_case(probabilities),
        filter = s.filter.sql(&super::FilterColumns::deal(), 4),
    );
    super::fetch_scoped(conn, &sql, s).await
}

/// Open deals at a moment by expected close month (`YYYY-MM`, empty when none), currency
/// and stage at that moment.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenDeals {
    pub month: String,
    pub currency: String,
    pub stage: String,
    pub deals: i64,
    pub amount: i64,
}

/// Deals open at `at` (created by then, not closed by then), by close month, currency and
/// the stage they were in at `at`.
pub async fn open_deals(mut conn: Conn<'_>, at: Micros) -> StoreResult<Vec<OpenDeals>> {
    let sql = format!(
        "SELECT month, currency, st AS stage, COUNT(*) AS deals, \
           CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS amount \
         FROM (SELECT COALESCE(SUBSTR(o.close_date, 1, 7), '') AS month, \
                 COALESCE(o.currency, '') AS currency, COALESCE(o.amount, 0) AS amount, {st} AS st \
               FROM opportunities o WHERE o.created_at <= $3 \
                 AND (o.closed_at IS NULL OR o.closed_at > $3)) d \
         GROUP BY month, currency, st",
        st = stage_then(true)
    );
    // `$3` is the only bind; `$1`/`$2` keep the numbering shared with the other queries.
    let sql = sql.replace("$3", "$1");
    Ok(dispatch!(conn.reborrow(), |c| sqlx::query_as(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(at)
    .fetch_all(c)
    .await)?)
}

/// Won deals by bucket of the close (of `bucket` micros) and currency, closed in
/// `[from, to)`.
pub async fn won_by_month(
    conn: Conn<'_>,
    from: Micros,
    to: Micros,
    bucket: i64,
) -> StoreResult<Vec<(i64, String, i64, i64)>> {
    let sql = format!(
        "SELECT CAST(closed_at / {b} AS BIGINT) AS bucket, COALESCE(currency, '') AS currency, \
           COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) \
         FROM opportunities WHERE stage = 'won' AND closed_at >= $1 AND closed_at < $2 \
         GROUP BY 1, 2",
        b = bucket.max(1)
    );
    Ok(dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await)?)
}

/// For each stage, how many deals closed by `at` had passed through it, and how many of
/// those were won: the history the forecast learns stage-to-win rates from.
pub async fn stage_outcomes(conn: Conn<'_>, at: Micros) -> StoreResult<Vec<(String, i64, i64)>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT h.to_stage, COUNT(DISTINCT o.id), \
           COUNT(DISTINCT CASE WHEN o.stage = 'won' THEN o.id END) \
         FROM opportunity_history h JOIN opportunities o ON o.id = h.opportunity_id \
         WHERE o.closed_at IS NOT NULL AND o.closed_at <= $1 AND o.stage IN ('won', 'lost') \
           AND h.at <= o.closed_at \
         GROUP BY h.to_stage"
    )
    .bind(at)
    .fetch_all(c)
    .await)?)
}

/// A won deal for attribution: its lead, amount, currency and when it was won.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WonDeal {
    pub lead_id: Uuid,
    pub amount: i64,
    pub currency: String,
    pub closed_at: Micros,
    /// The lead's creation and first touch (the journey's first touch).
    pub lead_created: Micros,
    pub first_source: Option<String>,
    pub first_medium: Option<String>,
    pub first_campaign: Option<String>,
}

/// Deals won in `[from, to)` (closed by `as_of`) that came from a lead.
pub async fn won_deals(conn: Conn<'_>, s: &Scope) -> StoreResult<Vec<WonDeal>> {
    let sql = format!(
        "SELECT o.lead_id, COALESCE(o.amount, 0) AS amount, COALESCE(o.currency, '') AS currency, \
           o.closed_at, o.lead_created_at AS lead_created, o.lead_source AS first_source, \
           o.lead_medium AS first_medium, o.lead_campaign AS first_campaign \
         FROM opportunities o \
         WHERE o.stage = 'won' AND o.lead_created_at IS NOT NULL \
           AND o.closed_at >= $1 AND o.closed_at < $2 \
           AND o.closed_at <= $3{filter} \
         ORDER BY o.closed_at, o.id",
        filter = s.filter.sql(&super::FilterColumns::deal(), 4),
    );
    super::fetch_scoped(conn, &sql, s).await
}

/// A marketing touch on a lead's timeline after its creation: an activity carrying UTM
/// parameters (a tracked visit, a form submission) or an email click.
#[derive(Debug, Clone)]
pub struct TouchRow {
    pub lead_id: Uuid,
    pub at: Micros,
    pub kind: String,
    pub properties: String,
}

/// The touch activities of the leads behind the deals won in the scope, up to each win
/// (one statement: activities are reached through the partial index `activities_touches`,
/// migration 0026, whose predicate is the touch condition here, word for word).
pub async fn won_touches(conn: Conn<'_>, s: &Scope) -> StoreResult<Vec<TouchRow>> {
    // DISTINCT: a lead with two won deals must not count its touches twice.
    let sql = format!(
        "SELECT DISTINCT a.id, a.lead_id, a.occurred_at, a.kind, CAST(a.properties AS TEXT) \
         FROM opportunities o JOIN activities a ON a.lead_id = o.lead_id \
           AND a.occurred_at <= o.closed_at \
         WHERE o.stage = 'won' AND o.closed_at >= $1 AND o.closed_at < $2 \
           AND o.closed_at <= $3{filter} \
           AND (a.kind IN ('email_clicked', 'link_clicked') \
                OR CAST(a.properties AS TEXT) LIKE '%utm_source%') \
         ORDER BY a.lead_id, a.occurred_at",
        filter = s.filter.sql(&super::FilterColumns::deal(), 4),
    );
    let rows: Vec<(Uuid, Uuid, Micros, String, String)> =
        super::fetch_scoped(conn, &sql, s).await?;
    Ok(rows
        .into_iter()
        .map(|(_, lead_id, at, kind, properties)| TouchRow {
            lead_id,
            at,
            kind,
            properties,
        })
        .collect())
}

/// A campaign cost overlapping a period: campaign key and channel, the cost's own period
/// (inclusive ISO days), amount in minor units and currency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CostRow {
    pub campaign: String,
    pub channel: String,
    pub period_start: String,
    pub period_end: String,
    pub amount: i64,
    pub currency: String,
}

/// Campaign costs whose period overlaps `[from, to]` (ISO days, inclusive).
pub async fn costs_overlapping(conn: Conn<'_>, from: &str, to: &str) -> StoreResult<Vec<CostRow>> {
    Ok(dispatch!(conn, |c| sqlx::query_as(
        "SELECT c.key AS campaign, c.channel, k.period_start, k.period_end, k.amount, k.currency \
         FROM campaign_costs k JOIN campaigns c ON c.id = k.campaign_id \
         WHERE k.period_end >= $1 AND k.period_start <= $2 ORDER BY c.key, k.period_start"
    )
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await)?)
}
