//! Capture: every way a lead arrives (web-to-lead, hosted forms, the capture API, CSV
//! imports, email, tracking) ends in [`App::capture`], which finds the lead the submission
//! belongs to (external id, then email), creates or updates it, and leaves the submission
//! on the lead's timeline. What cannot become a lead is kept with the reason.

mod api;
pub mod email;
pub mod forms;
pub mod import;
mod rejected;
mod settings;
mod sources;

pub use api::{CaptureItemResult, CaptureRequest, CaptureResponse};

use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult, taken};
use crate::leads::{EXTERNAL_ID_TAKEN, check_refs};
use chrono::{DateTime, Utc};
use leadline_domain::capture::{CaptureChannel, RejectedSubmission, merge_submission};
use leadline_domain::source::Referral;
use leadline_domain::time::{now, to_micros};
use leadline_domain::{Activity, CustomFieldDef, Lead, LeadFields, Principal, Stage};
use leadline_store::history::StageChange;
use leadline_store::{DbTx, activities, capture as store, leads};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// One submission from any channel, before validation.
#[derive(Debug, Clone)]
pub struct Submission {
    pub channel: CaptureChannel,
    /// The lead fields the submission maps to.
    pub fields: LeadFields,
    /// Everything else that came with it (unmapped form fields, page url, form id…); kept
    /// on the timeline activity.
    pub extra: Map<String, Value>,
    pub referral: Option<Referral>,
    /// The first-party visitor id of the browser that submitted, if known.
    pub visitor_id: Option<String>,
    /// When it happened, if not now (emails, imports of past events).
    pub occurred_at: Option<DateTime<Utc>>,
}

impl Submission {
    /// A submission of `fields` on `channel` with nothing else.
    pub fn new(channel: CaptureChannel, fields: LeadFields) -> Submission {
        Submission {
            channel,
            fields,
            extra: Map::new(),
            referral: None,
            visitor_id: None,
            occurred_at: None,
        }
    }

    /// Everything submitted, as kept with a rejection.
    pub fn payload(&self) -> Value {
        json!({
            "fields": self.fields,
            "extra": self.extra,
            "referral": self.referral,
            "visitor_id": self.visitor_id,
        })
    }
}

/// What a capture did.
#[derive(Debug, Clone)]
pub struct Captured {
    pub lead: Lead,
    /// True when the submission made a new lead; false when it updated an existing one.
    pub created: bool,
    /// A new lead the enrichment service should be asked about once it is committed.
    pub enrich_later: bool,
}

impl App {
    /// Captures one submission: validates it, then creates the lead or folds it into the
    /// existing one, in one transaction.
    pub async fn capture(&self, by: &Principal, s: Submission) -> AppResult<Captured> {
        let defs = self.custom_fields().await?;
        let mut tx = self.db.begin().await?;
        let out = capture_in(&mut tx, by, s, &defs).await?;
        tx.commit().await?;
        tracing::info!(lead_id = %out.lead.id, created = out.created, "lead captured");
        if out.enrich_later {
            self.enrich_in_background(out.lead.id);
        }
        Ok(out)
    }

    /// Asks the enrichment service about a committed lead without holding up the capture;
    /// a failure is logged with the lead's id and leaves the lead as it was.
    pub fn enrich_in_background(&self, lead_id: Uuid) {
        let app = self.clone();
        tokio::spawn(async move {
            if let Err(e) = app.enrich_from_hook(lead_id).await {
                tracing::warn!(lead_id = %lead_id, error = %e, "enrichment hook failed");
            }
        });
    }

    /// Keeps a submission that could not become a lead, with the reason. Returns its id.
    pub async fn keep_rejected(
        &self,
        channel: CaptureChannel,
        reason_code: &str,
        reason: &str,
        payload: Value,
        remote_addr: Option<String>,
    ) -> AppResult<Uuid> {
        let r = RejectedSubmission {
            id: Uuid::now_v7(),
            channel,
            reason_code: reason_code.to_owned(),
            reason: reason.to_owned(),
            payload,
            remote_addr,
            received_at: now(),
        };
        let mut tx = self.db.begin().await?;
        store::insert_rejected(tx.conn(), &r).await?;
        tx.commit().await?;
        tracing::info!(rejected_id = %r.id, channel = channel.as_str(), reason = reason_code, "submission rejected");
        Ok(r.id)
    }
}

/// The capture itself, inside the caller's transaction (the capture API adds its
/// idempotency record to the same transaction).
pub(crate) async fn capture_in(
    tx: &mut DbTx,
    by: &Principal,
    s: Submission,
    defs: &[CustomFieldDef],
) -> AppResult<Captured> {
    let (fields, quality) = crate::quality::screen_in(tx, s.fields.clone().clean(defs)?).await?;
    // Every identity of the submission, locked in one order so two captures sharing any of
    // them wait for each other instead of both creating a lead.
    let mut identities: Vec<String> = fields
        .external_id
        .iter()
        .map(|x| format!("x:{x}"))
        .chain(leads::email_key(fields.email.as_deref()).map(|e| format!("e:{e}")))
        .chain(
            fields
                .email
                .as_deref()
                .and_then(leadline_domain::quality::normalize::email)
                .map(|e| format!("m:{}", e.match_key)),
        )
        .collect();
    identities.sort();
    for key in &identities {
        store::lock_identity(tx.conn(), key).await?;
    }
    let mut existing = None;
    if let Some(x) = &fields.external_id {
        existing = store::lead_by_external_id(tx.conn(), x).await?;
    }
    if existing.is_none()
        && let Some(e) = &fields.email
    {
        existing = store::lead_by_email(tx.conn(), e).await?;
    }
    if existing.is_none() {
        existing = crate::quality::same_person_in(tx, &fields, &quality).await?;
    }
    let t = now();
    let occurred = s.occurred_at.unwrap_or(t);
    let (lead, before) = match existing {
        Some(id) => {
            let current = leads::get(tx.conn(), id)
                .await?
                .ok_or(AppError::NotFound("lead"))?;
            let merged = merge_submission(&current.fields, &fields);
            if merged == current.fields {
                let before = current.fields.clone();
                (current, Some(before))
            } else {
                check_refs(tx, &merged, Some(&current.fields)).await?;
                let lead = Lead {
                    fields: merged,
                    updated_at: t,
                    version: current.version + 1,
                    ..current.clone()
                };
                if !leads::update(tx.conn(), &lead, current.version)
                    .await
                    .map_err(taken("external_id", EXTERNAL_ID_TAKEN))?
                {
                    return Err(AppError::Conflict(
                        "the lead changed during capture; retry".into(),
                    ));
                }
                (lead, Some(current.fields))
            }
        }
        None => {
            let mut fields = fields;
            if let Some(v) = &s.visitor_id {
                first_touch_from_visit(tx, v, &mut fields).await?;
            }
            check_refs(tx, &fields, None).await?;
            let lead = Lead {
                id: Uuid::now_v7(),
                fields,
                stage: Stage::New,
                disqualify_reason: None,
                score: 0,
                grade: None,
                created_at: t,
                updated_at: t,
                version: 1,
            };
            leads::insert(tx.conn(), &lead)
                .await
                .map_err(taken("external_id", EXTERNAL_ID_TAKEN))?;
            crate::events::stage_changed_in(
                tx,
                StageChange {
                    id: Uuid::now_v7(),
                    lead_id: lead.id,
                    from_stage: None,
                    to_stage: Stage::New.as_str().into(),
                    reason: None,
                    note: Some(format!("captured via {}", s.channel.as_str())),
                    actor: by.label.clone(),
                    at: t,
                },
            )
            .await?;
            audit(
                tx,
                by,
                "lead.captured",
                "lead",
                Some(lead.id),
                json!({ "channel": s.channel.as_str() }),
            )
            .await?;
            (lead, None)
        }
    };
    let created = before.is_none();
    let lead = crate::quality::enrich_in(tx, lead, &quality).await?;
    // Announced once enriched, so the event carries what capture made of the submission.
    match &before {
        None => crate::events::leads_created_in(tx, std::slice::from_ref(&lead)).await?,
        Some(b) => {
            let changes = leadline_domain::lead::diff(b, &lead.fields);
            crate::events::lead_updated_in(tx, &lead, &changes).await?
        }
    }
    crate::quality::verify_in(tx, &lead, &quality).await?;
    if created {
        crate::quality::fuzzy_pairs_in(tx, &lead, &quality).await?;
    }
    let mut properties = Map::new();
    properties.insert("channel".into(), s.channel.as_str().into());
    properties.insert("created".into(), created.into());
    properties.insert("submitted".into(), submitted_values(&s.fields));
    // The submission's touch, so attribution sees repeat visits from other campaigns.
    let touch = if s.fields.last_touch.is_empty() {
        &s.fields.first_touch
    } else {
        &s.fields.last_touch
    };
    for (k, v) in [
        ("utm_source", &touch.source),
        ("utm_medium", &touch.medium),
        ("utm_campaign", &touch.campaign),
    ] {
        if let Some(v) = v {
            properties.insert(k.into(), Value::String(v.clone()));
        }
    }
    if !s.extra.is_empty() {
        properties.insert("extra".into(), Value::Object(s.extra.clone()));
    }
    let activity_id = Uuid::now_v7();
    activities::insert(
        tx.conn(),
        &Activity {
            id: activity_id,
            lead_id: lead.id,
            kind: s.channel.activity_kind().into(),
            occurred_at: occurred,
            properties,
            recorded_by: Some(by.label.clone()),
            created_at: t,
        },
    )
    .await?;
    let form = s.extra.get("form").and_then(Value::as_str);
    // A ticked consent box is recorded before scoring, which may enroll the lead in a
    // sequence that requires it.
    if let Some(Value::Object(c)) = s.extra.get("consent")
        && c.get("given") == Some(&Value::Bool(true))
    {
        let text = c.get("text").and_then(Value::as_str).map(str::to_owned);
        let given = crate::consents::NewConsent {
            text_version: text.as_deref().map(crate::consents::text_version),
            consent_text: text,
            ip: c.get("ip").and_then(Value::as_str).map(str::to_owned),
            lawful_basis: Some("consent".into()),
            proof: Some(format!(
                "form submission (activity {activity_id}), user agent: {}",
                c.get("user_agent")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
            )),
            ..crate::consents::NewConsent::new(true, &format!("form:{}", form.unwrap_or("?")))
        };
        crate::consents::record_in(tx, lead.id, given, &by.label).await?;
    }
    let cause = format!("captured via {}", s.channel.as_str());
    let lead = match crate::scoring::score_lead_in(tx, lead.id, &cause).await? {
        // The stored lead carries the new score (and stage, if it qualified).
        Some(_) => leads::get(tx.conn(), lead.id).await?.unwrap_or(lead),
        None => lead,
    };
    if s.channel == CaptureChannel::Form
        && let Some(form) = form
    {
        crate::nurture::run::enroll_on_form_in(tx, &lead, form).await?;
    }
    if let Some(r) = s.referral.as_ref().filter(|r| !r.is_empty()) {
        store::set_referral(tx.conn(), lead.id, r, to_micros(t)).await?;
    }
    if let Some(v) = &s.visitor_id {
        crate::tracking::identify_in(tx, v, lead.id).await?;
    }
    let enrich_later = created && quality.enrichment_hook_url.is_some();
    Ok(Captured {
        lead,
        created,
        enrich_later,
    })
}

/// A new lead's first touch is the visitor's first tracked visit when that visit names a
/// source (UTM parameters or an outside referrer), as analytics tools attribute it; the
/// visit's landing page and referrer fill the touch in any case.
async fn first_touch_from_visit(
    tx: &mut DbTx,
    visitor_id: &str,
    fields: &mut LeadFields,
) -> AppResult<()> {
    if !leadline_domain::tracking::valid_visitor_id(visitor_id) {
        return Ok(());
    }
    let Some(p) = leadline_store::tracking::first_page_view(tx.conn(), visitor_id).await? else {
        return Ok(());
    };
    let text = |k: &str| p.get(k).and_then(Value::as_str);
    let visit = leadline_domain::tracking::touch_from_page(text("url"), text("referrer"));
    let t = &mut fields.first_touch;
    if visit.source.is_some() {
        t.source = visit.source;
        t.medium = visit.medium;
        t.campaign = visit.campaign;
    }
    t.landing_page = t.landing_page.take().or(visit.landing_page);
    t.referrer = t.referrer.take().or(visit.referrer);
    Ok(())
}

/// The non-empty values a submission carried, for its timeline entry.
fn submitted_values(f: &LeadFields) -> Value {
    match serde_json::to_value(f) {
        Ok(Value::Object(m)) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| match v {
                    Value::Null | Value::Bool(false) => false,
                    Value::Object(o) => !o.is_empty() && o.values().any(|x| !x.is_null()),
                    _ => true,
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}
