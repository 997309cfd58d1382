//! Rate limits on public submissions: per client address and per form, from the capture
//! settings (rebuilt when an admin changes the numbers).

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use leadline_domain::capture::CaptureSettings;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

type Limiter<K> = Arc<DefaultKeyedRateLimiter<K>>;

/// Keys tracked before old entries are swept.
const SWEEP_AT: usize = 10_000;

/// The limiters of the public endpoints.
#[derive(Default)]
pub struct SubmissionLimits {
    per_ip: Mutex<Option<(u32, Limiter<IpAddr>)>>,
    per_form: Mutex<Option<(u32, Limiter<String>)>>,
}

/// Which limit a submission hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Address,
    Form,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    slot: &Mutex<Option<(u32, Limiter<K>)>>,
    per_minute: u32,
) -> Limiter<K> {
    let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
    match &*guard {
        Some((n, l)) if *n == per_minute => l.clone(),
        _ => {
            let quota =
                Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
            let l = Arc::new(RateLimiter::keyed(quota));
            *guard = Some((per_minute, l.clone()));
            l
        }
    }
}

impl SubmissionLimits {
    /// Counts one submission from `ip` to `form`; says which limit it exceeds, if any.
    pub fn check(&self, ip: IpAddr, form: &str, s: &CaptureSettings) -> Result<(), Limited> {
        let by_ip = limiter(&self.per_ip, s.submissions_per_ip_per_minute);
        let by_form = limiter(&self.per_form, s.submissions_per_form_per_minute);
        if by_ip.len() > SWEEP_AT {
            by_ip.retain_recent();
        }
        if by_form.len() > SWEEP_AT {
            by_form.retain_recent();
        }
        by_ip.check_key(&ip).map_err(|_| Limited::Address)?;
        by_form
            .check_key(&form.to_owned())
            .map_err(|_| Limited::Form)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address_and_follow_the_settings() {
        let l = SubmissionLimits::default();
        let s = CaptureSettings {
            submissions_per_ip_per_minute: 2,
            ..CaptureSettings::default()
        };
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.check(a, "f", &s).is_ok());
        assert!(l.check(a, "f", &s).is_ok());
        assert_eq!(l.check(a, "f", &s), Err(Limited::Address));
        assert!(
            l.check(b, "f", &s).is_ok(),
            "another address has its own budget"
        );
        let more = CaptureSettings {
            submissions_per_ip_per_minute: 5,
            ..s
        };
        assert!(l.check(a, "f", &more).is_ok(), "a new limit starts afresh");
    }
}
