//! Storage errors, mapped by the app layer to domain outcomes.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique or foreign-key constraint refused the write; carries the constraint's text.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored value could not be read back into a domain type.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database URL names no engine Leadline supports.
    #[error("unsupported database URL (starts with '{0}'); use sqlite://PATH or postgres://…")]
    BadUrl(String),
    #[error("i/o: {0}")]
    Io(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Database(sqlx::Error),
}

/// Store results.
pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && (db.is_unique_violation() || db.is_foreign_key_violation())
        {
            return StoreError::Conflict(db.message().to_owned());
        }
        StoreError::Database(e)
    }
}
