//! Lead aging: how long a lead has been around, since anyone did anything with it, and in
//! its stage; when an open lead counts as stale; the age buckets of the aging report.

mod past;

pub use past::{LeadTimeline, PastAging, PastCount};

use crate::stage::Stage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Days without activity after which an open lead in each stage is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StaleAfter {
    pub new: u32,
    pub mql: u32,
    pub sal: u32,
    pub sql: u32,
    pub nurture: u32,
}

impl Default for StaleAfter {
    fn default() -> Self {
        // New and marketing-qualified leads go cold within days; nurture is slow by design.
        StaleAfter {
            new: 2,
            mql: 3,
            sal: 5,
            sql: 14,
            nurture: 90,
        }
    }
}

impl StaleAfter {
    /// The limit for a stage; closed stages (converted, disqualified) never go stale.
    pub fn days(&self, stage: Stage) -> Option<u32> {
        match stage {
            Stage::New => Some(self.new),
            Stage::Mql => Some(self.mql),
            Stage::Sal => Some(self.sal),
            Stage::Sql => Some(self.sql),
            Stage::Nurture => Some(self.nurture),
            Stage::Converted | Stage::Disqualified => None,
        }
    }
}

/// A lead's ages, in whole days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Ages {
    pub since_created: i64,
    /// Since its last activity (its creation when it has none).
    pub since_activity: i64,
    /// Since it entered its current stage.
    pub in_stage: i64,
    /// No activity for longer than its stage allows.
    pub stale: bool,
}

fn days(from: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - from).num_days().max(0)
}

/// A lead's ages at `now`.
pub fn ages(
    stage: Stage,
    created: DateTime<Utc>,
    last_activity: Option<DateTime<Utc>>,
    stage_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: &StaleAfter,
) -> Ages {
    let last = last_activity.unwrap_or(created).max(created);
    Ages {
        since_created: days(created, now),
        since_activity: days(last, now),
        in_stage: days(stage_since.unwrap_or(created), now),
        // Longer than the limit to the microsecond, like the aging report: two and a half
        // days without activity is stale under a two-day limit.
        stale: policy
            .days(stage)
            .is_some_and(|d| now - last > chrono::Duration::days(i64::from(d))),
    }
}

/// Upper bounds (in days, exclusive) of the report's age buckets; the last is open-ended.
pub const BUCKETS: [(&str, Option<i64>); 5] = [
    ("under 1 day", Some(1)),
    ("1–7 days", Some(7)),
    ("7–30 days", Some(30)),
    ("30–90 days", Some(90)),
    ("over 90 days", None),
];

/// The bucket (index into [`BUCKETS`]) of an age in days.
pub fn bucket(days: i64) -> usize {
    BUCKETS
        .iter()
        .position(|(_, upper)| upper.is_some_and(|u| days < u))
        .unwrap_or(BUCKETS.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn ages_and_staleness() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let p = StaleAfter::default();
        let a = ages(
            Stage::Mql,
            now - Duration::days(20),
            Some(now - Duration::days(4)),
            Some(now - Duration::days(10)),
            now,
            &p,
        );
        assert_eq!((a.since_created, a.since_activity, a.in_stage), (20, 4, 10));
        assert!(a.stale, "an MQL untouched for 4 days (limit 3)");
        let closed = ages(
            Stage::Converted,
            now - Duration::days(400),
            None,
            None,
            now,
            &p,
        );
        assert!(!closed.stale);
        assert_eq!(closed.since_activity, 400);
        // Past the limit by part of a day: stale, though only three whole days went by.
        let a = ages(
            Stage::Mql,
            now - Duration::days(20),
            Some(now - Duration::hours(3 * 24 + 12)),
            None,
            now,
            &p,
        );
        assert_eq!(a.since_activity, 3);
        assert!(a.stale, "3.5 days without activity under a 3-day limit");
        let exactly = ages(
            Stage::Mql,
            now - Duration::days(20),
            Some(now - Duration::days(3)),
            None,
            now,
            &p,
        );
        assert!(!exactly.stale, "exactly at the limit is not past it");
    }

    #[test]
    fn buckets() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(29), 2);
        assert_eq!(bucket(90), 4);
        assert_eq!(bucket(10_000), 4);
    }
}
