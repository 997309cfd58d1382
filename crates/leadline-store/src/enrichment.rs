//! Enriched values and their provenance.

use crate::db::Conn;
use crate::error::StoreResult;
use leadline_domain::quality::enrich::Enriched;
use leadline_domain::time::Micros;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// Records enriched values for a lead (replacing earlier answers of the same provider for
/// the same field); `applied` tells whether each went into the lead.
pub async fn record(
    mut conn: Conn<'_>,
    lead_id: Uuid,
    items: &[(Enriched, bool)],
    at: Micros,
) -> StoreResult<()> {
    for (e, applied) in items {
        dispatch!(conn.reborrow(), |c| {
            sqlx::query(
            "INSERT INTO lead_enrichment (lead_id, field, provider, value, basis, applied, enriched_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (lead_id, field, provider) DO UPDATE SET \
             value = excluded.value, basis = excluded.basis, applied = excluded.applied, \
             enriched_at = excluded.enriched_at"
        )
        .bind(lead_id)
        .bind(&e.field)
        .bind(&e.provider)
        .bind(Json(crate::sql::without_nul(&e.value)))
        .bind(e.basis.replace('\0', ""))
        .bind(*applied)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// A lead's enriched values: (value, applied, at), by field and provider.
pub async fn for_lead(conn: Conn<'_>, lead_id: Uuid) -> StoreResult<Vec<(Enriched, bool, Micros)>> {
    let rows: Vec<(String, String, Json<Value>, String, bool, Micros)> = dispatch!(conn, |c| {
        sqlx::query_as(
            "SELECT field, provider, value, basis, applied, enriched_at FROM lead_enrichment \
             WHERE lead_id = $1 ORDER BY field, provider",
        )
        .bind(lead_id)
        .fetch_all(c)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(field, provider, value, basis, applied, at)| {
            (
                Enriched {
                    field,
                    provider,
                    value: value.0,
                    basis,
                },
                applied,
                at,
            )
        })
        .collect())
}
