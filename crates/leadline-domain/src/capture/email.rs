//! Inbound email, read: a raw RFC 5322 message becomes the sender, subject and plain body
//! a lead is made of. Every charset and transfer encoding is decoded by `mail-parser`;
//! nothing here touches the network or the database.

use super::signature;
use crate::lead::{LeadFields, Touch};
use chrono::DateTime;
use mail_parser::MessageParser;

/// Largest message accepted.
pub const MAX_EMAIL_BYTES: usize = 10 * 1024 * 1024;
/// Most of a body kept on the lead (the description of a new lead).
const MAX_BODY_CHARS: usize = 30_000;

/// The parts of a message capture uses.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundEmail {
    pub sender_name: Option<String>,
    pub sender: String,
    pub subject: Option<String>,
    pub body: String,
    pub message_id: Option<String>,
    pub date: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why a message cannot become a lead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailProblem {
    #[error("the message could not be parsed")]
    Unparsable,
    #[error("the message names no sender address")]
    NoSender,
    #[error("the message is larger than {MAX_EMAIL_BYTES} bytes")]
    TooLarge,
}

impl EmailProblem {
    /// The problem's machine-readable code (kept with the rejected message).
    pub fn code(&self) -> &'static str {
        match self {
            EmailProblem::Unparsable => "unparsable",
            EmailProblem::NoSender => "no_sender",
            EmailProblem::TooLarge => "too_large",
        }
    }
}

/// Parses a raw message with mail-parser (everything that reads inbound mail goes through
/// here). mail-parser 0.11.9 has a `debug_assert!` that malformed multipart input reaches
/// (parsers/message.rs, "Invalid part ID", found by fuzzing); release builds skip it, and
/// in debug builds the panic is caught and the message counts as unparsable.
pub fn parse_message(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .ok()
        .flatten()
}

/// Parses a raw message. The sender is `Reply-To` when present (form services and
/// shared mailboxes send on a person's behalf), else `From`.
pub fn parse_email(raw: &[u8]) -> Result<InboundEmail, EmailProblem> {
    if raw.len() > MAX_EMAIL_BYTES {
        return Err(EmailProblem::TooLarge);
    }
    let msg = parse_message(raw).ok_or(EmailProblem::Unparsable)?;
    let addr = msg
        .reply_to()
        .and_then(|a| a.first())
        .filter(|a| a.address.is_some())
        .or_else(|| msg.from().and_then(|a| a.first()))
        .ok_or(EmailProblem::NoSender)?;
    let sender = addr
        .address
        .as_deref()
        .map(str::trim)
        .filter(|a| a.contains('@'))
        .ok_or(EmailProblem::NoSender)?
        .to_owned();
    let body: String = msg
        .body_text(0)
        .map(|b| b.into_owned())
        .unwrap_or_default()
        .replace("\r\n", "\n");
    let body = printable(&body);
    Ok(InboundEmail {
        sender_name: addr
            .name
            .as_deref()
            .map(|n| printable(n.trim().trim_matches('"').trim()))
            .filter(|n| !n.is_empty() && !n.contains('@')),
        sender,
        subject: msg
            .subject()
            .map(|s| printable(s.trim()))
            .filter(|s| !s.is_empty()),
        body,
        message_id: msg.message_id().map(str::to_owned),
        date: msg
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
    })
}

/// Text without control characters other than newline and tab (broken messages carry
/// NULs and escape codes that no lead field accepts).
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// `Ana Lima` → (Ana, Lima); `Lima, Ana` → (Ana, Lima); `Ana` → (None, Ana).
fn split_name(name: &str) -> (Option<String>, Option<String>) {
    if let Some((last, first)) = name.split_once(',') {
        return (
            Some(first.trim().to_owned()).filter(|s| !s.is_empty()),
            Some(last.trim().to_owned()).filter(|s| !s.is_empty()),
        );
    }
    match name.trim().rsplit_once(' ') {
        Some((first, last)) => (Some(first.trim().to_owned()), Some(last.to_owned())),
        None => (None, Some(name.trim().to_owned())),
    }
}

/// The lead fields a message makes: the sender's name split, the signature's phone,
/// title and company, the subject and body as the description, first touch `email`.
pub fn lead_fields(mail: &InboundEmail) -> LeadFields {
    let sig = signature::from_body(&mail.body, mail.sender_name.as_deref());
    let (first, last) = mail
        .sender_name
        .as_deref()
        .map(split_name)
        .unwrap_or((None, None));
    let mut description = String::new();
    if let Some(s) = &mail.subject {
        description.push_str(s);
        description.push_str("\n\n");
    }
    description.extend(mail.body.trim().chars().take(MAX_BODY_CHARS));
    LeadFields {
        first_name: first.map(|s| s.chars().take(100).collect()),
        last_name: last.map(|s| s.chars().take(100).collect()),
        email: Some(mail.sender.clone()),
        phone: sig.phone.filter(|p| p.len() <= 40),
        mobile: sig.mobile.filter(|p| p.len() <= 40),
        title: sig.title.map(|s| s.chars().take(128).collect()),
        company: sig.company.map(|s| s.chars().take(255).collect()),
        description: Some(description).filter(|d| !d.trim().is_empty()),
        first_touch: Touch {
            source: Some("email".into()),
            medium: Some("email".into()),
            ..Default::default()
        },
        ..LeadFields::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_message_is_read() {
        let raw = b"From: \"Lima, Ana\" <ana@acme.example>\r\nSubject: =?UTF-8?Q?Anfrage_f=C3=BCr_CRM?=\r\n\
Message-ID: <x1@acme.example>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nWir br=E4uchten ein Angebot.\r\n\r\nViele Gr=FC=DFe\r\nAna Lima\r\nLeiterin Vertrieb\r\nAcme GmbH\r\nTel: +49 30 1234567\r\n";
        let m = parse_email(raw).unwrap();
        assert_eq!(m.sender, "ana@acme.example");
        assert_eq!(m.subject.as_deref(), Some("Anfrage für CRM"));
        assert!(m.body.contains("Wir bräuchten"));
        assert_eq!(m.message_id.as_deref(), Some("x1@acme.example"));
        let f = lead_fields(&m);
        assert_eq!(f.first_name.as_deref(), Some("Ana"));
        assert_eq!(f.last_name.as_deref(), Some("Lima"));
        assert_eq!(f.company.as_deref(), Some("Acme GmbH"));
        assert_eq!(f.phone.as_deref(), Some("+49 30 1234567"));
    }

    #[test]
    fn a_message_that_trips_the_parser_is_no_panic() {
        // The input cargo-fuzz found (fuzz/seeds/email_parsing): a multipart message whose
        // boundaries mail-parser loses track of.
        let raw = include_bytes!(
            "../../../../fuzz/seeds/email_parsing/found-mail-parser-debug-assert.eml"
        );
        if let Ok(m) = parse_email(raw) {
            let _ = lead_fields(&m);
        }
    }

    #[test]
    fn broken_messages_are_named() {
        assert_eq!(parse_email(b"").unwrap_err(), EmailProblem::Unparsable);
        assert_eq!(
            parse_email(b"Subject: hi\r\n\r\nno sender").unwrap_err(),
            EmailProblem::NoSender
        );
    }
}
