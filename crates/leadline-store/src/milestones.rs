//! When each lead first reached each funnel step (`leads.mql_at` … `won_at`), kept where
//! the stage history, won deals and historical outcomes are written so reports read one
//! row per lead. A later step implies the earlier ones; the earliest time wins, so
//! back-dated history (imports) moves a milestone back, never forward.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use uuid::Uuid;

/// The milestone columns, in funnel order (index 1 = `mql` … 5 = `won`).
const COLUMNS: [&str; 5] = ["mql_at", "sal_at", "sql_at", "converted_at", "won_at"];

/// The funnel step (1 mql … 4 converted) a stage counts as, if any.
pub fn step_of_stage(stage: &str) -> Option<usize> {
    match stage {
        "mql" => Some(1),
        "sal" => Some(2),
        "sql" => Some(3),
        "converted" => Some(4),
        _ => None,
    }
}

/// The step index of `won`.
pub const WON: usize = 5;

/// Records that `lead` reached `step` (1..=5) at `at`, and so every step before it.
pub async fn reach(conn: Conn<'_>, lead: Uuid, step: usize, at: Micros) -> StoreResult<()> {
    let step = step.clamp(1, COLUMNS.len());
    let sets: Vec<String> = COLUMNS[..step]
        .iter()
        .map(|c| format!("{c} = CASE WHEN {c} IS NULL OR {c} > $2 THEN $2 ELSE {c} END"))
        .collect();
    let sql = format!("UPDATE leads SET {} WHERE id = $1", sets.join(", "));
    dispatch!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(lead)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// [`reach`] for many (lead, step, at) at once (bulk paths).
pub async fn reach_many(mut conn: Conn<'_>, items: &[(Uuid, usize, Micros)]) -> StoreResult<()> {
    for &(lead, step, at) in items {
        reach(conn.reborrow(), lead, step, at).await?;
    }
    Ok(())
}

/// Recomputes a lead's milestones from its stage history, won deals and outcome (after a
/// merge or its undo moved history between leads).
pub async fn recompute(mut conn: Conn<'_>, lead: Uuid) -> StoreResult<()> {
    let first = |stages: &str| {
        format!(
            "(SELECT MIN(at) FROM stage_history sh WHERE sh.lead_id = leads.id \
              AND sh.to_stage IN ({stages}))"
        )
    };
    let won = "(SELECT MIN(t) FROM (\
         SELECT closed_at AS t FROM opportunities op WHERE op.lead_id = $1 \
           AND op.stage = 'won' AND op.closed_at IS NOT NULL \
         UNION ALL SELECT recorded_at AS t FROM lead_outcomes o WHERE o.lead_id = $1 \
           AND o.outcome = 'won') w)";
    let sql = format!(
        "UPDATE leads SET mql_at = {}, sal_at = {}, sql_at = {}, converted_at = {}, won_at = {won} \
         WHERE id = $1",
        first("'mql', 'sal', 'sql', 'converted'"),
        first("'sal', 'sql', 'converted'"),
        first("'sql', 'converted'"),
        first("'converted'"),
    );
    dispatch!(conn.reborrow(), |c| sqlx::query(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(lead)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    // A later step implies the earlier ones.
    let won_at: Option<Micros> = dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT won_at FROM leads WHERE id = $1"
    )
    .bind(lead)
    .fetch_optional(c)
    .await)?
    .flatten();
    if let Some(at) = won_at {
        reach(conn.reborrow(), lead, WON, at).await?;
    }
    for step in (2..=4).rev() {
        let col = COLUMNS[step - 1];
        let sql = format!("SELECT {col} FROM leads WHERE id = $1");
        let at: Option<Micros> = dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
            sqlx::AssertSqlSafe(sql.as_str())
        )
        .bind(lead)
        .fetch_optional(c)
        .await)?
        .flatten();
        if let Some(at) = at {
            reach(conn.reborrow(), lead, step, at).await?;
        }
    }
    Ok(())
}
