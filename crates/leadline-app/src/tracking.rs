//! Tracking: page views and custom events from the snippet and the API, anonymous
//! visitors joining a lead's timeline once identified, and tracked redirect links.

use crate::App;
use crate::error::{AppError, AppResult, invalid};
use chrono::{DateTime, Utc};
use leadline_domain::time::{now, to_micros};
use leadline_domain::tracking::{TrackedEvent, is_bot, valid_visitor_id};
use leadline_domain::{Activity, Principal, Role, ValidationErrors};
use leadline_store::{DbTx, activities, capture as capture_store, leads, tracking as store};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Checks a visitor id as the API receives it.
pub fn check_visitor_id(v: &str) -> Result<(), ValidationErrors> {
    if valid_visitor_id(v) {
        Ok(())
    } else {
        let mut e = ValidationErrors::default();
        e.add(
            "visitor_id",
            "invalid_visitor_id",
            "must be 8-64 of A-Z, a-z, 0-9, _ and -",
        );
        Err(e)
    }
}

/// Links a visitor to a lead inside the caller's transaction; their anonymous events move
/// to the lead's timeline.
pub(crate) async fn identify_in(tx: &mut DbTx, visitor_id: &str, lead_id: Uuid) -> AppResult<()> {
    if !valid_visitor_id(visitor_id) {
        return Ok(());
    }
    let moved = store::identify(tx.conn(), visitor_id, lead_id, to_micros(now())).await?;
    if moved > 0 {
        tracing::debug!(%lead_id, moved, "anonymous activity merged into lead");
    }
    Ok(())
}

/// What the browser told us about itself with a tracking call.
#[derive(Debug, Clone, Default)]
pub struct TrackContext {
    pub user_agent: Option<String>,
    /// `DNT: 1` or `Sec-GPC: 1` was sent.
    pub do_not_track: bool,
}

/// What became of a tracking call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracked {
    /// Recorded on the lead's timeline.
    OnLead(Uuid),
    /// Kept for an anonymous visitor.
    Anonymous,
    /// Not recorded, with the reason (`bot`, `do_not_track`, `no_consent`,
    /// `consent_withdrawn`).
    Ignored(&'static str),
}

/// A custom event sent through the API for a known lead or a visitor.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// Who: one of `lead_id`, `email`, `external_id`, `visitor_id`.
    #[serde(default)]
    pub lead_id: Option<Uuid>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub visitor_id: Option<String>,
    /// e.g. `webinar_attended`, `whitepaper_downloaded`, `pricing_page_visited`.
    pub kind: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: Map<String, Value>,
}

/// Where an API event was recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventRecorded {
    /// The lead whose timeline got the event; absent for an anonymous visitor.
    pub lead_id: Option<Uuid>,
}

/// A tracked redirect link to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// Where the link leads (absolute http or https URL).
    pub url: String,
    /// The lead the link was sent to (e.g. in an email): a click is theirs.
    #[serde(default)]
    pub lead_id: Option<Uuid>,
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

/// A tracked link.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackedLink {
    pub token: String,
    /// The path to publish: `/r/{token}`.
    pub path: String,
    pub url: String,
    pub lead_id: Option<Uuid>,
    pub campaign: Option<String>,
    pub label: Option<String>,
    /// Clicks by people (bots are not counted).
    pub clicks: i64,
}

/// A new random visitor or link token (22 URL-safe characters, 128 bits).
pub fn random_token() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl App {
    /// Records a tracking call from the snippet or the pixel.
    pub async fn track(&self, event: TrackedEvent, ctx: &TrackContext) -> AppResult<Tracked> {
        if is_bot(ctx.user_agent.as_deref()) {
            return Ok(Tracked::Ignored("bot"));
        }
        let settings = self.capture_settings().await?;
        if settings.honour_do_not_track && ctx.do_not_track {
            return Ok(Tracked::Ignored("do_not_track"));
        }
        // A declined banner is honoured even where consent is not required.
        if event.consent == Some(false)
            || (settings.tracking_requires_consent && event.consent != Some(true))
        {
            return Ok(Tracked::Ignored("no_consent"));
        }
        let event = event.clean()?;
        let t = now();
        let mut tx = self.db.begin().await?;
        let mut lead = store::touch_visitor(tx.conn(), &event.visitor_id, to_micros(t)).await?;
        if let Some(token) = &event.link
            && let Some(link) = store::link(tx.conn(), token).await?
            && let Some(link_lead) = link.lead_id
            && lead.is_none()
        {
            identify_in(&mut tx, &event.visitor_id, link_lead).await?;
            lead = Some(link_lead);
        }
        // A lead who withdrew tracking consent is not tracked from that moment on, whatever
        // the browser says (the transaction is dropped: not even the visit is kept).
        if let Some(lead_id) = lead
            && crate::consents::tracking_withdrawn(&mut tx, lead_id).await?
        {
            return Ok(Tracked::Ignored("consent_withdrawn"));
        }
        let properties = event.activity_properties();
        let out = match lead {
            Some(lead_id) => {
                activities::insert(
                    tx.conn(),
                    &Activity {
                        id: Uuid::now_v7(),
                        lead_id,
                        kind: event.kind.clone(),
                        occurred_at: t,
                        properties,
                        recorded_by: Some("tracking".into()),
                        created_at: t,
                    },
                )
                .await?;
                crate::scoring::score_lead_in(
                    &mut tx,
                    lead_id,
                    &format!("activity {}", event.kind),
                )
                .await?;
                Tracked::OnLead(lead_id)
            }
            None => {
                store::insert_event(
                    tx.conn(),
                    &event.visitor_id,
                    &event.kind,
                    to_micros(t),
                    &properties,
                )
                .await?;
                Tracked::Anonymous
            }
        };
        tx.commit().await?;
        Ok(out)
    }

    /// Records a custom event (webinar attended, whitepaper downloaded…) for a lead found by
    /// id, email or external id, or for an anonymous visitor.
    pub async fn record_event(&self, by: &Principal, input: NewEvent) -> AppResult<EventRecorded> {
        crate::auth::require_marketing(by, "recording events")?;
        let check = leadline_domain::NewActivity {
            kind: input.kind.clone(),
            occurred_at: input.occurred_at,
            properties: input.properties.clone(),
        };
        check.validate(now())?;
        let t = now();
        let occurred = input.occurred_at.unwrap_or(t);
        let mut tx = self.db.begin().await?;
        let lead_id = if let Some(id) = input.lead_id {
            Some(
                leads::get(tx.conn(), id)
                    .await?
                    .ok_or_else(|| invalid("lead_id", "unknown_lead", "no lead with this id"))?
                    .id,
            )
        } else if let Some(x) = &input.external_id {
            Some(
                capture_store::lead_by_external_id(tx.conn(), x)
                    .await?
                    .ok_or_else(|| {
                        invalid(
                            "external_id",
                            "unknown_lead",
                            "no lead with this external id",
                        )
                    })?,
            )
        } else if let Some(e) = &input.email {
            Some(
                capture_store::lead_by_email(tx.conn(), e)
                    .await?
                    .ok_or_else(|| invalid("email", "unknown_lead", "no lead with this email"))?,
            )
        } else if let Some(v) = &input.visitor_id {
            check_visitor_id(v)?;
            store::touch_visitor(tx.conn(), v, to_micros(t)).await?
        } else {
            return Err(invalid(
                "",
                "missing_subject",
                "name the lead (lead_id, email, external_id) or the visitor (visitor_id)",
            ));
        };
        match (lead_id, &input.visitor_id) {
            (Some(lead_id), _) => {
                let cause = format!("activity {}", input.kind);
                activities::insert(
                    tx.conn(),
                    &Activity {
                        id: Uuid::now_v7(),
                        lead_id,
                        kind: input.kind,
                        occurred_at: occurred,
                        properties: input.properties,
                        recorded_by: Some(by.label.clone()),
                        created_at: t,
                    },
                )
                .await?;
                crate::scoring::score_lead_in(&mut tx, lead_id, &cause).await?;
            }
            (None, Some(v)) => {
                store::insert_event(
                    tx.conn(),
                    v,
                    &input.kind,
                    to_micros(occurred),
                    &input.properties,
                )
                .await?;
            }
            (None, None) => {
                return Err(invalid(
                    "",
                    "missing_subject",
                    "no lead or visitor was named",
                ));
            }
        }
        tx.commit().await?;
        Ok(EventRecorded { lead_id })
    }

    /// Creates a tracked redirect link.
    pub async fn create_link(&self, by: &Principal, input: NewLink) -> AppResult<TrackedLink> {
        if by.role == Role::Rep && input.lead_id.is_none() {
            return Err(AppError::Forbidden(
                "reps may only create links for a lead".into(),
            ));
        }
        let ok = url::Url::parse(input.url.trim())
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok || input.url.len() > 2048 {
            return Err(invalid(
                "url",
                "invalid_url",
                "must be an absolute http(s) URL of at most 2048 characters",
            ));
        }
        let row = store::LinkRow {
            token: random_token(),
            url: input.url.trim().to_owned(),
            lead_id: input.lead_id,
            campaign: input.campaign,
            label: input.label,
            created_at: to_micros(now()),
            message_id: None,
        };
        let mut tx = self.db.begin().await?;
        if let Some(id) = row.lead_id {
            let lead = leads::get(tx.conn(), id)
                .await?
                .ok_or_else(|| invalid("lead_id", "unknown_lead", "no lead with this id"))?;
            if !by.can_see_lead(lead.fields.owner_id) {
                return Err(invalid("lead_id", "unknown_lead", "no lead with this id"));
            }
        }
        store::insert_link(tx.conn(), &row).await?;
        tx.commit().await?;
        Ok(TrackedLink {
            path: format!("/r/{}", row.token),
            token: row.token,
            url: row.url,
            lead_id: row.lead_id,
            campaign: row.campaign,
            label: row.label,
            clicks: 0,
        })
    }

    /// A tracked link with its click count.
    pub async fn link(&self, by: &Principal, token: &str) -> AppResult<TrackedLink> {
        let mut c = self.db.acquire().await?;
        let row = store::link(c.conn(), token)
            .await?
            .ok_or(AppError::NotFound("link"))?;
        if let Some(lead_id) = row.lead_id {
            let visible = leads::get(c.conn(), lead_id)
                .await?
                .is_some_and(|l| by.can_see_lead(l.fields.owner_id));
            if !visible {
                return Err(AppError::NotFound("link"));
            }
        }
        let clicks = store::clicks(c.conn(), token).await?;
        Ok(TrackedLink {
            path: format!("/r/{}", row.token),
            token: row.token,
            url: row.url,
            lead_id: row.lead_id,
            campaign: row.campaign,
            label: row.label,
            clicks,
        })
    }

    /// Follows a tracked link: records the click (unless a bot followed it) and returns
    /// where to send the browser. A lead's link carries `ll_t` so the snippet on the landing
    /// page can identify the visitor.
    pub async fn follow_link(&self, token: &str, ctx: &TrackContext) -> AppResult<String> {
        if token.len() > 64 {
            return Err(AppError::NotFound("link"));
        }
        let mut tx = self.db.begin().await?;
        let link = store::link(tx.conn(), token)
            .await?
            .ok_or(AppError::NotFound("link"))?;
        let mut target = link.url.clone();
        if let Some(lead_id) = link.lead_id
            && crate::consents::tracking_withdrawn(&mut tx, lead_id).await?
        {
            // Still redirects, but counts nothing and does not identify the browser.
            return Ok(target);
        }
        let person = !is_bot(ctx.user_agent.as_deref());
        if person {
            store::count_click(tx.conn(), token, to_micros(now())).await?;
        }
        if let Some(lead_id) = link.lead_id {
            if person {
                let t = now();
                let mut p = Map::new();
                p.insert("url".into(), Value::String(link.url.clone()));
                if let Some(c) = &link.campaign {
                    p.insert("campaign".into(), Value::String(c.clone()));
                }
                if let Some(l) = &link.label {
                    p.insert("label".into(), Value::String(l.clone()));
                }
                // The lead may be gone; the click still redirects.
                if let Some(message) = link.message_id {
                    crate::nurture::engagement::clicked_in(&mut tx, message, &link.url).await?;
                } else if leads::get(tx.conn(), lead_id).await?.is_some() {
                    activities::insert(
                        tx.conn(),
                        &Activity {
                            id: Uuid::now_v7(),
                            lead_id,
                            kind: "link_clicked".into(),
                            occurred_at: t,
                            properties: p,
                            recorded_by: Some("tracking".into()),
                            created_at: t,
                        },
                    )
                    .await?;
                    crate::scoring::score_lead_in(&mut tx, lead_id, "activity link_clicked")
                        .await?;
                }
            }
            if let Ok(mut u) = url::Url::parse(&link.url) {
                u.query_pairs_mut().append_pair("ll_t", token);
                target = u.to_string();
            }
        }
        tx.commit().await?;
        Ok(target)
    }
}
