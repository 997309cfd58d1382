//! Anonymous visitors, their events before they identify themselves, and tracked links.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::time::Micros;
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

/// Records that a visitor was seen; returns the lead they were identified as, if any.
pub async fn touch_visitor(mut conn: Conn<'_>, id: &str, at: Micros) -> StoreResult<Option<Uuid>> {
    dispatch!(conn.reborrow(), |c| sqlx::query(
        "INSERT INTO visitors (id, lead_id, first_seen_at, last_seen_at) VALUES ($1, NULL, $2, $2) \
         ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at"
    )
    .bind(id)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    let lead: Option<Option<Uuid>> = dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT v.lead_id FROM visitors v LEFT JOIN leads l ON l.id = v.lead_id \
         WHERE v.id = $1 AND (v.lead_id IS NULL OR l.deleted_at IS NULL)"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(lead.flatten())
}

/// Keeps an event of a visitor not yet identified.
pub async fn insert_event(
    conn: Conn<'_>,
    visitor_id: &str,
    kind: &str,
    occurred_at: Micros,
    properties: &Map<String, Value>,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO visitor_events (id, visitor_id, kind, occurred_at, properties) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(Uuid::now_v7())
    .bind(visitor_id)
    .bind(kind)
    .bind(occurred_at)
    .bind(Json(crate::sql::map_without_nul(properties)))
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Identifies a visitor as a lead and moves their anonymous events onto the lead's
/// timeline. Returns how many events moved.
pub async fn identify(
    mut conn: Conn<'_>,
    visitor_id: &str,
    lead_id: Uuid,
    at: Micros,
) -> StoreResult<u64> {
    dispatch!(conn.reborrow(), |c| {
        sqlx::query(
        "INSERT INTO visitors (id, lead_id, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (id) DO UPDATE SET lead_id = excluded.lead_id, last_seen_at = excluded.last_seen_at"
    )
    .bind(visitor_id)
    .bind(lead_id)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    let moved = dispatch!(conn.reborrow(), |c| {
        sqlx::query(
        "INSERT INTO activities (id, lead_id, kind, occurred_at, properties, recorded_by, created_at) \
         SELECT id, $2, kind, occurred_at, properties, 'tracking', $3 FROM visitor_events WHERE visitor_id = $1"
    )
    .bind(visitor_id)
    .bind(lead_id)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    dispatch!(conn.reborrow(), |c| sqlx::query(
        "DELETE FROM visitor_events WHERE visitor_id = $1"
    )
    .bind(visitor_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if moved > 0 {
        crate::activities::refresh_last_activity(conn, &[lead_id]).await?;
    }
    Ok(moved)
}

/// A tracked redirect link.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LinkRow {
    pub token: String,
    pub url: String,
    pub lead_id: Option<Uuid>,
    pub campaign: Option<String>,
    pub label: Option<String>,
    pub created_at: Micros,
    /// The sent message the link is in: its click is that message's.
    pub message_id: Option<Uuid>,
}

/// Adds a tracked link.
pub async fn insert_link(conn: Conn<'_>, l: &LinkRow) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO tracked_links (token, url, lead_id, campaign, label, created_at, message_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(&l.token)
    .bind(&l.url)
    .bind(l.lead_id)
    .bind(&l.campaign)
    .bind(&l.label)
    .bind(l.created_at)
    .bind(l.message_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A tracked link by token.
pub async fn link(conn: Conn<'_>, token: &str) -> StoreResult<Option<LinkRow>> {
    Ok(dispatch!(conn, |c| {
        sqlx::query_as(
        "SELECT token, url, lead_id, campaign, label, created_at, message_id FROM tracked_links \
         WHERE token = $1"
    )
    .bind(token)
    .fetch_optional(c)
    .await
    })?)
}

/// The properties of a not-yet-identified visitor's first page view.
pub async fn first_page_view(
    conn: Conn<'_>,
    visitor_id: &str,
) -> StoreResult<Option<Map<String, Value>>> {
    let row: Option<Json<Map<String, Value>>> = dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT properties FROM visitor_events WHERE visitor_id = $1 AND kind = 'page_view' \
         ORDER BY occurred_at, id LIMIT 1"
    )
    .bind(visitor_id)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|j| j.0))
}

/// Counts a click on a tracked link.
pub async fn count_click(conn: Conn<'_>, token: &str, at: Micros) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "UPDATE tracked_links SET clicks = clicks + 1, last_clicked_at = $2 WHERE token = $1"
    )
    .bind(token)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// How often a tracked link was clicked (by people, not bots).
pub async fn clicks(conn: Conn<'_>, token: &str) -> StoreResult<i64> {
    Ok(dispatch!(conn, |c| sqlx::query_scalar(
        "SELECT clicks FROM tracked_links WHERE token = $1"
    )
    .bind(token)
    .fetch_optional(c)
    .await)?
    .unwrap_or(0))
}
