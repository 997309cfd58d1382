//! Live leads with their timelines (activities, stage and owner history), read a chunk of
//! ids at a time: what the aging report as of many moments walks (see
//! `leadline_domain::aging::PastAging`).

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::aging::LeadTimeline;
use leadline_domain::time::Micros;
use std::collections::HashMap;
use uuid::Uuid;

/// Up to `limit` live leads with ids after `after` (from the first without), in id order,
/// each with its timeline.
///
/// The leads are read before their histories: a change committed in between is then on
/// the history but not yet on the lead, and the history's row says what the lead was before
/// it — the same answer as of any earlier moment.
pub async fn timelines(
    mut conn: Conn<'_>,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<(Uuid, LeadTimeline)>> {
    let sql = format!(
        "SELECT id, created_at, stage, owner_id FROM leads \
         WHERE deleted_at IS NULL{} ORDER BY id LIMIT {limit}",
        if after.is_some() { " AND id > $1" } else { "" }
    );
    let leads: Vec<(Uuid, Micros, String, Option<Uuid>)> = dispatch!(conn.reborrow(), |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        if let Some(a) = after {
            q = q.bind(a);
        }
        q.fetch_all(c).await
    })?;
    let (Some(first), Some(last)) = (leads.first().map(|l| l.0), leads.last().map(|l| l.0)) else {
        return Ok(Vec::new());
    };
    let at: HashMap<Uuid, usize> = leads.iter().enumerate().map(|(i, l)| (l.0, i)).collect();
    let mut out: Vec<(Uuid, LeadTimeline)> = leads
        .into_iter()
        .map(|(id, created_at, stage, owner)| {
            (
                id,
                LeadTimeline {
                    created_at,
                    stage,
                    owner,
                    ..Default::default()
                },
            )
        })
        .collect();
    // Rows of deleted leads in the id range are read too, and skipped.
    let activities: Vec<(Uuid, Micros)> = dispatch!(conn.reborrow(), |c| sqlx::query_as(
        "SELECT lead_id, occurred_at FROM activities WHERE lead_id >= $1 AND lead_id <= $2 \
         ORDER BY lead_id, occurred_at"
    )
    .bind(first)
    .bind(last)
    .fetch_all(c)
    .await)?;
    for (lead, t) in activities {
        if let Some(i) = at.get(&lead) {
            out[*i].1.activities.push(t);
        }
    }
    let stages: Vec<(Uuid, Micros, String)> = dispatch!(conn.reborrow(), |c| sqlx::query_as(
        "SELECT lead_id, at, COALESCE(from_stage, to_stage) FROM stage_history \
         WHERE lead_id >= $1 AND lead_id <= $2 ORDER BY lead_id, at, id"
    )
    .bind(first)
    .bind(last)
    .fetch_all(c)
    .await)?;
    for (lead, t, stage) in stages {
        if let Some(i) = at.get(&lead) {
            out[*i].1.stage_changes.push((t, stage));
        }
    }
    let owners: Vec<(Uuid, Micros, Option<Uuid>)> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT lead_id, at, from_owner FROM owner_history \
         WHERE lead_id >= $1 AND lead_id <= $2 ORDER BY lead_id, at, id"
    )
    .bind(first)
    .bind(last)
    .fetch_all(c)
    .await)?;
    for (lead, t, owner) in owners {
        if let Some(i) = at.get(&lead) {
            out[*i].1.owner_changes.push((t, owner));
        }
    }
    Ok(out)
}
