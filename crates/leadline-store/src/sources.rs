//! Lead sources, campaigns and campaign costs.

use crate::db::Conn;
use crate::error::{StoreError, StoreResult};
use chrono::NaiveDate;
use leadline_domain::source::{Campaign, CampaignCost, Channel, Source};
use leadline_domain::time::{Micros, from_micros, to_micros};
use uuid::Uuid;

fn channel(s: String) -> StoreResult<Channel> {
    s.parse()
        .map_err(|e: leadline_domain::stage::UnknownValue| StoreError::Corrupt(e.to_string()))
}

/// Adds a source.
pub async fn insert_source(conn: Conn<'_>, s: &Source) -> StoreResult<()> {
    dispatch!(conn, |c| sqlx::query(
        "INSERT INTO sources (id, key, name, channel, created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(s.id)
    .bind(&s.key)
    .bind(&s.name)
    .bind(s.channel.as_str())
    .bind(to_micros(s.created_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every source, by key.
pub async fn list_sources(conn: Conn<'_>) -> StoreResult<Vec<Source>> {
    let rows: Vec<(Uuid, String, String, String, Micros)> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, key, name, channel, created_at FROM sources ORDER BY key"
    )
    .fetch_all(c)
    .await)?;
    rows.into_iter()
        .map(|(id, key, name, ch, at)| {
            Ok(Source {
                id,
                key,
                name,
                channel: channel(ch)?,
                created_at: from_micros(at),
            })
        })
        .collect()
}

/// Deletes a source. Leads keep the key they carry.
pub async fn delete_source(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query("DELETE FROM sources WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Adds a campaign.
pub async fn insert_campaign(conn: Conn<'_>, k: &Campaign) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO campaigns (id, key, name, channel, source_key, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(k.id)
    .bind(&k.key)
    .bind(&k.name)
    .bind(k.channel.as_str())
    .bind(&k.source_key)
    .bind(to_micros(k.created_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

type CampaignRow = (Uuid, String, String, String, Option<String>, Micros);

fn campaign(r: CampaignRow) -> StoreResult<Campaign> {
    Ok(Campaign {
        id: r.0,
        key: r.1,
        name: r.2,
        channel: channel(r.3)?,
        source_key: r.4,
        created_at: from_micros(r.5),
    })
}

/// Every campaign, by key.
pub async fn list_campaigns(conn: Conn<'_>) -> StoreResult<Vec<Campaign>> {
    let rows: Vec<CampaignRow> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, key, name, channel, source_key, created_at FROM campaigns ORDER BY key"
    )
    .fetch_all(c)
    .await)?;
    rows.into_iter().map(campaign).collect()
}

/// One campaign.
pub async fn get_campaign(conn: Conn<'_>, id: Uuid) -> StoreResult<Option<Campaign>> {
    let row: Option<CampaignRow> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, key, name, channel, source_key, created_at FROM campaigns WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    row.map(campaign).transpose()
}

/// Deletes a campaign and its costs.
pub async fn delete_campaign(conn: Conn<'_>, id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query("DELETE FROM campaigns WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records what a campaign cost in a period.
pub async fn insert_cost(
    conn: Conn<'_>,
    campaign_id: Uuid,
    cost: &CampaignCost,
    at: Micros,
) -> StoreResult<()> {
    dispatch!(conn, |c| {
        sqlx::query(
        "INSERT INTO campaign_costs (id, campaign_id, period_start, period_end, amount, currency, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(cost.id)
    .bind(campaign_id)
    .bind(cost.period_start.to_string())
    .bind(cost.period_end.to_string())
    .bind(cost.amount)
    .bind(&cost.currency)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A campaign's costs, by period.
pub async fn costs(conn: Conn<'_>, campaign_id: Uuid) -> StoreResult<Vec<CampaignCost>> {
    let rows: Vec<(Uuid, String, String, i64, String)> = dispatch!(conn, |c| sqlx::query_as(
        "SELECT id, period_start, period_end, amount, currency FROM campaign_costs \
         WHERE campaign_id = $1 ORDER BY period_start, id"
    )
    .bind(campaign_id)
    .fetch_all(c)
    .await)?;
    rows.into_iter()
        .map(|(id, s, e, amount, currency)| {
            let date = |t: &str| {
                t.parse::<NaiveDate>()
                    .map_err(|err| StoreError::Corrupt(format!("cost period: {err}")))
            };
            Ok(CampaignCost {
                id,
                period_start: date(&s)?,
                period_end: date(&e)?,
                amount,
                currency,
            })
        })
        .collect()
}

/// Deletes one cost entry of a campaign.
pub async fn delete_cost(conn: Conn<'_>, campaign_id: Uuid, id: Uuid) -> StoreResult<bool> {
    let n = dispatch!(conn, |c| sqlx::query(
        "DELETE FROM campaign_costs WHERE id = $1 AND campaign_id = $2"
    )
    .bind(id)
    .bind(campaign_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
