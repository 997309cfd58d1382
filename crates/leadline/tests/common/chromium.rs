//! A real headless Chromium for the browser tests (Debian `chromium` + `chromium-driver`).
//! Chromium is required; a developer without it may set `LEADLINE_SKIP_BROWSER=1` (CI never
//! does). Screenshots go to `test-artifacts/` at the workspace root.

#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// Where screenshots go.
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running ChromeDriver, stopped on drop.
pub struct Driver {
    child: std::process::Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts ChromeDriver; `None` when the browser tests are skipped.
pub async fn start_driver() -> Option<Driver> {
    if std::env::var("LEADLINE_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("LEADLINE_SKIP_BROWSER=1: skipping the browser test");
        return None;
    }
    let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    assert!(
        std::path::Path::new(&bin).exists(),
        "ChromeDriver not found at {bin}: install Debian's chromium and chromium-driver (the README's test command does), \
         or set LEADLINE_SKIP_BROWSER=1 to skip locally"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Driver {
                child,
                port,
                _profile: tempfile::tempdir().unwrap(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromedriver did not start on port {port}");
}

/// A new headless Chromium session.
pub async fn browser(driver: &Driver) -> Client {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,1000", format!("--user-data-dir={}", driver._profile.path().display())]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("connect to chromedriver")
}

/// Saves a screenshot under `test-artifacts/NAME.png`.
pub async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

/// Fills and sends the sign-in form at `login_url` (the caller waits for where it leads).
pub async fn sign_in(c: &Client, login_url: &str, email: &str, password: &str) {
    use fantoccini::Locator;
    c.goto(login_url).await.unwrap();
    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}
