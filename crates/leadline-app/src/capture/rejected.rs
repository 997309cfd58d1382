//! The rejected submissions admins review: everything that could not become a lead.

use crate::App;
use crate::admin::audit;
use crate::auth::require_admin;
use crate::error::{AppError, AppResult};
use leadline_domain::Principal;
use leadline_domain::capture::{CaptureChannel, RejectedSubmission};
use leadline_domain::time::to_micros;
use leadline_store::capture as store;
use uuid::Uuid;

impl App {
    /// Rejected submissions, newest first. `after` is the last item of the previous page.
    /// Admins only: they hold raw submissions.
    pub async fn rejected_submissions(
        &self,
        by: &Principal,
        channel: Option<CaptureChannel>,
        after: Option<Uuid>,
        limit: i64,
    ) -> AppResult<Vec<RejectedSubmission>> {
        require_admin(by)?;
        let mut c = self.db.acquire().await?;
        let before = match after {
            Some(id) => store::get_rejected(c.conn(), id)
                .await?
                .map(|r| (to_micros(r.received_at), r.id)),
            None => None,
        };
        Ok(store::list_rejected(c.conn(), channel, before, limit.clamp(1, 200)).await?)
    }

    /// One rejected submission.
    pub async fn rejected_submission(
        &self,
        by: &Principal,
        id: Uuid,
    ) -> AppResult<RejectedSubmission> {
        require_admin(by)?;
        let mut c = self.db.acquire().await?;
        store::get_rejected(c.conn(), id)
            .await?
            .ok_or(AppError::NotFound("rejected submission"))
    }

    /// Discards a rejected submission (spam, or recovered by hand).
    pub async fn discard_rejected(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        require_admin(by)?;
        let mut tx = self.db.begin().await?;
        if !store::delete_rejected(tx.conn(), id).await? {
            return Err(AppError::NotFound("rejected submission"));
        }
        audit(
            &mut tx,
            by,
            "rejected_submission.discarded",
            "rejected_submission",
            Some(id),
            serde_json::Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
