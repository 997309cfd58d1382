//! Data quality: each lead's verification, recorded when it is captured.

use crate::App;
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use leadline_domain::quality::normalize;
use leadline_domain::quality::verify::{Verification, VerifyContext, verify};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, Principal};
use leadline_store::{DbTx, quality as store};
use serde::Serialize;
use uuid::Uuid;

/// Verifies a lead and records the result inside the caller's transaction. Phone numbers
/// without a country code are read in the lead's country.
pub(crate) async fn verify_in(tx: &mut DbTx, lead: &Lead) -> AppResult<Verification> {
    let region = lead
        .fields
        .country
        .as_deref()
        .and_then(normalize::country_code);
    let ctx = VerifyContext {
        default_region: region,
        ..VerifyContext::default()
    };
    let v = verify(&lead.fields, &ctx);
    store::upsert(tx.conn(), lead.id, &v, to_micros(now())).await?;
    Ok(v)
}

/// A lead's verification as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeadQuality {
    #[serde(flatten)]
    pub verification: Verification,
    pub checked_at: DateTime<Utc>,
}

impl App {
    /// A lead's verification status and findings; `None` when it was never checked (leads
    /// created before verification existed, or by hand).
    pub async fn lead_quality(&self, by: &Principal, id: Uuid) -> AppResult<Option<LeadQuality>> {
        // Reading the lead first applies the principal's visibility.
        self.get_lead(by, id).await?;
        let mut c = self.db.acquire().await?;
        Ok(store::get(c.conn(), id)
            .await?
            .map(|(verification, at)| LeadQuality {
                verification,
                checked_at: from_micros(at),
            }))
    }
}
