//! Leadline's use cases. The web layer and the CLI call these services and nothing below
//! them; every write runs in one transaction here, after the authorization check.

pub mod accounts;
pub mod admin;
pub mod aging;
pub mod analytics;
pub mod auth;
pub mod capture;
pub mod consents;
pub mod demo;
mod error;
pub mod events;
pub mod export;
pub mod leads;
pub mod mail;
pub mod nurture;
pub mod outbound;
pub mod pipeline;
pub mod privacy;
pub mod quality;
pub mod routing;
pub mod scoring;
pub mod sla;
pub mod tasks;
pub mod tracking;
pub mod views;
pub mod webhooks;

pub use error::{AppError, AppResult};
pub use leadline_store::{Backend, Db};

use std::time::Duration;

/// Settings the services need.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// A browser session ends after this long without a request.
    pub session_idle: Duration,
    /// A browser session ends after this long, whatever happens.
    pub session_absolute: Duration,
    /// When failed sign-ins make the next attempts wait.
    pub sign_in: leadline_domain::sign_in::SignInThrottle,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            session_idle: Duration::from_secs(12 * 3600),
            session_absolute: Duration::from_secs(7 * 24 * 3600),
            sign_in: Default::default(),
        }
    }
}

/// The application: a database and settings. Cheap to clone; one per process.
#[derive(Clone, Debug)]
pub struct App {
    pub db: Db,
    pub config: AppConfig,
}

impl App {
    /// Connects to `database_url` and applies pending migrations.
    pub async fn open(database_url: &str, config: AppConfig) -> AppResult<App> {
        let db = Db::connect(database_url).await?;
        db.migrate().await?;
        Ok(App { db, config })
    }
}
