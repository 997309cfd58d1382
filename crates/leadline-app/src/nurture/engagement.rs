//! What leads do with sequence mail: an open (the pixel), a click (a tracked link), a reply
//! or an unsubscribe. Each is recorded on the message (the per-step report counts them),
//! becomes an activity on the lead's timeline (which behaviour scoring and branches read)
//! and a webhook event.

use crate::App;
use crate::error::AppResult;
use crate::tracking::TrackContext;
use leadline_domain::Activity;
use leadline_domain::time::{now, to_micros};
use leadline_domain::tracking::is_bot;
use leadline_store::mail::{self, Engagement, MessageRow};
use leadline_store::{DbTx, activities, leads};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The activity kind and webhook event of an engagement.
fn names(what: Engagement) -> (&'static str, Option<&'static str>) {
    match what {
        Engagement::Opened => ("email_opened", Some("email.opened")),
        Engagement::Clicked => ("email_clicked", Some("email.clicked")),
        Engagement::Replied => ("email_replied", Some("email.replied")),
        Engagement::Bounced => ("email_bounced", None),
        Engagement::Unsubscribed => ("email_unsubscribed", None),
    }
}

/// Records an engagement with message `m` inside the caller's transaction. Opens count
/// once on the timeline (mail clients reload images); every click and reply does. `extra`
/// goes into the activity (the clicked URL, a reply's subject).
pub(crate) async fn engaged_in(
    tx: &mut DbTx,
    m: &MessageRow,
    what: Engagement,
    extra: Map<String, Value>,
) -> AppResult<()> {
    let first = mail::record_engagement(tx.conn(), m.id, what, to_micros(now())).await?;
    if !first && !matches!(what, Engagement::Clicked | Engagement::Replied) {
        return Ok(());
    }
    let (kind, event) = names(what);
    if let Some((lead_id, mut data)) = note_in(tx, m, kind, extra, "email tracking").await?
        && let Some(event) = event
    {
        data.insert("lead_id".into(), lead_id.to_string().into());
        crate::events::emit_in(
            tx,
            vec![crate::events::Event::lead(
                event,
                lead_id,
                Value::Object(data),
                now(),
            )],
        )
        .await?;
    }
    Ok(())
}

/// Puts an activity about message `m` on its lead's timeline (when the lead is still
/// there), naming the message and its step, and re-scores the lead. Returns the lead and
/// the activity's properties.
pub(crate) async fn note_in(
    tx: &mut DbTx,
    m: &MessageRow,
    kind: &str,
    mut props: Map<String, Value>,
    recorded_by: &str,
) -> AppResult<Option<(Uuid, Map<String, Value>)>> {
    let Some(lead_id) = m.lead_id else {
        return Ok(None);
    };
    if leads::get(tx.conn(), lead_id).await?.is_none() {
        return Ok(None);
    }
    props.insert("message_id".into(), m.message_id.clone().into());
    props.insert("step".into(), m.purpose.clone().into());
    if let Some(e) = m.enrollment_id {
        props.insert("enrollment_id".into(), e.to_string().into());
    }
    let t = now();
    activities::insert(
        tx.conn(),
        &Activity {
            id: Uuid::now_v7(),
            lead_id,
            kind: kind.into(),
            occurred_at: t,
            properties: props.clone(),
            recorded_by: Some(recorded_by.into()),
            created_at: t,
        },
    )
    .await?;
    crate::scoring::score_lead_in(tx, lead_id, &format!("activity {kind}")).await?;
    Ok(Some((lead_id, props)))
}

impl App {
    /// The open pixel of a message was loaded. Unknown tokens and bots are ignored: the
    /// pixel is served either way.
    pub async fn record_open(&self, token: &str, ctx: &TrackContext) -> AppResult<()> {
        if token.len() > 64 || is_bot(ctx.user_agent.as_deref()) {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        if let Some(m) = mail::by_track_token(tx.conn(), token).await?
            && !withdrawn(&mut tx, &m).await?
        {
            engaged_in(&mut tx, &m, Engagement::Opened, Map::new()).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Whether the message's lead withdrew consent to tracking (opens and clicks).
async fn withdrawn(tx: &mut DbTx, m: &MessageRow) -> AppResult<bool> {
    match m.lead_id {
        Some(lead) => crate::consents::tracking_withdrawn(tx, lead).await,
        None => Ok(false),
    }
}

/// A tracked link inside message `message` was followed by a person.
pub(crate) async fn clicked_in(tx: &mut DbTx, message: Uuid, url: &str) -> AppResult<()> {
    if let Some(m) = mail::get(tx.conn(), message).await?
        && !withdrawn(tx, &m).await?
    {
        let mut extra = Map::new();
        extra.insert("url".into(), url.into());
        // A click means the message was opened, also where images were blocked.
        engaged_in(tx, &m, Engagement::Opened, Map::new()).await?;
        engaged_in(tx, &m, Engagement::Clicked, extra).await?;
    }
    Ok(())
}
