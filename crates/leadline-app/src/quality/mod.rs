//! Data quality: each lead's verification (recorded when it is captured), the policy per
//! source that accepts, reviews, quarantines or rejects it, and the review queue; duplicate
//! detection, merging and enrichment in the submodules.

mod duplicates;
mod enrich;
mod merge;
mod overview;

pub(crate) use duplicates::fuzzy_pairs_in;
pub use duplicates::{DuplicatePair, DuplicateReport, REVIEW_CONFIDENCE, ScanStatus};
pub use enrich::LeadEnrichment;
pub(crate) use enrich::{company_domain, enrich_in};
pub(crate) use merge::merges_of;
pub use merge::{MergeInput, MergePreview, MergeRecord, Unmerged};
pub use overview::{DuplicateCounts, FieldCompleteness, QualityOverview, SourceQuality};

use crate::App;
use crate::admin::audit;
use crate::auth::require_admin;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use leadline_domain::quality::QualitySettings;
use leadline_domain::quality::normalize;
use leadline_domain::quality::verify::{Action, Verification, VerifyContext, verify};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{DisqualifyReason, Lead, LeadFields, Principal, Stage, ValidationErrors};
use leadline_store::history::StageChange;
use leadline_store::{DbTx, leads, quality as store, settings};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

const KEY: &str = "quality";

pub(crate) async fn load_settings(tx: &mut DbTx) -> AppResult<QualitySettings> {
    match settings::get(tx.conn(), KEY).await? {
        None => Ok(QualitySettings::default()),
        Some(v) => serde_json::from_value(v)
            .map_err(|e| AppError::Internal(format!("stored quality settings: {e}"))),
    }
}

/// Verifies fields and applies the source's policy.
pub(crate) fn check(f: &LeadFields, s: &QualitySettings) -> (Verification, Action) {
    let region = region_of(f, s);
    let ctx = VerifyContext {
        default_region: region,
        extra_disposable: &s.disposable_domains,
        ..VerifyContext::default()
    };
    let v = verify(f, &ctx);
    let action = s
        .policy_for(f.first_touch.source.as_deref())
        .action(v.status);
    (v, action)
}

/// Normalises a submission's fields and refuses it when its source's policy rejects it,
/// before anything is written (the caller keeps it as a rejected submission with these
/// reasons). Returns the normalised fields and the settings, for the rest of the capture.
pub(crate) async fn screen_in(
    tx: &mut DbTx,
    f: LeadFields,
) -> AppResult<(LeadFields, QualitySettings)> {
    let s = load_settings(tx).await?;
    let f = normalize::lead_fields(f, s.default_region.as_deref());
    let (v, action) = check(&f, &s);
    if action == Action::Reject {
        let mut e = ValidationErrors::default();
        for finding in v.findings.iter().filter(|x| x.severity == v.status) {
            e.add(&finding.field, &finding.code, &finding.message);
        }
        return Err(AppError::Validation(e));
    }
    Ok((f, s))
}

/// Verifies a stored lead and records the result and its policy's action, inside the
/// caller's transaction.
pub(crate) async fn verify_in(
    tx: &mut DbTx,
    lead: &Lead,
    s: &QualitySettings,
) -> AppResult<(Verification, Action)> {
    let (v, action) = check(&lead.fields, s);
    // A rejecting policy was applied before the write; what got here is kept and reviewed.
    let action = if action == Action::Reject {
        Action::Quarantine
    } else {
        action
    };
    store::upsert(tx.conn(), lead.id, &v, action, to_micros(now())).await?;
    let keys = leadline_domain::quality::matching::blocking_keys(
        &lead.fields,
        s.default_region.as_deref(),
    );
    store::set_keys(tx.conn(), lead.id, &keys).await?;
    Ok((v, action))
}

/// Verifies new leads in bulk (a page of an import's leads) and files them under their matching
/// keys, inside the caller's transaction: the same result as [`verify_in`] per lead, in a
/// few multi-row statements.
pub(crate) async fn verify_many_in(
    tx: &mut DbTx,
    new: &[Lead],
    s: &QualitySettings,
) -> AppResult<()> {
    if new.is_empty() {
        return Ok(());
    }
    let at = to_micros(now());
    let mut rows = Vec::with_capacity(new.len());
    let mut keys = Vec::with_capacity(new.len());
    for lead in new {
        let (v, action) = check(&lead.fields, s);
        let action = if action == Action::Reject {
            Action::Quarantine
        } else {
            action
        };
        keys.push((
            lead.id,
            leadline_domain::quality::matching::blocking_keys(
                &lead.fields,
                s.default_region.as_deref(),
            ),
        ));
        rows.push((lead.id, v, action));
    }
    store::insert_many(tx.conn(), &rows, at).await?;
    store::add_keys(tx.conn(), &keys).await?;
    Ok(())
}

impl App {
    /// Verifies the leads created since `since` that were never checked (an import's,
    /// right after it: verifying inside the import's batches halved its rate), files them
    /// under their matching keys and scores them. Resumable: it picks up whatever is still
    /// unchecked. Returns how many it verified.
    pub async fn verify_unchecked(&self, since: DateTime<Utc>) -> AppResult<u64> {
        let s = self.quality_settings().await?;
        let mut after = None;
        let mut done = 0u64;
        loop {
            let page = {
                let mut c = self.db.acquire().await?;
                leads::unverified_since(c.conn(), to_micros(since), after, 2_000).await?
            };
            let Some(last) = page.last() else { break };
            after = Some((to_micros(last.created_at), last.id));
            let mut tx = self.db.begin().await?;
            verify_many_in(&mut tx, &page, &s).await?;
            App::score_unscored_in(&mut tx, &page).await?;
            tx.commit().await?;
            done += page.len() as u64;
        }
        if done > 0 {
            tracing::info!(leads = done, "imported leads verified");
        }
        Ok(done)
    }
}

pub(crate) fn region_of<'a>(f: &'a LeadFields, s: &'a QualitySettings) -> Option<&'a str> {
    f.country
        .as_deref()
        .and_then(normalize::country_code)
        .or(s.default_region.as_deref())
}

/// The lead a submission is the same person as, by normalised email (plus tags and Gmail
/// dots ignored) or by phone number, when exact matching found none.
pub(crate) async fn same_person_in(
    tx: &mut DbTx,
    f: &LeadFields,
    s: &QualitySettings,
) -> AppResult<Option<Uuid>> {
    let region = region_of(f, s);
    if let Some(e) = f.email.as_deref().and_then(normalize::email)
        && let Some(id) = store::lead_with_key(tx.conn(), &format!("e:{}", e.match_key)).await?
    {
        return Ok(Some(id));
    }
    for p in [&f.phone, &f.mobile].into_iter().flatten() {
        if let Ok(e164) = normalize::phone_e164(p, region)
            && let Some(id) = store::lead_with_key(tx.conn(), &format!("p:{e164}")).await?
        {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// A lead's verification as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeadQuality {
    #[serde(flatten)]
    pub verification: Verification,
    /// What the source's policy did: `accept`, `review` or `quarantine`.
    pub action: Action,
    /// `approved` or `rejected` once a person reviewed it.
    pub decision: Option<String>,
    pub reviewed_by: Option<String>,
    pub checked_at: DateTime<Utc>,
}

impl From<store::QualityRow> for LeadQuality {
    fn from(r: store::QualityRow) -> Self {
        LeadQuality {
            verification: r.verification,
            action: r.action,
            decision: r.decision,
            reviewed_by: r.reviewed_by,
            checked_at: from_micros(r.checked_at),
        }
    }
}

/// A lead waiting for review.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReviewItem {
    pub lead: Lead,
    pub quality: LeadQuality,
}

/// A person's decision on leads in the review queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// A real lead: it leaves the queue (and quarantine).
    Approve,
    /// Not a real lead: it leaves the queue and is disqualified as spam.
    Reject,
}

/// Decide on one or many leads.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub lead_ids: Vec<Uuid>,
    pub decision: ReviewDecision,
}

pub(crate) fn may_review(by: &Principal) -> AppResult<()> {
    crate::auth::require_marketing(by, "reviewing leads")
}

impl App {
    /// The data-quality settings.
    pub async fn quality_settings(&self) -> AppResult<QualitySettings> {
        let mut tx = self.db.begin().await?;
        let s = load_settings(&mut tx).await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Replaces the data-quality settings (admins).
    pub async fn set_quality_settings(
        &self,
        by: &Principal,
        input: QualitySettings,
    ) -> AppResult<QualitySettings> {
        require_admin(by)?;
        let cleaned = input.clean()?;
        let value =
            serde_json::to_value(&cleaned).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        settings::put(tx.conn(), KEY, &value, to_micros(now())).await?;
        audit(&mut tx, by, "settings.quality", "settings", None, value).await?;
        tx.commit().await?;
        Ok(cleaned)
    }

    /// A lead's verification; `None` when it was never checked (created by hand, or before
    /// verification existed).
    pub async fn lead_quality(&self, by: &Principal, id: Uuid) -> AppResult<Option<LeadQuality>> {
        // Reading the lead first applies the principal's visibility.
        self.get_lead(by, id).await?;
        let mut c = self.db.acquire().await?;
        Ok(store::get(c.conn(), id).await?.map(LeadQuality::from))
    }

    /// Leads waiting for a person (reviewed or quarantined by policy), oldest first.
    /// `after` is the last lead of the previous page.
    pub async fn review_queue(
        &self,
        by: &Principal,
        after: Option<Uuid>,
        limit: i64,
    ) -> AppResult<Vec<ReviewItem>> {
        may_review(by)?;
        let mut c = self.db.acquire().await?;
        let after = match after {
            Some(id) => store::get(c.conn(), id)
                .await?
                .map(|r| (r.checked_at, r.lead_id)),
            None => None,
        };
        let rows = store::queue(c.conn(), after, limit.clamp(1, 200)).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(lead) = leads::get(c.conn(), r.lead_id).await? {
                out.push(ReviewItem {
                    lead,
                    quality: r.into(),
                });
            }
        }
        Ok(out)
    }

    /// Approves or rejects leads in the review queue. Returns how many were waiting.
    pub async fn review(&self, by: &Principal, input: ReviewInput) -> AppResult<usize> {
        may_review(by)?;
        if input.lead_ids.is_empty() || input.lead_ids.len() > 500 {
            return Err(crate::error::invalid(
                "lead_ids",
                "out_of_range",
                "name 1 to 500 leads",
            ));
        }
        let t = now();
        let mut tx = self.db.begin().await?;
        let mut done = 0;
        for id in &input.lead_ids {
            let decision = match input.decision {
                ReviewDecision::Approve => "approved",
                ReviewDecision::Reject => "rejected",
            };
            if !store::decide(tx.conn(), *id, decision, &by.label, to_micros(t)).await? {
                continue;
            }
            done += 1;
            if input.decision == ReviewDecision::Reject
                && let Some(current) = leads::get(tx.conn(), *id).await?
                && current
                    .stage
                    .transition(Stage::Disqualified, Some(DisqualifyReason::Spam))
                    .is_ok()
            {
                let lead = Lead {
                    stage: Stage::Disqualified,
                    disqualify_reason: Some(DisqualifyReason::Spam),
                    updated_at: t,
                    version: current.version + 1,
                    ..current.clone()
                };
                if !leads::update(tx.conn(), &lead, current.version).await? {
                    return Err(AppError::Conflict(
                        "a lead changed during the review; retry".into(),
                    ));
                }
                crate::events::stage_changed_in(
                    &mut tx,
                    StageChange {
                        id: Uuid::now_v7(),
                        lead_id: *id,
                        from_stage: Some(current.stage.as_str().into()),
                        to_stage: Stage::Disqualified.as_str().into(),
                        reason: Some(DisqualifyReason::Spam.as_str().into()),
                        note: Some("rejected in the review queue".into()),
                        actor: by.label.clone(),
                        at: t,
                    },
                )
                .await?;
            }
            audit(
                &mut tx,
                by,
                "lead.reviewed",
                "lead",
                Some(*id),
                json!({ "decision": decision }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }
}
