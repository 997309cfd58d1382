//! Nurture sequences: ordered steps a lead walks through — send an email, wait, branch on
//! what the lead did, create a task for the owner, change the stage, leave for another
//! sequence — with the checks made when a sequence is saved: every step well-formed, every
//! jump inside the sequence, and no loop that could run without ever waiting.

use crate::validation::ValidationErrors;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One step. Steps run in order; a branch jumps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Send this template to the lead.
    Email { template_id: Uuid },
    /// Wait this long (at least a minute).
    Wait {
        #[serde(default)]
        days: u32,
        #[serde(default)]
        hours: u32,
        #[serde(default)]
        minutes: u32,
    },
    /// Go to step `then` (1-based) when the condition holds, else to `otherwise` (or the
    /// next step).
    Branch {
        condition: Condition,
        then: usize,
        #[serde(default)]
        otherwise: Option<usize>,
    },
    /// A task for the lead's owner (call, email, meeting), due this many hours later.
    Task {
        kind: String,
        title: String,
        #[serde(default)]
        due_in_hours: u32,
    },
    /// Move the lead to this stage (e.g. `mql`: back to sales).
    Stage { to: crate::Stage },
    /// Leave this sequence for another.
    MoveTo { sequence_id: Uuid },
}

/// What a branch asks about the lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "test", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The lead opened any message of this enrollment.
    Opened,
    /// The lead clicked a link in any message of this enrollment.
    Clicked,
    /// The lead's score is at least this.
    ScoreAtLeast { score: i32 },
    /// The lead has an activity of this kind since enrolling (e.g. `form_submission`).
    Activity { kind: String },
}

/// What people write for a sequence.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SequenceInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub steps: Vec<Step>,
    /// Enroll a lead automatically when it enters one of these stages (e.g. `nurture`).
    #[serde(default)]
    pub enroll_on_stages: Vec<crate::Stage>,
    /// A lead may go through the sequence again after finishing it (default: once only).
    #[serde(default)]
    pub allow_reenrollment: bool,
    /// Send only on these weekdays (1 = Monday … 7 = Sunday; empty = any day) …
    #[serde(default)]
    pub send_days: Vec<u8>,
    /// … between these hours of the lead's time zone (default 8–18).
    #[serde(default)]
    pub send_from_hour: Option<u8>,
    #[serde(default)]
    pub send_until_hour: Option<u8>,
    /// At most this many messages per day from this sequence (0 = no limit).
    #[serde(default)]
    pub daily_limit: u32,
    #[serde(default)]
    pub active: Option<bool>,
}

/// The longest wait, a year.
const MAX_WAIT_MINUTES: u64 = 366 * 24 * 60;

impl Step {
    /// Minutes this step waits (0 for all but waits).
    pub fn wait_minutes(&self) -> u64 {
        match self {
            Step::Wait {
                days,
                hours,
                minutes,
            } => u64::from(*days) * 1440 + u64::from(*hours) * 60 + u64::from(*minutes),
            _ => 0,
        }
    }

    /// The steps that may come after step `i` (0-based) in a sequence of `n` steps; `n`
    /// stands for the end.
    pub fn successors(&self, i: usize, n: usize) -> Vec<usize> {
        match self {
            Step::Branch {
                then, otherwise, ..
            } => vec![then - 1, otherwise.map(|o| o - 1).unwrap_or(i + 1).min(n)],
            Step::MoveTo { .. } => vec![n],
            _ => vec![(i + 1).min(n)],
        }
    }
}

impl SequenceInput {
    /// Checks the sequence; `templates` are the ids of existing templates.
    pub fn clean(mut self, templates: &[Uuid]) -> Result<SequenceInput, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() {
            errors.add("name", "required", "a sequence needs a name");
        }
        if self.steps.is_empty() {
            errors.add("steps", "required", "a sequence needs at least one step");
        }
        if self.steps.len() > 100 {
            errors.add("steps", "too_many", "at most 100 steps");
        }
        let n = self.steps.len();
        for (i, s) in self.steps.iter().enumerate() {
            let field = format!("steps[{}]", i + 1);
            match s {
                Step::Email { template_id } if !templates.contains(template_id) => {
                    errors.add(&field, "unknown_template", "no template with this id")
                }
                Step::Wait { .. } if s.wait_minutes() == 0 => {
                    errors.add(&field, "too_short", "a wait lasts at least a minute")
                }
                Step::Wait { .. } if s.wait_minutes() > MAX_WAIT_MINUTES => {
                    errors.add(&field, "too_long", "a wait lasts at most a year")
                }
                Step::Branch {
                    then, otherwise, ..
                } => {
                    for (name, to) in [("then", Some(*then)), ("otherwise", *otherwise)] {
                        if let Some(to) = to
                            && !(1..=n).contains(&to)
                        {
                            errors.add(
                                format!("{field}.{name}"),
                                "invalid_step",
                                format!("must be a step from 1 to {n}"),
                            );
                        }
                    }
                }
                Step::Task { kind, title, .. } => {
                    if !matches!(kind.as_str(), "call" | "email" | "meeting") {
                        errors.add(format!("{field}.kind"), "invalid", "call, email or meeting");
                    }
                    if title.trim().is_empty() || title.chars().count() > 200 {
                        errors.add(format!("{field}.title"), "invalid", "1 to 200 characters");
                    }
                }
                _ => {}
            }
        }
        for d in &self.send_days {
            if !(1..=7).contains(d) {
                errors.add(
                    "send_days",
                    "invalid",
                    "weekdays are 1 (Monday) to 7 (Sunday)",
                );
                break;
            }
        }
        let (from, until) = (
            self.send_from_hour.unwrap_or(8),
            self.send_until_hour.unwrap_or(18),
        );
        if from > 23 || until > 24 || from >= until {
            errors.add(
                "send_until_hour",
                "invalid",
                "the window is from-hour < until-hour, within 0–24",
            );
        }
        if errors.is_empty()
            && let Some(start) = loop_without_wait(&self.steps)
        {
            errors.add(
                format!("steps[{}]", start + 1),
                "loop_without_wait",
                "this step is on a loop with no wait step: a lead could go round it without end",
            );
        }
        errors.into_result().map(|()| self)
    }
}

impl SequenceInput {
    /// The sequence as TOML, for the editor.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a TOML sequence (not yet checked).
    pub fn from_toml(s: &str) -> Result<SequenceInput, String> {
        toml::from_str(s).map_err(|e| e.to_string())
    }
}

impl SequenceInput {
    /// The first moment at or after `at` inside the send window (weekdays and hours in
    /// time zone `tz`, an IANA name; UTC when unknown).
    pub fn next_send_time(&self, at: DateTime<Utc>, tz: Option<&str>) -> DateTime<Utc> {
        let tz: Tz = tz.and_then(|t| t.parse().ok()).unwrap_or(Tz::UTC);
        let (from, until) = (
            u32::from(self.send_from_hour.unwrap_or(8)),
            u32::from(self.send_until_hour.unwrap_or(18)),
        );
        let day_ok = |d: chrono::Weekday| {
            self.send_days.is_empty() || self.send_days.contains(&(d.number_from_monday() as u8))
        };
        let local = at.with_timezone(&tz);
        for offset in 0..8 {
            let date = local.date_naive() + chrono::Days::new(offset);
            if !day_ok(date.weekday()) {
                continue;
            }
            let open = date
                .and_hms_opt(from, 0, 0)
                .and_then(|t| tz.from_local_datetime(&t).earliest());
            let close = if until >= 24 {
                (date + chrono::Days::new(1))
                    .and_hms_opt(0, 0, 0)
                    .and_then(|t| tz.from_local_datetime(&t).earliest())
            } else {
                date.and_hms_opt(until, 0, 0)
                    .and_then(|t| tz.from_local_datetime(&t).earliest())
            };
            let (Some(open), Some(close)) = (open, close) else {
                continue;
            };
            let (open, close) = (open.with_timezone(&Utc), close.with_timezone(&Utc));
            if at < close {
                return at.max(open);
            }
        }
        at
    }
}

/// Each step in words, numbered as the branches number them: the flow people read.
pub fn describe(steps: &[Step], name_of: impl Fn(Uuid) -> String) -> Vec<String> {
    let span = |m: u64| match (m / 1440, m % 1440 / 60, m % 60) {
        (d, 0, 0) => format!("{d} day{}", if d == 1 { "" } else { "s" }),
        (0, h, 0) => format!("{h} hour{}", if h == 1 { "" } else { "s" }),
        (0, 0, mi) => format!("{mi} minute{}", if mi == 1 { "" } else { "s" }),
        (d, h, mi) => format!("{d}d {h}h {mi}m"),
    };
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Step::Email { template_id } => format!("Send “{}”", name_of(*template_id)),
            Step::Wait { .. } => format!("Wait {}", span(s.wait_minutes())),
            Step::Branch {
                condition,
                then,
                otherwise,
            } => {
                let test = match condition {
                    Condition::Opened => "opened a message".to_owned(),
                    Condition::Clicked => "clicked a link".to_owned(),
                    Condition::ScoreAtLeast { score } => format!("scores {score} or more"),
                    Condition::Activity { kind } => format!("has a “{kind}” activity"),
                };
                let other = otherwise.unwrap_or(i + 2);
                let other = if other > steps.len() {
                    "finish".to_owned()
                } else {
                    format!("go to step {other}")
                };
                format!("If the lead {test}, go to step {then}; otherwise {other}")
            }
            Step::Task {
                kind,
                title,
                due_in_hours,
            } => format!("Task for the owner ({kind}): “{title}”, due in {due_in_hours} h"),
            Step::Stage { to } => format!("Move the lead to {}", to.label()),
            Step::MoveTo { sequence_id } => format!("Continue in “{}”", name_of(*sequence_id)),
        })
        .collect()
}

/// A step on a cycle of steps none of which waits, if there is one (0-based). Waits break
/// cycles: only edges out of non-wait steps are followed.
pub fn loop_without_wait(steps: &[Step]) -> Option<usize> {
    let n = steps.len();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; n];
    fn visit(i: usize, steps: &[Step], state: &mut [u8]) -> Option<usize> {
        let n = steps.len();
        state[i] = 1;
        if steps[i].wait_minutes() == 0 {
            for j in steps[i].successors(i, n) {
                if j >= n {
                    continue;
                }
                match state[j] {
                    1 => return Some(j),
                    0 => {
                        if let Some(x) = visit(j, steps, state) {
                            return Some(x);
                        }
                    }
                    _ => {}
                }
            }
        }
        state[i] = 2;
        None
    }
    (0..n).find_map(|i| {
        if state[i] == 0 {
            visit(i, steps, &mut state)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wait() -> Step {
        Step::Wait {
            days: 1,
            hours: 0,
            minutes: 0,
        }
    }
    fn branch(then: usize) -> Step {
        Step::Branch {
            condition: Condition::Opened,
            then,
            otherwise: None,
        }
    }
    fn stage() -> Step {
        Step::Stage {
            to: crate::Stage::Mql,
        }
    }

    #[test]
    fn sending_waits_for_the_window_in_the_leads_time_zone() {
        let s = SequenceInput {
            send_days: vec![1, 2, 3, 4, 5],
            send_from_hour: Some(9),
            send_until_hour: Some(17),
            ..Default::default()
        };
        let at = |x: &str| DateTime::parse_from_rfc3339(x).unwrap().with_timezone(&Utc);
        // Tuesday 10:00 in Berlin (09:00 UTC): inside.
        assert_eq!(
            s.next_send_time(at("2026-11-24T09:00:00Z"), Some("Europe/Berlin")),
            at("2026-11-24T09:00:00Z")
        );
        // Tuesday 17:30 Berlin: Wednesday 09:00 Berlin.
        assert_eq!(
            s.next_send_time(at("2026-11-24T16:30:00Z"), Some("Europe/Berlin")),
            at("2026-11-25T08:00:00Z")
        );
        // Saturday: Monday 09:00 UTC for an unknown zone.
        assert_eq!(
            s.next_send_time(at("2026-11-28T12:00:00Z"), Some("Mars/Base")),
            at("2026-11-30T09:00:00Z")
        );
        // Early morning: the same day's opening.
        assert_eq!(
            s.next_send_time(at("2026-11-24T05:00:00Z"), None),
            at("2026-11-24T09:00:00Z")
        );
    }

    #[test]
    fn loops_need_a_wait() {
        assert_eq!(loop_without_wait(&[stage(), branch(1)]), Some(0));
        assert_eq!(loop_without_wait(&[wait(), stage(), branch(1)]), None);
        assert_eq!(loop_without_wait(&[stage(), branch(2)]), Some(1));
        assert_eq!(loop_without_wait(&[stage(), branch(3), stage()]), None);
    }

    #[test]
    fn the_flow_reads_as_words_and_toml_round_trips() {
        let t = Uuid::now_v7();
        let steps = vec![Step::Email { template_id: t }, wait(), branch(1), stage()];
        let words = describe(&steps, |_| "Welcome".into());
        assert_eq!(words[0], "Send “Welcome”");
        assert_eq!(words[1], "Wait 1 day");
        assert_eq!(
            words[2],
            "If the lead opened a message, go to step 1; otherwise go to step 4"
        );
        let s = SequenceInput {
            name: "N".into(),
            steps,
            ..Default::default()
        };
        assert_eq!(
            SequenceInput::from_toml(&s.to_toml()).unwrap().steps,
            s.steps
        );
    }

    #[test]
    fn sequences_are_checked() {
        let t = Uuid::now_v7();
        let ok = SequenceInput {
            name: "Nurture".into(),
            steps: vec![Step::Email { template_id: t }, wait(), branch(1)],
            ..Default::default()
        };
        assert!(ok.clone().clean(&[t]).is_ok());
        let e = ok.clone().clean(&[]).unwrap_err();
        assert_eq!(
            (e.0[0].field.as_str(), e.0[0].code.as_str()),
            ("steps[1]", "unknown_template")
        );
        let bad = SequenceInput {
            steps: vec![Step::Email { template_id: t }, branch(1)],
            ..ok.clone()
        };
        assert_eq!(bad.clean(&[t]).unwrap_err().0[0].code, "loop_without_wait");
        let bad = SequenceInput {
            steps: vec![
                branch(9),
                Step::Wait {
                    days: 0,
                    hours: 0,
                    minutes: 0,
                },
            ],
            ..ok
        };
        let codes: Vec<String> = bad
            .clean(&[t])
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, ["invalid_step", "too_short"]);
    }

    fn any_step(n: usize) -> impl Strategy<Value = Step> {
        prop_oneof![Just(wait()), Just(stage()), (1..=n).prop_map(branch),]
    }

    proptest! {
        // Walking from any step without passing a wait ends within n steps — unless the
        // checker found a loop.
        #[test]
        fn accepted_sequences_always_reach_a_wait_or_the_end(steps in (1usize..8).prop_flat_map(|n| proptest::collection::vec(any_step(n), n))) {
            if loop_without_wait(&steps).is_none() {
                let n = steps.len();
                for start in 0..n {
                    // Every path: explore all successors breadth-first with a step budget.
                    let mut frontier = vec![start];
                    for _ in 0..=n {
                        frontier = frontier
                            .into_iter()
                            .filter(|&i| i < n && steps[i].wait_minutes() == 0)
                            .flat_map(|i| steps[i].successors(i, n))
                            .collect();
                    }
                    prop_assert!(frontier.iter().all(|&i| i >= n || steps[i].wait_minutes() > 0));
                }
            }
        }
    }
}
