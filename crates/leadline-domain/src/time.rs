//! Timestamps. Every instant is stored as microseconds since the Unix epoch (UTC) on both
//! databases: identical ordering and arithmetic everywhere, no driver-specific encoding.

use chrono::{DateTime, TimeZone, Utc};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// A day (24 hours) in [`Micros`].
pub const DAY_MICROS: Micros = 86_400_000_000;

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
    #[cfg(feature = "manual-clock")]
    if let Some(t) = manual_clock::get() {
        return t;
    }
    from_micros(to_micros(Utc::now()))
}

/// A clock tests can set, so that a simulated week runs in seconds (SLA deadlines, working
/// hours). Only compiled with the `manual-clock` feature, which only the test builds enable;
/// while unset, [`now`] reads the system clock.
#[cfg(feature = "manual-clock")]
pub mod manual_clock {
    use super::{Micros, from_micros, to_micros};
    use chrono::{DateTime, Utc};
    use std::sync::atomic::{AtomicI64, Ordering};

    static AT: AtomicI64 = AtomicI64::new(Micros::MIN);

    /// Stops the clock at `t`.
    pub fn set(t: DateTime<Utc>) {
        AT.store(to_micros(t), Ordering::SeqCst);
    }

    /// Goes back to the system clock.
    pub fn clear() {
        AT.store(Micros::MIN, Ordering::SeqCst);
    }

    pub(super) fn get() -> Option<DateTime<Utc>> {
        let m = AT.load(Ordering::SeqCst);
        (m != Micros::MIN).then(|| from_micros(m))
    }
}

/// Serde helpers that keep API timestamps as RFC 3339 strings.
pub mod rfc3339 {
    pub use chrono::serde::ts_microseconds;
}
