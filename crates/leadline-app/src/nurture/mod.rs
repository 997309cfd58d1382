//! Nurturing (admins, managers, marketers): email templates with checks at save time,
//! preview with a chosen lead and test sends; sequences of steps, checked when saved.

pub mod engagement;
pub mod inbound;
pub mod run;

use crate::App;
use crate::admin::audit;
use crate::auth::require_marketing;
use crate::error::{AppError, AppResult, invalid};
use chrono::{DateTime, Utc};
use leadline_domain::nurture::sequence::{SequenceInput, Step};
use leadline_domain::nurture::template::{RenderContext, Rendered, TemplateInput, render};
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::{LeadFields, Principal};
use leadline_store::nurture::{self as store, SequenceRow, TemplateRow};
use leadline_store::{Conn, custom_fields, leads, mail, users};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// A saved template.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EmailTemplate {
    pub id: Uuid,
    pub name: String,
    pub subject: String,
    pub html: String,
    /// Marketing mail carries the unsubscribe link.
    pub marketing: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TemplateRow> for EmailTemplate {
    fn from(t: TemplateRow) -> Self {
        EmailTemplate {
            id: t.id,
            name: t.name,
            subject: t.subject,
            html: t.html,
            marketing: t.marketing,
            created_by: t.created_by,
            created_at: from_micros(t.created_at),
            updated_at: from_micros(t.updated_at),
        }
    }
}

/// A saved sequence: its definition and who made it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sequence {
    pub id: Uuid,
    #[serde(flatten)]
    pub definition: SequenceInput,
    pub active: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn to_sequence(r: SequenceRow) -> AppResult<Sequence> {
    let definition: SequenceInput = serde_json::from_str(&r.definition)
        .map_err(|e| AppError::Internal(format!("sequence {} is unreadable: {e}", r.id)))?;
    Ok(Sequence {
        id: r.id,
        definition,
        active: r.active,
        created_by: r.created_by,
        created_at: from_micros(r.created_at),
        updated_at: from_micros(r.updated_at),
    })
}

use crate::mail::BASE;

async fn custom_keys(conn: Conn<'_>) -> AppResult<Vec<String>> {
    Ok(custom_fields::list(conn)
        .await?
        .into_iter()
        .map(|d| d.key)
        .collect())
}

/// What a template is rendered with for a lead: its fields and its owner.
pub(crate) async fn context_for(
    conn: &mut leadline_store::DbConn,
    lead: Option<Uuid>,
    unsubscribe_url: String,
) -> AppResult<RenderContext> {
    let fields = match lead {
        Some(id) => {
            leads::get(conn.conn(), id)
                .await?
                .ok_or(AppError::NotFound("lead"))?
                .fields
        }
        None => sample_lead(),
    };
    render_context(conn.conn(), fields, unsubscribe_url).await
}

/// A lead's fields with its owner's name, address and signature: what templates see.
pub(crate) async fn render_context(
    conn: Conn<'_>,
    fields: LeadFields,
    unsubscribe_url: String,
) -> AppResult<RenderContext> {
    let owner = match fields.owner_id {
        Some(o) => users::get(conn, o).await?,
        None => None,
    };
    Ok(RenderContext {
        owner_name: owner.as_ref().map(|u| u.name.clone()),
        owner_email: owner.as_ref().map(|u| u.email.clone()),
        // No per-user signature yet: the owner's name and address.
        owner_signature: owner.as_ref().map(|u| format!("{}\n{}", u.name, u.email)),
        lead: fields,
        unsubscribe_url,
    })
}

/// The lead a preview shows when none is chosen.
fn sample_lead() -> LeadFields {
    LeadFields {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        email: Some("ada@example.com".into()),
        title: Some("Head of Engineering".into()),
        company: Some("Analytical Engines Ltd".into()),
        city: Some("London".into()),
        country: Some("GB".into()),
        ..Default::default()
    }
}

impl App {
    /// Every template.
    pub async fn email_templates(&self, by: &Principal) -> AppResult<Vec<EmailTemplate>> {
        require_marketing(by, "email templates")?;
        let mut c = self.db.acquire().await?;
        Ok(store::templates(c.conn())
            .await?
            .into_iter()
            .map(EmailTemplate::from)
            .collect())
    }

    /// One template.
    pub async fn email_template(&self, by: &Principal, id: Uuid) -> AppResult<EmailTemplate> {
        require_marketing(by, "email templates")?;
        let mut c = self.db.acquire().await?;
        store::template(c.conn(), id)
            .await?
            .map(EmailTemplate::from)
            .ok_or(AppError::NotFound("email template"))
    }

    /// Saves a template (a new one without `id`). Syntax errors and unknown fields are
    /// refused with the line; marketing mail without the unsubscribe link too.
    pub async fn save_email_template(
        &self,
        by: &Principal,
        id: Option<Uuid>,
        input: TemplateInput,
    ) -> AppResult<EmailTemplate> {
        require_marketing(by, "email templates")?;
        let mut tx = self.db.begin().await?;
        let keys = custom_keys(tx.conn()).await?;
        let input = input.clean(&keys)?;
        let t = to_micros(now());
        let existing = match id {
            Some(id) => Some(
                store::template(tx.conn(), id)
                    .await?
                    .ok_or(AppError::NotFound("email template"))?,
            ),
            None => None,
        };
        let row = TemplateRow {
            id: id.unwrap_or_else(Uuid::now_v7),
            name: input.name,
            subject: input.subject,
            html: input.html,
            marketing: input.marketing.unwrap_or(true),
            created_by: existing
                .as_ref()
                .map(|e| e.created_by.clone())
                .unwrap_or_else(|| by.label.clone()),
            created_at: existing.as_ref().map(|e| e.created_at).unwrap_or(t),
            updated_at: t,
        };
        store::put_template(tx.conn(), &row).await?;
        audit(
            &mut tx,
            by,
            "email_template.saved",
            "email_template",
            Some(row.id),
            json!({"name": row.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// Deletes a template no sequence uses (409 otherwise).
    pub async fn delete_email_template(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        require_marketing(by, "email templates")?;
        let mut tx = self.db.begin().await?;
        for s in store::sequences(tx.conn()).await? {
            let s = to_sequence(s)?;
            if s.definition
                .steps
                .iter()
                .any(|st| matches!(st, Step::Email { template_id } if *template_id == id))
            {
                return Err(AppError::Conflict(format!(
                    "the sequence \"{}\" sends this template; change it first",
                    s.definition.name
                )));
            }
        }
        if !store::delete_template(tx.conn(), id).await? {
            return Err(AppError::NotFound("email template"));
        }
        audit(
            &mut tx,
            by,
            "email_template.deleted",
            "email_template",
            Some(id),
            Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a template (saved or not) and renders it for a lead (a sample lead when none
    /// is given): what the preview shows.
    pub async fn preview_email_template(
        &self,
        by: &Principal,
        input: TemplateInput,
        lead: Option<Uuid>,
    ) -> AppResult<Rendered> {
        require_marketing(by, "email templates")?;
        let mut c = self.db.acquire().await?;
        let keys = custom_keys(c.conn()).await?;
        // A draft is previewed before it has a name (the editor previews as one types).
        let name = match input.name.trim() {
            "" => "Preview".to_owned(),
            n => n.to_owned(),
        };
        let input = TemplateInput { name, ..input }.clean(&keys)?;
        if let Some(l) = lead
            && !by.can_see_lead(
                leads::get(c.conn(), l)
                    .await?
                    .and_then(|l| l.fields.owner_id),
            )
        {
            return Err(AppError::NotFound("lead"));
        }
        let ctx = context_for(&mut c, lead, format!("{BASE}/u/preview")).await?;
        let mut r = render(&input.subject, &input.html, &ctx)
            .map_err(|e| invalid("html", "template_error", e))?;
        r.html = r.html.replace(BASE, "");
        r.text = r.text.replace(BASE, "");
        Ok(r)
    }

    /// Sends a saved template to an address of the user's choice (rendered for a lead or
    /// the sample lead); it goes through the mail worker like every message.
    pub async fn test_send_email_template(
        &self,
        by: &Principal,
        id: Uuid,
        to: &str,
        lead: Option<Uuid>,
    ) -> AppResult<crate::mail::OutboundMessage> {
        let t = self.email_template(by, id).await?;
        let to = to.trim();
        if leadline_domain::quality::normalize::email(to).is_none() {
            return Err(invalid("to", "invalid_email", "not a valid email address"));
        }
        let input = TemplateInput {
            name: t.name,
            subject: t.subject,
            html: t.html,
            marketing: Some(t.marketing),
        };
        let r = self.preview_email_template(by, input, lead).await?;
        let mut tx = self.db.begin().await?;
        let row = crate::mail::message_row(
            "template_test",
            to,
            by.user_id,
            lead,
            &format!("[test] {}", r.subject),
            &r.text,
            Some(&r.html),
        );
        mail::queue(tx.conn(), std::slice::from_ref(&row)).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// Every sequence.
    pub async fn sequences(&self, by: &Principal) -> AppResult<Vec<Sequence>> {
        require_marketing(by, "sequences")?;
        let mut c = self.db.acquire().await?;
        store::sequences(c.conn())
            .await?
            .into_iter()
            .map(to_sequence)
            .collect()
    }

    /// One sequence.
    pub async fn sequence(&self, by: &Principal, id: Uuid) -> AppResult<Sequence> {
        require_marketing(by, "sequences")?;
        let mut c = self.db.acquire().await?;
        to_sequence(
            store::sequence(c.conn(), id)
                .await?
                .ok_or(AppError::NotFound("sequence"))?,
        )
    }

    /// Saves a sequence (a new one without `id`): steps well-formed, templates that exist,
    /// jumps inside the sequence, no loop without a wait.
    pub async fn save_sequence(
        &self,
        by: &Principal,
        id: Option<Uuid>,
        input: SequenceInput,
    ) -> AppResult<Sequence> {
        require_marketing(by, "sequences")?;
        let mut tx = self.db.begin().await?;
        let templates: Vec<Uuid> = store::templates(tx.conn())
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let input = input.clean(&templates)?;
        let existing = match id {
            Some(id) => Some(
                store::sequence(tx.conn(), id)
                    .await?
                    .ok_or(AppError::NotFound("sequence"))?,
            ),
            None => None,
        };
        for s in &input.steps {
            if let Step::MoveTo { sequence_id } = s
                && store::sequence(tx.conn(), *sequence_id).await?.is_none()
            {
                return Err(invalid(
                    "steps",
                    "unknown_sequence",
                    "a move_to step names no sequence",
                ));
            }
        }
        let t = to_micros(now());
        let row = SequenceRow {
            id: id.unwrap_or_else(Uuid::now_v7),
            name: input.name.clone(),
            active: input.active.unwrap_or(true),
            definition: serde_json::to_string(&input)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            created_by: existing
                .as_ref()
                .map(|e| e.created_by.clone())
                .unwrap_or_else(|| by.label.clone()),
            created_at: existing.as_ref().map(|e| e.created_at).unwrap_or(t),
            updated_at: t,
        };
        store::put_sequence(tx.conn(), &row).await?;
        audit(
            &mut tx,
            by,
            "sequence.saved",
            "sequence",
            Some(row.id),
            json!({"name": row.name}),
        )
        .await?;
        tx.commit().await?;
        to_sequence(row)
    }

    /// Deletes a sequence.
    pub async fn delete_sequence(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        require_marketing(by, "sequences")?;
        let mut tx = self.db.begin().await?;
        if !store::delete_sequence(tx.conn(), id).await? {
            return Err(AppError::NotFound("sequence"));
        }
        audit(
            &mut tx,
            by,
            "sequence.deleted",
            "sequence",
            Some(id),
            Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
