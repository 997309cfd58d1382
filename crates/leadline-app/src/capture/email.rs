//! Email-to-lead: a raw RFC 5322 message (from the SMTP listener, the HTTP endpoint or
//! `leadline import-eml`) becomes a lead, or an `email_received` activity of the lead the
//! sender already is. Every charset and transfer encoding is decoded by `mail-parser`.

use super::{Captured, Submission};
use crate::App;
use crate::error::{AppError, AppResult};
use leadline_domain::capture::CaptureChannel;
pub use leadline_domain::capture::email::{
    EmailProblem, InboundEmail, MAX_EMAIL_BYTES, lead_fields, parse_email,
};
use leadline_domain::{Principal, ValidationErrors};
use serde_json::{Map, Value, json};

/// Most of a rejected message kept for review.
const MAX_KEPT_BYTES: usize = 256 * 1024;

/// The submission an email makes.
pub fn submission(mail: &InboundEmail) -> Submission {
    let fields = lead_fields(mail);
    let mut extra = Map::new();
    if let Some(s) = &mail.subject {
        extra.insert("subject".into(), Value::String(s.clone()));
    }
    if let Some(m) = &mail.message_id {
        extra.insert("message_id".into(), Value::String(m.clone()));
    }
    extra.insert(
        "body".into(),
        Value::String(mail.body.trim().chars().take(4_000).collect()),
    );
    Submission {
        extra,
        occurred_at: mail.date.filter(|d| *d <= chrono::Utc::now()),
        ..Submission::new(CaptureChannel::Email, fields)
    }
}

/// What became of an inbound message.
#[derive(Debug, Clone)]
pub enum Received {
    /// A lead was created or updated (an inquiry).
    Lead(Box<Captured>),
    /// A reply to, or a bounce of, mail Leadline sent.
    Returned(crate::nurture::inbound::ReturnedMail),
}

impl App {
    /// Takes a raw email: a reply or bounce about mail Leadline sent is handled as such
    /// (see [`crate::nurture::inbound`]); anything else is captured as a lead. A message
    /// that cannot become a lead is kept (its first 256 KiB) with the reason, and the caller
    /// gets a validation error.
    pub async fn capture_email(
        &self,
        by: &Principal,
        raw: &[u8],
        remote_addr: Option<String>,
    ) -> AppResult<Received> {
        crate::auth::require_marketing(by, "email intake")?;
        if raw.len() <= MAX_EMAIL_BYTES
            && let Some(r) = self.take_returned(raw).await?
        {
            return Ok(Received::Returned(r));
        }
        let keep = |problem: String, code: &'static str| {
            let kept = String::from_utf8_lossy(&raw[..raw.len().min(MAX_KEPT_BYTES)]).into_owned();
            let payload = json!({ "size": raw.len(), "message": kept });
            (problem, code, payload)
        };
        let mail = match parse_email(raw) {
            Ok(m) => m,
            Err(p) => {
                let (problem, code, payload) = keep(p.to_string(), p.code());
                self.keep_rejected(CaptureChannel::Email, code, &problem, payload, remote_addr)
                    .await?;
                let mut e = ValidationErrors::default();
                e.add("message", code, problem);
                return Err(AppError::Validation(e));
            }
        };
        match self.capture(by, submission(&mail)).await {
            Ok(c) => Ok(Received::Lead(Box::new(c))),
            Err(AppError::Validation(errs)) => {
                let (problem, _, payload) = keep(errs.to_string(), "invalid");
                self.keep_rejected(
                    CaptureChannel::Email,
                    "invalid",
                    &problem,
                    payload,
                    remote_addr,
                )
                .await?;
                Err(AppError::Validation(errs))
            }
            Err(e) => Err(e),
        }
    }
}
