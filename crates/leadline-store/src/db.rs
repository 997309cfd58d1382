//! The database handle: a SQLite or a PostgreSQL pool chosen from the URL at start.

use crate::error::StoreResult;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Runs the same tokens against whichever connection a [`Conn`] holds. The SQL text and
/// the binds are identical for both; only the driver types differ, and inference picks them.
macro_rules! dispatch {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::Conn::Sqlite($c) => $body,
            $crate::db::Conn::Postgres($c) => $body,
        }
    };
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool on one of the two engines. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite allows one writer at a time: writes go through a one-connection pool so they
    /// queue in process instead of failing with `SQLITE_BUSY`; reads use their own pool (WAL).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// A pooled connection, for reads.
pub enum DbConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// An open transaction, for writes; dropped without [`DbTx::commit`] it rolls back.
pub enum DbTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A borrowed connection of either engine, what every repository function takes.
pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl DbConn {
    /// Borrows the connection for a repository call.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            DbConn::Sqlite(c) => Conn::Sqlite(&mut *c),
            DbConn::Postgres(c) => Conn::Postgres(&mut *c),
        }
    }
}

impl DbTx {
    /// Borrows the transaction for a repository call.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            DbTx::Sqlite(t) => Conn::Sqlite(&mut *t),
            DbTx::Postgres(t) => Conn::Postgres(&mut *t),
        }
    }

    /// Makes every write in the transaction durable.
    pub async fn commit(self) -> StoreResult<()> {
        match self {
            DbTx::Sqlite(t) => t.commit().await?,
            DbTx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Which engine the transaction runs on.
    pub fn backend(&self) -> Backend {
        match self {
            DbTx::Sqlite(_) => Backend::Sqlite,
            DbTx::Postgres(_) => Backend::Postgres,
        }
    }
}

impl Conn<'_> {
    /// A shorter borrow of the same connection, for calling several statements in a loop.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }

    /// Which engine the connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }
}

impl Db {
    /// Connects to `url`: `postgres://…` / `postgresql://…` or `sqlite://PATH` / `sqlite:PATH`.
    /// A SQLite file and its folder are created when missing.
    pub async fn connect(url: &str) -> StoreResult<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // No JIT: it spends ~100 ms compiling each large report query, more than it
            // saves on queries that read tens of thousands of rows through indexes.
            let opts = PgConnectOptions::from_str(url)?
                .application_name("leadline")
                .options([("jit", "off")]);
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            return Ok(Db::Postgres(pool));
        }
        let path = crate::backup::sqlite_path(url)
            .ok_or_else(|| crate::StoreError::BadUrl(url.chars().take(16).collect()))?;
        Self::open_sqlite(&path).await
    }

    /// Opens (creating if needed) the SQLite database file at `path`.
    pub async fn open_sqlite(path: &Path) -> StoreResult<Db> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| crate::StoreError::Io(e.to_string()))?;
        }
        // WAL + synchronous=NORMAL: a committed transaction survives a process crash
        // (kill -9); only an OS crash or power loss could cost the last commits.
        // Page cache: 64 MiB for the writer (index maintenance on big tables needs it),
        // 8 MiB for each of the eight readers (the OS page cache does the rest), so the
        // whole pool stays far under the server's 300 MiB memory budget.
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // The driver's worker thread hands rows over through this channel; at the
            // default 50 a batch read wakes the reading task every 50 rows.
            .row_buffer_size(1024)
            .pragma("temp_store", "memory");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone().pragma("cache_size", "-65536"))
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts.pragma("cache_size", "-8192"))
            .await?;
        Ok(Db::Sqlite { read, write })
    }

    /// Applies every pending migration. Safe to run from several processes at once.
    pub async fn migrate(&self) -> StoreResult<()> {
        match self {
            Db::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// A connection for reads.
    pub async fn acquire(&self) -> StoreResult<DbConn> {
        Ok(match self {
            Db::Sqlite { read, .. } => DbConn::Sqlite(read.acquire().await?),
            Db::Postgres(pool) => DbConn::Postgres(pool.acquire().await?),
        })
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`) so a transaction never fails half-way on lock upgrade.
    pub async fn begin(&self) -> StoreResult<DbTx> {
        Ok(match self {
            Db::Sqlite { write, .. } => DbTx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => DbTx::Postgres(pool.begin().await?),
        })
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        let Ok(mut c) = self.acquire().await else {
            return false;
        };
        dispatch!(c.conn(), |c| sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(c)
            .await)
        .is_ok()
    }

    /// Refreshes the query planner's statistics after a bulk write (an import), so lists
    /// keep choosing the right index when a large batch of similar rows arrived.
    pub async fn refresh_statistics(&self) -> StoreResult<()> {
        match self {
            Db::Sqlite { write, .. } => {
                // Analyses only the tables whose statistics are out of date.
                sqlx::query("PRAGMA optimize").execute(write).await?;
            }
            // Autovacuum re-analyses a table once a tenth of it changed, and the planner
            // already sees the table's current size; an explicit ANALYZE here cost a second.
            Db::Postgres(_) => {}
        }
        Ok(())
    }

    /// Closes every connection (flushing SQLite's WAL on the last one).
    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    fn versions(dir: &str) -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .split('_')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let root = env!("CARGO_MANIFEST_DIR");
        let sqlite = versions(&format!("{root}/migrations/sqlite"));
        let postgres = versions(&format!("{root}/migrations/postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres);
    }
}
