//! Test harness: the real server on a random port, on a fresh SQLite file or a fresh
//! PostgreSQL database, driven over HTTP.
#![allow(dead_code)]

pub mod hooks;
pub mod nurture;
pub mod sink;

use leadline_app::admin::NewUser;
use leadline_app::{App, AppConfig};
use leadline_domain::{Principal, Role};
use leadline_store::testing::{self, TestDb};
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub name: &'static str,
    pub base: String,
    pub app: App,
    /// An admin API key.
    pub key: String,
    pub client: reqwest::Client,
    /// The database's URL, for another server process on the same database.
    pub db_url: String,
    shutdown: CancellationToken,
    _db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with the admin key.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&self.key)
    }
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(&self.key)
    }
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.put(self.url(path)).bearer_auth(&self.key)
    }
    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path)).bearer_auth(&self.key)
    }
    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(&self.key)
    }

    /// Creates leads through the API from `bodies` and records each one's outcome (won when
    /// its flag is set, else lost): history for back-tests and training. Returns their ids.
    #[allow(dead_code)]
    pub async fn history(&self, bodies: Vec<(serde_json::Value, bool)>) -> Vec<uuid::Uuid> {
        let mut outcomes = Vec::new();
        for (body, won) in bodies {
            let r = self.post("/api/v1/leads").json(&body).send().await.unwrap();
            assert!(r.status().is_success(), "{}: {}", self.name, r.status());
            let l: serde_json::Value = r.json().await.unwrap();
            let id: uuid::Uuid = l["id"].as_str().unwrap().parse().unwrap();
            outcomes.push((
                id,
                if won {
                    leadline_domain::lead::Outcome::Won
                } else {
                    leadline_domain::lead::Outcome::Lost
                },
            ));
        }
        let mut tx = self.app.db.begin().await.unwrap();
        leadline_store::capture::set_outcomes(tx.conn(), &outcomes, "test", 0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        outcomes.into_iter().map(|(id, _)| id).collect()
    }

    /// Creates a user and an API key acting for them.
    pub async fn user_with_key(&self, email: &str, role: Role) -> (uuid::Uuid, String) {
        let system = Principal::system("test");
        let u = self
            .app
            .create_user(
                &system,
                NewUser {
                    email: email.into(),
                    name: email.into(),
                    role,
                    password: Some("correct horse battery".into()),
                    sees_all_leads: false,
                },
            )
            .await
            .unwrap();
        let (_, key) = self
            .app
            .create_api_key(&system, email, role, Some(u.id))
            .await
            .unwrap();
        (u.id, key)
    }

    /// Number of live leads, read straight from the store.
    pub async fn lead_count(&self) -> i64 {
        let mut c = self.app.db.acquire().await.unwrap();
        leadline_store::leads::count(c.conn()).await.unwrap()
    }
}

async fn start(db: TestDb, config: AppConfig) -> TestApp {
    leadline_app::outbound::install_tls();
    let app = App {
        db: db.db.clone(),
        config,
    };
    let (_, key) = app
        .create_api_key(&Principal::system("test"), "test-admin", Role::Admin, None)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let state = leadline_web::AppState::new(app.clone(), leadline_web::WebConfig::default());
    tokio::spawn(leadline_web::serve(listener, state, shutdown.clone()));
    TestApp {
        name: db.name,
        base,
        app,
        key,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db_url: db.url.clone(),
        shutdown,
        _db: db,
    }
}

/// The JSON body of a successful response; fails the test with the status and body
/// otherwise.
pub async fn ok(r: reqwest::Response) -> serde_json::Value {
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// One running server per backend: SQLite first, then PostgreSQL.
pub async fn apps() -> Vec<TestApp> {
    apps_with(AppConfig::default()).await
}

/// [`apps`] with other settings.
#[allow(dead_code)]
pub async fn apps_with(config: AppConfig) -> Vec<TestApp> {
    let mut out = Vec::new();
    for db in testing::backends().await {
        out.push(start(db, config.clone()).await);
    }
    out
}
