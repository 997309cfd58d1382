//! Outbound email. Messages are queued in the transaction of their cause (today: telling
//! an owner about a lead they received) and sent by the mail worker through the configured
//! SMTP relay, with retries. With no relay configured they stay queued: the outbox admins
//! see in the UI, so everything works offline.

use crate::App;
use crate::auth::require_admin;
use crate::error::{AppResult, invalid};
use chrono::{DateTime, Utc};
use leadline_domain::Principal;
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::webhook::retry::{MAX_ATTEMPTS, next_delay};
use leadline_store::mail::{self as store, MessageRow};
use leadline_store::{DbTx, users};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// Stands for the server's public URL in stored bodies; the sender puts the configured one in.
pub(crate) const BASE: &str = "{leadline}";
/// How long a claimed message stays with its sender (longer than the SMTP timeout).
const LEASE: Duration = Duration::from_secs(30);
const BATCH: i64 = 20;

/// A message as the outbox shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboundMessage {
    pub id: Uuid,
    /// Why it was written, e.g. `owner_notification`.
    pub purpose: String,
    pub to: String,
    pub user_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub subject: String,
    /// The plain-text part.
    pub body: String,
    /// The HTML part, when there is one.
    pub html: Option<String>,
    /// The `Message-ID` header, the same on every attempt.
    pub message_id: String,
    /// `queued` (waiting, retrying, or in the outbox when no relay is configured),
    /// `sending`, `sent`, `failed` (given up) or `unknown` (sequence mail whose sender
    /// stopped mid-delivery: not sent again, so never twice).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A message sent to a lead, with what the lead did with it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeadMessage {
    pub id: Uuid,
    /// `sequence:N` (step N of a sequence) or another purpose.
    pub purpose: String,
    pub subject: String,
    /// As in the outbox: `queued`, `sending`, `sent`, `failed`, `unknown`.
    pub status: String,
    pub enrollment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The first open, and how many times it was opened (pixel loads, and clicks: a
    /// click implies an open where images are blocked).
    pub opened_at: Option<DateTime<Utc>>,
    pub opens: i32,
    pub clicked_at: Option<DateTime<Utc>>,
    pub clicks: i32,
    pub replied_at: Option<DateTime<Utc>>,
    pub bounced_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
}

impl From<store::LeadMessageRow> for LeadMessage {
    fn from(m: store::LeadMessageRow) -> Self {
        LeadMessage {
            id: m.id,
            purpose: m.purpose,
            subject: m.subject,
            status: m.status,
            enrollment_id: m.enrollment_id,
            created_at: from_micros(m.created_at),
            sent_at: m.sent_at.map(from_micros),
            opened_at: m.opened_at.map(from_micros),
            opens: m.opens,
            clicked_at: m.clicked_at.map(from_micros),
            clicks: m.clicks,
            replied_at: m.replied_at.map(from_micros),
            bounced_at: m.bounced_at.map(from_micros),
            unsubscribed_at: m.unsubscribed_at.map(from_micros),
        }
    }
}

impl From<MessageRow> for OutboundMessage {
    fn from(m: MessageRow) -> Self {
        OutboundMessage {
            next_attempt_at: (m.status == "queued").then(|| from_micros(m.next_attempt_at)),
            body: m.body_text.replace(BASE, ""),
            html: m.body_html.map(|h| h.replace(BASE, "")),
            id: m.id,
            purpose: m.purpose,
            to: m.to_address,
            user_id: m.user_id,
            lead_id: m.lead_id,
            subject: m.subject,
            message_id: m.message_id,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: from_micros(m.created_at),
            sent_at: m.sent_at.map(from_micros),
        }
    }
}

/// Queues the email telling `owner` about a lead they received (nothing when the user is
/// gone or deactivated).
pub(crate) async fn queue_owner_notification_in(
    tx: &mut DbTx,
    lead: &leadline_domain::Lead,
    owner: Uuid,
    why: &str,
) -> AppResult<()> {
    let Some(user) = users::get(tx.conn(), owner).await?.filter(|u| u.active) else {
        return Ok(());
    };
    let f = &lead.fields;
    let name = f.display_name();
    let mut body = format!("Hello {},\n\nA lead is yours now: {name}", user.name);
    if let Some(c) = &f.company {
        body.push_str(&format!(" ({c})"));
    }
    body.push_str(".\n\n");
    for (label, v) in [
        ("Email", &f.email),
        ("Phone", &f.phone),
        ("Title", &f.title),
    ] {
        if let Some(v) = v {
            body.push_str(&format!("{label}: {v}\n"));
        }
    }
    body.push_str(&format!(
        "Why you: {why}\n\nOpen it: {BASE}/leads/{}\n\nThe first-touch clock is running; a call, an email or a meeting stops it.\n",
        lead.id
    ));
    let subject = format!("New lead for you: {name}");
    let row = message_row(
        "owner_notification",
        &user.email,
        Some(owner),
        Some(lead.id),
        &subject,
        &body,
        None,
    );
    store::queue(tx.conn(), &[row]).await?;
    Ok(())
}

/// A new queued message with its own `Message-ID`.
pub(crate) fn message_row(
    purpose: &str,
    to: &str,
    user: Option<Uuid>,
    lead: Option<Uuid>,
    subject: &str,
    text: &str,
    html: Option<&str>,
) -> MessageRow {
    let id = Uuid::now_v7();
    let t = to_micros(now());
    MessageRow {
        id,
        purpose: purpose.into(),
        to_address: to.into(),
        user_id: user,
        lead_id: lead,
        subject: subject.chars().take(250).collect(),
        body_text: text.into(),
        body_html: html.map(str::to_owned),
        message_id: format!("<{}@leadline>", id.simple()),
        status: "queued".into(),
        attempts: 0,
        next_attempt_at: t,
        last_error: None,
        created_at: t,
        sent_at: None,
        enrollment_id: None,
        step_run: None,
        unsubscribe_token: None,
        at_most_once: false,
        track_token: None,
        to_domain: None,
    }
}

/// The SMTP relay and the sender's address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

/// Why a mailer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("SMTP relay URL: {0}")]
    Relay(String),
    #[error("sender address: {0}")]
    From(String),
}

impl Mailer {
    /// `relay` is a URL: `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS). `public_url` makes links absolute.
    pub fn new(relay: &str, from: &str, public_url: Option<&str>) -> Result<Mailer, MailerError> {
        crate::outbound::install_tls();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(relay)
            .map_err(|e| MailerError::Relay(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailerError::From(e.to_string()))?;
        Ok(Mailer {
            transport,
            from,
            public_url: public_url.unwrap_or("").trim_end_matches('/').to_owned(),
        })
    }

    async fn send(&self, m: &MessageRow) -> Result<(), (bool, String)> {
        let to: Mailbox = m
            .to_address
            .parse()
            .map_err(|e: lettre::address::AddressError| (true, format!("recipient: {e}")))?;
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(Some(m.message_id.clone()));
        if let Some(token) = &m.unsubscribe_token {
            // RFC 2369 and RFC 8058: mail clients offer one-click unsubscribe.
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{}/u/{token}>", self.public_url),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let text = m.body_text.replace(BASE, &self.public_url);
        let email = match &m.body_html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                text,
                html.replace(BASE, &self.public_url),
            )),
            None => builder.header(ContentType::TEXT_PLAIN).body(text),
        }
        .map_err(|e| (true, e.to_string()))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| (e.is_permanent(), e.to_string()))
    }
}

impl App {
    /// One round of the mail worker: sends due messages through `mailer`, retrying
    /// temporary failures with backoff; a permanent refusal or the last attempt gives up.
    /// Returns how many were tried.
    pub async fn send_mail(&self, mailer: &Mailer) -> AppResult<usize> {
        {
            let mut tx = self.db.begin().await?;
            let lost = store::interrupted(tx.conn(), to_micros(now())).await?;
            tx.commit().await?;
            if lost > 0 {
                tracing::warn!(messages = lost, "mail interrupted mid-send marked unknown");
            }
        }
        let mut tried = 0;
        // One message claimed at a time: a claim a crash cuts short covers only the message
        // being sent, which is all at-most-once delivery may lose.
        while tried < BATCH as usize {
            let t = now();
            let lease = t + chrono::Duration::from_std(LEASE).unwrap_or_default();
            let m = {
                let mut tx = self.db.begin().await?;
                let c = store::claim_due(tx.conn(), to_micros(t), to_micros(lease), 1).await?;
                tx.commit().await?;
                match c.into_iter().next() {
                    Some(m) => m,
                    None => break,
                }
            };
            tried += 1;
            let result = mailer.send(&m).await;
            let at = now();
            let (status, next, error) = match result {
                Ok(()) => ("sent", at, None),
                Err((permanent, e)) => {
                    let jitter = rand::random::<f64>() * 2.0 - 1.0;
                    match next_delay(m.attempts.max(1) as u32, jitter) {
                        Some(wait) if !permanent && (m.attempts as u32) < MAX_ATTEMPTS => {
                            ("queued", at + wait, Some(e))
                        }
                        _ => ("failed", at, Some(e)),
                    }
                }
            };
            let mut tx = self.db.begin().await?;
            store::finish(
                tx.conn(),
                m.id,
                status,
                to_micros(next),
                error.as_deref(),
                to_micros(at),
            )
            .await?;
            if let (Some(enrollment), Some(lead)) = (m.enrollment_id, m.lead_id) {
                if status == "failed" {
                    crate::nurture::run::mail_failed_in(&mut tx, &m, error.as_deref()).await?;
                }
                if status == "sent" {
                    let data = serde_json::json!({"lead_id": lead, "message_id": m.message_id,
                        "enrollment_id": enrollment, "subject": m.subject, "step": m.purpose});
                    crate::events::emit_in(
                        &mut tx,
                        vec![crate::events::Event::lead("email.sent", lead, data, at)],
                    )
                    .await?;
                }
            }
            tx.commit().await?;
            if status == "sent" {
                tracing::debug!(message_id = %m.id, "mail sent");
            } else {
                tracing::warn!(message_id = %m.id, status, attempt = m.attempts, "mail not sent");
            }
        }
        Ok(tried)
    }

    /// The messages written to a lead the caller can see, newest first (at most 200).
    pub async fn lead_messages(&self, by: &Principal, lead: Uuid) -> AppResult<Vec<LeadMessage>> {
        let mut c = self.db.acquire().await?;
        crate::leads::visible_lead(c.conn(), by, lead).await?;
        Ok(store::of_lead(c.conn(), lead, 200)
            .await?
            .into_iter()
            .map(LeadMessage::from)
            .collect())
    }

    /// The outbox (admins): messages newest first, optionally of one state or lead.
    pub async fn outbox(
        &self,
        by: &Principal,
        status: Option<&str>,
        lead: Option<Uuid>,
        limit: u32,
    ) -> AppResult<Vec<OutboundMessage>> {
        require_admin(by)?;
        if let Some(s) = status
            && !matches!(s, "queued" | "sending" | "sent" | "failed" | "unknown")
        {
            return Err(invalid(
                "status",
                "invalid_status",
                "queued, sent or failed",
            ));
        }
        let mut c = self.db.acquire().await?;
        Ok(
            store::list(c.conn(), status, lead, i64::from(limit.clamp(1, 500)))
                .await?
                .into_iter()
                .map(OutboundMessage::from)
                .collect(),
        )
    }
}

/// Runs the mail worker for the life of the process.
pub async fn run(app: App, mailer: Mailer) {
    loop {
        let pause = match app.send_mail(&mailer).await {
            Ok(n) if n as i64 >= BATCH => Duration::ZERO,
            Ok(_) => Duration::from_secs(1),
            Err(e) => {
                tracing::error!(error = %e, "mail round failed");
                Duration::from_secs(5)
            }
        };
        tokio::time::sleep(pause).await;
    }
}
