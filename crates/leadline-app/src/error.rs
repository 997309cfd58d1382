//! The errors services return; the web layer maps each to one HTTP status and problem type.

use leadline_domain::{StageError, ValidationErrors};
use leadline_store::StoreError;

/// What a use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input failed validation; carries every field problem.
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// No such thing, or the principal may not see it (indistinguishable on purpose).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No valid credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// Too many failed sign-ins for this account or from this address; try again later.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// Valid credentials, not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The write clashes with existing data (duplicate name, key, …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The client's version (ETag) is no longer current.
    #[error("the lead changed since version {expected}; it is now at version {current}")]
    VersionMismatch { expected: i64, current: i64 },
    /// An illegal lifecycle transition.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// Storage failure (not the client's fault).
    #[error("storage: {0}")]
    Store(StoreError),
    /// An outside service Leadline called (e.g. the enrichment hook) failed.
    #[error("upstream: {0}")]
    Upstream(String),
    /// Anything else internal.
    #[error("internal: {0}")]
    Internal(String),
}

/// Service results.
pub type AppResult<T> = Result<T, AppError>;

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => AppError::Conflict(msg),
            other => AppError::Store(other),
        }
    }
}

impl From<ValidationErrors> for AppError {
    fn from(e: ValidationErrors) -> Self {
        AppError::Validation(e)
    }
}

/// Builds a one-field validation error.
pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> AppError {
    let mut e = ValidationErrors::default();
    e.add(field, code, message);
    AppError::Validation(e)
}

/// Maps a unique-constraint conflict on insert to a `taken` error on `field`; other
/// storage errors pass through.
pub fn taken(field: &'static str, message: &'static str) -> impl FnOnce(StoreError) -> AppError {
    move |err| match err {
        StoreError::Conflict(_) => invalid(field, "taken", message),
        other => other.into(),
    }
}
