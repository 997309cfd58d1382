//! Test support: every test gets its own SQLite file and its own PostgreSQL database.
//!
//! PostgreSQL is required: the suite fails loudly when it cannot reach
//! `LEADLINE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! A developer without PostgreSQL may set `LEADLINE_SKIP_PG=1`; CI never does.

use crate::db::Db;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use std::str::FromStr;
use tempfile::TempDir;

/// The administrative PostgreSQL URL tests create their databases through.
pub fn pg_admin_url() -> String {
    std::env::var("LEADLINE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database for one test; keeps its temporary folder (SQLite) alive while held.
pub struct TestDb {
    /// `"sqlite"` or `"postgres"`, for assertion messages.
    pub name: &'static str,
    pub db: Db,
    /// The URL other processes (a spawned server) can open the same database with.
    pub url: String,
    _dir: Option<TempDir>,
}

/// A migrated database in a fresh temporary SQLite file.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("leadline.db");
    let db = Db::open_sqlite(&path).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    TestDb {
        name: "sqlite",
        db,
        url: format!("sqlite://{}", path.display()),
        _dir: Some(dir),
    }
}

/// A migrated, brand-new PostgreSQL database; `None` only when `LEADLINE_SKIP_PG=1`.
pub async fn postgres() -> Option<TestDb> {
    if std::env::var("LEADLINE_SKIP_PG").is_ok_and(|v| v == "1") {
        eprintln!("LEADLINE_SKIP_PG=1: skipping the PostgreSQL half of this test");
        return None;
    }
    let admin_url = pg_admin_url();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {admin_url}: {e}\n\
             The tests need it (start it, or set LEADLINE_TEST_PG_URL; LEADLINE_SKIP_PG=1 skips it locally)."
        )
    });
    drop_stale(&mut admin).await;
    let name = format!(
        "leadline_test_{}_{}",
        chrono::Utc::now().timestamp(),
        uuid::Uuid::now_v7().simple()
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let opts = PgConnectOptions::from_str(&admin_url)
        .expect("admin url")
        .database(&name);
    let url = {
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(&admin_url);
        format!("{base}/{name}")
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(opts)
        .await
        .expect("connect test db");
    let db = Db::Postgres(pool);
    db.migrate().await.expect("migrate postgres");
    Some(TestDb {
        name: "postgres",
        db,
        url,
        _dir: None,
    })
}

/// Both backends, SQLite first.
pub async fn backends() -> Vec<TestDb> {
    let mut v = vec![sqlite().await];
    v.extend(postgres().await);
    v
}

/// Drops test databases older than an hour (left by crashed or interrupted runs). A
/// database in use cannot be dropped, so a concurrent run is never disturbed.
async fn drop_stale(admin: &mut PgConnection) {
    let cutoff = chrono::Utc::now().timestamp() - 3600;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'leadline_test_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for n in names {
        let ts = n
            .split('_')
            .nth(2)
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(i64::MAX);
        if ts < cutoff {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {n}")))
                .execute(&mut *admin)
                .await;
        }
    }
}
