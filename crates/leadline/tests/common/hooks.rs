//! Webhook test helpers: a real HTTP receiver and Standard Webhooks verification by the
//! reference library.

use super::ok;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap().to_owned()
    }
}

/// A real HTTP receiver on 127.0.0.1: answers 500 to the first `fail` requests, then 204
/// (after `delay`).
#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Received>>>,
    pub fail: Arc<AtomicUsize>,
    pub delay_ms: Arc<AtomicUsize>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let delay = r.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    let failing = r
        .fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    r.got.lock().unwrap().push(Received { headers, body });
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

impl Receiver {
    pub async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let app = Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(r.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (r, url)
    }
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
    pub fn clear(&self) {
        self.got.lock().unwrap().clear();
    }
}

/// Verifies a message with the reference library.
pub fn verify(secret: &str, m: &Received) -> Result<(), String> {
    let wh = standardwebhooks::Webhook::new(secret).map_err(|e| e.to_string())?;
    let mut h = http::HeaderMap::new();
    for k in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        h.insert(k, m.headers[k].to_str().unwrap().parse().unwrap());
    }
    wh.verify(&m.body, &h).map_err(|e| e.to_string())
}

pub async fn allow_loopback(t: &super::TestApp) {
    ok(t.put("/api/v1/webhooks/settings")
        .json(&json!({"allowed_private_hosts": ["127.0.0.1"]}))
        .send()
        .await
        .unwrap())
    .await;
}

pub async fn endpoint(t: &super::TestApp, url: &str, events: Value) -> Value {
    let r = t
        .post("/api/v1/webhooks/endpoints")
        .json(&json!({"url": url, "events": events, "description": "test receiver"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

pub async fn deliveries(t: &super::TestApp, endpoint: &str, status: &str) -> Vec<Value> {
    let v = ok(t
        .get(&format!(
            "/api/v1/webhooks/endpoints/{endpoint}/deliveries?status={status}&limit=500"
        ))
        .send()
        .await
        .unwrap())
    .await;
    v.as_array().unwrap().clone()
}
