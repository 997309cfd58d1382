//! SLA policies: how soon a lead in a stage and of a priority must first be touched by
//! sales, when to warn, what happens on breach, and the attempt cadence that follows
//! unanswered calls until the lead is recycled to marketing.

use super::calendar::BusinessCalendar;
use crate::stage::Stage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The SLA policy (one per installation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// The business time the minutes count in.
    #[serde(default)]
    pub calendar: BusinessCalendar,
    /// First match wins; a lead no target matches has no SLA clock.
    pub targets: Vec<SlaTarget>,
    /// Business minutes before the deadline that the owner is warned.
    #[serde(default = "fifteen")]
    pub warn_before_minutes: u32,
    /// On breach, route the lead to another rep of its team (once per stage).
    #[serde(default)]
    pub reassign_on_breach: bool,
    /// Follow-up attempts after calls that did not connect.
    #[serde(default)]
    pub cadence: Cadence,
}

fn fifteen() -> u32 {
    15
}

/// A first-touch target: leads in these stages with a matching priority must be touched
/// within `minutes` business minutes of entering the stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaTarget {
    /// A short name shown with the clock, e.g. `hot`.
    pub name: String,
    /// Stages the target applies to; empty means `new` and `mql`.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Priority patterns (`A1`, `A*`, `*1`); empty means any priority.
    #[serde(default)]
    pub priorities: Vec<String>,
    /// Business minutes to the first touch.
    pub minutes: u32,
}

/// Follow-up attempts: after a call that did not connect, the next call is due this many
/// business minutes later; after `max_attempts` without connecting, the lead goes back
/// to marketing (`nurture`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cadence {
    /// Business minutes to the next attempt, by attempt (the last repeats).
    pub retry_after_minutes: Vec<u32>,
    /// Attempts without connection before the lead is recycled; 0 never recycles.
    pub max_attempts: u32,
}

impl Default for Cadence {
    fn default() -> Self {
        // Same day, next day, then every other day: the common six-touch cadence.
        Cadence {
            retry_after_minutes: vec![120, 480, 960],
            max_attempts: 6,
        }
    }
}

impl Cadence {
    /// Business minutes from the `attempt`-th unanswered attempt (1-based) to the next.
    pub fn retry_after(&self, attempt: u32) -> u32 {
        let i = attempt.saturating_sub(1) as usize;
        self.retry_after_minutes
            .get(i)
            .or(self.retry_after_minutes.last())
            .copied()
            .unwrap_or(480)
    }

    /// Whether `attempts` unanswered attempts are enough to recycle the lead.
    pub fn exhausted(&self, attempts: u32) -> bool {
        self.max_attempts > 0 && attempts >= self.max_attempts
    }
}

impl Default for SlaPolicy {
    /// What an inside-sales team commonly starts with: the hottest leads within half an
    /// hour, warm within two hours, everything else within a business day.
    fn default() -> Self {
        let t = |name: &str, priorities: &[&str], minutes| SlaTarget {
            name: name.into(),
            stages: vec![],
            priorities: priorities.iter().map(|p| (*p).to_owned()).collect(),
            minutes,
        };
        SlaPolicy {
            calendar: BusinessCalendar::default(),
            targets: vec![
                t("hot", &["*1"], 30),
                t("warm", &["*2"], 120),
                t("standard", &[], 480),
            ],
            warn_before_minutes: fifteen(),
            reassign_on_breach: false,
            cadence: Cadence::default(),
        }
    }
}

/// Whether a priority pattern matches (ASCII case-insensitive): `*` stands for any run of
/// characters. Patterns are at most 8 bytes, so the backtracking stays small.
fn pattern_matches(pattern: &str, priority: &str) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
            Some((c, rest)) => {
                s.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && glob(rest, &s[1..])
            }
        }
    }
    glob(pattern.as_bytes(), priority.as_bytes())
}

/// The deadlines of one clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub warn_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

impl SlaTarget {
    /// The stages the target covers.
    pub fn covers(&self, stage: Stage) -> bool {
        if self.stages.is_empty() {
            matches!(stage, Stage::New | Stage::Mql)
        } else {
            self.stages.contains(&stage)
        }
    }
}

impl SlaPolicy {
    /// The target for a lead in `stage` with `priority`, if any.
    pub fn target_for(&self, stage: Stage, priority: Option<&str>) -> Option<&SlaTarget> {
        self.targets.iter().find(|t| {
            t.covers(stage)
                && (t.priorities.is_empty()
                    || priority.is_some_and(|p| t.priorities.iter().any(|q| pattern_matches(q, p))))
        })
    }

    /// The policy as a TOML document (the UI's editor).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a TOML policy (not yet validated).
    pub fn from_toml(s: &str) -> Result<SlaPolicy, String> {
        toml::from_str(s).map_err(|e| e.to_string())
    }

    /// When a clock started at `start` for `minutes` warns and falls due.
    pub fn deadlines(&self, start: DateTime<Utc>, minutes: u32) -> Deadlines {
        let due_at = self.calendar.add_minutes(start, minutes);
        let warn_at = self
            .calendar
            .add_minutes(start, minutes.saturating_sub(self.warn_before_minutes));
        Deadlines { warn_at, due_at }
    }

    /// When the next attempt is due after the `attempt`-th unanswered one at `at`.
    pub fn next_attempt(&self, at: DateTime<Utc>, attempt: u32) -> DateTime<Utc> {
        self.calendar
            .add_minutes(at, self.cadence.retry_after(attempt))
    }

    /// Checks the policy; messages by field.
    pub fn validate(&self) -> Result<(), crate::ValidationErrors> {
        let mut e = crate::ValidationErrors::default();
        self.calendar.validate("calendar.", &mut e);
        if self.targets.len() > 50 {
            e.add("targets", "too_many", "at most 50 targets");
        }
        for (i, t) in self.targets.iter().enumerate() {
            let name = t.name.trim();
            if name.is_empty() || name.chars().count() > 60 {
                e.add(
                    format!("targets[{i}].name"),
                    "invalid",
                    "a name of 1 to 60 characters",
                );
            }
            if t.minutes == 0 || t.minutes > 60 * 24 * 30 {
                e.add(
                    format!("targets[{i}].minutes"),
                    "out_of_range",
                    "1 to 43200 business minutes",
                );
            }
            if let Some(s) = t
                .stages
                .iter()
                .find(|s| s.is_terminal() || **s == Stage::Disqualified)
            {
                e.add(
                    format!("targets[{i}].stages"),
                    "closed_stage",
                    format!("{s} is closed: nobody follows it up"),
                );
            }
            if t.priorities.iter().any(|p| p.is_empty() || p.len() > 8) {
                e.add(
                    format!("targets[{i}].priorities"),
                    "invalid",
                    "patterns of 1 to 8 characters such as A1, A* or *1",
                );
            }
        }
        if self.warn_before_minutes > 60 * 24 {
            e.add(
                "warn_before_minutes",
                "out_of_range",
                "at most 1440 business minutes",
            );
        }
        let c = &self.cadence;
        if c.retry_after_minutes.is_empty()
            || c.retry_after_minutes.len() > 20
            || c.retry_after_minutes
                .iter()
                .any(|m| *m == 0 || *m > 60 * 24 * 30)
        {
            e.add(
                "cadence.retry_after_minutes",
                "out_of_range",
                "1 to 20 waits of 1 to 43200 business minutes",
            );
        }
        if c.max_attempts > 50 {
            e.add(
                "cadence.max_attempts",
                "out_of_range",
                "at most 50 attempts (0: never recycle)",
            );
        }
        e.into_result()
    }
}

/// Where a clock stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ClockState {
    /// Touched in time.
    Met,
    /// Touched, but after the deadline.
    MetLate,
    /// Running; the deadline is more than the warning window away.
    Running,
    /// Running and inside the warning window.
    Warning,
    /// Past the deadline, untouched.
    Breached,
}

impl ClockState {
    /// Where a clock with these deadlines stands at `now`.
    pub fn at(d: Deadlines, touched_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        match touched_at {
            Some(t) if t <= d.due_at => ClockState::Met,
            Some(_) => ClockState::MetLate,
            None if now >= d.due_at => ClockState::Breached,
            None if now >= d.warn_at => ClockState::Warning,
            None => ClockState::Running,
        }
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Met => "met",
            ClockState::MetLate => "met_late",
            ClockState::Running => "running",
            ClockState::Warning => "warning",
            ClockState::Breached => "breached",
        }
    }
}

/// Activity kinds that count as sales touching the lead (outreach by a person), as opposed
/// to the lead's own behaviour (page views, email opens).
pub const TOUCH_KINDS: [&str; 5] = ["call", "email", "meeting", "sms", "linkedin"];

/// Whether an activity of this kind, recorded by a person, is a first touch.
pub fn is_touch(kind: &str) -> bool {
    TOUCH_KINDS.contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn priority_patterns() {
        assert!(pattern_matches("A1", "a1"));
        assert!(pattern_matches("A*", "A3"));
        assert!(pattern_matches("*1", "C1"));
        assert!(!pattern_matches("*1", "C2"));
        assert!(pattern_matches("*", "B4"));
        assert!(!pattern_matches("A*", "B1"));
        assert!(pattern_matches("*a*", "xyAz"));
    }

    #[test]
    fn first_matching_target_by_stage_and_priority() {
        let p = SlaPolicy::default();
        assert_eq!(p.target_for(Stage::New, Some("A1")).unwrap().name, "hot");
        assert_eq!(p.target_for(Stage::Mql, Some("B2")).unwrap().name, "warm");
        assert_eq!(
            p.target_for(Stage::New, Some("D4")).unwrap().name,
            "standard"
        );
        assert_eq!(p.target_for(Stage::New, None).unwrap().name, "standard");
        assert!(p.target_for(Stage::Sal, Some("A1")).is_none());
        assert!(p.target_for(Stage::Converted, Some("A1")).is_none());
        assert!(p.validate().is_ok());
    }

    #[test]
    fn warnings_come_before_the_deadline_in_business_time() {
        let p = SlaPolicy::default();
        // Wednesday 16:50 UTC, 30 minutes: due Thursday 09:20, warned Thursday 09:05.
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 16, 50, 0).unwrap();
        let d = p.deadlines(start, 30);
        assert_eq!(
            d.due_at,
            Utc.with_ymd_and_hms(2026, 11, 26, 9, 20, 0).unwrap()
        );
        assert_eq!(
            d.warn_at,
            Utc.with_ymd_and_hms(2026, 11, 26, 9, 5, 0).unwrap()
        );
        assert_eq!(ClockState::at(d, None, start), ClockState::Running);
        assert_eq!(ClockState::at(d, None, d.warn_at), ClockState::Warning);
        assert_eq!(ClockState::at(d, None, d.due_at), ClockState::Breached);
        assert_eq!(ClockState::at(d, Some(d.due_at), d.due_at), ClockState::Met);
        assert_eq!(
            ClockState::at(d, Some(d.due_at + Duration::minutes(1)), d.due_at),
            ClockState::MetLate
        );
    }

    #[test]
    fn the_default_policy_round_trips_through_toml() {
        let p = SlaPolicy::default();
        assert_eq!(SlaPolicy::from_toml(&p.to_toml()), Ok(p));
        assert!(SlaPolicy::from_toml("targets = 3").is_err());
    }

    #[test]
    fn bad_policies_are_refused_with_the_field() {
        let mut p = SlaPolicy::default();
        p.targets[0].minutes = 0;
        p.targets[1].stages = vec![Stage::Converted];
        p.calendar.time_zone = "Mars/Base".into();
        p.cadence.retry_after_minutes.clear();
        let e = p.validate().unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"targets[0].minutes"), "{fields:?}");
        assert!(fields.contains(&"targets[1].stages"));
        assert!(fields.contains(&"calendar.time_zone"));
        assert!(fields.contains(&"cadence.retry_after_minutes"));
    }

    #[test]
    fn cadence_repeats_its_last_wait_and_recycles_after_the_limit() {
        let c = Cadence::default();
        assert_eq!(c.retry_after(1), 120);
        assert_eq!(c.retry_after(3), 960);
        assert_eq!(c.retry_after(9), 960);
        assert!(!c.exhausted(5));
        assert!(c.exhausted(6));
        assert!(
            !Cadence {
                max_attempts: 0,
                ..c
            }
            .exhausted(100)
        );
    }

    proptest! {
        #[test]
        fn the_warning_never_comes_after_the_deadline(
            start in 1_767_225_600i64..1_798_761_600,
            minutes in 1u32..3000,
            warn in 0u32..600,
        ) {
            let p = SlaPolicy { warn_before_minutes: warn, ..SlaPolicy::default() };
            let d = p.deadlines(DateTime::from_timestamp(start, 0).unwrap(), minutes);
            prop_assert!(d.warn_at <= d.due_at);
        }

        #[test]
        fn patterns_without_wildcards_are_case_insensitive_equality(a in "[A-Da-d][1-4]", b in "[A-D][1-4]") {
            prop_assert_eq!(pattern_matches(&a, &b), a.eq_ignore_ascii_case(&b));
        }
    }
}
