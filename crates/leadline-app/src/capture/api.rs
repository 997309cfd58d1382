//! The capture API: one submission or a batch, made safe to retry with an
//! `Idempotency-Key` (the same key and body replays the first response; nothing is
//! captured twice).

use super::{Submission, capture_in};
use crate::App;
use crate::error::{AppError, AppResult, invalid};
use chrono::{DateTime, Utc};
use leadline_domain::capture::CaptureChannel;
use leadline_domain::source::Referral;
use leadline_domain::time::{now, to_micros};
use leadline_domain::{FieldError, LeadFields, Principal, ValidationErrors};
use leadline_store::StoreError;
use leadline_store::capture::{self as store, IdempotentResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Most submissions in one batch call.
pub const MAX_BATCH: usize = 500;

/// One submission to the capture API.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// The lead's fields, as in `POST /leads` (a repeat submission for a known email or
    /// external id fills that lead's empty fields and moves its last touch).
    #[schema(value_type = Object)]
    pub lead: Value,
    /// Who referred the lead.
    #[serde(default)]
    pub referral: Option<Referral>,
    /// The first-party visitor id from the tracking snippet; the visitor's anonymous
    /// activity joins the lead's timeline.
    #[serde(default)]
    pub visitor_id: Option<String>,
    /// When the submission happened, if not now.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Anything else to keep with the submission on the timeline (form name, page…).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
}

/// The result of one submission in a batch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaptureItemResult {
    /// Position in the batch, from 0.
    pub index: usize,
    /// `created`, `updated` or `invalid`.
    pub outcome: String,
    pub lead_id: Option<Uuid>,
    /// The problems of an invalid submission.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// What the capture API answers.
#[derive(Debug, Clone)]
pub struct CaptureResponse {
    pub status: u16,
    pub body: Value,
    /// True when this is the stored answer to an earlier request with the same key.
    pub replayed: bool,
}

fn parse_item(v: Value) -> Result<Submission, ValidationErrors> {
    let req: CaptureRequest = parse_request(v)?;
    let fields = LeadFields::from_json(req.lead)?;
    if let Some(v) = &req.visitor_id {
        crate::tracking::check_visitor_id(v)?;
    }
    Ok(Submission {
        channel: CaptureChannel::Api,
        fields,
        extra: req.properties,
        referral: req.referral,
        visitor_id: req.visitor_id,
        occurred_at: req.occurred_at,
    })
}

fn parse_request(v: Value) -> Result<CaptureRequest, ValidationErrors> {
    serde_json::from_value(v).map_err(|e| {
        let mut errs = ValidationErrors::default();
        errs.add("", "invalid_body", e.to_string());
        errs
    })
}

fn check_key(key: &str) -> AppResult<()> {
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            "Idempotency-Key",
            "invalid_key",
            "must be 1-255 visible ASCII characters",
        ));
    }
    Ok(())
}

impl App {
    /// Captures one submission (a JSON object) or a batch (an array of at most
    /// [`MAX_BATCH`]). Admins, managers and marketers may capture.
    pub async fn capture_api(
        &self,
        by: &Principal,
        idempotency_key: Option<&str>,
        body: Value,
    ) -> AppResult<CaptureResponse> {
        crate::auth::require_marketing(by, "capture")?;
        if let Some(k) = idempotency_key {
            check_key(k)?;
        }
        let request_hash = hex::encode(Sha256::digest(body.to_string().as_bytes()));
        let scope = by
            .api_key_id
            .or(by.user_id)
            .map_or_else(|| by.label.clone(), |id| id.to_string());
        let defs = self.custom_fields().await?;
        let mut enrich: Vec<Uuid> = Vec::new();
        for _attempt in 0..3 {
            let mut tx = self.db.begin().await?;
            if let Some(k) = idempotency_key
                && let Some(stored) = store::idempotent_response(tx.conn(), &scope, k).await?
            {
                if stored.request_hash != request_hash {
                    return Err(AppError::Conflict(
                        "this Idempotency-Key was used with a different request body".into(),
                    ));
                }
                return Ok(CaptureResponse {
                    status: stored.status,
                    body: stored.body,
                    replayed: true,
                });
            }
            let (status, out) = match body.clone() {
                Value::Array(items) => {
                    if items.len() > MAX_BATCH {
                        return Err(invalid(
                            "",
                            "too_many",
                            format!("a batch holds at most {MAX_BATCH} submissions"),
                        ));
                    }
                    let mut results = Vec::with_capacity(items.len());
                    enrich.clear();
                    for (index, item) in items.into_iter().enumerate() {
                        let checked =
                            parse_item(item).and_then(|s| s.fields.clone().clean(&defs).map(|_| s));
                        match checked {
                            Ok(s) => match capture_in(&mut tx, by, s, &defs).await {
                                Ok(c) => {
                                    if c.enrich_later {
                                        enrich.push(c.lead.id);
                                    }
                                    results.push(CaptureItemResult {
                                        index,
                                        outcome: if c.created { "created" } else { "updated" }
                                            .into(),
                                        lead_id: Some(c.lead.id),
                                        errors: None,
                                    })
                                }
                                // Refusals (a source's policy) happen before any write, so
                                // the batch's transaction is still good; a clash on write
                                // (`taken`) is not, and fails the batch.
                                Err(AppError::Validation(errors))
                                    if !errors.0.iter().any(|e| e.code == "taken") =>
                                {
                                    results.push(CaptureItemResult {
                                        index,
                                        outcome: "invalid".into(),
                                        lead_id: None,
                                        errors: Some(errors.0),
                                    })
                                }
                                Err(e) => return Err(e),
                            },
                            Err(errors) => results.push(CaptureItemResult {
                                index,
                                outcome: "invalid".into(),
                                lead_id: None,
                                errors: Some(errors.0),
                            }),
                        }
                    }
                    (200, json!({ "results": results }))
                }
                item @ Value::Object(_) => {
                    let s = parse_item(item)?;
                    let c = capture_in(&mut tx, by, s, &defs).await?;
                    enrich.clear();
                    if c.enrich_later {
                        enrich.push(c.lead.id);
                    }
                    let status = if c.created { 201 } else { 200 };
                    (
                        status,
                        json!({
                            "outcome": if c.created { "created" } else { "updated" },
                            "lead_id": c.lead.id,
                            "lead": c.lead,
                        }),
                    )
                }
                _ => {
                    return Err(invalid(
                        "",
                        "invalid_type",
                        "the body must be a submission object or an array of them",
                    ));
                }
            };
            if let Some(k) = idempotency_key {
                let r = IdempotentResponse {
                    request_hash: request_hash.clone(),
                    status,
                    body: out.clone(),
                };
                match store::remember_response(tx.conn(), &scope, k, &r, to_micros(now())).await {
                    Ok(()) => {}
                    // Another request with this key won the race: ours rolls back and the
                    // next attempt replays theirs.
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            match tx.commit().await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) if idempotency_key.is_some() => continue,
                Err(e) => return Err(e.into()),
            }
            for id in &enrich {
                self.enrich_in_background(*id);
            }
            return Ok(CaptureResponse {
                status,
                body: out,
                replayed: false,
            });
        }
        Err(AppError::Conflict(
            "a request with this Idempotency-Key is still in progress; retry".into(),
        ))
    }
}

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl App {
    /// Forgets idempotency records older than [`IDEMPOTENCY_TTL`]; returns how many.
    pub async fn purge_idempotency_keys(&self) -> AppResult<u64> {
        let before = to_micros(now()) - IDEMPOTENCY_TTL.as_micros() as i64;
        let mut tx = self.db.begin().await?;
        let n = store::purge_idempotency(tx.conn(), before).await?;
        tx.commit().await?;
        Ok(n)
    }
}
