//! Test harness: the real server on a random port, on a fresh SQLite file or a fresh
//! PostgreSQL database, driven over HTTP.
#![allow(dead_code)]

pub mod chromium;
pub mod hooks;
pub mod matrix;
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

/// Signs in to the web UI as `email` (password `correct horse battery`, as the helpers that
/// create users set it): a client keeping the session cookie and following no redirect,
/// and the sign-in answer.
pub async fn login(t: &TestApp, email: &str, next: &str) -> (reqwest::Client, reqwest::Response) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(t.url("/login"))
        .form(&[
            ("email", email),
            ("password", "correct horse battery"),
            ("next", next),
        ])
        .send()
        .await
        .unwrap();
    (client, r)
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

/// Row counts of every table, in name order.
#[allow(dead_code)]
pub async fn row_counts(t: &TestApp) -> Vec<(String, i64)> {
    let mut c = t.app.db.acquire().await.unwrap();
    let tables: Vec<String> = match c.conn() {
        leadline_store::Conn::Sqlite(c) => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap(),
        leadline_store::Conn::Postgres(c) => sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             ORDER BY table_name",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap(),
    };
    let mut out = Vec::new();
    for name in tables {
        // Names come from the catalogue, quoted as identifiers.
        let sql = format!("SELECT COUNT(*) FROM \"{}\"", name.replace('"', "\"\""));
        let n: i64 = match c.conn() {
            leadline_store::Conn::Sqlite(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *c)
                .await
                .unwrap(),
            leadline_store::Conn::Postgres(c) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *c)
                .await
                .unwrap(),
        };
        out.push((name, n));
    }
    out
}

/// One operation of the API's OpenAPI document.
#[allow(dead_code)]
pub struct Operation {
    pub method: reqwest::Method,
    /// The path as documented, with `{param}` placeholders, without the server prefix.
    pub path: String,
}

#[allow(dead_code)]
impl Operation {
    /// The path with every parameter replaced by `value`.
    pub fn fill(&self, value: &str) -> String {
        self.fill_with(|_| value.to_owned())
    }

    /// The path with each parameter replaced by what `value` gives for its name.
    pub fn fill_with(&self, value: impl Fn(&str) -> String) -> String {
        let mut url = String::new();
        let mut rest = self.path.as_str();
        while let Some(open) = rest.find('{') {
            url.push_str(&rest[..open]);
            let (name, r) = rest[open + 1..].split_once('}').unwrap_or(("", ""));
            url.push_str(&value(name));
            rest = r;
        }
        url.push_str(rest);
        url
    }

    /// The path with parameters of the right type that name nothing: fresh UUIDs for ids,
    /// a version number for versions, a made-up name for the rest.
    pub fn fill_unknown(&self) -> String {
        self.fill_with(|name| match name {
            "version" => "1".to_owned(),
            "key" | "name" | "token" => "no-such-thing".to_owned(),
            _ => uuid::Uuid::now_v7().to_string(),
        })
    }
}

/// The server prefix and every GET/POST/PUT/PATCH/DELETE operation of the served OpenAPI
/// document, so a new route is checked as soon as it is documented.
#[allow(dead_code)]
pub async fn api_operations(t: &TestApp) -> (String, Vec<Operation>) {
    let (prefix, ops, _) = api_spec(t).await;
    (prefix, ops)
}

/// [`api_operations`] and the document itself.
#[allow(dead_code)]
pub async fn api_spec(t: &TestApp) -> (String, Vec<Operation>, serde_json::Value) {
    let spec = ok(t.get("/api/v1/openapi.json").send().await.unwrap()).await;
    let prefix = spec["servers"][0]["url"].as_str().unwrap_or("").to_owned();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            let Ok(m) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) {
                ops.push(Operation {
                    method: m,
                    path: path.clone(),
                });
            }
        }
    }
    (prefix, ops, spec)
}

/// The smallest JSON value that `schema` accepts as far as types go: required properties
/// only, the first enum value or alternative, ids as fresh UUIDs. Enough to get past body
/// decoding, so a test reaches the authorization and validation behind it.
#[allow(dead_code)]
pub fn minimal_instance(spec: &serde_json::Value, schema: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Value, json};
    fn go(spec: &Value, s: &Value, depth: usize) -> Value {
        if depth > 12 {
            return Value::Null;
        }
        if let Some(r) = s["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap_or("");
            return go(spec, &spec["components"]["schemas"][name], depth + 1);
        }
        if let Some(all) = s["allOf"].as_array() {
            let mut out = serde_json::Map::new();
            for part in all {
                if let Value::Object(o) = go(spec, part, depth + 1) {
                    out.extend(o);
                }
            }
            return Value::Object(out);
        }
        for alt in ["oneOf", "anyOf"] {
            if let Some(first) = s[alt]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["type"] != "null").or_else(|| a.first()))
            {
                return go(spec, first, depth + 1);
            }
        }
        if let Some(e) = s["enum"]
            .as_array()
            .and_then(|e| e.iter().find(|v| !v.is_null()))
        {
            return e.clone();
        }
        let ty = match &s["type"] {
            Value::Array(ts) => ts
                .iter()
                .find(|t| *t != "null")
                .and_then(|t| t.as_str())
                .unwrap_or("null"),
            t => t.as_str().unwrap_or(if s["properties"].is_object() {
                "object"
            } else {
                "null"
            }),
        };
        match ty {
            "object" => {
                let mut out = serde_json::Map::new();
                for name in s["required"].as_array().into_iter().flatten() {
                    let Some(name) = name.as_str() else { continue };
                    out.insert(name.into(), go(spec, &s["properties"][name], depth + 1));
                }
                Value::Object(out)
            }
            "array" => json!([]),
            "integer" => json!(s["minimum"].as_i64().unwrap_or(1).max(1)),
            "number" => json!(1.0),
            "boolean" => json!(true),
            "string" => match s["format"].as_str() {
                Some("uuid") => json!(uuid::Uuid::now_v7()),
                Some("date-time") => json!("2030-01-01T09:00:00Z"),
                Some("date") => json!("2030-01-01"),
                Some("email") => json!("someone@example.com"),
                Some("uri") => json!("https://example.com/"),
                _ => json!("x"),
            },
            _ => Value::Null,
        }
    }
    go(spec, schema, 0)
}

/// A body for `op` that decodes: the minimal JSON instance of its schema, or a small valid
/// document of its other media type. `None` when it takes no body.
#[allow(dead_code)]
pub fn minimal_body(spec: &serde_json::Value, op: &Operation) -> Option<(&'static str, Vec<u8>)> {
    let content =
        &spec["paths"][&op.path][op.method.as_str().to_lowercase()]["requestBody"]["content"];
    if let Some(j) = content.get("application/json") {
        let v = minimal_instance(spec, &j["schema"]);
        return Some(("application/json", serde_json::to_vec(&v).unwrap()));
    }
    if content.get("message/rfc822").is_some() {
        let mail = "From: Someone <someone@example.com>\r\nTo: leads@example.com\r\nSubject: Hello\r\n\r\nHi\r\n";
        return Some(("message/rfc822", mail.as_bytes().to_vec()));
    }
    if content.get("application/toml").is_some() {
        return Some(("application/toml", b"[model]\nkey = \"x\"\n".to_vec()));
    }
    if content.get("multipart/form-data").is_some() {
        let body = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\nemail\r\nsomeone@example.com\r\n--B--\r\n";
        return Some(("multipart/form-data; boundary=B", body.as_bytes().to_vec()));
    }
    None
}

/// A `leadline serve` process on `db_url` (for tests that kill it or measure it), and the
/// base URL it will answer on.
#[allow(dead_code)]
pub fn spawn_serve(db_url: &str, dir: &std::path::Path) -> (std::process::Child, String) {
    spawn_serve_with(db_url, dir, &[])
}

/// [`spawn_serve`] with more environment (`LEADLINE_SMTP_RELAY`, …).
#[allow(dead_code)]
pub fn spawn_serve_with(
    db_url: &str,
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_leadline"))
        .current_dir(dir)
        .env("LEADLINE_LOG", "warn")
        .env("LEADLINE_DATABASE_URL", db_url)
        .env_remove("LEADLINE_DATA_DIR")
        .envs(env.iter().copied())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (child, format!("http://127.0.0.1:{port}"))
}

/// A server process killed when dropped, also when a test panics (an orphaned server would
/// keep its database connections).
#[allow(dead_code)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (up to a minute) until a server at `base` answers `/readyz`.
#[allow(dead_code)]
pub async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..1200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server at {base} did not become ready");
}
