//! Follow-up tasks (call, email, meeting) and their one-click outcomes. An outcome closes
//! the task and becomes an activity on the lead's timeline; calls that did not connect
//! schedule the next attempt of the cadence.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::stage::UnknownValue;

/// What the rep is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Call,
    Email,
    Meeting,
}

impl TaskKind {
    /// Every kind.
    pub const ALL: [TaskKind; 3] = [TaskKind::Call, TaskKind::Email, TaskKind::Meeting];

    /// The stable name; also the kind of the activity an outcome records.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Call => "call",
            TaskKind::Email => "email",
            TaskKind::Meeting => "meeting",
        }
    }

    /// The outcomes a task of this kind can end with.
    pub fn outcomes(self) -> &'static [Outcome] {
        use Outcome::*;
        match self {
            TaskKind::Call => &[Connected, Voicemail, NoAnswer, BadNumber],
            TaskKind::Email => &[Sent, Replied],
            TaskKind::Meeting => &[Held, NoShow],
        }
    }
}

impl std::str::FromStr for TaskKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                UnknownValue::new("task kind", s, TaskKind::ALL.iter().map(|k| k.as_str()))
            })
    }
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Connected,
    Voicemail,
    NoAnswer,
    BadNumber,
    Sent,
    Replied,
    Held,
    NoShow,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 8] = [
        Outcome::Connected,
        Outcome::Voicemail,
        Outcome::NoAnswer,
        Outcome::BadNumber,
        Outcome::Sent,
        Outcome::Replied,
        Outcome::Held,
        Outcome::NoShow,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Connected => "connected",
            Outcome::Voicemail => "voicemail",
            Outcome::NoAnswer => "no_answer",
            Outcome::BadNumber => "bad_number",
            Outcome::Sent => "sent",
            Outcome::Replied => "replied",
            Outcome::Held => "held",
            Outcome::NoShow => "no_show",
        }
    }

    /// A label for the one-click button.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Connected => "Connected",
            Outcome::Voicemail => "Voicemail",
            Outcome::NoAnswer => "No answer",
            Outcome::BadNumber => "Bad number",
            Outcome::Sent => "Sent",
            Outcome::Replied => "Replied",
            Outcome::Held => "Held",
            Outcome::NoShow => "No-show",
        }
    }

    /// Whether the rep reached the person: attempts that did not count toward recycling.
    pub fn reached(self) -> bool {
        matches!(self, Outcome::Connected | Outcome::Replied | Outcome::Held)
    }

    /// Whether the cadence schedules another attempt after this outcome.
    pub fn retries(self) -> bool {
        matches!(
            self,
            Outcome::Voicemail | Outcome::NoAnswer | Outcome::NoShow
        )
    }
}

impl std::str::FromStr for Outcome {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownValue::new("outcome", s, Outcome::ALL.iter().map(|o| o.as_str())))
    }
}

/// The input to create a task.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    pub kind: TaskKind,
    /// What to do; defaults to the kind ("Call", …).
    #[serde(default)]
    pub title: Option<String>,
    pub due_at: DateTime<Utc>,
    /// When to remind the assignee; defaults to 15 minutes before the due time.
    #[serde(default)]
    pub remind_at: Option<DateTime<Utc>>,
    /// Who does it; defaults to the lead's owner, else the creator.
    #[serde(default)]
    pub assignee_id: Option<Uuid>,
}

impl NewTask {
    /// Checks the title and the times.
    pub fn validate(&self) -> Result<(), crate::ValidationErrors> {
        let mut e = crate::ValidationErrors::default();
        if self
            .title
            .as_deref()
            .is_some_and(|t| t.chars().count() > 200)
        {
            e.add("title", "too_long", "must be at most 200 characters");
        }
        if self.remind_at.is_some_and(|r| r > self.due_at) {
            e.add(
                "remind_at",
                "after_due",
                "the reminder must not come after the due time",
            );
        }
        e.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_belongs_to_exactly_one_kind() {
        for o in Outcome::ALL {
            let kinds = TaskKind::ALL
                .iter()
                .filter(|k| k.outcomes().contains(&o))
                .count();
            assert_eq!(kinds, 1, "{o:?}");
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
            assert!(!(o.reached() && o.retries()));
        }
        assert!(
            "busy"
                .parse::<Outcome>()
                .unwrap_err()
                .to_string()
                .contains("no_answer")
        );
    }
}
