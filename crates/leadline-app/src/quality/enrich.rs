//! Enrichment of leads: derived values and account links at capture, and the optional
//! outside enrichment service called after a new lead is stored.

use super::region_of;
use crate::App;
use crate::error::{AppError, AppResult};
use leadline_domain::quality::QualitySettings;
use leadline_domain::quality::enrich::{self, Enriched};
use leadline_domain::quality::{normalize, verify};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{Lead, Principal};
use leadline_store::{DbTx, accounts, enrichment as store, leads};
use serde::Serialize;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// How long the enrichment service may take to answer.
const HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// An enriched value as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeadEnrichment {
    #[serde(flatten)]
    pub value: Enriched,
    /// Whether the value went into the lead (enrichment only fills empty fields).
    pub applied: bool,
    pub enriched_at: chrono::DateTime<chrono::Utc>,
}

/// The company domain a lead can be matched to an account by: its email's, unless free
/// mail, else its website's.
pub(crate) fn company_domain(lead: &Lead) -> Option<String> {
    lead.fields
        .email
        .as_deref()
        .and_then(normalize::email)
        .filter(|e| !verify::is_free_mail(&e.domain))
        .and_then(|e| normalize::registrable_domain(&e.domain))
        .or_else(|| {
            lead.fields
                .website
                .as_deref()
                .and_then(normalize::registrable_domain)
        })
}

/// Fills a lead's empty fields from what it already holds and links it to the account of
/// its company domain, inside the caller's transaction. Returns the lead as stored.
pub(crate) async fn enrich_in(tx: &mut DbTx, lead: Lead, s: &QualitySettings) -> AppResult<Lead> {
    let lead = if s.enrich_from_fields {
        let derived = enrich::derive(&lead.fields, region_of(&lead.fields, s));
        let (fields, applied) = enrich::apply(&lead.fields, &derived);
        if applied.is_empty() {
            lead
        } else {
            let next = Lead {
                fields,
                version: lead.version + 1,
                ..lead.clone()
            };
            if !leads::update(tx.conn(), &next, lead.version).await? {
                return Err(AppError::Conflict(
                    "the lead changed during enrichment; retry".into(),
                ));
            }
            let items: Vec<(Enriched, bool)> = applied.into_iter().map(|e| (e, true)).collect();
            store::record(tx.conn(), next.id, &items, to_micros(now())).await?;
            next
        }
    } else {
        lead
    };
    if accounts::of_lead(tx.conn(), lead.id).await?.is_none()
        && let Some(d) = company_domain(&lead)
        && let Some(a) = accounts::by_domain(tx.conn(), &d).await?
    {
        accounts::link_lead(tx.conn(), lead.id, a.id, "domain", to_micros(now())).await?;
    }
    Ok(lead)
}

impl App {
    /// A lead's enriched values with their provenance.
    pub async fn lead_enrichment(
        &self,
        by: &Principal,
        id: Uuid,
    ) -> AppResult<Vec<LeadEnrichment>> {
        self.get_lead(by, id).await?;
        let mut c = self.db.acquire().await?;
        Ok(store::for_lead(c.conn(), id)
            .await?
            .into_iter()
            .map(|(value, applied, at)| LeadEnrichment {
                value,
                applied,
                enriched_at: from_micros(at),
            })
            .collect())
    }

    /// Whether an enrichment service is configured.
    pub async fn enrichment_hook_enabled(&self) -> AppResult<bool> {
        Ok(self.quality_settings().await?.enrichment_hook_url.is_some())
    }

    /// Asks the configured enrichment service about a lead and fills its empty fields from
    /// the answer. Every answered value is stored with its provenance (the service's host),
    /// applied or not. Returns the values applied; nothing when no service is configured.
    pub async fn enrich_from_hook(&self, lead_id: Uuid) -> AppResult<Vec<Enriched>> {
        let s = self.quality_settings().await?;
        let Some(url) = s.enrichment_hook_url.clone() else {
            return Ok(Vec::new());
        };
        let lead = {
            let mut c = self.db.acquire().await?;
            leads::get(c.conn(), lead_id)
                .await?
                .ok_or(AppError::NotFound("lead"))?
        };
        let host = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let body = json!({
            "lead_id": lead.id,
            "email": lead.fields.email,
            "domain": company_domain(&lead),
            "first_name": lead.fields.first_name,
            "last_name": lead.fields.last_name,
            "company": lead.fields.company,
            "website": lead.fields.website,
            "country": lead.fields.country,
        });
        let allowed: crate::outbound::AllowedHosts = {
            let mut c = self.db.acquire().await?;
            let hosts = crate::webhooks::settings_in(c.conn())
                .await?
                .allowed_private_hosts;
            std::sync::Arc::new(std::sync::RwLock::new(hosts.into_iter().collect()))
        };
        if let Some(why) = crate::outbound::literal_refused(&url, &allowed) {
            return Err(AppError::Upstream(format!("enrichment service {why}")));
        }
        let client = crate::outbound::guarded_client(
            HOOK_TIMEOUT,
            concat!("Leadline/", env!("CARGO_PKG_VERSION")),
            allowed,
        )
        .map_err(|e| AppError::Upstream(format!("enrichment client: {e}")))?;
        let answer: serde_json::Value = match client.post(&url).json(&body).send().await {
            Ok(r) if r.status().is_success() => r.json().await.map_err(|e| {
                AppError::Upstream(format!("enrichment service answered no JSON object: {e}"))
            })?,
            Ok(r) => {
                return Err(AppError::Upstream(format!(
                    "enrichment service answered {}",
                    r.status()
                )));
            }
            Err(e) => {
                return Err(AppError::Upstream(format!(
                    "enrichment service unreachable: {}",
                    crate::outbound::describe(&e.without_url())
                )));
            }
        };
        let (items, ignored) = enrich::from_hook(&answer, &host);
        if !ignored.is_empty() {
            tracing::warn!(lead_id = %lead_id, ignored = ?ignored, "enrichment answer had fields Leadline ignored");
        }
        let mut tx = self.db.begin().await?;
        let Some(current) = leads::get(tx.conn(), lead_id).await? else {
            return Ok(Vec::new());
        };
        let (fields, applied) = enrich::apply(&current.fields, &items);
        if !applied.is_empty() {
            let next = Lead {
                fields,
                updated_at: now(),
                version: current.version + 1,
                ..current.clone()
            };
            if !leads::update(tx.conn(), &next, current.version).await? {
                return Err(AppError::Conflict(
                    "the lead changed during enrichment; retry".into(),
                ));
            }
            let changes = leadline_domain::lead::diff(&current.fields, &next.fields);
            crate::events::lead_updated_in(&mut tx, &next, &changes).await?;
        }
        let rows: Vec<(Enriched, bool)> = items
            .into_iter()
            .map(|e| {
                let used = applied.iter().any(|a| a.field == e.field);
                (e, used)
            })
            .collect();
        store::record(tx.conn(), lead_id, &rows, to_micros(now())).await?;
        tx.commit().await?;
        tracing::info!(lead_id = %lead_id, applied = applied.len(), "lead enriched by hook");
        Ok(applied)
    }
}
