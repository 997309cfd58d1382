//! The UI in a real headless Chromium (Debian `chromium` + `chromium-driver`), on both
//! databases: sign in, filter the list, open a lead, edit a field. Screenshots go to
//! `test-artifacts/` at the workspace root (see `common::chromium`).

mod common;

use fantoccini::{Client, Locator};
use std::time::Duration;

use common::chromium::{browser, shot, sign_in, start_driver};

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
        let login = c.current_url().await.unwrap();
        sign_in(
            &c,
            login.as_str(),
            leadline_app::demo::DEMO_ADMIN,
            leadline_app::demo::DEMO_PASSWORD,
        )
        .await;
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

        // The template editor previews while one types (script), and a sequence shows its
        // flow (the demo's recycled-leads sequence).
        c.goto(&t.url("/nurture/templates/new")).await.unwrap();
        let subject = c
            .wait()
            .for_element(Locator::Css("input[name=subject]"))
            .await
            .unwrap();
        subject.clear().await.unwrap();
        subject
            .send_keys("Live for {{ lead.first_name }}")
            .await
            .unwrap();
        wait_text(&c, "#preview", "Live for Ada").await;
        shot(&c, &format!("{tag}-9-template-preview")).await;
        c.goto(&t.url("/nurture")).await.unwrap();
        c.find(Locator::LinkText("Recycled leads"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "ol.flow", "If the lead clicked a link").await;
        shot(&c, &format!("{tag}-10-sequence")).await;

        // Reports: the funnel grouped by source as a chart and a table; a count opens the
        // leads behind it.
        c.goto(&t.url("/reports")).await.unwrap();
        c.find(Locator::Css("select[name=by] option[value=source]"))
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
        wait_for(&c, |u| u.query().is_some_and(|q| q.contains("by=source"))).await;
        c.wait()
            .for_element(Locator::Css("figure.report-chart svg rect"))
            .await
            .unwrap();
        shot(&c, &format!("{tag}-11-reports")).await;
        c.find(Locator::Css("tbody td a[href*='reached=mql']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, |u| {
            u.path() == "/leads" && u.query().is_some_and(|q| q.contains("reached=mql"))
        })
        .await;

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

/// A customer's website on its own origin: a landing page with the tracking snippet and
/// an unchanged Salesforce Web-to-Lead form whose action points at Leadline.
async fn customer_site(leadline: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let landing = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Acme pricing</title>
<script src="{leadline}/t.js" async></script></head><body>
<h1>Pricing</h1>
<form action="{leadline}/servlet/servlet.WebToLead?encoding=UTF-8" method="POST">
<input type=hidden name="oid" value="00D000000000062">
<input type=hidden name="retURL" value="{base}/thanks">
<label for="first_name">First Name</label><input id="first_name" maxlength="40" name="first_name" size="20" type="text" />
<label for="last_name">Last Name</label><input id="last_name" maxlength="80" name="last_name" size="20" type="text" />
<label for="email">Email</label><input id="email" maxlength="80" name="email" size="20" type="text" />
<label for="company">Company</label><input id="company" maxlength="40" name="company" size="20" type="text" />
<input type=hidden name="lead_source" value="Web">
<input type="submit" name="submit">
</form></body></html>"#
    );
    let app = axum::Router::new()
        .route(
            "/landing",
            axum::routing::get(move || async move { axum::response::Html(landing) }),
        )
        .route(
            "/thanks",
            axum::routing::get(|| async {
                axum::response::Html("<h1>Thanks for your interest</h1>")
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// Waits (up to 10 s) for an element whose text contains `needle`, across page loads.
async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    for _ in 0..100 {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && let Ok(text) = el.text().await
            && text.contains(needle)
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(c, "browser-failure").await;
    panic!("no {css} containing {needle:?} appeared");
}

#[tokio::test]
async fn a_salesforce_form_on_another_site_and_a_hosted_form_capture_leads_in_chromium() {
    let Some(driver) = start_driver().await else {
        return;
    };
    for t in common::apps().await {
        let tag = format!("browser-capture-{}", t.name);
        let site = customer_site(&t.base).await;
        let system = leadline_domain::Principal::system("test");
        let mut settings = t.app.capture_settings().await.unwrap();
        settings.allowed_redirect_hosts = vec!["127.0.0.1".into()];
        t.app.set_capture_settings(&system, settings).await.unwrap();
        let c = browser(&driver).await;

        // The visitor lands from an ad, then fills in the unchanged Salesforce form.
        c.goto(&format!("{site}/landing?utm_source=google&utm_medium=cpc"))
            .await
            .unwrap();
        // The snippet records the page view for the (still anonymous) visitor.
        let mut seen = false;
        for _ in 0..100 {
            let n: i64 = match &t.app.db {
                leadline_store::Db::Sqlite { read, .. } => {
                    sqlx::query_scalar("SELECT COUNT(*) FROM visitor_events")
                        .fetch_one(read)
                        .await
                        .unwrap()
                }
                leadline_store::Db::Postgres(p) => {
                    sqlx::query_scalar("SELECT COUNT(*) FROM visitor_events")
                        .fetch_one(p)
                        .await
                        .unwrap()
                }
            };
            if n > 0 {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(seen, "{}: the snippet recorded the page view", t.name);
        for (id, value) in [
            ("first_name", "Bea"),
            ("last_name", "Browser"),
            ("email", "bea@chromium.example"),
            ("company", "Headless GmbH"),
        ] {
            c.find(Locator::Id(id))
                .await
                .unwrap()
                .send_keys(value)
                .await
                .unwrap();
        }
        shot(&c, &format!("{tag}-1-salesforce-form")).await;
        c.find(Locator::Css("input[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, |u| u.path() == "/thanks").await;
        let page = t
            .get("/api/v1/leads?q=bea@chromium.example")
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        let lead = &page["data"][0];
        assert_eq!(lead["company"], "Headless GmbH", "{}", t.name);
        assert_eq!(
            lead["first_touch"]["source"], "google",
            "the first visit came from the ad"
        );
        assert_eq!(lead["first_touch"]["medium"], "cpc");
        assert!(
            lead["first_touch"]["landing_page"]
                .as_str()
                .unwrap()
                .ends_with("/landing")
        );
        assert_eq!(
            lead["last_touch"]["source"], "Web",
            "the form's lead_source"
        );
        let id = lead["id"].as_str().unwrap();
        let acts = t
            .get(&format!("/api/v1/leads/{id}/activities"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        let list = acts["data"].as_array().or(acts.as_array()).unwrap().clone();
        let pv = list
            .iter()
            .find(|a| a["kind"] == "page_view")
            .expect("the anonymous visit joined the lead");
        assert_eq!(pv["properties"]["utm_source"], "google");

        // A hosted form, reached from a newsletter.
        t.app
            .create_form(
                &system,
                serde_json::from_value(serde_json::json!({
                    "slug": "browser-demo", "name": "Book a demo",
                    "definition": {"fields": [{"target": "full_name", "label": "Name", "required": true},
                                              {"target": "email", "label": "Email", "required": true}],
                                   "consent_text": "You may contact me.", "consent_required": true,
                                   "thank_you_message": "See you soon"}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        c.goto(&t.url("/f/browser-demo?utm_source=newsletter"))
            .await
            .unwrap();
        c.find(Locator::Id("ll-full_name"))
            .await
            .unwrap()
            .send_keys("Cy Chrome")
            .await
            .unwrap();
        c.find(Locator::Id("ll-email"))
            .await
            .unwrap()
            .send_keys("cy@chromium.example")
            .await
            .unwrap();
        c.find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // Without consent the form comes back with the problem next to the box.
        wait_text(&c, ".field-error", "consent").await;
        shot(&c, &format!("{tag}-2-hosted-form-error")).await;
        c.find(Locator::Css("input[name=consent]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "h1", "Thank you").await;
        shot(&c, &format!("{tag}-3-hosted-form-thanks")).await;
        let page = t
            .get("/api/v1/leads?q=cy@chromium.example")
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        assert_eq!(
            page["data"][0]["first_touch"]["source"], "newsletter",
            "{}",
            t.name
        );
        assert_eq!(page["data"][0]["last_name"], "Chrome");

        // The capture pages, as an admin sees them (rejected submissions are admin-only).
        t.app
            .create_user(
                &system,
                leadline_app::admin::NewUser {
                    email: "ada@capture.test".into(),
                    name: "Ada Admin".into(),
                    role: leadline_domain::Role::Admin,
                    password: Some("correct horse battery".into()),
                    sees_all_leads: false,
                },
            )
            .await
            .unwrap();
        sign_in(
            &c,
            &t.url("/login?next=/capture/forms"),
            "ada@capture.test",
            "correct horse battery",
        )
        .await;
        wait_for(&c, |u| u.path() == "/capture/forms").await;
        c.find(Locator::LinkText("Book a demo"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "h1", "Form: Book a demo").await;
        shot(&c, &format!("{tag}-4-form-builder")).await;
        c.goto(&t.url("/capture/rejected")).await.unwrap();
        wait_text(&c, "h2", "Rejected submissions").await;
        shot(&c, &format!("{tag}-5-rejected")).await;
        c.goto(&t.url("/capture/quality")).await.unwrap();
        wait_text(&c, "h2", "Verification by source").await;
        shot(&c, &format!("{tag}-6-data-quality")).await;

        // Two entries of one person, found by a scan, compared side by side and merged.
        for title in ["Buyer", "Head of Purchasing"] {
            t.app
                .create_lead(
                    &system,
                    serde_json::json!({"first_name": "Joana", "last_name": "Pereira",
                        "phone": "+351 21 123 4567", "title": title}),
                )
                .await
                .unwrap();
        }
        c.goto(&t.url("/capture/duplicates")).await.unwrap();
        c.find(Locator::XPath("//button[text()='Scan all leads']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The page refreshes itself while the scan runs.
        wait_text(&c, "main", "Compare & merge").await;
        shot(&c, &format!("{tag}-7-duplicates")).await;
        c.find(Locator::LinkText("Compare & merge"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "h2", "Merge Joana Pereira into Joana Pereira").await;
        shot(&c, &format!("{tag}-8-compare")).await;
        c.find(Locator::XPath("//button[text()='Merge']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "p.notice", "Leads merged.").await;
        wait_text(&c, "main", "Head of Purchasing").await;
        shot(&c, &format!("{tag}-9-merged")).await;
        c.goto(&t.url("/scoring")).await.unwrap();
        wait_text(&c, "form.card h2", "Rules of").await;
        shot(&c, &format!("{tag}-10-scoring")).await;
        c.goto(&t.url("/leads/aging")).await.unwrap();
        wait_text(&c, "h1", "Lead aging").await;
        shot(&c, &format!("{tag}-11-aging")).await;
        c.close().await.unwrap();
    }
}
