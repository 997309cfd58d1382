//! Service levels for follow-up: every lead in a covered stage gets a clock that runs in
//! business time until sales first touches it; warnings before, alerts and escalation on
//! breach. The calendar arithmetic and the policy are pure; the app layer starts, stops and
//! sweeps the clocks.

pub mod calendar;
pub mod policy;
pub mod task;

pub use calendar::BusinessCalendar;
pub use policy::{Cadence, ClockState, Deadlines, SlaPolicy, SlaTarget, is_touch};
pub use task::{NewTask, Outcome, TaskKind};
