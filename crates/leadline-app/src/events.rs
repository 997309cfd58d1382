//! Lifecycle events into the outbox. Every change other systems may care about is written
//! here, in the transaction of the change itself, as an event with one delivery per
//! webhook endpoint subscribed at that moment (none subscribed: nothing is written). The
//! history records that go with stage and owner changes are written here too, so no path
//! records a change without its event.

use crate::error::AppResult;
use chrono::{DateTime, Utc};
use leadline_domain::lead::FieldChange;
use leadline_domain::time::to_micros;
use leadline_domain::webhook::{Envelope, filter_matches};
use leadline_domain::{Lead, Stage};
use leadline_store::history::{OwnerChange, StageChange};
use leadline_store::webhooks::{self as store, EventRow, NewDelivery};
use leadline_store::{DbTx, history};
use serde_json::{Value, json};
use uuid::Uuid;

/// One event about to be written.
#[derive(Debug, Clone)]
pub struct Event {
    pub event_type: &'static str,
    /// The lead it concerns: its events reach each endpoint in order.
    pub lead_id: Option<Uuid>,
    pub data: Value,
    pub at: DateTime<Utc>,
}

impl Event {
    /// An event about a lead.
    pub fn lead(event_type: &'static str, lead_id: Uuid, data: Value, at: DateTime<Utc>) -> Event {
        Event {
            event_type,
            lead_id: Some(lead_id),
            data,
            at,
        }
    }
}

/// Writes the events for the endpoints subscribed to them.
pub async fn emit_in(tx: &mut DbTx, events: Vec<Event>) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let subs: Vec<(Uuid, Vec<String>)> = store::subscriptions(tx.conn())
        .await?
        .into_iter()
        .map(|(id, f)| (id, serde_json::from_str(&f).unwrap_or_default()))
        .collect();
    if subs.is_empty() {
        return Ok(());
    }
    let endpoints = |t: &str| -> Vec<Uuid> {
        subs.iter()
            .filter(|(_, f)| filter_matches(f, t))
            .map(|(id, _)| *id)
            .collect()
    };
    let (mut rows, mut deliveries) = (Vec::new(), Vec::new());
    for e in events {
        let to = endpoints(e.event_type);
        if to.is_empty() {
            continue;
        }
        let row = event_row(&e);
        deliveries.extend(to.into_iter().map(|endpoint_id| NewDelivery {
            id: Uuid::now_v7(),
            endpoint_id,
            event_id: row.id,
            order_key: e.lead_id,
            created_at: row.created_at,
        }));
        rows.push(row);
    }
    store::insert_outbox(tx.conn(), &rows, &deliveries).await?;
    Ok(())
}

/// The stored form of an event: its id (the `webhook-id`) and the exact body sent.
pub(crate) fn event_row(e: &Event) -> EventRow {
    EventRow {
        id: Uuid::now_v7(),
        event_type: e.event_type.to_owned(),
        lead_id: e.lead_id,
        body: Envelope {
            event_type: e.event_type,
            timestamp: e.at,
            data: &e.data,
        }
        .to_body(),
        created_at: to_micros(leadline_domain::time::now()),
    }
}

/// Records stage changes in the history with their events: `lead.stage_changed`, and
/// `lead.qualified` on entering MQL. A lead's first stage is announced by `lead.created`.
pub async fn stages_changed_in(tx: &mut DbTx, changes: &[StageChange]) -> AppResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    history::record_stages(tx.conn(), changes).await?;
    crate::nurture::run::enroll_on_stages_in(tx, changes).await?;
    let mut events = Vec::new();
    for ch in changes.iter().filter(|c| c.from_stage.is_some()) {
        let data = serde_json::to_value(ch).unwrap_or(Value::Null);
        if ch.to_stage == Stage::Mql.as_str() {
            events.push(Event::lead(
                "lead.stage_changed",
                ch.lead_id,
                data.clone(),
                ch.at,
            ));
            events.push(Event::lead("lead.qualified", ch.lead_id, data, ch.at));
        } else {
            events.push(Event::lead("lead.stage_changed", ch.lead_id, data, ch.at));
        }
    }
    emit_in(tx, events).await
}

/// One stage change; see [`stages_changed_in`].
pub async fn stage_changed_in(tx: &mut DbTx, change: StageChange) -> AppResult<()> {
    stages_changed_in(tx, std::slice::from_ref(&change)).await
}

/// Records an owner (or team queue) change with its `lead.assigned` event.
pub async fn owner_changed_in(tx: &mut DbTx, change: &OwnerChange) -> AppResult<()> {
    history::record_owner(tx.conn(), change).await?;
    let data = serde_json::to_value(change).unwrap_or(Value::Null);
    emit_in(
        tx,
        vec![Event::lead(
            "lead.assigned",
            change.lead_id,
            data,
            change.at,
        )],
    )
    .await
}

/// `lead.created` for new leads, as they were inserted.
pub async fn leads_created_in(tx: &mut DbTx, leads: &[Lead]) -> AppResult<()> {
    let events = leads
        .iter()
        .map(|l| Event::lead("lead.created", l.id, json!({ "lead": l }), l.created_at))
        .collect();
    emit_in(tx, events).await
}

/// `lead.updated` with the lead after the change and each changed field's old and new value.
pub async fn lead_updated_in(tx: &mut DbTx, lead: &Lead, changes: &[FieldChange]) -> AppResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    emit_in(
        tx,
        vec![Event::lead(
            "lead.updated",
            lead.id,
            json!({ "lead": lead, "changes": changes }),
            lead.updated_at,
        )],
    )
    .await
}
