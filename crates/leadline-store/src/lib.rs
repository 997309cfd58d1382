//! Leadline's persistence on SQLite and PostgreSQL.
//!
//! One query path for both: SQL is written once with `$N` placeholders (both drivers accept
//! them) and [`dispatch!`] runs it on whichever pool [`Db`] holds. Backend-specific SQL lives
//! only in [`dialect`], where the engines really differ.
//!
//! Repositories are free functions per aggregate taking a [`Conn`]: reads borrow a pooled
//! connection, writes a [`DbTx`] that the app layer commits.

#[macro_use]
mod db;
#[macro_use]
pub mod sql;
pub mod accounts;
pub mod activities;
pub mod aging;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod backup;
pub mod capture;
pub mod consents;
pub mod custom_fields;
mod dialect;
pub mod duplicates;
pub mod enrichment;
mod error;
pub mod forms;
pub mod history;
pub mod imports;
pub mod leads;
pub mod mail;
pub mod merges;
pub mod milestones;
pub mod nurture;
pub mod pipeline;
pub mod prediction;
pub mod privacy;
pub mod quality;
pub mod routing;
pub mod saved_views;
pub mod scoring;
pub mod sessions;
pub mod settings;
pub mod sign_in_failures;
pub mod sla;
pub mod sources;
pub mod teams;
pub mod tracking;
pub mod users;
pub mod webhooks;

#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Backend, Conn, Db, DbConn, DbTx};
pub use error::{StoreError, StoreResult};
