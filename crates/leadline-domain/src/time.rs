//! Timestamps. Every instant is stored as microseconds since the Unix epoch (UTC) on both
//! databases: identical ordering and arithmetic everywhere, no driver-specific encoding.

use chrono::{DateTime, TimeZone, Utc};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// Converts an instant to stored microseconds.
pub fn to_micros(t: DateTime<Utc>) -> Micros {
    t.timestamp_micros()
}

/// Converts stored microseconds back to an instant. Out-of-range values clamp to the epoch
/// rather than panic: they can only come from a hand-edited database.
pub fn from_micros(m: Micros) -> DateTime<Utc> {
    Utc.timestamp_micros(m).single().unwrap_or_default()
}

/// The current instant truncated to microseconds, so a value survives a store round trip
/// unchanged.
pub fn now() -> DateTime<Utc> {
    from_micros(to_micros(Utc::now()))
}

/// Serde helpers that keep API timestamps as RFC 3339 strings.
pub mod rfc3339 {
    pub use chrono::serde::ts_microseconds;
}
