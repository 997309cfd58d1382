//! Each lead's verification, what its source's policy did with it, and review decisions.

use crate::db::Conn;
use crate::error::{StoreError, StoreResult};
use leadline_domain::quality::verify::{Action, Finding, Verification, VerificationStatus};
use leadline_domain::time::Micros;
use sqlx::types::Json;
use uuid::Uuid;

fn status(s: &str) -> StoreResult<VerificationStatus> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::Corrupt(format!("verification status: {e}")))
}

fn action(s: &str) -> StoreResult<Action> {
    Action::parse(s).ok_or_else(|| StoreError::Corrupt(format!("quality action {s}")))
}

/// A lead's stored verification.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityRow {
    pub lead_id: Uuid,
    pub verification: Verification,
    pub action: Action,
    pub checked_at: Micros,
    /// `approved` or `rejected`, once a person looked.
    pub decision: Option<String>,
    pub reviewed_by: Option<String>,
}

type Row = (
    Uuid,
    String,
    Json<Vec<Finding>>,
    String,
    Micros,
    Option<String>,
    Option<String>,
);

fn row(r: Row) -> StoreResult<QualityRow> {
    Ok(QualityRow {
        lead_id: r.0,
        verification: Verification {
            status: status(&r.1)?,
            findings: r.2.0,
        },
        action: action(&r.3)?,
        checked_at: r.4,
        decision: r.5,
        reviewed_by: r.6,
    })
}

const COLUMNS: &str = "lead_id, status, findings, action, checked_at, decision, reviewed_by";

/// Records (or replaces) a lead's verification and action; a review decision stays.
pub async fn upsert(
    conn: Conn<'_>,
    lead_id: Uuid,
    v: &Verification,
    act: Action,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO lead_quality (lead_id, status, findings, action, checked_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (lead_id) DO UPDATE SET status = excluded.status, findings = excluded.findings, \
         action = excluded.action, checked_at = excluded.checked_at"
    )
    .bind(lead_id)
    .bind(v.status.as_str())
    .bind(Json(&v.findings))
    .bind(act.as_str())
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Records the verification of many new leads (multi-row inserts; a lead already
/// checked keeps its row).
pub async fn insert_many(
    mut conn: Conn<'_>,
    items: &[(Uuid, Verification, Action)],
    at: Micros,
) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    // PostgreSQL: one statement over arrays (a VALUES list of thousands of parameters costs
    // more to plan than to run).
    if let Conn::Postgres(c) = conn.reborrow() {
        let ids: Vec<Uuid> = items.iter().map(|(id, _, _)| *id).collect();
        let statuses: Vec<&str> = items.iter().map(|(_, v, _)| v.status.as_str()).collect();
        let findings: Vec<Json<&Vec<Finding>>> =
            items.iter().map(|(_, v, _)| Json(&v.findings)).collect();
        let actions: Vec<&str> = items.iter().map(|(_, _, a)| a.as_str()).collect();
        sqlx::query(
            "INSERT INTO lead_quality (lead_id, status, findings, action, checked_at) \
             SELECT *, $5 FROM UNNEST($1::uuid[], $2::text[], $3::jsonb[], $4::text[]) \
             ON CONFLICT (lead_id) DO NOTHING",
        )
        .bind(&ids)
        .bind(&statuses)
        .bind(&findings)
        .bind(&actions)
        .bind(at)
        .execute(c)
        .await?;
        return Ok(());
    }
    for chunk in items.chunks(crate::sql::bulk_rows(conn.backend(), 5)) {
        let sql = format!(
            "INSERT INTO lead_quality (lead_id, status, findings, action, checked_at) VALUES {} \
             ON CONFLICT (lead_id) DO NOTHING",
            crate::sql::values_rows(conn.backend(), chunk.len(), 5)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (id, v, act) in chunk {
                q = q
                    .bind(id)
                    .bind(v.status.as_str())
                    .bind(Json(&v.findings))
                    .bind(act.as_str())
                    .bind(at);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// A lead's verification.
pub async fn get(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Option<QualityRow>> {
    let sql = format!("SELECT {COLUMNS} FROM lead_quality WHERE lead_id = $1");
    let r: Option<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(lead_id)
        .fetch_optional(c)
        .await)?;
    r.map(row).transpose()
}

/// Leads waiting for review (action `review` or `quarantine`, no decision), oldest first,
/// after `(checked_at, lead_id)` of the previous page; deleted leads are left out.
pub async fn queue(
    conn: Conn<'_>,
    after: Option<(Micros, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<QualityRow>> {
    let (at, id) = after.unwrap_or((i64::MIN, Uuid::nil()));
    let sql = format!(
        "SELECT q.{} FROM lead_quality q JOIN leads l ON l.id = q.lead_id \
         WHERE q.decision IS NULL AND q.action <> 'accept' AND l.deleted_at IS NULL \
         AND (q.checked_at > $1 OR (q.checked_at = $1 AND q.lead_id > $2)) \
         ORDER BY q.checked_at, q.lead_id LIMIT $3",
        COLUMNS.replace(", ", ", q.")
    );
    let rows: Vec<Row> = dispatch!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    rows.into_iter().map(row).collect()
}

/// Records a review decision. Returns false when the lead was not waiting for one.
pub async fn decide(
    conn: Conn<'_>,
    lead_id: Uuid,
    decision: &str,
    by: &str,
    at: Micros,
) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "UPDATE lead_quality SET decision = $2, reviewed_by = $3, reviewed_at = $4 \
         WHERE lead_id = $1 AND decision IS NULL AND action <> 'accept'"
    )
    .bind(lead_id)
    .bind(decision)
    .bind(by)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Replaces a lead's matching keys.
pub async fn set_keys(mut conn: Conn<'_>, lead_id: Uuid, keys: &[String]) -> StoreResult<()> {
    dispatch!(conn.reborrow(), |c| sqlx::query(
        "DELETE FROM lead_keys WHERE lead_id = $1"
    )
    .bind(lead_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if keys.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO lead_keys (key, lead_id) VALUES {} ON CONFLICT DO NOTHING",
        crate::sql::values_rows(conn.backend(), keys.len(), 2)
    );
    dispatch!(conn, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for k in keys {
            q = q.bind(k).bind(lead_id);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The oldest live lead filed under `key`. Two steps, the key's leads by the key index and
/// then the oldest of them: as one join with `ORDER BY … LIMIT 1`, PostgreSQL may walk
/// every lead by creation time looking for one with the key (seconds at a million leads
/// for a key nobody has, which is every new lead's).
pub async fn lead_with_key(mut conn: Conn<'_>, key: &str) -> StoreResult<Option<Uuid>> {
    let ids: Vec<Uuid> = dispatch!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT lead_id FROM lead_keys WHERE key = $1 LIMIT 1000"
    )
    .bind(key)
    .fetch_all(c)
    .await)?;
    if ids.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT id FROM leads WHERE deleted_at IS NULL AND id IN ({}) \
         ORDER BY created_at, id LIMIT 1",
        crate::sql::placeholders(ids.len(), 0)
    );
    Ok(dispatch!(conn, |c| {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()));
        for id in &ids {
            q = q.bind(*id);
        }
        q.fetch_optional(c).await
    })?)
}

/// Replaces the matching keys of many leads at once (batch path).
pub async fn set_keys_many(mut conn: Conn<'_>, items: &[(Uuid, Vec<String>)]) -> StoreResult<()> {
    for chunk in items.chunks(500) {
        let sql = format!(
            "DELETE FROM lead_keys WHERE lead_id IN ({})",
            crate::sql::placeholders(chunk.len(), 0)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (id, _) in chunk {
                q = q.bind(id);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    add_keys(conn, items).await
}

/// Files new leads under their keys (no old keys to replace).
pub async fn add_keys(mut conn: Conn<'_>, items: &[(Uuid, Vec<String>)]) -> StoreResult<()> {
    let pairs: Vec<(&String, Uuid)> = items
        .iter()
        .flat_map(|(id, keys)| keys.iter().map(move |k| (k, *id)))
        .collect();
    if let Conn::Postgres(c) = conn.reborrow() {
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        let ids: Vec<Uuid> = pairs.iter().map(|(_, id)| *id).collect();
        sqlx::query(
            "INSERT INTO lead_keys (key, lead_id) SELECT * FROM UNNEST($1::text[], $2::uuid[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&keys)
        .bind(&ids)
        .execute(c)
        .await?;
        return Ok(());
    }
    for chunk in pairs.chunks(crate::sql::bulk_rows(conn.backend(), 2)) {
        let sql = format!(
            "INSERT INTO lead_keys (key, lead_id) VALUES {} ON CONFLICT DO NOTHING",
            crate::sql::values_rows(conn.backend(), chunk.len(), 2)
        );
        dispatch!(conn.reborrow(), |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (k, id) in chunk {
                q = q.bind(*k).bind(id);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Key groups after the key `after`, read `rows` rows of the key index at a time (an index
/// walk on both engines; a `GROUP BY … HAVING` per page made PostgreSQL aggregate the rest
/// of the table every time). Returns the groups of 2 to `max_group` leads and the key to
/// continue after; `None` when the index is exhausted.
pub async fn shared_keys_page(
    conn: Conn<'_>,
    max_group: usize,
    after: &str,
    rows: i64,
) -> StoreResult<(Vec<(String, Vec<Uuid>)>, Option<String>)> {
    // A page must hold more rows than a group may have, so a key filling a page is known
    // to be over the limit.
    let rows = rows.max(max_group as i64 + 1);
    let page: Vec<(String, Uuid)> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT key, lead_id FROM lead_keys WHERE key > $1 ORDER BY key, lead_id LIMIT $2"
    )
    .bind(after)
    .bind(rows)
    .fetch_all(c)
    .await)?;
    let full = page.len() as i64 == rows;
    let Some(last_key) = page.last().map(|(k, _)| k.clone()) else {
        return Ok((Vec::new(), None));
    };
    let mut groups: Vec<(String, Vec<Uuid>)> = Vec::new();
    for chunk in page.chunk_by(|a, b| a.0 == b.0) {
        groups.push((
            chunk[0].0.clone(),
            chunk.iter().map(|(_, id)| *id).collect(),
        ));
    }
    // The last group may go on in the next page: read it again from there, unless it
    // filled the whole page (then it is over the limit: skip past it).
    let next = if !full {
        Some(last_key)
    } else if groups.len() > 1 {
        groups.pop();
        groups.last().map(|(k, _)| k.clone())
    } else {
        groups.clear();
        Some(last_key)
    };
    groups.retain(|(_, ids)| (2..=max_group).contains(&ids.len()));
    Ok((groups, next))
}

/// Keys shared by more than `max_group` leads (not expanded into pairs).
pub async fn oversized_keys(conn: Conn<'_>, max_group: i64) -> StoreResult<Vec<String>> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT key FROM lead_keys GROUP BY key HAVING COUNT(*) > $1"
    )
    .bind(max_group)
    .fetch_all(c)
    .await)?)
}

/// Verified leads counted by first-touch source and status.
pub async fn status_by_source(conn: Conn<'_>) -> StoreResult<Vec<(Option<String>, String, i64)>> {
    Ok(dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT l.first_source, q.status, COUNT(*) FROM lead_quality q JOIN leads l ON l.id = q.lead_id \
         WHERE l.deleted_at IS NULL GROUP BY l.first_source, q.status ORDER BY l.first_source, q.status"
    )
    .fetch_all(c)
    .await
    })?)
}

/// How many live leads have each contact field filled: total, email, phone or mobile,
/// company, title, country.
pub async fn completeness(conn: Conn<'_>) -> StoreResult<(i64, i64, i64, i64, i64, i64)> {
    Ok(dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT COUNT(*), COUNT(email), COALESCE(SUM(CASE WHEN phone IS NOT NULL OR mobile IS NOT NULL THEN 1 ELSE 0 END), 0), \
         COUNT(company), COUNT(title), COUNT(country) FROM leads WHERE deleted_at IS NULL"
    )
    .fetch_one(c)
    .await
    })?)
}

/// How many live leads wait for review.
pub async fn queue_count(conn: Conn<'_>) -> StoreResult<i64> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM lead_quality q JOIN leads l ON l.id = q.lead_id \
         WHERE q.decision IS NULL AND q.action <> 'accept' AND l.deleted_at IS NULL"
    )
    .fetch_one(c)
    .await)?)
}
