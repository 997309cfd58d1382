//! Nurture sequences: ordered steps a lead walks through — send an email, wait (a span, or
//! until a weekday and time in the lead's time zone), branch on what the lead did, create a
//! task for the owner, change the stage or a field, announce a webhook event, leave for
//! another sequence — with the checks made when a sequence is saved: every step well-formed, every
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
    /// Wait until the next time it is `hour:minute` in the lead's time zone (UTC when
    /// unknown) on one of `weekdays` (1 = Monday … 7 = Sunday; empty = any day).
    WaitUntil {
        #[serde(default)]
        weekdays: Vec<u8>,
        hour: u8,
        #[serde(default)]
        minute: u8,
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
    /// Set a lead field (`industry`, `custom.newsletter`, …) to a value.
    SetField {
        field: String,
        value: serde_json::Value,
    },
    /// Send webhook subscribers a `sequence.event` named `name`.
    Event { name: String },
    /// Leave this sequence for another.
    MoveTo { sequence_id: Uuid },
}

/// Lead fields a sequence may not set: who owns a lead is routing's business, and the
/// external id and email identify the person.
const UNSETTABLE: [&str; 5] = ["owner_id", "team_id", "external_id", "email", "custom"];

/// A score range; `max` open when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreBand {
    pub min: i32,
    #[serde(default)]
    pub max: Option<i32>,
}

impl ScoreBand {
    /// True when `score` is in the band.
    pub fn contains(&self, score: i32) -> bool {
        score >= self.min && self.max.is_none_or(|m| score <= m)
    }

    /// True when a score moving from `before` (none: never scored) to `after` enters the band.
    pub fn entered(&self, before: Option<i32>, after: i32) -> bool {
        self.contains(after) && !before.is_some_and(|b| self.contains(b))
    }
}

/// What a branch asks about the lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "test", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The lead opened any message of this enrollment.
    Opened,
    /// The lead clicked a link in any message of this enrollment.
    Clicked,
    /// The lead replied to any message of this enrollment (auto-replies do not count).
    Replied,
    /// The lead's grade is this or better (`A` is best).
    GradeAtLeast { grade: crate::Grade },
    /// A lead field (`industry`, `country`, `custom.plan`, …) has this value.
    FieldEquals {
        field: String,
        value: serde_json::Value,
    },
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
    /// … when it submits one of these forms (by slug).
    #[serde(default)]
    pub enroll_on_forms: Vec<String>,
    /// … when its score (default model) enters this band.
    #[serde(default)]
    pub enroll_on_score: Option<ScoreBand>,
    /// Send only to leads with marketing-email consent on record (a ticked form consent
    /// box or consent recorded over the API), for opt-in regimes such as the GDPR.
    #[serde(default)]
    pub requires_consent: bool,
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
    /// At most this many sequence messages (of all sequences) per hour to one recipient
    /// domain, so a big company's mail server does not see a burst (0 = no limit).
    #[serde(default)]
    pub domain_hourly_limit: u32,
    #[serde(default)]
    pub active: Option<bool>,
}

/// The longest wait, a year.
const MAX_WAIT_MINUTES: u64 = 366 * 24 * 60;

impl Step {
    /// True for the steps that end an advance and wait.
    pub fn is_wait(&self) -> bool {
        matches!(self, Step::Wait { .. } | Step::WaitUntil { .. })
    }

    /// Minutes this step waits (0 for all but duration waits).
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
                    then,
                    otherwise,
                    condition,
                } => {
                    if let Condition::FieldEquals { field: name, .. } = condition
                        && !name.starts_with("custom.")
                        && !crate::LeadFields::NAMES.contains(&name.as_str())
                    {
                        errors.add(
                            format!("{field}.condition.field"),
                            "unknown_field",
                            "a lead field or custom.KEY",
                        );
                    }
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
                Step::WaitUntil {
                    weekdays,
                    hour,
                    minute,
                } => {
                    if *hour > 23 || *minute > 59 {
                        errors.add(&field, "invalid_time", "hour 0–23 and minute 0–59");
                    }
                    if weekdays.iter().any(|d| !(1..=7).contains(d)) {
                        errors.add(
                            format!("{field}.weekdays"),
                            "invalid",
                            "weekdays are 1 (Monday) to 7 (Sunday)",
                        );
                    }
                }
                Step::SetField { field: name, value } => {
                    let known = match name.strip_prefix("custom.") {
                        Some(key) => !key.is_empty(),
                        None => {
                            crate::LeadFields::NAMES.contains(&name.as_str())
                                && !UNSETTABLE.contains(&name.as_str())
                        }
                    };
                    if !known {
                        errors.add(
                            format!("{field}.field"),
                            "unknown_field",
                            "a lead field (not owner, team, email or external id) or custom.KEY",
                        );
                    } else if !name.starts_with("custom.") {
                        let mut patch = serde_json::Map::new();
                        patch.insert(name.clone(), value.clone());
                        if crate::LeadFields::default()
                            .merge_patch(&serde_json::Value::Object(patch))
                            .is_err()
                        {
                            errors.add(
                                format!("{field}.value"),
                                "invalid",
                                "not a value this field can hold",
                            );
                        }
                    }
                }
                Step::Event { name } if name.trim().is_empty() || name.chars().count() > 100 => {
                    errors.add(format!("{field}.name"), "invalid", "1 to 100 characters");
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
        if let Some(b) = self.enroll_on_score
            && b.max.is_some_and(|m| m < b.min)
        {
            errors.add("enroll_on_score.max", "invalid", "max is at least min");
        }
        for f in &self.enroll_on_forms {
            if f.trim().is_empty() {
                errors.add("enroll_on_forms", "invalid", "form slugs are not empty");
                break;
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
    /// Inserts a step at `at` (1-based; past the end appends), moving branch targets at or
    /// after it along so every branch still points at the step it meant.
    pub fn insert_step(&mut self, at: usize, step: Step) {
        let at = at.clamp(1, self.steps.len() + 1);
        for s in &mut self.steps {
            if let Step::Branch {
                then, otherwise, ..
            } = s
            {
                if *then >= at {
                    *then += 1;
                }
                if let Some(o) = otherwise.as_mut()
                    && *o >= at
                {
                    *o += 1;
                }
            }
        }
        self.steps.insert(at - 1, step);
    }

    /// Removes step `n` (1-based); branches to later steps move back, and a branch to the
    /// removed step goes to the step that took its place.
    pub fn remove_step(&mut self, n: usize) {
        if n == 0 || n > self.steps.len() {
            return;
        }
        self.steps.remove(n - 1);
        let last = self.steps.len().max(1);
        for s in &mut self.steps {
            if let Step::Branch {
                then, otherwise, ..
            } = s
            {
                if *then > n {
                    *then -= 1;
                }
                *then = (*then).min(last);
                if let Some(o) = otherwise.as_mut() {
                    if *o > n {
                        *o -= 1;
                    }
                    *o = (*o).min(last);
                }
            }
        }
    }

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

/// What the step builder's form says about a step to add (every value as typed; only the
/// ones the step type uses are read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StepDraft {
    pub step_type: String,
    pub template_id: String,
    pub days: String,
    pub hours: String,
    pub minutes: String,
    /// `HH:MM`, for wait-until.
    pub time: String,
    /// `1,3,5` (1 = Monday).
    pub weekdays: String,
    /// The branch test: `opened`, `clicked`, `replied`, `score_at_least`, `grade_at_least`,
    /// `field_equals`, `activity`.
    pub test: String,
    /// The test's value (a score, a grade, an activity kind), the field value for
    /// set-field and field-equals, or nothing.
    pub value: String,
    pub then: String,
    pub otherwise: String,
    pub task_kind: String,
    /// A task's title or an event's name.
    pub title: String,
    pub due_in_hours: String,
    pub stage: String,
    pub field: String,
    pub sequence_id: String,
}

/// A typed value: JSON where it reads as JSON (`42`, `true`, `"x"`), else the text.
fn typed(v: &str) -> serde_json::Value {
    serde_json::from_str(v.trim()).unwrap_or_else(|_| serde_json::Value::String(v.trim().into()))
}

impl StepDraft {
    /// The step the form describes, or what is wrong with it (the sequence's own checks
    /// still run when it is saved).
    pub fn to_step(&self) -> Result<Step, String> {
        let num = |name: &str, v: &str| -> Result<u32, String> {
            match v.trim() {
                "" => Ok(0),
                x => x.parse().map_err(|_| format!("{name}: a whole number")),
            }
        };
        let step_no = |name: &str, v: &str| -> Result<Option<usize>, String> {
            match v.trim() {
                "" => Ok(None),
                x => x
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name}: a step number")),
            }
        };
        let id = |name: &str, v: &str| -> Result<Uuid, String> {
            v.trim().parse().map_err(|_| format!("{name}: choose one"))
        };
        Ok(match self.step_type.as_str() {
            "email" => Step::Email {
                template_id: id("template", &self.template_id)?,
            },
            "wait" => Step::Wait {
                days: num("days", &self.days)?,
                hours: num("hours", &self.hours)?,
                minutes: num("minutes", &self.minutes)?,
            },
            "wait_until" => {
                let (h, m) = self
                    .time
                    .trim()
                    .split_once(':')
                    .and_then(|(h, m)| Some((h.parse().ok()?, m.parse().ok()?)))
                    .ok_or("time: HH:MM")?;
                let weekdays = self
                    .weekdays
                    .split([',', ' '])
                    .filter(|d| !d.trim().is_empty())
                    .map(|d| {
                        d.trim()
                            .parse::<u8>()
                            .map_err(|_| "weekdays: 1 to 7".to_owned())
                    })
                    .collect::<Result<Vec<u8>, String>>()?;
                Step::WaitUntil {
                    weekdays,
                    hour: h,
                    minute: m,
                }
            }
            "branch" => {
                let value = self.value.trim();
                let condition = match self.test.as_str() {
                    "opened" => Condition::Opened,
                    "clicked" => Condition::Clicked,
                    "replied" => Condition::Replied,
                    "score_at_least" => Condition::ScoreAtLeast {
                        score: value.parse().map_err(|_| "value: a score")?,
                    },
                    "grade_at_least" => Condition::GradeAtLeast {
                        grade: serde_json::from_value(serde_json::Value::String(
                            value.to_ascii_uppercase(),
                        ))
                        .map_err(|_| "value: a grade, A to F")?,
                    },
                    "field_equals" => Condition::FieldEquals {
                        field: self.field.trim().to_owned(),
                        value: typed(value),
                    },
                    "activity" if !value.is_empty() => Condition::Activity {
                        kind: value.to_owned(),
                    },
                    "activity" => return Err("value: the activity kind".into()),
                    _ => return Err("condition: choose one".into()),
                };
                Step::Branch {
                    condition,
                    then: step_no("then", &self.then)?.ok_or("then: a step number")?,
                    otherwise: step_no("otherwise", &self.otherwise)?,
                }
            }
            "task" => Step::Task {
                kind: self.task_kind.clone(),
                title: self.title.trim().to_owned(),
                due_in_hours: num("due in hours", &self.due_in_hours)?,
            },
            "stage" => Step::Stage {
                to: self.stage.parse().map_err(|_| "stage: choose one")?,
            },
            "set_field" => Step::SetField {
                field: self.field.trim().to_owned(),
                value: typed(&self.value),
            },
            "event" => Step::Event {
                name: self.title.trim().to_owned(),
            },
            "move_to" => Step::MoveTo {
                sequence_id: id("sequence", &self.sequence_id)?,
            },
            _ => return Err("type: choose one".into()),
        })
    }
}

/// The first moment after `at` when it is `hour:minute` in time zone `tz` (UTC when
/// unknown) on one of `weekdays` (empty = any day).
pub fn next_local_time(
    at: DateTime<Utc>,
    tz: Option<&str>,
    weekdays: &[u8],
    hour: u8,
    minute: u8,
) -> DateTime<Utc> {
    let tz: Tz = tz.and_then(|t| t.parse().ok()).unwrap_or(Tz::UTC);
    let local = at.with_timezone(&tz);
    for offset in 0..9 {
        let date = local.date_naive() + chrono::Days::new(offset);
        if !weekdays.is_empty() && !weekdays.contains(&(date.weekday().number_from_monday() as u8))
        {
            continue;
        }
        // A time skipped by a DST change counts as its first valid moment after.
        let moment = date
            .and_hms_opt(u32::from(hour), u32::from(minute), 0)
            .and_then(|t| {
                tz.from_local_datetime(&t).earliest().or_else(|| {
                    tz.from_local_datetime(&(t + chrono::Duration::hours(1)))
                        .earliest()
                })
            });
        if let Some(m) = moment.map(|m| m.with_timezone(&Utc))
            && m > at
        {
            return m;
        }
    }
    at + chrono::Duration::days(7)
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
            Step::WaitUntil {
                weekdays,
                hour,
                minute,
            } => {
                const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
                let days = if weekdays.is_empty() {
                    "any day".to_owned()
                } else {
                    weekdays
                        .iter()
                        .filter_map(|d| DAYS.get(usize::from(*d).wrapping_sub(1)))
                        .copied()
                        .collect::<Vec<_>>()
                        .join("/")
                };
                format!("Wait until {hour:02}:{minute:02} ({days}, the lead's time)")
            }
            Step::SetField { field, value } => format!("Set {field} to {value}"),
            Step::Event { name } => format!("Announce event “{name}” to webhooks"),
            Step::Branch {
                condition,
                then,
                otherwise,
            } => {
                let test = match condition {
                    Condition::Opened => "opened a message".to_owned(),
                    Condition::Clicked => "clicked a link".to_owned(),
                    Condition::Replied => "replied".to_owned(),
                    Condition::GradeAtLeast { grade } => {
                        format!("has grade {} or better", grade.as_str())
                    }
                    Condition::FieldEquals { field, value } => format!("has {field} = {value}"),
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
        if !steps[i].is_wait() {
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
    fn waiting_until_a_weekday_and_time_uses_the_leads_zone() {
        let at = |x: &str| DateTime::parse_from_rfc3339(x).unwrap().with_timezone(&Utc);
        // Tuesday 2026-11-24 12:00 UTC; next Thursday 09:30 in New York (UTC-5).
        assert_eq!(
            next_local_time(
                at("2026-11-24T12:00:00Z"),
                Some("America/New_York"),
                &[4],
                9,
                30
            ),
            at("2026-11-26T14:30:00Z")
        );
        // Any day, and the time already passed today: tomorrow.
        assert_eq!(
            next_local_time(at("2026-11-24T12:00:00Z"), None, &[], 9, 0),
            at("2026-11-25T09:00:00Z")
        );
        // Exactly now is not "after now".
        assert_eq!(
            next_local_time(at("2026-11-24T09:00:00Z"), None, &[2], 9, 0),
            at("2026-12-01T09:00:00Z")
        );
        assert!(
            Step::WaitUntil {
                weekdays: vec![],
                hour: 9,
                minute: 0
            }
            .is_wait()
        );
    }

    #[test]
    fn inserting_and_removing_steps_keeps_branches_pointing_at_their_steps() {
        let mut s = SequenceInput {
            steps: vec![stage(), wait(), branch(1), stage()],
            ..Default::default()
        };
        s.insert_step(1, wait());
        assert_eq!(
            s.steps[3],
            branch(2),
            "the branch still goes to the stage step"
        );
        s.insert_step(99, stage());
        assert_eq!(s.steps.len(), 6);
        s.remove_step(1);
        assert_eq!(s.steps[2], branch(1));
        s.remove_step(1);
        assert_eq!(
            s.steps[1],
            branch(1),
            "to the step that took the removed one's place"
        );
        s.remove_step(0);
        s.remove_step(42);
        assert_eq!(s.steps.len(), 4);
    }

    #[test]
    fn the_step_builder_reads_its_form() {
        let d = |pairs: &[(&str, &str)]| {
            let mut m = serde_json::Map::new();
            for (k, v) in pairs {
                m.insert((*k).into(), (*v).into());
            }
            serde_json::from_value::<StepDraft>(serde_json::Value::Object(m))
                .unwrap()
                .to_step()
        };
        assert_eq!(
            d(&[("step_type", "wait"), ("days", "2")]).unwrap(),
            Step::Wait {
                days: 2,
                hours: 0,
                minutes: 0
            }
        );
        assert_eq!(
            d(&[
                ("step_type", "wait_until"),
                ("time", "09:30"),
                ("weekdays", "2, 4")
            ])
            .unwrap(),
            Step::WaitUntil {
                weekdays: vec![2, 4],
                hour: 9,
                minute: 30
            }
        );
        assert_eq!(
            d(&[
                ("step_type", "branch"),
                ("test", "grade_at_least"),
                ("value", "b"),
                ("then", "4")
            ])
            .unwrap(),
            Step::Branch {
                condition: Condition::GradeAtLeast {
                    grade: crate::Grade::B
                },
                then: 4,
                otherwise: None
            }
        );
        assert_eq!(
            d(&[
                ("step_type", "set_field"),
                ("field", "employees"),
                ("value", "40")
            ])
            .unwrap(),
            Step::SetField {
                field: "employees".into(),
                value: serde_json::json!(40)
            }
        );
        assert_eq!(
            d(&[
                ("step_type", "branch"),
                ("test", "score_at_least"),
                ("value", "lots")
            ])
            .unwrap_err(),
            "value: a score"
        );
        assert!(d(&[("step_type", "email"), ("template_id", "")]).is_err());
    }

    #[test]
    fn score_bands_are_entered_once() {
        let b = ScoreBand {
            min: 30,
            max: Some(59),
        };
        assert!(b.entered(None, 30));
        assert!(b.entered(Some(10), 45));
        assert!(!b.entered(Some(40), 45));
        assert!(!b.entered(Some(40), 60));
        assert!(b.entered(Some(70), 59));
    }

    #[test]
    fn set_field_steps_name_a_settable_field_and_a_fitting_value() {
        let ok = |step: Step| {
            SequenceInput {
                name: "N".into(),
                steps: vec![step],
                ..Default::default()
            }
            .clean(&[])
            .map_err(|e| e.0[0].code.clone())
        };
        assert!(
            ok(Step::SetField {
                field: "industry".into(),
                value: "Software".into()
            })
            .is_ok()
        );
        assert!(
            ok(Step::SetField {
                field: "custom.plan".into(),
                value: "gold".into()
            })
            .is_ok()
        );
        assert_eq!(
            ok(Step::SetField {
                field: "owner_id".into(),
                value: serde_json::Value::Null
            })
            .unwrap_err(),
            "unknown_field"
        );
        assert_eq!(
            ok(Step::SetField {
                field: "employees".into(),
                value: "many".into()
            })
            .unwrap_err(),
            "invalid"
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
                            .filter(|&i| i < n && !steps[i].is_wait())
                            .flat_map(|i| steps[i].successors(i, n))
                            .collect();
                    }
                    prop_assert!(frontier.iter().all(|&i| i >= n || steps[i].is_wait()));
                }
            }
        }
    }
}
