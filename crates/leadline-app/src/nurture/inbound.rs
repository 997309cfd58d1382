//! Mail that comes back about mail Leadline sent, arriving at the SMTP listener or uploaded
//! like any inbound message: bounce reports (RFC 3464 delivery status notifications, or a
//! mail server's plain notice quoting our message), replies (`In-Reply-To`/`References`
//! naming one of our Message-IDs) and auto-replies. They are told apart here, before
//! email-to-lead capture sees the message, so a bounce never becomes a lead called
//! MAILER-DAEMON and a reply ends the lead's sequences instead of being just another email.

use super::engagement::{engaged_in, note_in};
use super::run::mail_failed_in;
use crate::App;
use crate::error::AppResult;
use leadline_domain::time::{now, to_micros};
use leadline_store::DbTx;
use leadline_store::mail::{self, Engagement, MessageRow};
use leadline_store::nurture as store;
use mail_parser::{Message, MimeHeaders, PartType};
use regex::Regex;
use serde::Serialize;
use serde_json::Map;
use std::sync::LazyLock;
use uuid::Uuid;

/// What a returned message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// A delivery failure report about messages `ids` (our Message-IDs, with brackets).
    Bounce {
        ids: Vec<String>,
        /// A permanent failure (5.x.x, `Action: failed`); else a delay or temporary failure.
        permanent: bool,
        /// The enhanced status code, e.g. `5.1.1`.
        status: Option<String>,
        /// The receiving server's words, e.g. `smtp; 550 5.1.1 no such user`.
        diagnostic: Option<String>,
    },
    /// A reply naming messages `ids`.
    Reply {
        ids: Vec<String>,
        /// Sent by a program (out of office, vacation notice), not a person.
        auto: bool,
        subject: Option<String>,
        /// The reply's text, cut to 4,000 characters.
        body: String,
    },
}

/// Our Message-IDs as they appear quoted in a bounce (`<hex@leadline>`).
static OUR_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([0-9a-f]{32}@leadline)>").expect("valid regex"));
/// An enhanced status code (RFC 3463) in a bounce's prose.
static STATUS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([245])\.\d{1,3}\.\d{1,3}\b").expect("valid regex"));

/// Reads what a raw message says about mail we sent; `None` when it is not a bounce or a
/// reply (or cannot be parsed: capture then reports that).
pub fn classify(raw: &[u8]) -> Option<Returned> {
    let msg = leadline_domain::capture::email::parse_message(raw)?;
    let report = msg.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && c.attribute("report-type")
                .is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    });
    let daemon = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address.as_deref())
        .and_then(|a| a.split('@').next())
        .is_some_and(|local| {
            local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster")
        });
    if report || daemon {
        return Some(bounce(&msg, raw));
    }
    let mut ids: Vec<String> = Vec::new();
    for h in [msg.in_reply_to(), msg.references()] {
        for id in h.as_text_list().unwrap_or_default() {
            let id = format!("<{}>", id.trim().trim_matches(['<', '>']));
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    if ids.is_empty() {
        return None;
    }
    let header = |name: &'static str| msg.header(name).and_then(|v| v.as_text()).map(str::trim);
    let auto = header("Auto-Submitted").is_some_and(|v| !v.eq_ignore_ascii_case("no"))
        || header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("Precedence").is_some_and(|v| v.eq_ignore_ascii_case("auto_reply"));
    Some(Returned::Reply {
        ids,
        auto,
        subject: msg.subject().map(|s| s.trim().to_owned()),
        body: msg
            .body_text(0)
            .map(|b| b.trim().chars().take(4_000).collect())
            .unwrap_or_default(),
    })
}

/// The failure a bounce reports and the messages it is about.
fn bounce(msg: &Message<'_>, raw: &[u8]) -> Returned {
    let mut ids: Vec<String> = Vec::new();
    let mut add = |id: String| {
        if !ids.contains(&id) {
            ids.push(id);
        }
    };
    for c in OUR_ID.captures_iter(&String::from_utf8_lossy(raw)) {
        add(format!("<{}>", &c[1]));
    }
    let (mut action, mut status, mut diagnostic) = (None, None, None);
    for part in &msg.parts {
        match &part.body {
            // The returned original (its headers may be encoded differently from the raw).
            PartType::Message(m) => {
                if let Some(id) = m.message_id() {
                    let id = format!("<{id}>");
                    if OUR_ID.is_match(&id) {
                        add(id);
                    }
                }
            }
            _ if part.content_type().is_some_and(|c| {
                c.ctype().eq_ignore_ascii_case("message")
                    && c.subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"))
            }) =>
            {
                // Per-message fields, a blank line, then per-recipient fields; the first
                // recipient's are the ones read.
                for line in part.text_contents().unwrap_or_default().lines() {
                    let Some((name, value)) = line.split_once(':') else {
                        continue;
                    };
                    let value = value.trim().to_owned();
                    match name.trim().to_ascii_lowercase().as_str() {
                        "action" if action.is_none() => action = Some(value.to_ascii_lowercase()),
                        "status" if status.is_none() => status = Some(value),
                        "diagnostic-code" if diagnostic.is_none() => diagnostic = Some(value),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if status.is_none() {
        let text: String = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
        status = STATUS.captures(&text).map(|c| c[0].to_owned());
        if diagnostic.is_none() {
            diagnostic = text
                .lines()
                .find(|l| STATUS.is_match(l))
                .map(|l| l.trim().chars().take(300).collect());
        }
    }
    // A delay (`Action: delayed`) or a 4.x.x status is temporary; a notice with no status
    // at all reports a failure.
    let permanent = action.as_deref() != Some("delayed")
        && !status.as_deref().is_some_and(|s| s.starts_with('4'));
    Returned::Bounce {
        ids,
        permanent,
        status,
        diagnostic: diagnostic.map(|d| d.chars().take(300).collect()),
    }
}

/// What Leadline did with a returned message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReturnedMail {
    /// `replied`, `auto_replied`, `bounced` (permanent: the address is suppressed),
    /// `soft_bounced` (temporary: noted on the timeline), `unmatched_bounce` (a bounce about
    /// no message Leadline sent; kept for review).
    pub outcome: String,
    pub lead_id: Option<Uuid>,
    /// The message it was about.
    pub message_id: Option<Uuid>,
}

/// Our message the ids name that went to a lead (not a notification to a user).
async fn sent_to_lead(tx: &mut DbTx, ids: &[String]) -> AppResult<Option<MessageRow>> {
    Ok(mail::by_message_ids(tx.conn(), ids)
        .await?
        .filter(|m| m.lead_id.is_some() && m.user_id.is_none()))
}

impl App {
    /// Handles a message about mail Leadline sent. `None` when it is none of that (a new
    /// inquiry, or a reply to something we did not send): capture takes it then.
    pub(crate) async fn take_returned(&self, raw: &[u8]) -> AppResult<Option<ReturnedMail>> {
        let Some(returned) = classify(raw) else {
            return Ok(None);
        };
        let mut tx = self.db.begin().await?;
        let out = match returned {
            Returned::Reply {
                ids,
                auto,
                subject,
                body,
            } => {
                let Some(m) = sent_to_lead(&mut tx, &ids).await? else {
                    return Ok(None);
                };
                let lead_id = m.lead_id;
                let mut extra = Map::new();
                if let Some(s) = subject {
                    extra.insert("subject".into(), s.into());
                }
                extra.insert("body".into(), body.into());
                if auto {
                    note_in(&mut tx, &m, "email_auto_replied", extra, "returned mail").await?;
                } else {
                    engaged_in(&mut tx, &m, Engagement::Replied, extra).await?;
                    if let Some(lead) = lead_id {
                        store::exit_active_of_lead(tx.conn(), lead, "replied", to_micros(now()))
                            .await?;
                    }
                }
                ReturnedMail {
                    outcome: if auto { "auto_replied" } else { "replied" }.into(),
                    lead_id,
                    message_id: Some(m.id),
                }
            }
            Returned::Bounce {
                ids,
                permanent,
                status,
                diagnostic,
            } => {
                let Some(m) = sent_to_lead(&mut tx, &ids).await? else {
                    drop(tx);
                    let kept = String::from_utf8_lossy(&raw[..raw.len().min(256 * 1024)]);
                    self.keep_rejected(
                        leadline_domain::capture::CaptureChannel::Email,
                        "unmatched_bounce",
                        "a bounce report about no message Leadline sent",
                        serde_json::json!({ "size": raw.len(), "message": kept }),
                        None,
                    )
                    .await?;
                    return Ok(Some(ReturnedMail {
                        outcome: "unmatched_bounce".into(),
                        lead_id: None,
                        message_id: None,
                    }));
                };
                let mut extra = Map::new();
                extra.insert("permanent".into(), permanent.into());
                extra.insert("status".into(), status.clone().into());
                extra.insert("diagnostic".into(), diagnostic.clone().into());
                note_in(&mut tx, &m, "email_bounced", extra, "returned mail").await?;
                if permanent {
                    let first = mail::record_engagement(
                        tx.conn(),
                        m.id,
                        Engagement::Bounced,
                        to_micros(now()),
                    )
                    .await?;
                    if first {
                        let why = diagnostic.or(status).unwrap_or_else(|| "bounced".into());
                        mail_failed_in(&mut tx, &m, Some(&why)).await?;
                    }
                }
                ReturnedMail {
                    outcome: if permanent { "bounced" } else { "soft_bounced" }.into(),
                    lead_id: m.lead_id,
                    message_id: Some(m.id),
                }
            }
        };
        tx.commit().await?;
        tracing::info!(outcome = %out.outcome, message = ?out.message_id, "returned mail handled");
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0193a5b23333700080000000000000aa@leadline";

    fn dsn(action: &str, status: &str) -> Vec<u8> {
        format!(
            "From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n\
To: nurture@leadline.example\r\nSubject: Undelivered Mail Returned to Sender\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\
--b1\r\nContent-Type: message/delivery-status\r\n\r\n\
Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; ana@acme.example\r\n\
Action: {action}\r\nStatus: {status}\r\nDiagnostic-Code: smtp; 550 {status} no such user\r\n\r\n\
--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{ID}>\r\nSubject: Welcome\r\n\r\n--b1--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_delivery_status_notification_is_read() {
        let Some(Returned::Bounce {
            ids,
            permanent,
            status,
            diagnostic,
        }) = classify(&dsn("failed", "5.1.1"))
        else {
            panic!("not read as a bounce")
        };
        assert_eq!(ids, [format!("<{ID}>")]);
        assert!(permanent);
        assert_eq!(status.as_deref(), Some("5.1.1"));
        assert_eq!(diagnostic.as_deref(), Some("smtp; 550 5.1.1 no such user"));
        let Some(Returned::Bounce { permanent, .. }) = classify(&dsn("delayed", "4.4.1")) else {
            panic!()
        };
        assert!(!permanent);
    }

    #[test]
    fn a_plain_bounce_notice_quoting_our_message_is_a_bounce() {
        let raw = format!(
            "From: postmaster@mx.example\r\nSubject: failure notice\r\n\r\n\
Sorry, I couldn't deliver your message.\r\n<ana@acme.example>: 552 5.2.2 mailbox full\r\n\r\n\
--- Below this line is a copy of the message.\r\n\r\nMessage-ID: <{ID}>\r\nSubject: hi\r\n"
        );
        let Some(Returned::Bounce {
            ids,
            permanent,
            status,
            ..
        }) = classify(raw.as_bytes())
        else {
            panic!()
        };
        assert_eq!(ids.len(), 1);
        assert!(permanent);
        assert_eq!(status.as_deref(), Some("5.2.2"));
    }

    #[test]
    fn replies_and_auto_replies_are_told_apart() {
        let reply = format!(
            "From: Ana <ana@acme.example>\r\nIn-Reply-To: <{ID}>\r\nReferences: <x@y> <{ID}>\r\n\
Subject: Re: Welcome\r\n\r\nYes, call me tomorrow.\r\n"
        );
        let Some(Returned::Reply {
            ids, auto, body, ..
        }) = classify(reply.as_bytes())
        else {
            panic!()
        };
        assert!(ids.contains(&format!("<{ID}>")));
        assert!(!auto);
        assert_eq!(body, "Yes, call me tomorrow.");
        let ooo = reply.replace("Subject:", "Auto-Submitted: auto-replied\r\nSubject:");
        assert!(matches!(
            classify(ooo.as_bytes()),
            Some(Returned::Reply { auto: true, .. })
        ));
        assert_eq!(
            classify(b"From: bob@acme.example\r\nSubject: hi\r\n\r\nNew inquiry"),
            None
        );
    }
}
