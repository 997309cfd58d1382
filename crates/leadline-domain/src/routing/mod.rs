//! Distribution: which rep or team queue a lead goes to, and why. Ordered rules match on
//! the lead (territory, industry, size, score, grade, source, custom fields); a team picks
//! the rep by round robin, weighted round robin, load or conversion rate, passing over reps
//! who are away, off hours or at capacity. Everything here is pure; the app layer loads the
//! team's state, takes the team's turn lock and records the assignment.

pub mod assign;
pub mod availability;
pub mod rules;

pub use assign::{Candidate, Choice, choose};
pub use availability::{RepSettings, Unavailable, WorkingHours};
pub use rules::{Condition, Facts, Method, Router, RoutingRule, RoutingRules, Target};
