//! Issue 11, stored and reflected XSS, in a real headless Chromium on both databases.
//!
//! Script and markup payloads go into everything a person or a visitor controls: lead
//! fields and a custom field (over the API and web-to-lead), UTM parameters, the page title,
//! `Referer` and user agent of tracked visits, an email's display name and subject, a
//! custom field's label, a form's name and field label, a template, a source, a team, a
//! user's name, an import's file name and rows, a rejected submission. Then every page the
//! UI links to (crawled from the lead list, one page per route and the payload lead's own),
//! plus reflected parameters and the public form, is opened: no payload may run, become an
//! element, or turn into a `javascript:` link — checked in the DOM, so the test fails on
//! broken escaping even where the Content-Security-Policy would have blocked the script.

mod common;

use common::chromium::{browser, shot, sign_in, start_driver};
use fantoccini::{Client, Locator};
use leadline_domain::{Principal, Role};
use serde_json::{Value, json};
use std::collections::{BTreeSet, VecDeque};

/// An element with an event handler.
const IMG: &str = "<img src=x data-xss onerror=window.__xss=1>";
/// Breaking out of an attribute.
const ATTR: &str = "\"'><svg data-xss onload=window.__xss=1>";
/// Breaking out of a textarea into a script.
const SCRIPT: &str = "</textarea><script data-xss>window.__xss=1</script>";
/// A link target.
const JS_URL: &str = "javascript:window.__xss=1//";

const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36";

/// What the page did with the payloads.
const PROBE: &str = r#"
const attrs = ['href', 'src', 'action', 'formaction'];
const jsUrls = Array.from(document.querySelectorAll('[href],[src],[action],[formaction]'))
  .filter(e => attrs.some(a => /^\s*javascript:/i.test(e.getAttribute(a) || ''))).length;
return JSON.stringify({
  fired: window.__xss !== undefined,
  injected: document.querySelectorAll('[data-xss]').length,
  inline_scripts: Array.from(document.scripts).filter(s => !s.src).length,
  js_urls: jsUrls,
  shown: document.body ? document.body.innerText.includes('data-xss') : false,
});
"#;

async fn probe(c: &Client) -> Value {
    let r = c.execute(PROBE, vec![]).await.unwrap();
    serde_json::from_str(r.as_str().unwrap_or("{}")).unwrap()
}

/// The route a URL belongs to: ids and numbers replaced, query keys sorted.
fn route(u: &url::Url) -> String {
    let path: Vec<String> = u
        .path_segments()
        .map(|s| {
            s.map(|p| {
                if uuid::Uuid::parse_str(p).is_ok() || p.chars().all(|c| c.is_ascii_digit()) {
                    "{id}".to_owned()
                } else {
                    p.to_owned()
                }
            })
            .collect()
        })
        .unwrap_or_default();
    // A few parameters name a page of their own (`report=velocity`); the rest (filters,
    // sorting, ids, dates) are variations of one page.
    let keys: BTreeSet<String> = u
        .query_pairs()
        .map(|(k, v)| {
            if ["report", "tab", "model"].contains(&k.as_ref()) {
                format!("{k}={v}")
            } else {
                k.into_owned()
            }
        })
        .collect();
    format!(
        "/{}?{}",
        path.join("/"),
        keys.into_iter().collect::<Vec<_>>().join("&")
    )
}

/// Plants the payloads everywhere; returns the payload lead's id and the form's slug.
async fn plant(t: &common::TestApp) -> (String, String) {
    let ok = common::ok;
    ok(t.post("/api/v1/custom-fields")
        .json(&json!({"key": "xss_note", "label": IMG, "kind": "text"}))
        .send()
        .await
        .unwrap())
    .await;
    let lead = ok(t
        .post("/api/v1/leads")
        .json(&json!({
            "first_name": IMG, "last_name": ATTR, "company": SCRIPT, "title": ATTR,
            "email": "xss@payload.example", "city": IMG, "industry": SCRIPT,
            "description": format!("{IMG} {ATTR} {SCRIPT}"), "need": IMG,
            "custom": {"xss_note": ATTR},
            "first_touch": {"source": IMG, "medium": ATTR, "campaign": SCRIPT,
                            "referrer": JS_URL, "landing_page": JS_URL},
        }))
        .send()
        .await
        .unwrap())
    .await;
    let id = lead["id"].as_str().unwrap().to_owned();
    // The website may be refused as invalid; if it is stored, it must not become a link.
    let _ = t
        .patch(&format!("/api/v1/leads/{id}"))
        .json(&json!({"website": JS_URL}))
        .send()
        .await;
    ok(t.post(&format!("/api/v1/leads/{id}/activities"))
        .json(&json!({"kind": "note", "properties": {"text": IMG, "subject": ATTR, "url": JS_URL}}))
        .send()
        .await
        .unwrap())
    .await;

    // A tracked visitor: page title, URL with UTM parameters, Referer and user agent.
    let vid = "visitorXSS0000001";
    let utm = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("utm_source", IMG)
        .append_pair("utm_medium", ATTR)
        .append_pair("utm_campaign", SCRIPT)
        .finish();
    let r = t
        .client
        .post(t.url("/t/e"))
        .header("content-type", "text/plain")
        .header("user-agent", format!("{BROWSER_UA} {IMG}"))
        .header("referer", format!("https://evil.example/?q={ATTR}"))
        .body(
            json!({"visitor_id": vid, "kind": "page_view",
                   "url": format!("https://www.example.com/pricing?{utm}"),
                   "title": SCRIPT, "referrer": format!("https://evil.example/{IMG}")})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{}: tracking {}",
        t.name,
        r.status()
    );
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("first_name", ATTR)
        .append_pair("last_name", IMG)
        .append_pair("email", "visitor@payload.example")
        .append_pair("company", SCRIPT)
        .append_pair("lead_source", IMG)
        .append_pair("ll_vid", vid)
        .finish();
    let r = t
        .client
        .post(t.url("/servlet/servlet.WebToLead?encoding=UTF-8"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("user-agent", BROWSER_UA)
        .body(form)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{}: web-to-lead {}",
        t.name,
        r.status()
    );
    // A submission that is rejected (no usable email) is kept with its payload.
    let bad = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("last_name", SCRIPT)
        .append_pair("email", &format!("not-an-email {IMG}"))
        .finish();
    let _ = t
        .client
        .post(t.url("/servlet/servlet.WebToLead?encoding=UTF-8"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("user-agent", BROWSER_UA)
        .body(bad)
        .send()
        .await
        .unwrap();

    // An email whose display name and subject carry payloads.
    let mail = format!(
        "From: \"{IMG}\" <sender@payload.example>\r\nTo: leads@example.com\r\n\
         Subject: {ATTR} {SCRIPT}\r\nMessage-ID: <xss-1@payload.example>\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<p>{IMG}</p>\r\n"
    );
    let r = t
        .post("/api/v1/inbound/email")
        .header("content-type", "message/rfc822")
        .body(mail)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{}: inbound email {}",
        t.name,
        r.status()
    );

    // Set-up screens: a form, a template, a source, a team, a user, an import.
    let slug = "xss-form".to_owned();
    ok(t.post("/api/v1/forms")
        .json(&json!({"slug": slug, "name": IMG, "definition": {
            "fields": [{"target": "email", "label": ATTR, "required": true},
                       {"target": "first_name", "label": SCRIPT}],
            "consent_text": IMG, "submit_label": ATTR, "thank_you_message": SCRIPT}}))
        .send()
        .await
        .unwrap())
    .await;
    ok(t.post("/api/v1/email-templates")
        .json(&json!({"name": IMG, "subject": ATTR, "html": format!("<p>Hi</p>{SCRIPT}"), "marketing": false}))
        .send()
        .await
        .unwrap())
    .await;
    ok(t.post("/api/v1/sources")
        .json(&json!({"key": "xss-source", "name": ATTR, "channel": "paid_search"}))
        .send()
        .await
        .unwrap())
    .await;
    ok(t.post("/api/v1/teams")
        .json(&json!({"name": SCRIPT}))
        .send()
        .await
        .unwrap())
    .await;
    t.app
        .create_user(
            &Principal::system("test"),
            leadline_app::admin::NewUser {
                email: "payload-user@example.com".into(),
                name: IMG.into(),
                role: Role::Rep,
                password: None,
                sees_all_leads: false,
            },
        )
        .await
        .unwrap();
    let csv = format!(
        "email,first_name,company\nimported@payload.example,\"{}\",x\n",
        ATTR.replace('"', "\"\"")
    );
    let upload = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes()).file_name(format!("{IMG}.csv")),
    );
    ok(t.post("/api/v1/imports")
        .multipart(upload)
        .send()
        .await
        .unwrap())
    .await;
    (id, slug)
}

#[tokio::test]
async fn no_payload_runs_or_becomes_markup_on_any_page_in_chromium() {
    let Some(driver) = start_driver().await else {
        return;
    };
    for t in common::apps().await {
        let n = t.name;
        let (lead_id, slug) = plant(&t).await;
        let password = "correct horse battery";
        t.app
            .create_user(
                &Principal::system("test"),
                leadline_app::admin::NewUser {
                    email: "xss-admin@example.com".into(),
                    name: "Admin".into(),
                    role: Role::Admin,
                    password: Some(password.into()),
                    sees_all_leads: true,
                },
            )
            .await
            .unwrap();
        let c = browser(&driver).await;
        sign_in(&c, &t.url("/login"), "xss-admin@example.com", password).await;
        c.wait()
            .for_element(Locator::Css("table.leads"))
            .await
            .unwrap();

        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        // Seeds: the payload lead, reflected parameters, the public form; then the crawl.
        let seeds = vec![
            format!("/leads/{lead_id}"),
            format!("/leads?q={}", enc(IMG)),
            format!(
                "/leads?q={}&sort={}&source={}",
                enc(ATTR),
                enc(ATTR),
                enc(SCRIPT)
            ),
            format!("/leads/{}", enc(IMG)),
            format!("/reports?report={}&by={}", enc(ATTR), enc(IMG)),
            format!("/login?next={}", enc(ATTR)),
            format!("/f/{slug}"),
            format!("/f/{slug}/embed"),
            "/leads".to_owned(),
        ];
        // Every lead the payloads made (the visitor's with its tracked visit, the email
        // sender's, the imported one): each detail page shows a different timeline.
        let planted = common::ok(
            t.get("/api/v1/leads?q=payload.example&limit=50")
                .send()
                .await
                .unwrap(),
        )
        .await;
        let mut seeds = seeds;
        for l in planted["data"].as_array().into_iter().flatten() {
            seeds.push(format!("/leads/{}", l["id"].as_str().unwrap()));
        }
        assert!(
            seeds.len() >= 13,
            "{n}: the planted leads are missing: {planted}"
        );
        let seed_count = seeds.len();
        let mut queue: VecDeque<String> = seeds.into_iter().collect();
        let mut seen_routes = BTreeSet::new();
        let mut visited = Vec::new();
        let mut failures = Vec::new();
        let mut shown_on = 0;
        let base = url::Url::parse(&t.url("/")).unwrap();
        while let Some(path) = queue.pop_front() {
            if visited.len() >= 200 {
                break;
            }
            let u = base.join(&path).unwrap();
            let is_seed = visited.len() < seed_count;
            if !is_seed && !seen_routes.insert(route(&u)) {
                continue;
            }
            if is_seed {
                seen_routes.insert(route(&u));
            }
            c.goto(u.as_str()).await.unwrap();
            let p = probe(&c).await;
            visited.push(path.clone());
            if p["shown"] == true {
                shown_on += 1;
            }
            if p["fired"] == true
                || p["injected"] != 0
                || p["inline_scripts"] != 0
                || p["js_urls"] != 0
            {
                shot(&c, &format!("xss-{n}-failure-{}", visited.len())).await;
                failures.push(format!("{path}: {p}"));
            }
            // Follow the links the page offers, within the app.
            let links = c
                .execute(
                    "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);",
                    vec![],
                )
                .await
                .unwrap();
            for l in links.as_array().into_iter().flatten() {
                let Some(l) = l.as_str() else { continue };
                let Ok(lu) = url::Url::parse(l) else { continue };
                if lu.origin() != base.origin() {
                    continue;
                }
                let p = lu.path();
                let skip = [
                    "/logout",
                    "/static/",
                    "/api-docs",
                    "/api/",
                    "/r/",
                    "/o/",
                    "/t/",
                ]
                .iter()
                .any(|x| p.starts_with(x))
                    || p.ends_with(".csv")
                    || p.ends_with("/csv")
                    || p.contains("export");
                if !skip && !seen_routes.contains(&route(&lu)) {
                    let mut target = p.to_owned();
                    if let Some(q) = lu.query() {
                        target.push('?');
                        target.push_str(q);
                    }
                    queue.push_back(target);
                }
            }
        }
        eprintln!(
            "{n}: {} pages opened ({} more routes left in the queue), payload text visible \
             on {shown_on}",
            visited.len(),
            queue.len()
        );
        if std::env::var("LEADLINE_XSS_LIST").is_ok() {
            eprintln!("{}", visited.join("\n"));
        }
        assert!(failures.is_empty(), "{n}:\n{}", failures.join("\n"));
        assert!(
            visited.len() >= 25,
            "{n}: only {} pages reached: {visited:?}",
            visited.len()
        );
        assert!(
            shown_on >= 8,
            "{n}: the payloads were shown as text on only {shown_on} pages"
        );
        c.close().await.unwrap();
    }
}
