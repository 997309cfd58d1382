//! Hosted forms: managing them, and taking their public submissions.

use super::{Captured, Submission};
use crate::App;
use crate::admin::audit;
use crate::error::{AppError, AppResult, taken};
use leadline_domain::Principal;
use leadline_domain::capture::CaptureChannel;
use leadline_domain::capture::form::{Form, FormInput, map_submission};
use leadline_domain::time::now;
use leadline_store::forms as store;
use serde_json::{Map, Value, json};
use uuid::Uuid;

fn may_manage(by: &Principal) -> AppResult<()> {
    crate::auth::require_marketing(by, "managing forms")
}

impl App {
    /// Every form.
    pub async fn forms(&self, by: &Principal) -> AppResult<Vec<Form>> {
        may_manage(by)?;
        let mut c = self.db.acquire().await?;
        Ok(store::list(c.conn()).await?)
    }

    /// One form.
    pub async fn form(&self, by: &Principal, id: Uuid) -> AppResult<Form> {
        may_manage(by)?;
        let mut c = self.db.acquire().await?;
        store::get(c.conn(), id)
            .await?
            .ok_or(AppError::NotFound("form"))
    }

    /// An active form by its public slug (for the public page; no principal).
    pub async fn public_form(&self, slug: &str) -> AppResult<Form> {
        let mut c = self.db.acquire().await?;
        store::by_slug(c.conn(), slug)
            .await?
            .filter(|f| f.active)
            .ok_or(AppError::NotFound("form"))
    }

    /// Creates a form.
    pub async fn create_form(&self, by: &Principal, input: FormInput) -> AppResult<Form> {
        may_manage(by)?;
        let defs = self.custom_fields().await?;
        let input = input.clean(&defs)?;
        let t = now();
        let f = Form {
            id: Uuid::now_v7(),
            slug: input.slug,
            name: input.name,
            definition: input.definition,
            active: input.active,
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.db.begin().await?;
        store::insert(tx.conn(), &f)
            .await
            .map_err(taken("slug", "another form has this address"))?;
        audit(
            &mut tx,
            by,
            "form.created",
            "form",
            Some(f.id),
            json!({"slug": f.slug}),
        )
        .await?;
        tx.commit().await?;
        Ok(f)
    }

    /// Changes a form.
    pub async fn update_form(&self, by: &Principal, id: Uuid, input: FormInput) -> AppResult<Form> {
        may_manage(by)?;
        let defs = self.custom_fields().await?;
        let input = input.clean(&defs)?;
        let mut tx = self.db.begin().await?;
        let current = store::get(tx.conn(), id)
            .await?
            .ok_or(AppError::NotFound("form"))?;
        let f = Form {
            slug: input.slug,
            name: input.name,
            definition: input.definition,
            active: input.active,
            updated_at: now(),
            ..current
        };
        store::update(tx.conn(), &f)
            .await
            .map_err(taken("slug", "another form has this address"))?;
        audit(
            &mut tx,
            by,
            "form.updated",
            "form",
            Some(f.id),
            json!({"slug": f.slug}),
        )
        .await?;
        tx.commit().await?;
        Ok(f)
    }

    /// Deletes a form (its leads stay).
    pub async fn delete_form(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        may_manage(by)?;
        let mut tx = self.db.begin().await?;
        if !store::delete(tx.conn(), id).await? {
            return Err(AppError::NotFound("form"));
        }
        audit(&mut tx, by, "form.deleted", "form", Some(id), Value::Null).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a public submission of `form`. Invalid submissions are kept with the reason
    /// and answered with the field errors so the page can show them.
    pub async fn submit_form(
        &self,
        form: &Form,
        pairs: &[(String, String)],
        visitor_id: Option<String>,
        remote_addr: Option<String>,
        user_agent: Option<String>,
    ) -> AppResult<Captured> {
        let defs = self.custom_fields().await?;
        let payload = || {
            json!({
                "form": form.slug,
                "fields": pairs.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            })
        };
        let mapped = match map_submission(&form.definition, pairs, &defs) {
            Ok(m) => m,
            Err(errs) => {
                self.keep_rejected(
                    CaptureChannel::Form,
                    "invalid",
                    &errs.to_string(),
                    payload(),
                    remote_addr,
                )
                .await?;
                return Err(AppError::Validation(errs));
            }
        };
        let mut extra = Map::new();
        extra.insert("form".into(), Value::String(form.slug.clone()));
        extra.insert("form_name".into(), Value::String(form.name.clone()));
        if let (Some(given), Some(text)) = (mapped.consent, &form.definition.consent_text) {
            extra.insert(
                "consent".into(),
                json!({ "given": given, "text": text, "at": now(), "ip": remote_addr,
                    "user_agent": user_agent }),
            );
        }
        let submission = Submission {
            extra,
            visitor_id,
            ..Submission::new(CaptureChannel::Form, mapped.fields)
        };
        let by = Principal::system(&format!("form {}", form.slug));
        match self.capture(&by, submission).await {
            Err(AppError::Validation(errs)) => {
                self.keep_rejected(
                    CaptureChannel::Form,
                    "invalid",
                    &errs.to_string(),
                    payload(),
                    remote_addr,
                )
                .await?;
                Err(AppError::Validation(errs))
            }
            other => other,
        }
    }
}
