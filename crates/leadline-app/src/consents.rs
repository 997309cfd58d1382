//! Consent records: what a lead agreed to receive, from a form's consent box or recorded
//! over the API, and its withdrawal (an unsubscribe). Sequences that require consent mail
//! only leads whose latest marketing-email record grants it.

use crate::App;
use crate::error::{AppResult, invalid};
use chrono::{DateTime, Utc};
use leadline_domain::Principal;
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_store::DbTx;
use leadline_store::consents::{self as store, ConsentRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The purpose sequences ask about.
pub const MARKETING_EMAIL: &str = "marketing_email";
/// The purpose tracking asks about.
pub const TRACKING: &str = "tracking";
/// The purposes a record may name.
pub const PURPOSES: [&str; 2] = [MARKETING_EMAIL, TRACKING];

/// A consent record as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Consent {
    pub id: Uuid,
    pub lead_id: Uuid,
    /// `marketing_email` or `tracking`.
    pub purpose: String,
    /// False for a withdrawal.
    pub granted: bool,
    /// `form:{slug}`, `api`, `unsubscribe`, …
    pub source: String,
    /// The exact text the person agreed to.
    pub consent_text: Option<String>,
    pub ip: Option<String>,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    /// GDPR article 6 basis (`consent`, `legitimate_interests`, …).
    pub lawful_basis: Option<String>,
    /// The version of the text agreed to; forms record `sha256:` and the text's hash.
    pub text_version: Option<String>,
    /// What proves it, e.g. `form submission activity {id}`.
    pub proof: Option<String>,
}

impl From<ConsentRow> for Consent {
    fn from(r: ConsentRow) -> Self {
        Consent {
            id: r.id,
            lead_id: r.lead_id,
            purpose: r.purpose,
            granted: r.granted,
            source: r.source,
            consent_text: r.consent_text,
            ip: r.ip,
            recorded_by: r.recorded_by,
            recorded_at: from_micros(r.recorded_at),
            lawful_basis: r.lawful_basis,
            text_version: r.text_version,
            proof: r.proof,
        }
    }
}

/// Consent recorded over the API (e.g. brought over from another system).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    /// `marketing_email` (default) or `tracking`.
    #[serde(default)]
    pub purpose: Option<String>,
    /// False records a withdrawal.
    pub granted: bool,
    /// Where it was given (default `api`).
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub consent_text: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    /// GDPR article 6 basis: `consent` (the default when granted), `contract`,
    /// `legal_obligation`, `vital_interests`, `public_task` or `legitimate_interests`.
    #[serde(default)]
    pub lawful_basis: Option<String>,
    /// The version of the consent text (up to 100 characters).
    #[serde(default)]
    pub text_version: Option<String>,
    /// What proves it (up to 2,000 characters): a document, a recording, a submission.
    #[serde(default)]
    pub proof: Option<String>,
}

impl NewConsent {
    /// A record with only the purpose and whether it is granted.
    pub fn new(granted: bool, source: &str) -> NewConsent {
        NewConsent {
            purpose: None,
            granted,
            source: Some(source.into()),
            consent_text: None,
            ip: None,
            lawful_basis: None,
            text_version: None,
            proof: None,
        }
    }
}

/// The version a consent text is recorded under: its SHA-256, so the exact wording agreed
/// to can be proven even after the form changes.
pub fn text_version(text: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(text.as_bytes());
    format!("sha256:{}", hex::encode(&hash[..8]))
}

/// Records consent inside the caller's transaction (the input already checked; purpose
/// and source default to `marketing_email` and `api`).
pub(crate) async fn record_in(
    tx: &mut DbTx,
    lead_id: Uuid,
    input: NewConsent,
    by: &str,
) -> AppResult<ConsentRow> {
    let row = ConsentRow {
        id: Uuid::now_v7(),
        lead_id,
        purpose: input.purpose.unwrap_or_else(|| MARKETING_EMAIL.into()),
        granted: input.granted,
        source: input.source.unwrap_or_else(|| "api".into()),
        consent_text: input.consent_text,
        ip: input.ip,
        recorded_by: by.into(),
        recorded_at: to_micros(now()),
        lawful_basis: input
            .lawful_basis
            .or_else(|| input.granted.then(|| "consent".to_owned())),
        text_version: input.text_version,
        proof: input.proof,
    };
    store::insert(tx.conn(), &row).await?;
    Ok(row)
}

/// Whether the lead's latest tracking record is a withdrawal: from then on nothing about
/// them is tracked (visits, opens, clicks), whatever the browser sends.
pub(crate) async fn tracking_withdrawn(tx: &mut DbTx, lead: Uuid) -> AppResult<bool> {
    Ok(store::current(tx.conn(), lead, TRACKING).await? == Some(false))
}

impl App {
    /// Records consent given or withdrawn for a lead the caller may edit.
    pub async fn record_consent(
        &self,
        by: &Principal,
        lead: Uuid,
        input: NewConsent,
    ) -> AppResult<Consent> {
        if input
            .purpose
            .as_deref()
            .is_some_and(|p| !PURPOSES.contains(&p))
        {
            return Err(invalid("purpose", "invalid", "marketing_email or tracking"));
        }
        if input
            .source
            .as_ref()
            .is_some_and(|s| s.trim().is_empty() || s.chars().count() > 100)
        {
            return Err(invalid("source", "invalid", "1 to 100 characters"));
        }
        if input
            .consent_text
            .as_ref()
            .is_some_and(|t| t.chars().count() > 5000)
        {
            return Err(invalid(
                "consent_text",
                "too_long",
                "at most 5,000 characters",
            ));
        }
        if input
            .lawful_basis
            .as_deref()
            .is_some_and(|b| !leadline_domain::privacy::LAWFUL_BASES.contains(&b))
        {
            return Err(invalid(
                "lawful_basis",
                "invalid",
                "consent, contract, legal_obligation, vital_interests, public_task or legitimate_interests",
            ));
        }
        if input
            .text_version
            .as_ref()
            .is_some_and(|t| t.trim().is_empty() || t.chars().count() > 100)
        {
            return Err(invalid("text_version", "invalid", "1 to 100 characters"));
        }
        if input
            .proof
            .as_ref()
            .is_some_and(|t| t.chars().count() > 2000)
        {
            return Err(invalid("proof", "too_long", "at most 2,000 characters"));
        }
        if input
            .ip
            .as_ref()
            .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_err())
        {
            return Err(invalid("ip", "invalid", "an IPv4 or IPv6 address"));
        }
        let mut tx = self.db.begin().await?;
        let l = crate::leads::visible_lead(tx.conn(), by, lead).await?;
        crate::leads::check_writable(by, &l, None)?;
        let row = record_in(&mut tx, lead, input, &by.label).await?;
        crate::admin::audit(
            &mut tx,
            by,
            if row.granted {
                "consent.granted"
            } else {
                "consent.withdrawn"
            },
            "lead",
            Some(lead),
            serde_json::json!({ "purpose": row.purpose, "source": row.source }),
        )
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// A lead's consent records, oldest first.
    pub async fn lead_consents(&self, by: &Principal, lead: Uuid) -> AppResult<Vec<Consent>> {
        let mut c = self.db.acquire().await?;
        crate::leads::visible_lead(c.conn(), by, lead).await?;
        Ok(store::of_lead(c.conn(), lead)
            .await?
            .into_iter()
            .map(Consent::from)
            .collect())
    }
}
