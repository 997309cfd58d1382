//! Leadline's domain: the lead record, its lifecycle, who may see and change what, and the
//! validation every write goes through.
//!
//! Everything here is pure: no I/O, no database, no HTTP. The store persists these types,
//! the app layer orchestrates them, the web layer maps them to JSON and HTML.

pub mod account;
pub mod activity;
pub mod aging;
pub mod analytics;
pub mod capture;
pub mod custom_field;
pub mod customer_account;
pub mod filter;
pub mod history;
pub mod lead;
pub mod money;
pub mod nurture;
pub mod pipeline;
pub mod privacy;
pub mod quality;
pub mod role;
pub mod routing;
pub mod scoring;
pub mod sign_in;
pub mod sla;
pub mod source;
pub mod stage;
pub mod time;
pub mod tracking;
pub mod validation;
pub mod webhook;

pub use activity::{Activity, NewActivity};
pub use custom_field::{CustomFieldDef, CustomFieldKind};
pub use filter::{Cursor, LeadFilter, LeadSort, SortDirection, SortField};
pub use lead::{Authority, FieldChange, Grade, Lead, LeadFields, Timeline, Touch};
pub use role::{Principal, Role};
pub use stage::{DisqualifyReason, Stage, StageError};
pub use validation::{FieldError, ValidationErrors};
