//! The UI in a real headless Chromium (Debian `chromium` + `chromium-driver`), on both
//! databases: sign in, filter the list, open a lead, edit a field. Screenshots go to
//! `test-artifacts/` at the workspace root.
//!
//! Chromium is required; a developer without it may set `LEADLINE_SKIP_BROWSER=1`
//! (CI never does).

mod common;

use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Driver {
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

async fn start_driver() -> Option<Driver> {
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

async fn browser(driver: &Driver) -> Client {
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

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

/// Waits (up to 10 s) until the browser's URL satisfies `ok`.
async fn wait_for(c: &Client, ok: impl Fn(&url::Url) -> bool) {
    for _ in 0..100 {
        if ok(&c.current_url().await.unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(c, "browser-failure").await;
    panic!(
        "the page did not reach the expected URL; it is at {}",
        c.current_url().await.unwrap()
    );
}

#[tokio::test]
async fn sign_in_filter_open_and_edit_a_lead_in_chromium() {
    let Some(driver) = start_driver().await else {
        return;
    };
    for t in common::apps().await {
        t.app.load_demo(120, 7).await.unwrap();
        let c = browser(&driver).await;
        let tag = format!("browser-{}", t.name);

        // Signing in: an anonymous visit goes to the login page first.
        c.goto(&t.url("/leads")).await.unwrap();
        assert!(
            c.current_url().await.unwrap().path().starts_with("/login"),
            "{}",
            t.name
        );
        shot(&c, &format!("{tag}-1-login")).await;
        c.find(Locator::Id("email"))
            .await
            .unwrap()
            .send_keys(leadline_app::demo::DEMO_ADMIN)
            .await
            .unwrap();
        c.find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys(leadline_app::demo::DEMO_PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Css("form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::Css("table.leads"))
            .await
            .unwrap();
        assert_eq!(c.current_url().await.unwrap().path(), "/leads");
        let rows = c
            .find_all(Locator::Css("table.leads tbody tr"))
            .await
            .unwrap();
        assert_eq!(
            rows.len(),
            50,
            "{}: a full first page of demo leads",
            t.name
        );
        shot(&c, &format!("{tag}-2-list")).await;

        // Filtering: only MQLs.
        c.find(Locator::Css("input[name=stage][value=mql]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css("form.filters button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, |u| u.query().is_some_and(|q| q.contains("stage=mql"))).await;
        let badges = c
            .find_all(Locator::Css("table.leads tbody .stage"))
            .await
            .unwrap();
        assert!(!badges.is_empty(), "{}: demo data has MQLs", t.name);
        for b in &badges {
            assert_eq!(b.text().await.unwrap(), "MQL");
        }
        shot(&c, &format!("{tag}-3-filtered")).await;

        // Opening a lead.
        let link = c
            .find(Locator::Css("table.leads tbody a.lead-link"))
            .await
            .unwrap();
        let name = link.text().await.unwrap();
        link.click().await.unwrap();
        let h1 = c.wait().for_element(Locator::Css("h1")).await.unwrap();
        assert_eq!(h1.text().await.unwrap(), name);
        let lead_path = c.current_url().await.unwrap().path().to_owned();
        shot(&c, &format!("{tag}-4-lead")).await;

        // Editing a field.
        c.find(Locator::Css("a.button[href$='/edit']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, |u| u.path().ends_with("/edit")).await;
        shot(&c, &format!("{tag}-5-form")).await;
        let title = c.wait().for_element(Locator::Id("f-title")).await.unwrap();
        title.clear().await.unwrap();
        title.send_keys("Head of <Browser> Testing").await.unwrap();
        c.find(Locator::Css("form.lead-form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, |u| !u.path().ends_with("/edit")).await;
        let notice = c.find(Locator::Css("p.notice")).await.unwrap();
        assert_eq!(notice.text().await.unwrap(), "Saved.");
        let page = c.source().await.unwrap();
        assert!(
            page.contains("Head of &lt;Browser&gt; Testing"),
            "{}: the new title is shown, escaped",
            t.name
        );
        shot(&c, &format!("{tag}-6-edited")).await;
        let id = uuid::Uuid::parse_str(lead_path.trim_start_matches("/leads/")).unwrap();
        let stored = t
            .app
            .get_lead(&leadline_domain::Principal::system("test"), id)
            .await
            .unwrap();
        assert_eq!(
            stored.fields.title.as_deref(),
            Some("Head of <Browser> Testing"),
            "{}",
            t.name
        );

        // Settings (admins).
        c.goto(&t.url("/settings")).await.unwrap();
        let h1 = c.wait().for_element(Locator::Css("h1")).await.unwrap();
        assert_eq!(h1.text().await.unwrap(), "Settings");
        assert!(
            c.find_all(Locator::Css("#users + table tbody tr"))
                .await
                .unwrap()
                .len()
                >= 7,
            "{}: demo users listed",
            t.name
        );
        shot(&c, &format!("{tag}-8-settings")).await;

        // The API reference renders offline.
        c.goto(&t.url("/api-docs/")).await.unwrap();
        c.wait()
            .for_element(Locator::Css(".swagger-ui .info .title"))
            .await
            .unwrap();
        shot(&c, &format!("{tag}-7-api-docs")).await;
        c.close().await.unwrap();
    }
}
