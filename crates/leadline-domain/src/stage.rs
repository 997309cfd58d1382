//! The lead lifecycle: stages and the transitions allowed between them.
//!
//! ```text
//! new ─► mql ─► sal ─► sql ─► converted
//!  │      │      │      │
//!  └──────┴──────┴──────┴─► nurture ─► mql (re-qualifies)
//!  └──────┴──────┴──────┴─► disqualified (with a reason) ─► nurture (recycled)
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a lead stands in the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Captured, not yet qualified.
    New,
    /// Marketing qualified lead.
    Mql,
    /// Sales accepted lead.
    Sal,
    /// Sales qualified lead (BANT confirmed).
    Sql,
    /// Converted into contact, account and opportunity. Terminal.
    Converted,
    /// Not ready to buy; back with marketing.
    Nurture,
    /// Not a fit; carries a reason.
    Disqualified,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 7] = [
        Stage::New,
        Stage::Mql,
        Stage::Sal,
        Stage::Sql,
        Stage::Converted,
        Stage::Nurture,
        Stage::Disqualified,
    ];

    /// The stable name used in the API, the database and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Mql => "mql",
            Stage::Sal => "sal",
            Stage::Sql => "sql",
            Stage::Converted => "converted",
            Stage::Nurture => "nurture",
            Stage::Disqualified => "disqualified",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Stage::New => "New",
            Stage::Mql => "MQL",
            Stage::Sal => "SAL",
            Stage::Sql => "SQL",
            Stage::Converted => "Converted",
            Stage::Nurture => "Nurture",
            Stage::Disqualified => "Disqualified",
        }
    }

    /// The stages a lead in `self` may move to.
    pub fn next_stages(self) -> &'static [Stage] {
        use Stage::*;
        match self {
            New => &[Mql, Sal, Nurture, Disqualified],
            Mql => &[Sal, Nurture, Disqualified],
            Sal => &[Sql, Nurture, Disqualified],
            Sql => &[Converted, Nurture, Disqualified],
            Nurture => &[Mql, Disqualified],
            Disqualified => &[Nurture],
            Converted => &[],
        }
    }

    /// True when no transition leaves this stage.
    pub fn is_terminal(self) -> bool {
        self.next_stages().is_empty()
    }

    /// Checks a transition. `reason` is required exactly when moving to `disqualified`.
    pub fn transition(
        self,
        to: Stage,
        reason: Option<DisqualifyReason>,
    ) -> Result<Stage, StageError> {
        if self == to {
            return Err(StageError::AlreadyInStage(to));
        }
        if !self.next_stages().contains(&to) {
            return Err(StageError::NotAllowed { from: self, to });
        }
        match (to, reason) {
            (Stage::Disqualified, None) => Err(StageError::ReasonRequired),
            (Stage::Disqualified, Some(_)) => Ok(to),
            (_, Some(_)) => Err(StageError::ReasonNotAllowed(to)),
            (_, None) => Ok(to),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownValue::new("stage", s, Stage::ALL.iter().map(|s| s.as_str())))
    }
}

/// Why a lead was disqualified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisqualifyReason {
    NoBudget,
    BadTiming,
    Competitor,
    NotAFit,
    Unresponsive,
    Duplicate,
    Spam,
    Other,
}

impl DisqualifyReason {
    /// Every reason.
    pub const ALL: [DisqualifyReason; 8] = [
        DisqualifyReason::NoBudget,
        DisqualifyReason::BadTiming,
        DisqualifyReason::Competitor,
        DisqualifyReason::NotAFit,
        DisqualifyReason::Unresponsive,
        DisqualifyReason::Duplicate,
        DisqualifyReason::Spam,
        DisqualifyReason::Other,
    ];

    /// The stable name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DisqualifyReason::NoBudget => "no_budget",
            DisqualifyReason::BadTiming => "bad_timing",
            DisqualifyReason::Competitor => "competitor",
            DisqualifyReason::NotAFit => "not_a_fit",
            DisqualifyReason::Unresponsive => "unresponsive",
            DisqualifyReason::Duplicate => "duplicate",
            DisqualifyReason::Spam => "spam",
            DisqualifyReason::Other => "other",
        }
    }
}

impl FromStr for DisqualifyReason {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DisqualifyReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                UnknownValue::new(
                    "disqualify_reason",
                    s,
                    DisqualifyReason::ALL.iter().map(|r| r.as_str()),
                )
            })
    }
}

/// A refused stage transition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    #[error("the lead is already in stage {0}")]
    AlreadyInStage(Stage),
    #[error("a lead cannot move from {from} to {to}")]
    NotAllowed { from: Stage, to: Stage },
    #[error("disqualifying a lead requires a reason")]
    ReasonRequired,
    #[error("a reason is only accepted when disqualifying, not when moving to {0}")]
    ReasonNotAllowed(Stage),
}

/// A string that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}'; expected one of: {expected}")]
pub struct UnknownValue {
    /// What kind of value was expected.
    pub kind: &'static str,
    /// What was given (truncated).
    pub value: String,
    /// The accepted values, comma-separated.
    pub expected: String,
}

impl UnknownValue {
    /// Builds the error, truncating the offending value so error messages stay small.
    pub fn new<'a>(
        kind: &'static str,
        value: &str,
        expected: impl Iterator<Item = &'a str>,
    ) -> Self {
        UnknownValue {
            kind,
            value: value.chars().take(64).collect(),
            expected: expected.collect::<Vec<_>>().join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashSet, VecDeque};

    fn any_stage() -> impl Strategy<Value = Stage> {
        prop::sample::select(Stage::ALL.to_vec())
    }
    fn any_reason() -> impl Strategy<Value = Option<DisqualifyReason>> {
        prop::option::of(prop::sample::select(DisqualifyReason::ALL.to_vec()))
    }

    #[test]
    fn converted_is_the_only_terminal_stage() {
        let terminal: Vec<_> = Stage::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, vec![Stage::Converted]);
    }

    #[test]
    fn every_stage_can_still_reach_converted_except_converted() {
        for start in Stage::ALL {
            let mut seen = HashSet::from([start]);
            let mut queue = VecDeque::from([start]);
            while let Some(s) = queue.pop_front() {
                for &n in s.next_stages() {
                    if seen.insert(n) {
                        queue.push_back(n);
                    }
                }
            }
            assert!(
                seen.contains(&Stage::Converted),
                "{start} cannot reach converted"
            );
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for s in Stage::ALL {
            assert_eq!(s.as_str().parse::<Stage>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        let err = "won".parse::<Stage>().unwrap_err();
        assert!(err.to_string().contains("expected one of: new, mql"));
        for r in DisqualifyReason::ALL {
            assert_eq!(r.as_str().parse::<DisqualifyReason>(), Ok(r));
        }
    }

    proptest! {
        #[test]
        fn transition_accepts_exactly_the_table(from in any_stage(), to in any_stage(), reason in any_reason()) {
            let result = from.transition(to, reason);
            let allowed = from != to
                && from.next_stages().contains(&to)
                && (to == Stage::Disqualified) == reason.is_some();
            prop_assert_eq!(result.is_ok(), allowed);
            if let Ok(s) = result { prop_assert_eq!(s, to); }
        }

        #[test]
        fn any_walk_of_accepted_transitions_stays_in_the_table(steps in prop::collection::vec((any_stage(), any_reason()), 0..40)) {
            let mut current = Stage::New;
            for (to, reason) in steps {
                if let Ok(next) = current.transition(to, reason) {
                    prop_assert!(current.next_stages().contains(&next));
                    current = next;
                }
                if current == Stage::Converted {
                    // Once converted, nothing moves the lead again.
                    for s in Stage::ALL { prop_assert!(current.transition(s, None).is_err()); }
                }
            }
        }
    }
}
