//! Sending the outbox: claim due deliveries under a lease, POST each signed message, log
//! the attempt, retry with backoff or give up, and switch off an endpoint that failed for
//! over a day. Addresses are checked when the request connects (after DNS resolution), so
//! a host that resolves to an internal address is refused however it got there.

use crate::App;
use crate::error::AppResult;
use leadline_domain::time::{from_micros, now, to_micros};
use leadline_domain::webhook::retry::{MAX_ATTEMPTS, next_delay};
use leadline_domain::webhook::signature::{Secret, signature_header};
use leadline_store::webhooks::{self as store, AttemptRow, ClaimedDelivery, Outcome};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Longest wait for a receiver's answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery stays with its claimant; after that (the process died) it
/// is due again, with the same `webhook-id`.
pub const LEASE: Duration = Duration::from_secs(15);
/// Deliveries claimed per round.
const BATCH: i64 = 32;
/// How long events and their delivery log are kept once nothing waits for them.
pub const RETENTION_DAYS: i64 = 30;
/// Response bodies kept in the log.
const MAX_LOGGED_BODY: usize = 1024;

/// Sends webhooks: one HTTP client whose resolver refuses internal addresses unless their
/// host is allowed in the settings.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allowed: Arc<RwLock<HashSet<String>>>,
}

impl Sender {
    /// A sender with no hosts allowed yet (each round reads them from the settings).
    pub fn new() -> reqwest::Result<Sender> {
        let allowed = Arc::new(RwLock::new(HashSet::new()));
        let client = crate::outbound::guarded_client(
            TIMEOUT,
            concat!("Leadline-Webhooks/", env!("CARGO_PKG_VERSION")),
            allowed.clone(),
        )?;
        Ok(Sender { client, allowed })
    }

    fn set_allowed(&self, hosts: &[String]) {
        if let Ok(mut a) = self.allowed.write() {
            *a = hosts.iter().cloned().collect();
        }
    }

    /// Checks a URL whose host is an IP address (those skip the resolver).
    fn literal_refused(&self, url: &str) -> Option<String> {
        crate::outbound::literal_refused(url, &self.allowed)
    }
}

/// What one attempt got.
struct Sent {
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
    headers: serde_json::Value,
    started_at: chrono::DateTime<chrono::Utc>,
    duration: Duration,
}

impl App {
    /// Forgets events (with their deliveries and attempts) older than [`RETENTION_DAYS`]
    /// that nothing waits for. Returns how many.
    pub async fn prune_webhook_log(&self) -> AppResult<u64> {
        let before = now() - chrono::Duration::days(RETENTION_DAYS);
        let mut tx = self.db.begin().await?;
        let n = store::prune(tx.conn(), to_micros(before)).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// One round of the delivery worker: claims due deliveries, sends them (concurrently,
    /// each endpoint's lead in order) and records the outcomes. Returns how many were tried.
    pub async fn deliver_webhooks(&self, sender: &Sender) -> AppResult<usize> {
        let t = now();
        let claimed = {
            let mut tx = self.db.begin().await?;
            let allowed = super::settings_in(tx.conn()).await?.allowed_private_hosts;
            sender.set_allowed(&allowed);
            let lease = t + chrono::Duration::from_std(LEASE).unwrap_or_default();
            let c = store::claim_due(tx.conn(), to_micros(t), to_micros(lease), BATCH).await?;
            tx.commit().await?;
            c
        };
        let n = claimed.len();
        let mut set = tokio::task::JoinSet::new();
        for d in claimed {
            let (app, sender) = (self.clone(), sender.clone());
            set.spawn(async move {
                let sent = send(&sender, &d).await;
                app.record(&d, sent).await
            });
        }
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Err(e)) => tracing::error!(error = %e, "webhook outcome not recorded"),
                Err(e) => tracing::error!(error = %e, "webhook delivery task failed"),
                Ok(Ok(())) => {}
            }
        }
        Ok(n)
    }

    async fn record(&self, d: &ClaimedDelivery, sent: Sent) -> AppResult<()> {
        let ok = sent.status.is_some_and(|s| (200..300).contains(&s));
        let t = now();
        let outcome = if ok {
            Outcome::Delivered
        } else {
            let jitter = rand::random::<f64>() * 2.0 - 1.0;
            match next_delay(d.attempts.max(1) as u32, jitter) {
                Some(wait) if (d.attempts as u32) < MAX_ATTEMPTS => {
                    Outcome::Retry(to_micros(t + wait))
                }
                _ => Outcome::Failed,
            }
        };
        let attempt = AttemptRow {
            id: Uuid::now_v7(),
            delivery_id: d.id,
            attempt: d.attempts,
            started_at: to_micros(sent.started_at),
            duration_ms: i32::try_from(sent.duration.as_millis()).unwrap_or(i32::MAX),
            request_headers: sent.headers.to_string(),
            response_status: sent.status.map(i32::from),
            response_body: sent.body,
            error: sent.error.clone().or_else(|| {
                sent.status
                    .filter(|_| !ok)
                    .map(|s| format!("the receiver answered {s}"))
            }),
        };
        let mut tx = self.db.begin().await?;
        store::record_attempt(tx.conn(), d.endpoint_id, &attempt, outcome, to_micros(t)).await?;
        if outcome == Outcome::Failed {
            self.give_up_in(&mut tx, d, t).await?;
        }
        tx.commit().await?;
        tracing::debug!(delivery_id = %d.id, event_id = %d.event_id, endpoint_id = %d.endpoint_id,
            attempt = d.attempts, status = ?sent.status, ?outcome, "webhook attempt");
        Ok(())
    }

    /// A delivery failed every attempt. If its endpoint has not succeeded since, it has
    /// been failing for over a day: switch it off and tell the admins and managers.
    async fn give_up_in(
        &self,
        tx: &mut leadline_store::DbTx,
        d: &ClaimedDelivery,
        t: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<()> {
        let Some(e) = store::endpoint(tx.conn(), d.endpoint_id).await? else {
            return Ok(());
        };
        let Some(since) = e.failing_since else {
            return Ok(());
        };
        let reason = format!(
            "every attempt failed since {}; switched off",
            from_micros(since).format("%Y-%m-%d %H:%M UTC")
        );
        if store::disable_endpoint(tx.conn(), e.id, &reason, to_micros(t)).await? {
            let a = crate::sla::alert(
                "webhook_disabled",
                None,
                None,
                None,
                format!("Webhook endpoint {} switched off: {reason}", e.url),
                to_micros(t),
            );
            leadline_store::sla::insert_alerts(tx.conn(), &[a]).await?;
            tracing::warn!(endpoint_id = %e.id, "webhook endpoint switched off after persistent failure");
        }
        Ok(())
    }
}

/// POSTs one message, signed with the endpoint's secret (and the previous one during a
/// rotation).
async fn send(sender: &Sender, d: &ClaimedDelivery) -> Sent {
    let started_at = now();
    let start = Instant::now();
    let msg_id = d.event_id.to_string();
    // The receiver checks this against its own clock: the wall clock, whatever the app's.
    let ts = chrono::Utc::now().timestamp();
    let mut secrets = Vec::new();
    if let Ok(s) = Secret::parse(&d.secret) {
        secrets.push(s);
    }
    if let (Some(p), Some(until)) = (&d.previous_secret, d.previous_secret_until)
        && until > to_micros(started_at)
        && let Ok(s) = Secret::parse(p)
    {
        secrets.push(s);
    }
    let refs: Vec<&Secret> = secrets.iter().collect();
    let signature = signature_header(&refs, &msg_id, ts, d.body.as_bytes());
    let headers = json!({
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": ts.to_string(),
        "webhook-signature": signature,
    });
    let fail = |error: String| Sent {
        status: None,
        body: None,
        error: Some(error),
        headers: headers.clone(),
        started_at,
        duration: start.elapsed(),
    };
    if let Some(why) = sender.literal_refused(&d.url) {
        return fail(why);
    }
    let res = sender
        .client
        .post(&d.url)
        .header("content-type", "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", &signature)
        .body(d.body.clone())
        .send()
        .await;
    match res {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = read_prefix(r).await;
            Sent {
                status: Some(status),
                body: Some(body),
                error: None,
                headers,
                started_at,
                duration: start.elapsed(),
            }
        }
        Err(e) => fail(crate::outbound::describe(&e)),
    }
}

/// The first KiB of a response body (the rest is not read).
async fn read_prefix(mut r: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < MAX_LOGGED_BODY {
        match r.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    buf.truncate(MAX_LOGGED_BODY);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Runs the delivery worker for the life of the process: a round, then a short nap when
/// nothing was due. A stop in mid-send leaves the delivery to its lease's end.
pub async fn run(app: App) {
    let sender = match Sender::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "webhook sender not started");
            return;
        }
    };
    let mut pruned_at: Option<Instant> = None;
    loop {
        if pruned_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            pruned_at = Some(Instant::now());
            match app.prune_webhook_log().await {
                Ok(n) if n > 0 => tracing::info!(events = n, "old webhook events forgotten"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook log pruning failed"),
            }
        }
        let pause = match app.deliver_webhooks(&sender).await {
            Ok(n) if n as i64 >= BATCH => Duration::ZERO,
            Ok(_) => Duration::from_millis(500),
            Err(e) => {
                tracing::error!(error = %e, "webhook round failed");
                Duration::from_secs(5)
            }
        };
        tokio::time::sleep(pause).await;
    }
}
