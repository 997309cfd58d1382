//! Webhook endpoints (admins): their settings, secrets and rotation, test events, the
//! delivery log and replays. Events enter the outbox in [`crate::events`]; the
//! [`delivery`] worker sends them.

pub mod delivery;

use crate::App;
use crate::admin::audit;
use crate::auth::require_admin;
use crate::error::{AppError, AppResult, invalid};
use chrono::{DateTime, Duration, Utc};
use leadline_domain::Principal;
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::webhook::EndpointInput;
use leadline_domain::webhook::signature::Secret;
use leadline_store::webhooks::{self as store, DeliveryRow, EndpointRow, NewDelivery};
use leadline_store::{DbTx, settings};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

/// How long the secret before a rotation keeps signing next to the new one.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// A webhook endpoint as admins see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// Event types or groups; empty = every event.
    pub events: Vec<String>,
    /// The signing secret (`whsec_…`).
    pub secret: String,
    /// Until when the secret before the last rotation also signs.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub enabled: bool,
    /// Why it was switched off (by hand, or after failing for over a day).
    pub disabled_reason: Option<String>,
    /// Failing since (no success after the first failure).
    pub failing_since: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Deliveries waiting or retrying.
    pub pending: i64,
    pub delivered: i64,
    /// Deliveries given up after every retry.
    pub failed: i64,
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The event, and the `webhook-id` header.
    pub event_id: Uuid,
    pub event_type: String,
    pub lead_id: Option<Uuid>,
    /// `pending` (waiting or retrying), `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i32,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<DeliveryRow> for Delivery {
    fn from(d: DeliveryRow) -> Self {
        Delivery {
            next_attempt_at: (d.status == "pending").then(|| from_micros(d.next_attempt_at)),
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_id: d.event_id,
            event_type: d.event_type,
            lead_id: d.lead_id,
            status: d.status,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: from_micros(d.created_at),
            finished_at: d.finished_at.map(from_micros),
        }
    }
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The request's headers (including the signatures).
    #[schema(value_type = Object)]
    pub request_headers: Value,
    /// None when no response came (refused address, timeout, connection error).
    pub response_status: Option<i32>,
    /// The response body's first KiB.
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// A delivery with the exact body sent and every attempt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    /// The JSON body, as signed.
    pub body: String,
    pub attempts: Vec<Attempt>,
}

/// Server-wide webhook settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Host names or IP addresses that may receive webhooks (and answer enrichment
    /// lookups) although they are (or resolve to) loopback or private addresses — for local
    /// testing, or a service on your own network.
    #[serde(default)]
    pub allowed_private_hosts: Vec<String>,
}

const SETTINGS_KEY: &str = "webhooks";

impl WebhookSettings {
    fn clean(mut self) -> AppResult<Self> {
        let mut out: Vec<String> = Vec::new();
        for (i, h) in self.allowed_private_hosts.iter().enumerate() {
            let h = h
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase();
            if h.is_empty()
                || h.len() > 253
                || (h.contains(['/', ':', ' ']) && h.parse::<std::net::IpAddr>().is_err())
            {
                return Err(invalid(
                    &format!("allowed_private_hosts[{i}]"),
                    "invalid_host",
                    "a host name or an IP address, without scheme, port or path",
                ));
            }
            if !out.contains(&h) {
                out.push(h);
            }
        }
        self.allowed_private_hosts = out;
        Ok(self)
    }
}

pub(crate) async fn settings_in(conn: leadline_store::Conn<'_>) -> AppResult<WebhookSettings> {
    Ok(settings::get(conn, SETTINGS_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

fn to_endpoint(r: EndpointRow, counts: &[(Uuid, String, i64)]) -> Endpoint {
    let count = |s: &str| {
        counts
            .iter()
            .filter(|(id, st, _)| *id == r.id && st == s)
            .map(|(_, _, n)| *n)
            .sum()
    };
    Endpoint {
        pending: count("pending"),
        delivered: count("delivered"),
        failed: count("failed"),
        events: serde_json::from_str(&r.events).unwrap_or_default(),
        previous_secret_until: r
            .previous_secret_until
            .filter(|_| r.previous_secret.is_some())
            .map(from_micros),
        id: r.id,
        url: r.url,
        description: r.description,
        secret: r.secret,
        enabled: r.enabled,
        disabled_reason: r.disabled_reason,
        failing_since: r.failing_since.map(from_micros),
        created_by: r.created_by,
        created_at: from_micros(r.created_at),
        updated_at: from_micros(r.updated_at),
    }
}

fn parse_secret(s: &str) -> AppResult<Secret> {
    Secret::parse(s).map_err(|e| invalid("secret", "invalid_secret", e.to_string()))
}

async fn endpoint_in(tx: &mut DbTx, id: Uuid) -> AppResult<EndpointRow> {
    store::endpoint(tx.conn(), id)
        .await?
        .ok_or(AppError::NotFound("webhook endpoint"))
}

impl App {
    /// Every endpoint with its delivery counts.
    pub async fn webhook_endpoints(&self, by: &Principal) -> AppResult<Vec<Endpoint>> {
        require_admin(by)?;
        let mut c = self.db.acquire().await?;
        let counts = store::delivery_counts(c.conn()).await?;
        Ok(store::endpoints(c.conn())
            .await?
            .into_iter()
            .map(|r| to_endpoint(r, &counts))
            .collect())
    }

    /// One endpoint.
    pub async fn webhook_endpoint(&self, by: &Principal, id: Uuid) -> AppResult<Endpoint> {
        require_admin(by)?;
        let mut c = self.db.acquire().await?;
        let counts = store::delivery_counts(c.conn()).await?;
        store::endpoint(c.conn(), id)
            .await?
            .map(|r| to_endpoint(r, &counts))
            .ok_or(AppError::NotFound("webhook endpoint"))
    }

    /// Adds an endpoint; its secret is generated unless one is given.
    pub async fn create_webhook_endpoint(
        &self,
        by: &Principal,
        input: EndpointInput,
    ) -> AppResult<Endpoint> {
        require_admin(by)?;
        let input = input.clean()?;
        let t = to_micros(now());
        let secret = match input.secret.as_deref() {
            Some(s) => parse_secret(s)?,
            None => Secret::generate(),
        };
        let row = EndpointRow {
            id: Uuid::now_v7(),
            url: input.url,
            description: input.description,
            events: json!(input.events).to_string(),
            secret: secret.expose(),
            previous_secret: None,
            previous_secret_until: None,
            enabled: input.enabled.unwrap_or(true),
            disabled_reason: None,
            failing_since: None,
            created_by: by.label.clone(),
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.db.begin().await?;
        store::insert_endpoint(tx.conn(), &row).await?;
        audit(
            &mut tx,
            by,
            "webhook.created",
            "webhook_endpoint",
            Some(row.id),
            json!({"url": row.url}),
        )
        .await?;
        tx.commit().await?;
        Ok(to_endpoint(row, &[]))
    }

    /// Replaces an endpoint's URL, description, events and enabled flag (and its secret,
    /// when one is given). Switching it back on clears the failure state and sends what
    /// waited at once.
    pub async fn update_webhook_endpoint(
        &self,
        by: &Principal,
        id: Uuid,
        input: EndpointInput,
    ) -> AppResult<Endpoint> {
        require_admin(by)?;
        let input = input.clean()?;
        let t = to_micros(now());
        let mut tx = self.db.begin().await?;
        let mut row = endpoint_in(&mut tx, id).await?;
        let enable = input.enabled.unwrap_or(row.enabled);
        if enable && !row.enabled {
            row.disabled_reason = None;
            row.failing_since = None;
            store::resume_deliveries(tx.conn(), id, t).await?;
        } else if !enable && row.enabled {
            row.disabled_reason = Some(format!("switched off by {}", by.label));
        }
        row.enabled = enable;
        row.url = input.url;
        row.description = input.description;
        row.events = json!(input.events).to_string();
        if let Some(s) = input.secret.as_deref() {
            let s = parse_secret(s)?;
            row.secret = s.expose();
            row.previous_secret = None;
            row.previous_secret_until = None;
        }
        row.updated_at = t;
        store::update_endpoint(tx.conn(), &row).await?;
        audit(
            &mut tx,
            by,
            "webhook.updated",
            "webhook_endpoint",
            Some(id),
            json!({"url": row.url, "enabled": row.enabled}),
        )
        .await?;
        let counts = store::delivery_counts(tx.conn()).await?;
        tx.commit().await?;
        Ok(to_endpoint(row, &counts))
    }

    /// Deletes an endpoint with its deliveries and log.
    pub async fn delete_webhook_endpoint(&self, by: &Principal, id: Uuid) -> AppResult<()> {
        require_admin(by)?;
        let mut tx = self.db.begin().await?;
        if !store::delete_endpoint(tx.conn(), id).await? {
            return Err(AppError::NotFound("webhook endpoint"));
        }
        audit(
            &mut tx,
            by,
            "webhook.deleted",
            "webhook_endpoint",
            Some(id),
            Value::Null,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new secret; the old one keeps signing too for [`ROTATION_OVERLAP_HOURS`], so the
    /// receiver can switch without losing a message.
    pub async fn rotate_webhook_secret(&self, by: &Principal, id: Uuid) -> AppResult<Endpoint> {
        require_admin(by)?;
        let t = now();
        let mut tx = self.db.begin().await?;
        let mut row = endpoint_in(&mut tx, id).await?;
        row.previous_secret = Some(std::mem::replace(
            &mut row.secret,
            Secret::generate().expose(),
        ));
        row.previous_secret_until = Some(to_micros(t + Duration::hours(ROTATION_OVERLAP_HOURS)));
        row.updated_at = to_micros(t);
        store::update_endpoint(tx.conn(), &row).await?;
        audit(
            &mut tx,
            by,
            "webhook.secret_rotated",
            "webhook_endpoint",
            Some(id),
            Value::Null,
        )
        .await?;
        let counts = store::delivery_counts(tx.conn()).await?;
        tx.commit().await?;
        Ok(to_endpoint(row, &counts))
    }

    /// Queues a `webhook.test` event for this endpoint only (sent like any other, signed,
    /// logged, retried).
    pub async fn send_test_webhook(&self, by: &Principal, id: Uuid) -> AppResult<Delivery> {
        require_admin(by)?;
        let mut tx = self.db.begin().await?;
        let row = endpoint_in(&mut tx, id).await?;
        let event = crate::events::Event {
            event_type: "webhook.test",
            lead_id: None,
            data: json!({ "endpoint_id": id, "message": "A test event from Leadline.", "sent_by": by.label }),
            at: now(),
        };
        let e = crate::events::event_row(&event);
        let d = NewDelivery {
            id: Uuid::now_v7(),
            endpoint_id: row.id,
            event_id: e.id,
            order_key: None,
            created_at: e.created_at,
        };
        store::insert_outbox(
            tx.conn(),
            std::slice::from_ref(&e),
            std::slice::from_ref(&d),
        )
        .await?;
        let out = store::delivery(tx.conn(), d.id)
            .await?
            .ok_or(AppError::NotFound("delivery"))?;
        tx.commit().await?;
        Ok(out.into())
    }

    /// An endpoint's deliveries, newest first (`status`: pending, delivered or failed).
    pub async fn webhook_deliveries(
        &self,
        by: &Principal,
        endpoint: Uuid,
        status: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<Delivery>> {
        require_admin(by)?;
        if let Some(s) = status
            && !matches!(s, "pending" | "delivered" | "failed")
        {
            return Err(invalid(
                "status",
                "invalid_status",
                "pending, delivered or failed",
            ));
        }
        let mut c = self.db.acquire().await?;
        if store::endpoint(c.conn(), endpoint).await?.is_none() {
            return Err(AppError::NotFound("webhook endpoint"));
        }
        Ok(
            store::deliveries_of(c.conn(), endpoint, status, i64::from(limit.clamp(1, 500)))
                .await?
                .into_iter()
                .map(Delivery::from)
                .collect(),
        )
    }

    /// One delivery with its body and attempts.
    pub async fn webhook_delivery(&self, by: &Principal, id: Uuid) -> AppResult<DeliveryDetail> {
        require_admin(by)?;
        let mut c = self.db.acquire().await?;
        let d = store::delivery(c.conn(), id)
            .await?
            .ok_or(AppError::NotFound("delivery"))?;
        let body = store::event(c.conn(), d.event_id)
            .await?
            .map(|e| e.body)
            .unwrap_or_default();
        let attempts = store::attempts_of(c.conn(), id)
            .await?
            .into_iter()
            .map(|a| Attempt {
                attempt: a.attempt,
                started_at: from_micros(a.started_at),
                duration_ms: a.duration_ms,
                request_headers: serde_json::from_str(&a.request_headers).unwrap_or(Value::Null),
                response_status: a.response_status,
                response_body: a.response_body,
                error: a.error,
            })
            .collect();
        Ok(DeliveryDetail {
            delivery: d.into(),
            body,
            attempts,
        })
    }

    /// Sends a delivery's event again, as a new delivery with the same `webhook-id` (the
    /// receiver can tell it is the same message).
    pub async fn replay_webhook_delivery(&self, by: &Principal, id: Uuid) -> AppResult<Delivery> {
        require_admin(by)?;
        let mut tx = self.db.begin().await?;
        let d = store::delivery(tx.conn(), id)
            .await?
            .ok_or(AppError::NotFound("delivery"))?;
        let new = NewDelivery {
            id: Uuid::now_v7(),
            endpoint_id: d.endpoint_id,
            event_id: d.event_id,
            order_key: None,
            created_at: to_micros(now()),
        };
        store::insert_outbox(tx.conn(), &[], std::slice::from_ref(&new)).await?;
        audit(
            &mut tx,
            by,
            "webhook.replayed",
            "webhook_delivery",
            Some(id),
            Value::Null,
        )
        .await?;
        let out = store::delivery(tx.conn(), new.id)
            .await?
            .ok_or(AppError::NotFound("delivery"))?;
        tx.commit().await?;
        Ok(out.into())
    }

    /// The server-wide webhook settings.
    pub async fn webhook_settings(&self, by: &Principal) -> AppResult<WebhookSettings> {
        require_admin(by)?;
        let mut c = self.db.acquire().await?;
        settings_in(c.conn()).await
    }

    /// Replaces the server-wide webhook settings.
    pub async fn set_webhook_settings(
        &self,
        by: &Principal,
        s: WebhookSettings,
    ) -> AppResult<WebhookSettings> {
        require_admin(by)?;
        let s = s.clean()?;
        let mut tx = self.db.begin().await?;
        settings::put(tx.conn(), SETTINGS_KEY, &json!(s), to_micros(now())).await?;
        audit(&mut tx, by, "webhook.settings", "settings", None, json!(s)).await?;
        tx.commit().await?;
        Ok(s)
    }
}
