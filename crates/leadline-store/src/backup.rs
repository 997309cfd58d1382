//! Backups of the embedded SQLite database: a consistent copy taken while the server runs,
//! and the checks a copy must pass before it replaces a database. PostgreSQL is backed up
//! with its own tools (`pg_dump` / `pg_restore`, see the README).

use crate::db::Db;
use crate::error::{StoreError, StoreResult};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};

/// The file of a SQLite database URL (`sqlite://PATH`, `sqlite:PATH`); `None` for others.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(PathBuf::from(path.split('?').next().unwrap_or(path)))
}

/// Writes a consistent copy of a SQLite database to `dest` (which must not exist), as of
/// one moment, while others go on reading and writing: `VACUUM INTO` reads one snapshot
/// and writes a compact file.
pub async fn sqlite_backup(db: &Db, dest: &Path) -> StoreResult<()> {
    let Db::Sqlite { read, .. } = db else {
        return Err(StoreError::Io(
            "PostgreSQL is backed up with pg_dump (see the README)".into(),
        ));
    };
    if dest.exists() {
        return Err(StoreError::Io(format!("{} already exists", dest.display())));
    }
    let dest = dest
        .to_str()
        .ok_or_else(|| StoreError::Io("the backup path is not valid UTF-8".into()))?;
    sqlx::query("VACUUM INTO $1")
        .bind(dest)
        .execute(read)
        .await?;
    Ok(())
}

/// What a checked backup file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// Migrations applied in it.
    pub migrations: i64,
    /// Live leads in it.
    pub leads: i64,
}

/// Opens a SQLite file read-only and checks it is an intact Leadline database:
/// `PRAGMA integrity_check` passes and it has Leadline's migrations and leads table.
pub async fn check_sqlite_file(path: &Path) -> StoreResult<BackupSummary> {
    if !path.is_file() {
        return Err(StoreError::Io(format!("{} is not a file", path.display())));
    }
    let mut c = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await?;
    if integrity != "ok" {
        return Err(StoreError::Io(format!(
            "{} fails SQLite's integrity check: {integrity}",
            path.display()
        )));
    }
    let tables: Option<i64> = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('_sqlx_migrations', 'leads')",
    )
    .fetch_one(&mut c)
    .await
    .ok();
    if tables != Some(2) {
        return Err(StoreError::Io(format!(
            "{} is not a Leadline database",
            path.display()
        )));
    }
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut c)
        .await?;
    let leads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM leads WHERE deleted_at IS NULL")
        .fetch_one(&mut c)
        .await?;
    c.close().await?;
    Ok(BackupSummary { migrations, leads })
}

/// Puts a checked backup in place of the SQLite database at `target`: copied beside it,
/// flushed, then renamed over it, so a crash leaves either the old database or the new one.
/// The old database's write-ahead log goes with it. The server must be stopped.
pub async fn sqlite_restore(backup: &Path, target: &Path) -> StoreResult<BackupSummary> {
    let summary = check_sqlite_file(backup).await?;
    let io = |e: std::io::Error| StoreError::Io(e.to_string());
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(".restoring");
    let tmp = PathBuf::from(tmp);
    std::fs::copy(backup, &tmp).map_err(io)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = target.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(PathBuf::from(side)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
    }
    std::fs::rename(&tmp, target).map_err(io)?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(summary)
}
