//! Reading and changing the capture settings.

use crate::App;
use crate::admin::audit;
use crate::auth::require_admin;
use crate::error::{AppError, AppResult};
use leadline_domain::Principal;
use leadline_domain::capture::CaptureSettings;
use leadline_domain::time::{now, to_micros};
use leadline_store::settings;

const KEY: &str = "capture";

impl App {
    /// The capture settings (defaults until an admin saves them).
    pub async fn capture_settings(&self) -> AppResult<CaptureSettings> {
        let mut c = self.db.acquire().await?;
        match settings::get(c.conn(), KEY).await? {
            None => Ok(CaptureSettings::default()),
            Some(v) => serde_json::from_value(v)
                .map_err(|e| AppError::Internal(format!("stored capture settings: {e}"))),
        }
    }

    /// Replaces the capture settings. Admins only.
    pub async fn set_capture_settings(
        &self,
        by: &Principal,
        input: CaptureSettings,
    ) -> AppResult<CaptureSettings> {
        require_admin(by)?;
        let cleaned = input.clean()?;
        let value =
            serde_json::to_value(&cleaned).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        settings::put(tx.conn(), KEY, &value, to_micros(now())).await?;
        audit(&mut tx, by, "settings.capture", "settings", None, value).await?;
        tx.commit().await?;
        Ok(cleaned)
    }
}
