//! Settings from flags, `LEADLINE_*` environment variables and an optional TOML file, in
//! that order of precedence.

use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The optional configuration file (`--config FILE` / `LEADLINE_CONFIG`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub addr: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub secure_cookies: Option<bool>,
    pub smtp_addr: Option<String>,
    pub smtp_relay: Option<String>,
    pub mail_from: Option<String>,
    pub public_url: Option<String>,
    pub log_format: Option<String>,
    pub session_idle_minutes: Option<u64>,
    pub session_absolute_hours: Option<u64>,
    pub sign_in_failures_per_account: Option<usize>,
    pub sign_in_failures_per_address: Option<usize>,
    pub sign_in_window_minutes: Option<i64>,
}

impl FileConfig {
    /// Reads the file, or the defaults when no file is named.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }
}

/// Where the database is: an explicit URL wins, else SQLite in the data directory.
pub fn database_url(url: Option<String>, data_dir: Option<PathBuf>, file: &FileConfig) -> String {
    if let Some(u) = url.or_else(|| file.database_url.clone()) {
        return u;
    }
    let dir = data_dir
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("leadline-data"));
    format!("sqlite://{}", dir.join("leadline.db").display())
}

/// Hides the password in a database URL for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!(
                "{}://{}{}{}",
                &url[..s],
                user,
                if creds.contains(':') { ":***" } else { "" },
                &url[at..]
            )
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_precedence_and_redaction() {
        let file = FileConfig {
            database_url: Some("postgres://f@h/db".into()),
            ..Default::default()
        };
        assert_eq!(
            database_url(Some("sqlite://x.db".into()), None, &file),
            "sqlite://x.db"
        );
        assert_eq!(database_url(None, None, &file), "postgres://f@h/db");
        assert_eq!(
            database_url(None, Some("/d".into()), &FileConfig::default()),
            "sqlite:///d/leadline.db"
        );
        assert_eq!(
            database_url(None, None, &FileConfig::default()),
            "sqlite://leadline-data/leadline.db"
        );
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("sqlite://a.db"), "sqlite://a.db");
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("adr = \"x\"").is_err());
        let c: FileConfig = toml::from_str("addr = \"0.0.0.0:80\"\nsecure_cookies = true").unwrap();
        assert_eq!(c.addr.as_deref(), Some("0.0.0.0:80"));
    }
}
