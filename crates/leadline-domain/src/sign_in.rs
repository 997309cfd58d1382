//! When sign-in attempts are refused before the password is even checked: too many recent
//! failures for one account (guessing a password) or from one address (trying many accounts).
//!
//! Counting failures in a sliding window rather than locking an account until an admin
//! unlocks it means a guesser cannot keep a real user out for longer than the window, and
//! nobody has to be called to unlock anything (OWASP ASVS 2.2.1).

use crate::time::Micros;

/// The limits on failed sign-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInThrottle {
    /// Failures for one account within the window before it refuses sign-ins.
    pub per_account: usize,
    /// Failures from one address within the window before it refuses sign-ins.
    pub per_address: usize,
    /// How far back failures count, in microseconds.
    pub window: Micros,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        SignInThrottle {
            per_account: 10,
            per_address: 50,
            window: 15 * 60 * 1_000_000,
        }
    }
}

/// What the throttle says about a sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Allow,
    /// Refuse without checking; retry after this many microseconds.
    Refuse { retry_after: Micros },
}

impl SignInThrottle {
    /// The verdict at `now`, given the times of the recent failures for the account and
    /// from the address (any order; older ones than the window are ignored).
    pub fn verdict(&self, now: Micros, account: &[Micros], address: &[Micros]) -> Verdict {
        let wait = |times: &[Micros], limit: usize| -> Micros {
            let mut inside: Vec<Micros> = times
                .iter()
                .copied()
                .filter(|t| *t > now - self.window && *t <= now)
                .collect();
            if limit == 0 || inside.len() < limit {
                return 0;
            }
            // Newest first: once the limit-th newest failure leaves the window, fewer than
            // `limit` remain inside it.
            inside.sort_unstable_by(|a, b| b.cmp(a));
            inside[limit - 1] + self.window - now
        };
        let retry_after = wait(account, self.per_account).max(wait(address, self.per_address));
        if retry_after > 0 {
            Verdict::Refuse { retry_after }
        } else {
            Verdict::Allow
        }
    }

    /// How many recent failures the verdict needs per key at most (a bound for the read).
    pub fn read_limit(&self) -> usize {
        self.per_account.max(self.per_address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: Micros = 60 * 1_000_000;

    #[test]
    fn refuses_after_the_account_limit_and_lifts_when_the_oldest_leaves_the_window() {
        let t = SignInThrottle::default();
        let now = 100 * MIN;
        let nine: Vec<Micros> = (0..9).map(|i| now - i * MIN).collect();
        assert_eq!(t.verdict(now, &nine, &[]), Verdict::Allow);
        let ten: Vec<Micros> = (0..10).map(|i| now - i * MIN).collect();
        // The oldest of the ten (9 minutes ago) leaves the 15-minute window in 6 minutes.
        assert_eq!(
            t.verdict(now, &ten, &[]),
            Verdict::Refuse {
                retry_after: 6 * MIN
            }
        );
        assert_eq!(t.verdict(now + 6 * MIN, &ten, &[]), Verdict::Allow);
    }

    #[test]
    fn the_address_limit_counts_on_its_own() {
        let t = SignInThrottle::default();
        let now = 100 * MIN;
        let fifty: Vec<Micros> = (0..50).map(|i| now - i * 1_000_000).collect();
        assert!(matches!(
            t.verdict(now, &[], &fifty),
            Verdict::Refuse { .. }
        ));
        assert_eq!(t.verdict(now, &[], &fifty[..49]), Verdict::Allow);
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let t = SignInThrottle::default();
        let now = 100 * MIN;
        let old: Vec<Micros> = (0..30).map(|i| now - 15 * MIN - i).collect();
        assert_eq!(t.verdict(now, &old, &old), Verdict::Allow);
    }

    proptest! {
        /// Refused exactly when the window holds the limit or more; the wait is positive, at
        /// most the window, and after it the window holds fewer than the limit.
        #[test]
        fn the_wait_is_exactly_long_enough(
            ages in prop::collection::vec(0i64..40 * MIN, 0..30),
            limit in 1usize..12,
        ) {
            let t = SignInThrottle { per_account: limit, per_address: 1000, window: 15 * MIN };
            let now = 1_000 * MIN;
            let times: Vec<Micros> = ages.iter().map(|a| now - a).collect();
            let inside = |at: Micros| times.iter().filter(|x| **x > at - t.window && **x <= at).count();
            match t.verdict(now, &times, &[]) {
                Verdict::Allow => prop_assert!(inside(now) < limit),
                Verdict::Refuse { retry_after } => {
                    prop_assert!(inside(now) >= limit);
                    prop_assert!(retry_after > 0 && retry_after <= t.window);
                    prop_assert!(inside(now + retry_after) < limit);
                    prop_assert!(inside(now + retry_after - 1) >= limit);
                }
            }
        }
    }
}
