//! Issue 11, the role matrix of the web UI (the API's is `role_matrix.rs`), on SQLite and
//! PostgreSQL. The routes are read from the UI's source (`.route("…", get(…).post(…))` in
//! `crates/leadline-web/src/ui`), so a new page is checked as soon as it exists.
//!
//! 1. Without a session every page sends the browser to the sign-in page.
//! 2. Every page opened by a manager, a marketer and a rep is refused (403) for exactly the
//!    roles `fixtures/ui_role_matrix.txt` names, and no page answers a server error.
//!    `LEADLINE_BLESS=1` rewrites the file from what the server does, for review.
//! 3. Every form post from another site is refused (403) before it reaches a handler, even
//!    an admin's; a post with an empty form from each role answers no server error, and
//!    one refused (403) changed no row (authorization before any write).
//! 4. A rep opening another rep's lead by its address gets 404, and the list does not
//!    show it.

mod common;

use leadline_domain::Role;
use reqwest::StatusCode;
use std::collections::BTreeMap;

const MATRIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/ui_role_matrix.txt"
);
const UI_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../leadline-web/src/ui");

/// Pages anyone may open, signed in or not.
const PUBLIC: [&str; 4] = ["/login", "/logout", "/logout/everywhere", "/static/{*path}"];

/// One UI route: method and path as the router declares it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    method: &'static str,
    path: String,
}

impl Route {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path with every parameter naming nothing (a fresh id).
    fn unknown(&self) -> String {
        let mut out = String::new();
        let mut rest = self.path.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            rest = rest[open..].split_once('}').map_or("", |(_, r)| r);
            out.push_str(&uuid::Uuid::now_v7().to_string());
        }
        out.push_str(rest);
        out
    }
}

fn source_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            source_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The methods a route call declares: the calls directly inside `.route(…)`'s parentheses
/// (`get(h)`, `get(h).post(g)`), not those nested in a handler closure.
fn methods_of(call: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    let mut ident = String::new();
    for ch in call.chars() {
        if in_str {
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => in_str = true,
            '(' | '{' | '[' => {
                if ch == '(' && depth == 1 {
                    let verb = match ident.as_str() {
                        "get" => Some("GET"),
                        "post" => Some("POST"),
                        "put" => Some("PUT"),
                        "patch" => Some("PATCH"),
                        "delete" => Some("DELETE"),
                        _ => None,
                    };
                    out.extend(verb);
                }
                depth += 1;
            }
            ')' | '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        if ch.is_ascii_alphanumeric() || ch == '_' {
            ident.push(ch);
        } else {
            ident.clear();
        }
    }
    out
}

/// Every `.route("path", get(…).post(…))` of the UI's source.
fn ui_routes() -> Vec<Route> {
    let route = regex::Regex::new(r#"\.route\(\s*"([^"]+)"\s*,"#).unwrap();
    let mut files = Vec::new();
    source_files(std::path::Path::new(UI_SOURCE), &mut files);
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for c in route.captures_iter(&text) {
            let open = c.get(0).unwrap().start() + ".route".len();
            for method in methods_of(&text[open..]) {
                out.push(Route {
                    method,
                    path: c[1].to_owned(),
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn read_matrix() -> BTreeMap<String, Vec<String>> {
    common::matrix::read(MATRIX)
}

fn write_matrix(m: &BTreeMap<String, Vec<String>>) {
    common::matrix::write(
        MATRIX,
        "# Who is refused (403) each page of the web UI: METHOD PATH then the refused roles,\n\
         # or -. Admins may open everything. Checked by tests/ui_role_matrix.rs.\n",
        50,
        m,
    );
}

async fn signed_in(t: &common::TestApp, email: &str, role: Role) -> reqwest::Client {
    t.user_with_key(email, role).await;
    let (client, r) = common::login(t, email, "/leads").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}: {email}", t.name);
    client
}

#[tokio::test]
async fn each_role_may_open_what_the_ui_matrix_says() {
    let bless = std::env::var("LEADLINE_BLESS").is_ok_and(|v| v == "1");
    let routes = ui_routes();
    assert!(
        routes.len() > 60,
        "the route scan found only {} UI routes: {routes:?}",
        routes.len()
    );
    let pages: Vec<&Route> = routes
        .iter()
        .filter(|r| r.method == "GET" && !PUBLIC.contains(&r.path.as_str()))
        .collect();
    let posts: Vec<&Route> = routes
        .iter()
        .filter(|r| r.method != "GET" && !PUBLIC.contains(&r.path.as_str()))
        .collect();
    let expected = read_matrix();
    let roles = [Role::Manager, Role::Marketer, Role::Rep];
    for t in common::apps().await {
        let n = t.name;
        let mut failures = Vec::new();
        let mut observed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if !bless {
            for p in &pages {
                if !expected.contains_key(&p.name()) {
                    failures.push(format!(
                        "{}: not in the UI matrix; decide who may open it",
                        p.name()
                    ));
                }
            }
            for name in expected.keys() {
                if !pages.iter().any(|p| &p.name() == name) {
                    failures.push(format!("{name}: in the UI matrix but not a UI page"));
                }
            }
        }

        // 1. No session: the sign-in page.
        let anon = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for p in &pages {
            // A page that only sends the browser on (`/` → `/leads`) is followed once.
            let mut url = p.unknown();
            let mut answer = String::new();
            for _ in 0..2 {
                let r = anon.get(t.url(&url)).send().await.unwrap();
                let to = r
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                answer = format!("{} {to}", r.status());
                if r.status() != StatusCode::SEE_OTHER || to.starts_with("/login") {
                    break;
                }
                url = to;
            }
            if !answer.starts_with("303") || !answer.contains(" /login") {
                failures.push(format!("{} without a session: {answer}", p.name()));
            }
        }

        // 2. Each role and each page.
        let mut clients = BTreeMap::new();
        for r in roles {
            let email = format!("{}@ui-matrix.example", r.as_str());
            clients.insert(r.as_str(), signed_in(&t, &email, r).await);
        }
        for p in &pages {
            let want = expected.get(&p.name()).cloned().unwrap_or_default();
            let refused_by = observed.entry(p.name()).or_default();
            for r in roles {
                let role = r.as_str();
                let status = clients[role]
                    .get(t.url(&p.unknown()))
                    .send()
                    .await
                    .unwrap()
                    .status();
                if status.is_server_error() {
                    failures.push(format!("{} as {role}: {status}", p.name()));
                }
                let refused = status == StatusCode::FORBIDDEN;
                if refused {
                    refused_by.push(role.to_owned());
                }
                if refused != want.iter().any(|w| w == role) && !bless {
                    failures.push(format!(
                        "{} as {role}: {status}, the UI matrix says {}",
                        p.name(),
                        if refused { "allowed" } else { "403" }
                    ));
                }
            }
        }
        if bless {
            write_matrix(&observed);
        }

        // 3. Posts: cross-site refused for everyone; empty forms change nothing.
        let admin = signed_in(&t, "admin@ui-matrix.example", Role::Admin).await;
        let mut refused_posts = 0;
        for p in &posts {
            let url = t.url(&p.unknown());
            let r = admin
                .request(p.method.parse().unwrap(), &url)
                .header("sec-fetch-site", "cross-site")
                .header("origin", "https://evil.example")
                .form(&[("name", "Evil")])
                .send()
                .await
                .unwrap();
            if r.status() != StatusCode::FORBIDDEN {
                failures.push(format!("{} from another site: {}", p.name(), r.status()));
            }
            for role in roles {
                let b = common::row_counts(&t).await;
                let r = clients[role.as_str()]
                    .request(p.method.parse().unwrap(), &url)
                    .header("origin", t.base.as_str())
                    .form(&[("", "")])
                    .send()
                    .await
                    .unwrap();
                let st = r.status();
                if st.is_server_error() {
                    failures.push(format!(
                        "{} as {} with an empty form: {}",
                        p.name(),
                        role.as_str(),
                        st
                    ));
                }
                if st != StatusCode::FORBIDDEN {
                    // A duplicate scan answers at once and writes its audit entry when done,
                    // however long that takes on a busy machine: wait for it to finish (its
                    // progress writes change no row count, so counts alone cannot tell).
                    let system = leadline_domain::Principal::system("ui-matrix");
                    for _ in 0..240 {
                        let s = t.app.duplicate_scan_status(&system).await.unwrap();
                        if s.state != "running" {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    }
                }
                let a = common::row_counts(&t).await;
                if st != StatusCode::FORBIDDEN && a != b {
                    // An allowed action may go on in the background (a duplicate scan
                    // writes its audit entry when done): let it finish before the next.
                    let mut last = a.clone();
                    for _ in 0..30 {
                        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
                        let now = common::row_counts(&t).await;
                        if now == last {
                            break;
                        }
                        last = now;
                    }
                }
                if st == StatusCode::FORBIDDEN {
                    refused_posts += 1;
                    if a != b {
                        failures.push(format!(
                            "{} as {}: refused, yet rows changed: {:?}",
                            p.name(),
                            role.as_str(),
                            b.iter().zip(&a).filter(|(x, y)| x != y).collect::<Vec<_>>()
                        ));
                    }
                }
            }
        }
        // 4. Ben's lead is not Ana's to see.
        let (ben, _) = t.user_with_key("ben@ui-matrix.example", Role::Rep).await;
        let bens = common::ok(
            t.post("/api/v1/leads")
                .json(
                    &serde_json::json!({"last_name": "Onlybens", "company": "Bens Own GmbH",
                    "email": "onlybens@ui-matrix.example", "owner_id": ben}),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        let rep = &clients["rep"];
        let r = rep
            .get(t.url(&format!("/leads/{}", bens["id"].as_str().unwrap())))
            .send()
            .await
            .unwrap();
        if r.status() != StatusCode::NOT_FOUND {
            failures.push(format!("a rep opening another rep's lead: {}", r.status()));
        }
        let list = rep
            .get(t.url("/leads"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if list.contains("Onlybens") {
            failures.push("a rep's lead list shows another rep's lead".into());
        }
        eprintln!(
            "{n}: {} pages × {} roles; {} posts refused from another site, {refused_posts} of \
             their empty-form posts refused by role with no row changed",
            pages.len(),
            roles.len(),
            posts.len()
        );
        assert!(failures.is_empty(), "{n}:\n{}", failures.join("\n"));
    }
}
