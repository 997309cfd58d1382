//! When a failed webhook delivery is tried again: exponential steps with jitter, eight
//! attempts spread over about 27 hours, so a receiver down for a day still gets every event.

use chrono::Duration;

/// Seconds to wait after the 1st, 2nd, … failed attempt.
const STEPS: [i64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// Attempts a delivery gets before it is given up.
pub const MAX_ATTEMPTS: u32 = STEPS.len() as u32 + 1;

/// How long to wait after `failed` attempts have failed, or `None` when the delivery is
/// given up. `jitter` in [-1, 1] moves the wait by up to ±10 %, so deliveries that failed
/// together do not all come back in the same second.
pub fn next_delay(failed: u32, jitter: f64) -> Option<Duration> {
    let base = *STEPS.get(usize::try_from(failed.checked_sub(1)?).ok()?)?;
    let j = jitter.clamp(-1.0, 1.0) * 0.1;
    // Rounded to milliseconds; the factor stays within [0.9, 1.1].
    let ms = (base as f64 * 1000.0 * (1.0 + j)).round() as i64;
    Some(Duration::milliseconds(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_schedule_spans_about_a_day() {
        let total: i64 = (1..MAX_ATTEMPTS)
            .map(|n| next_delay(n, 0.0).unwrap().num_seconds())
            .sum();
        assert!((24 * 3600..30 * 3600).contains(&total), "{total}");
        assert_eq!(next_delay(1, 0.0), Some(Duration::seconds(5)));
        assert_eq!(next_delay(MAX_ATTEMPTS, 0.0), None);
        assert_eq!(next_delay(0, 0.0), None);
    }

    proptest! {
        #[test]
        fn waits_grow_and_stay_within_the_jitter(n in 1u32..8, j in -1.0f64..1.0, k in -1.0f64..1.0) {
            let d = next_delay(n, j).unwrap();
            let base = next_delay(n, 0.0).unwrap();
            prop_assert!(d >= base * 9 / 10 && d <= base * 11 / 10);
            // Up to the two last (equal) steps, even the worst jitter keeps waits growing.
            if n < 6 {
                prop_assert!(next_delay(n + 1, k).unwrap() > d);
            }
        }
    }
}
