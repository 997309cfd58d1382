//! Sources, campaigns and what campaigns cost: the denominators of source ROI.

use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult, taken};
use leadline_domain::Principal;
use leadline_domain::source::{Campaign, CampaignCost, NewSource, Source};
use leadline_domain::time::{now, to_micros};
use leadline_store::sources as store;
use serde_json::json;
use uuid::Uuid;

fn require_marketing(by: &Principal) -> AppResult<()> {
    crate::auth::require_marketing(by, "managing sources and campaigns")
}

impl App {
    /// Every source.
    pub async fn sources(&self) -> AppResult<Vec<Source>> {
        let mut c = self.db.acquire().await?;
        Ok(store::list_sources(c.conn()).await?)
    }

    /// Adds a source.
    pub async fn create_source(&self, by: &Principal, input: NewSource) -> AppResult<Source> {
        require_marketing(by)?;
        let input = input.clean()?;
        let s = Source {
            id: Uuid::now_v7(),
            name: input.name.clone().unwrap_or_else(|| input.key.clone()),
            key: input.key,
            channel: input.channel,
            created_at: now(),
        };
        let mut tx = self.db.begin().await?;
        store::insert_source(tx.conn(), &s)
            .await
            .map_err(taken("key", "a source with this key exists"))?;
        audit(
            &mut tx,
            by,
            "source.created",
            "source",
            Some(s.id),
            json!({"key": s.key}),
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Deletes a source (leads keep their source text).
    pub async fn delete_source(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        require_marketing(by)?;
        let mut tx = self.db.begin().await?;
        if !store::delete_source(tx.conn(), id).await? {
            return Err(AppError::NotFound("source"));
        }
        audit(
            &mut tx,
            by,
            "source.deleted",
            "source",
            Some(id),
            serde_json::Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every campaign.
    pub async fn campaigns(&self) -> AppResult<Vec<Campaign>> {
        let mut c = self.db.acquire().await?;
        Ok(store::list_campaigns(c.conn()).await?)
    }

    /// Adds a campaign.
    pub async fn create_campaign(&self, by: &Principal, input: NewSource) -> AppResult<Campaign> {
        require_marketing(by)?;
        let input = input.clean()?;
        let k = Campaign {
            id: Uuid::now_v7(),
            name: input.name.clone().unwrap_or_else(|| input.key.clone()),
            key: input.key,
            channel: input.channel,
            source_key: input.source_key,
            created_at: now(),
        };
        let mut tx = self.db.begin().await?;
        store::insert_campaign(tx.conn(), &k)
            .await
            .map_err(taken("key", "a campaign with this key exists"))?;
        audit(
            &mut tx,
            by,
            "campaign.created",
            "campaign",
            Some(k.id),
            json!({"key": k.key}),
        )
        .await?;
        tx.commit().await?;
        Ok(k)
    }

    /// Deletes a campaign and its costs.
    pub async fn delete_campaign(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        require_marketing(by)?;
        let mut tx = self.db.begin().await?;
        if !store::delete_campaign(tx.conn(), id).await? {
            return Err(AppError::NotFound("campaign"));
        }
        audit(
            &mut tx,
            by,
            "campaign.deleted",
            "campaign",
            Some(id),
            serde_json::Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A campaign's costs by period.
    pub async fn campaign_costs(&self, id: Uuid) -> AppResult<Vec<CampaignCost>> {
        let mut c = self.db.acquire().await?;
        if store::get_campaign(c.conn(), id).await?.is_none() {
            return Err(AppError::NotFound("campaign"));
        }
        Ok(store::costs(c.conn(), id).await?)
    }

    /// Records what a campaign cost in a period.
    pub async fn add_campaign_cost(
        &self,
        by: &Principal,
        campaign_id: Uuid,
        mut cost: CampaignCost,
    ) -> AppResult<CampaignCost> {
        require_marketing(by)?;
        cost.currency = cost.currency.trim().to_ascii_uppercase();
        cost.validate()?;
        cost.id = Uuid::now_v7();
        let mut tx = self.db.begin().await?;
        if store::get_campaign(tx.conn(), campaign_id).await?.is_none() {
            return Err(AppError::NotFound("campaign"));
        }
        store::insert_cost(tx.conn(), campaign_id, &cost, to_micros(now())).await?;
        audit(
            &mut tx,
            by,
            "campaign.cost_added",
            "campaign",
            Some(campaign_id),
            json!({"amount": cost.amount, "currency": cost.currency}),
        )
        .await?;
        tx.commit().await?;
        Ok(cost)
    }

    /// Removes one cost entry.
    pub async fn delete_campaign_cost(
        &self,
        by: &Principal,
        campaign_id: Uuid,
        id: Uuid,
    ) -> AppResult<()> {
        require_marketing(by)?;
        let mut tx = self.db.begin().await?;
        if !store::delete_cost(tx.conn(), campaign_id, id).await? {
            return Err(AppError::NotFound("campaign cost"));
        }
        tx.commit().await?;
        Ok(())
    }
}
