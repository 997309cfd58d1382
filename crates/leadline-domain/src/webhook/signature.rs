//! Signing per the Standard Webhooks specification: the `webhook-id`, `webhook-timestamp`
//! and `webhook-signature` headers, the signature being base64 HMAC-SHA256 over
//! `id.timestamp.body` with the endpoint's `whsec_` secret. During a rotation both the new
//! and the old secret sign, space-separated, so receivers can switch at their own pace.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// An endpoint's signing secret (`whsec_` and base64 of 24–64 random bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Why a secret someone supplied cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a secret is \"whsec_\" followed by base64")]
    NotBase64,
    #[error("a secret holds 24 to 64 bytes")]
    BadLength,
}

impl Secret {
    /// A fresh random secret.
    pub fn generate() -> Secret {
        let mut bytes = vec![0u8; 32];
        rand::fill(&mut bytes[..]);
        Secret(bytes)
    }

    /// Reads `whsec_…` (the prefix may be left off).
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let raw = text.trim();
        let raw = raw.strip_prefix(PREFIX).unwrap_or(raw);
        let bytes = B64.decode(raw).map_err(|_| SecretError::NotBase64)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError::BadLength);
        }
        Ok(Secret(bytes))
    }

    /// The `whsec_…` text form, as stored and shown to admins.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", B64.encode(&self.0))
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length; new_from_slice cannot fail for it.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header value: one signature per secret in force.
pub fn signature_header(secrets: &[&Secret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from the Standard Webhooks specification's reference libraries.
    #[test]
    fn matches_the_specification_example() {
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            s.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_round_trip_and_bad_ones_are_refused() {
        let s = Secret::generate();
        assert_eq!(Secret::parse(&s.expose()).unwrap(), s);
        assert_eq!(Secret::parse("whsec_%%%"), Err(SecretError::NotBase64));
        assert_eq!(Secret::parse("whsec_AAAA"), Err(SecretError::BadLength));
        assert!(!format!("{s:?}").contains(&s.expose()[6..]));
    }

    #[test]
    fn rotation_signs_with_both_secrets() {
        let (a, b) = (Secret::generate(), Secret::generate());
        let h = signature_header(&[&a, &b], "m", 1, b"{}");
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts, [a.sign("m", 1, b"{}"), b.sign("m", 1, b"{}")]);
    }
}
