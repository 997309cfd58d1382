//! The server-rendered pages over plain HTTP with a cookie session (the browser test covers
//! the main flow in Chromium): sign-in, CSRF, settings, forms with errors, escaping.

mod common;

use leadline_domain::Role;
use reqwest::StatusCode;

async fn signed_in(t: &common::TestApp, email: &str, role: Role) -> reqwest::Client {
    let system = leadline_domain::Principal::system("test");
    t.app
        .create_user(
            &system,
            leadline_app::admin::NewUser {
                email: email.into(),
                name: format!("User <{email}>"),
                role,
                password: Some("correct horse battery".into()),
                sees_all_leads: false,
            },
        )
        .await
        .unwrap();
    let (client, r) = common::login(t, email, "/leads").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
    assert_eq!(r.headers()["location"], "/leads");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    client
}

#[tokio::test]
async fn sign_in_sign_out_and_csrf() {
    for t in common::apps().await {
        let anon = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = anon.get(t.url("/leads?stage=mql")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()["location"],
            "/login?next=%2Fleads%3Fstage%3Dmql"
        );
        let r = anon
            .post(t.url("/login"))
            .form(&[
                ("email", "nobody@example.com"),
                ("password", "wrong password!"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().await.unwrap().contains("Wrong email or password."));
        // An open redirect through `next` is refused.
        let c = signed_in(&t, "a@example.com", Role::Admin).await;
        let r = c
            .post(t.url("/login"))
            .form(&[
                ("email", "a@example.com"),
                ("password", "correct horse battery"),
                ("next", "//evil.example/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/leads", "{}", t.name);
        // A cross-site form post is refused before it reaches a handler.
        let r = c
            .post(t.url("/settings/teams"))
            .header("sec-fetch-site", "cross-site")
            .header("origin", "https://evil.example")
            .form(&[("name", "Evil")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(
            t.app.list_teams().await.unwrap().is_empty(),
            "{}: nothing written",
            t.name
        );
        assert_eq!(
            c.get(t.url("/leads")).send().await.unwrap().status(),
            StatusCode::OK
        );
        assert_eq!(
            c.post(t.url("/logout")).send().await.unwrap().status(),
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            c.get(t.url("/leads")).send().await.unwrap().status(),
            StatusCode::SEE_OTHER,
            "session ended"
        );
    }
}

#[tokio::test]
async fn settings_manage_users_teams_keys_and_fields() {
    for t in common::apps().await {
        let c = signed_in(&t, "admin@example.com", Role::Admin).await;
        let page = |path: &'static str| {
            let c = c.clone();
            let url = t.url(path);
            async move { c.get(url).send().await.unwrap() }
        };
        let r = c
            .post(t.url("/settings/users"))
            .form(&[
                ("name", "Rita Rep"),
                ("email", "rita@example.com"),
                ("role", "rep"),
                ("password", "long enough pw"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        let r = c
            .post(t.url("/settings/users"))
            .form(&[
                ("name", "X"),
                ("email", "bad"),
                ("role", "rep"),
                ("password", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("not a valid email address")
        );
        let rita = t
            .app
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.email == "rita@example.com")
            .unwrap();

        let r = c
            .post(t.url("/settings/teams"))
            .form(&[("name", "EMEA"), ("members", &rita.id.to_string())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let team = t.app.list_teams().await.unwrap().pop().unwrap();
        assert_eq!(team.members, vec![rita.id]);
        let r = c
            .post(t.url(&format!("/settings/teams/{}", team.id)))
            .form(&[("name", "Europe")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let team = t.app.list_teams().await.unwrap().pop().unwrap();
        assert_eq!((team.name.as_str(), team.members.len()), ("Europe", 0));

        let r = c
            .post(t.url("/settings/api-keys"))
            .form(&[("name", "site"), ("role", "marketer"), ("user_id", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body = r.text().await.unwrap();
        let secret = body
            .split("<code id=\"new-secret\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        let me = t
            .client
            .get(t.url("/api/v1/me"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        assert_eq!(
            me.status(),
            StatusCode::OK,
            "{}: the key shown once works",
            t.name
        );

        let r = c
            .post(t.url("/settings/custom-fields"))
            .form(&[
                ("label", "Segment"),
                ("key", "segment"),
                ("kind", "choice"),
                ("options", "SMB, ENT"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let defs = t.app.custom_fields().await.unwrap();
        assert_eq!(defs[0].options, vec!["SMB", "ENT"]);

        // The new lead form shows the custom field and reports bad input per field.
        let form = page("/leads/new").await.text().await.unwrap();
        assert!(form.contains("name=\"custom.segment\""));
        let r = c
            .post(t.url("/leads/new"))
            .form(&[
                ("last_name", "<script>alert(1)</script>"),
                ("employees", "many"),
                ("custom.segment", "SMB"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text().await.unwrap();
        assert!(html.contains("must be a whole number"));
        assert!(
            (html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)"))
                && !html.contains("<script>alert(1)"),
            "escaped"
        );
        let r = c
            .post(t.url("/leads/new"))
            .form(&[
                ("last_name", "<script>alert(1)</script>"),
                ("employees", "12"),
                ("custom.segment", "SMB"),
                ("annual_revenue", "1,250.50"),
                ("currency", "usd"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let html = c
            .get(t.url(&location))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("1250.50 USD"),
            "{}: money shown in major units",
            t.name
        );
        assert!(!html.contains("<script>alert(1)"));
        let id = uuid::Uuid::parse_str(
            location
                .trim_start_matches("/leads/")
                .split('?')
                .next()
                .unwrap(),
        )
        .unwrap();
        let lead = t
            .app
            .get_lead(&leadline_domain::Principal::system("t"), id)
            .await
            .unwrap();
        assert_eq!(lead.fields.annual_revenue, Some(125_050));
        assert_eq!(lead.fields.custom["segment"], "SMB");

        // A stage change and a note from the lead page.
        let r = c
            .post(t.url(&format!("/leads/{id}/stage")))
            .form(&[("to", "mql"), ("version", "1"), ("note", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = c
            .post(t.url(&format!("/leads/{id}/activities")))
            .form(&[("kind", "call"), ("text", "Left a voicemail")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let html = c
            .get(t.url(&format!("/leads/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("new → mql") && html.contains("Left a voicemail"));
        // A stale version from an old tab is refused, not silently applied.
        let r = c
            .post(t.url(&format!("/leads/{id}/stage")))
            .form(&[("to", "sal"), ("version", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);

        // Saved views.
        let r = c
            .post(t.url("/leads/views"))
            .form(&[("name", "Hot"), ("query", "stage=mql&sort=-score")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let list = page("/leads").await.text().await.unwrap();
        assert!(list.contains(">Hot</a>"));

        // Reps do not see settings.
        let rep = signed_in(&t, "rep2@example.com", Role::Rep).await;
        assert_eq!(
            rep.get(t.url("/settings")).send().await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn capture_pages_forms_imports_sources_rejected_and_settings() {
    for t in common::apps().await {
        let rep = signed_in(&t, "rep@capture-ui.test", Role::Rep).await;
        let r = rep.get(t.url("/capture/forms")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", t.name);
        let ui = signed_in(&t, "marketer@capture-ui.test", Role::Marketer).await;
        let html = ui
            .get(t.url("/leads"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("href=\"/capture\""), "marketers see Capture");

        // Form builder: create, add a field, see the snippet, escaping everywhere.
        let r = ui
            .post(t.url("/capture/forms"))
            .form(&[("name", "<script>x</script> Demo"), ("slug", "ui-demo")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        let edit = r.headers()["location"]
            .to_str()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let page = ui
            .get(t.url(&edit))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !page.contains("<script>x</script>") && page.contains("&#60;script&#62;x"),
            "escaped: {page}"
        );
        assert!(
            page.contains("/f/ui-demo") && page.contains("data-leadline-form"),
            "snippets shown"
        );
        let r = ui
            .post(t.url(&edit))
            .form(&[
                ("name", "Demo"),
                ("slug", "ui-demo"),
                ("active", "on"),
                ("target_0", "email"),
                ("required_0", "on"),
                ("target_1", "company"),
                ("label_1", "Firm"),
                ("target_2", ""),
                ("submit_label", "Go"),
                ("thank_you_message", "Merci"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let public = t
            .client
            .get(t.url("/f/ui-demo"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            public.contains("Firm") && public.contains(">Go<"),
            "{public}"
        );
        let r = ui
            .post(t.url(&edit))
            .form(&[
                ("name", "Demo"),
                ("slug", "UI demo!"),
                ("target_0", "emial"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "errors shown on the page"
        );

        // Import wizard: upload, check, fix the mapping, start, watch, download problems.
        let csv = "Work Email,Org,Rating\nw1@ui.example,Acme,Hot\nbroken,Beta,Cold\n";
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(csv.as_bytes()).file_name("ui.csv"),
            )
            .text("duplicates", "skip")
            .text("unknown_columns", "keep")
            .text("source", "UI upload");
        let r = ui
            .post(t.url("/capture/imports"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        let job = r.headers()["location"].to_str().unwrap().to_owned();
        let page = ui
            .get(t.url(&job))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("0</strong> can be imported"),
            "nothing maps to a lead yet: {page}"
        );
        assert_eq!(t.lead_count().await, 0, "checking imports nothing");
        let r = ui
            .post(t.url(&format!("{job}/start")))
            .form(&[
                ("map_0", "email"),
                ("map_1", "company"),
                ("map_2", ""),
                ("action", "check"),
            ])
            .send()
            .await
            .unwrap();
        let page = r.text().await.unwrap();
        assert!(page.contains("1</strong> can be imported"), "{page}");
        let r = ui
            .post(t.url(&format!("{job}/start")))
            .form(&[
                ("map_0", "email"),
                ("map_1", "company"),
                ("map_2", ""),
                ("action", "start"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let mut finished = String::new();
        for _ in 0..300 {
            let p = ui
                .get(t.url(&job))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if p.contains("— done") {
                finished = p;
                break;
            }
            assert!(p.contains("<progress"), "a progress bar while it runs");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(finished.contains("errors.csv"), "{finished}");
        let report = ui
            .get(t.url(&format!("{job}/errors.csv")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(report.contains("broken"), "{report}");
        assert_eq!(t.lead_count().await, 1);

        // Sources, campaigns and costs.
        let r = ui
            .post(t.url("/capture/sources"))
            .form(&[
                ("key", "google-ads"),
                ("name", "Google Ads"),
                ("channel", "paid_search"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        ui.post(t.url("/capture/campaigns"))
            .form(&[
                ("key", "spring"),
                ("channel", "paid_search"),
                ("source_key", "google-ads"),
            ])
            .send()
            .await
            .unwrap();
        let id = t.app.campaigns().await.unwrap()[0].id;
        let r = ui
            .post(t.url(&format!("/capture/campaigns/{id}/costs")))
            .form(&[
                ("period_start", "2026-03-01"),
                ("period_end", "2026-03-31"),
                ("amount", "1,250.50"),
                ("currency", "eur"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = ui
            .get(t.url("/capture/sources"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Google Ads") && page.contains("EUR 1250.50"),
            "{page}"
        );

        // Rejected submissions are for admins; settings are edited by admins.
        t.client
            .post(t.url("/w2l"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("last_name=<b>Bad</b>&email=nope")
            .send()
            .await
            .unwrap();
        let admin = signed_in(&t, "admin@capture-ui.test", Role::Admin).await;
        let page = admin
            .get(t.url("/capture/rejected"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("invalid"), "{page}");
        let item = t
            .app
            .rejected_submissions(&leadline_domain::Principal::system("t"), None, None, 1)
            .await
            .unwrap()[0]
            .id;
        let page = admin
            .get(t.url(&format!("/capture/rejected/{item}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !page.contains("<b>Bad") && page.contains("&#60;b&#62;Bad"),
            "payload shown escaped: {page}"
        );
        // The review queue: a quarantined lead, approved from the page.
        let held: serde_json::Value = t
            .post("/api/v1/capture")
            .json(
                &serde_json::json!({"lead": {"last_name": "Held", "email": "held@mailinator.com"}}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = ui
            .get(t.url("/capture/review"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("held@mailinator.com") && page.contains("quarantine"),
            "{page}"
        );
        let r = ui
            .post(t.url("/capture/review"))
            .form(&[
                ("lead", held["lead_id"].as_str().unwrap()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = ui
            .get(t.url("/capture/review"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Nothing waits for review"), "{page}");
        let page = ui
            .get(t.url("/capture/quality"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Verification by source") && page.contains("<meter"),
            "{page}"
        );

        // Verification settings, with a policy for one source.
        let r = admin
            .post(t.url("/capture/quality"))
            .form(&[
                ("default_region", "de"),
                ("default_flagged", "review"),
                ("default_suspect", "quarantine"),
                ("default_invalid", "reject"),
                ("disposable_domains", "throwaway.example"),
                ("source_policies", "partner-list = review, reject, reject"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        let q = t.app.quality_settings().await.unwrap();
        assert_eq!(q.default_region.as_deref(), Some("DE"));
        assert_eq!(q.disposable_domains, ["throwaway.example"]);
        assert_eq!(
            q.source_policies["partner-list"].suspect,
            leadline_domain::quality::verify::Action::Reject
        );
        let r = admin
            .post(t.url("/capture/quality"))
            .form(&[("source_policies", "partner-list = maybe")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let r = admin
            .post(t.url("/capture/settings"))
            .form(&[
                ("allowed_redirect_hosts", "www.example.com\n*.acme.example"),
                ("cors_origins", "https://www.example.com"),
                ("field_aliases", "00N000000000001=product_interest"),
                ("honour_do_not_track", "on"),
                ("submissions_per_ip_per_minute", "30"),
                ("submissions_per_form_per_minute", "900"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let saved = t.app.capture_settings().await.unwrap();
        assert_eq!(
            saved.allowed_redirect_hosts,
            ["*.acme.example", "www.example.com"]
        );
        assert_eq!(saved.submissions_per_ip_per_minute, 30);
        let r = admin
            .post(t.url("/capture/settings"))
            .form(&[("cors_origins", "not an origin")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn duplicate_pages_compare_merge_undo_and_accounts() {
    for t in common::apps().await {
        let c = signed_in(&t, "ops@example.com", Role::Marketer).await;
        let system = leadline_domain::Principal::system("test");
        let mk = |v: serde_json::Value| {
            let app = t.app.clone();
            let system = system.clone();
            async move { app.create_lead(&system, v).await.unwrap().id }
        };
        let a = mk(serde_json::json!({"first_name": "Ana", "last_name": "Lima", "phone": "+49 30 1234567", "title": "Buyer"})).await;
        let b = mk(serde_json::json!({"first_name": "Ana", "last_name": "Lima", "phone": "+49 30 1234567", "title": "<b>CFO</b>"})).await;
        let r = c
            .post(t.url("/capture/duplicates/scan"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        let mut page = String::new();
        for _ in 0..200 {
            page = c
                .get(t.url("/capture/duplicates"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            // The scan runs in the background and may not have started at the first look.
            if !page.contains("Scanning:") && page.contains("Compare &amp; merge") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(page.contains("Compare &amp; merge"), "{}: {page}", t.name);
        assert!(page.contains("same phone"), "reasons in words");

        // Side by side: the differing title is a choice, escaped.
        let page = c
            .get(t.url(&format!("/capture/duplicates/compare?a={a}&b={b}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("name=\"pick.title\""), "{page}");
        assert!(page.contains("&#60;b&#62;CFO&#60;/b&#62;") && !page.contains("<b>CFO</b>"));
        let r = c
            .post(t.url("/capture/duplicates/merge"))
            .form(&[
                ("survivor", a.to_string()),
                ("other", b.to_string()),
                ("pick.title", a.to_string()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], format!("/leads/{a}?done=merged"));
        let lead = t.app.get_lead(&system, a).await.unwrap();
        assert_eq!(
            lead.fields.title.as_deref(),
            Some("Buyer"),
            "the picked value"
        );
        // The old address of the merged lead leads to the survivor.
        let r = c.get(t.url(&format!("/leads/{b}"))).send().await.unwrap();
        assert_eq!(
            r.headers()["location"],
            format!("/leads/{a}?done=merged_away")
        );
        let page = c
            .get(t.url(&format!("/leads/{a}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Merges"), "{page}");
        let merge = t.app.merges(&system, Some(a), None, 10).await.unwrap()[0].id;
        let r = c
            .post(t.url(&format!("/capture/merges/{merge}/undo")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], format!("/leads/{a}?done=unmerged"));
        assert!(
            t.app.get_lead(&system, b).await.is_ok(),
            "back after the undo"
        );

        // Accounts: created from the page, leads at the domain linked.
        mk(serde_json::json!({"email": "kim@acme.example"})).await;
        let r = c
            .post(t.url("/accounts"))
            .form(&[
                ("name", "Acme & Co"),
                ("domain", "acme.example"),
                ("industry", ""),
                ("owner_id", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = c
            .get(t.url("/accounts"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Acme &#38; Co")
                && page.contains("acme.example")
                && page.contains("<td class=\"num\">1</td>"),
            "{page}"
        );
        let r = c
            .post(t.url("/accounts"))
            .form(&[
                ("name", ""),
                ("domain", "not a domain"),
                ("industry", ""),
                ("owner_id", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Reps see neither duplicates nor merges.
        let rep = signed_in(&t, "rep@example.com", Role::Rep).await;
        let r = rep.get(t.url("/capture/duplicates")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn scoring_page_edits_rules_as_toml_activates_and_backtests() {
    for t in common::apps().await {
        let c = signed_in(&t, "ops@example.com", Role::Marketer).await;
        let page = c
            .get(t.url("/scoring"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Rules of <code>default</code>"),
            "{}: {page}",
            t.name
        );
        assert!(
            page.contains("senior-title"),
            "the starter rules are in the editor"
        );
        let toml = t
            .app
            .export_scoring_model(
                &leadline_domain::Principal::system("t"),
                "default",
                None,
                false,
            )
            .await
            .unwrap();
        // A broken file is shown again with the error, nothing saved.
        let r = c
            .post(t.url("/scoring/default/versions"))
            .form(&[
                ("toml", "key = \"default\"\nname = "),
                ("note", ""),
                ("action", "save"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let bad = toml.replace("half_life_days = 30.0", "half_life_days = -1.0");
        let r = c
            .post(t.url("/scoring/default/versions"))
            .form(&[("toml", bad.as_str()), ("note", ""), ("action", "save")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("half_life_days"));
        let changed = toml.replace("points = 25", "points = 30");
        assert_ne!(changed, toml);
        let r = c
            .post(t.url("/scoring/default/versions"))
            .form(&[
                ("toml", changed.as_str()),
                ("note", "more for seniors"),
                ("action", "save"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = c
            .get(t.url("/scoring?model=default&from=1&to=2"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("<span class=\"added\">+ points = 30"),
            "{page}"
        );
        let r = c
            .post(t.url("/scoring/default/versions/2/activate"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = c
            .post(t.url("/scoring/default/versions/2/backtest"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Back-test of version 2"));
        let rep = signed_in(&t, "rep@example.com", Role::Rep).await;
        assert_eq!(
            rep.get(t.url("/scoring")).send().await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
        // The aging report is for everyone (a rep sees their own and unassigned leads).
        let page = rep
            .get(t.url("/leads/aging"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Lead aging") && page.contains("open leads are stale"),
            "{page}"
        );
    }
}

#[tokio::test]
async fn prediction_page_trains_a_model_and_the_lead_page_explains_it() {
    for t in common::apps().await {
        let c = signed_in(&t, "admin@example.com", Role::Admin).await;
        let text = |r: reqwest::Response| async move { r.text().await.unwrap() };
        let page = text(c.get(t.url("/scoring/prediction")).send().await.unwrap()).await;
        assert!(page.contains("No model yet"), "{}: {page}", t.name);
        assert!(page.contains("value=\"industry\""), "{page}");
        let r = c
            .post(t.url("/scoring/prediction/settings"))
            .form(&[("excluded", "city")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = text(c.get(t.url("/scoring/prediction")).send().await.unwrap()).await;
        assert!(page.contains("value=\"city\" checked"), "{page}");

        let ids = t
            .history(
                (0..60)
                    .map(|i| {
                        let won = i % 2 == 0;
                        let industry = if won { "Software" } else { "Retail" };
                        (
                            serde_json::json!({"last_name": format!("P{i}"), "industry": industry}),
                            won,
                        )
                    })
                    .collect(),
            )
            .await;
        let last = ids.last().unwrap().to_string();
        let r = c
            .post(t.url("/scoring/prediction/train"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let mut page = String::new();
        for _ in 0..400 {
            page = text(c.get(t.url("/scoring/prediction")).send().await.unwrap()).await;
            if !page.contains("http-equiv=\"refresh\"") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(page.contains("Model in force"), "{}: {page}", t.name);
        assert!(page.contains("Held-out AUC"), "{page}");
        assert!(page.contains("left out: city"), "{page}");
        assert!(page.contains("aria-label=\"Calibration"), "{page}");
        let lead = text(
            c.get(t.url(&format!("/leads/{last}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(lead.contains("Chance to convert"), "{lead}");
        assert!(lead.contains("What moved it most"), "{lead}");
        assert!(
            lead.contains("<td>Industry</td><td>Retail</td><td>lowers"),
            "{lead}"
        );

        let rep = signed_in(&t, "rep@example.com", Role::Rep).await;
        let r = rep.get(t.url("/scoring/prediction")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn routing_page_saves_tests_simulates_and_the_lead_page_reassigns() {
    for t in common::apps().await {
        let c = signed_in(&t, "boss@example.com", Role::Manager).await;
        let (ana, _) = t.user_with_key("ana@example.com", Role::Rep).await;
        let page = c
            .get(t.url("/routing"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("No rules in force"), "{}: {page}", t.name);
        let rules = format!(
            "[[rules]]\nid = \"de\"\nname = \"Germany <DACH>\"\n\n[[rules.conditions]]\nfield = \"country\"\nop = \"equals\"\nvalue = \"DE\"\n\n[rules.target]\nkind = \"user\"\nuser_id = \"{ana}\"\n"
        );
        // A broken file comes back with the error and nothing saved.
        let r = c
            .post(t.url("/routing"))
            .form(&[("toml", "rules = 3"), ("action", "save")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let r = c
            .post(t.url("/routing"))
            .form(&[
                ("toml", rules.as_str()),
                ("note", "DACH"),
                ("action", "activate"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        let page = c
            .get(t.url("/routing?done=routing_active"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Rules in force (version 1)"), "{page}");
        assert!(
            page.contains("Team load") && page.contains("href=\"/leads?owner=none\""),
            "the board: {page}"
        );
        assert!(
            page.contains("<td>country = DE</td>"),
            "conditions in words: {page}"
        );
        assert!(
            page.contains("Germany &#60;DACH&#62;") || page.contains("Germany &lt;DACH&gt;"),
            "names are escaped: {page}"
        );
        assert!(!page.contains("Germany <DACH>"));
        // A new German lead goes to Ana at once.
        let l: serde_json::Value = t
            .post("/api/v1/leads")
            .json(&serde_json::json!({"email": "de@x.example", "country": "DE", "timeline": "within6_months"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(l["owner_id"], ana.to_string());
        let id = l["id"].as_str().unwrap();
        // Test the lead and simulate on the editor's text.
        let r = c
            .post(t.url("/routing"))
            .form(&[
                ("toml", rules.as_str()),
                ("action", "test"),
                ("lead_id", id),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        assert!(
            text.contains("Test result") && text.contains("ana@example.com"),
            "{text}"
        );
        let r = c
            .post(t.url("/routing"))
            .form(&[
                ("toml", rules.as_str()),
                ("action", "simulate"),
                ("days", "7"),
            ])
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        assert!(
            text.contains("Who would have received what") && text.contains("1 leads created"),
            "{text}"
        );
        // Availability: a bad time zone is refused, a good one kept.
        let r = c
            .post(t.url(&format!("/routing/reps/{ana}")))
            .form(&[
                ("time_zone", "Mars/Base"),
                ("start", "09:00"),
                ("end", "17:00"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let r = c
            .post(t.url(&format!("/routing/reps/{ana}")))
            .form(&[
                ("time_zone", "Europe/Lisbon"),
                ("days", "1,2,3"),
                ("start", "09:00"),
                ("end", "17:00"),
                ("weight", "2"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = c
            .get(t.url("/routing"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("value=\"Europe/Lisbon\"") && page.contains("value=\"1,2,3\""),
            "{page}"
        );
        // The lead page says why and reassigns.
        let page = c
            .get(t.url(&format!("/leads/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("rule Germany"), "{page}");
        assert!(
            page.contains("within 6 months"),
            "BANT timeline label: {page}"
        );
        assert!(page.contains("Reassign"));
        let r = c
            .post(t.url(&format!("/leads/{id}/assign")))
            .form(&[
                ("owner_id", ""),
                ("version", &l["version"].to_string()),
                ("note", "back to the pool"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = c
            .get(t.url(&format!("/leads/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("back to the pool"), "{page}");
        // Reps do not see the routing page.
        let rep = signed_in(&t, "rep@example.com", Role::Rep).await;
        assert_eq!(
            rep.get(t.url("/routing")).send().await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn queue_page_times_leads_and_tasks_end_with_one_click() {
    for t in common::apps().await {
        let rep = signed_in(&t, "rep@queue.example", Role::Rep).await;
        let me: serde_json::Value = rep
            .get(t.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let me = me["user_id"].as_str().unwrap().to_owned();
        let l: serde_json::Value = t
            .post("/api/v1/leads")
            .json(&serde_json::json!({"email": "q@x.example", "first_name": "Quinn <Q>", "owner_id": me}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = l["id"].as_str().unwrap();
        let page = rep
            .get(t.url("/queue"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("My queue") && page.contains(&format!("/leads/{id}")),
            "{}: {page}",
            t.name
        );
        assert!(
            page.contains("class=\"sla sla-running\">due in"),
            "a timer: {page}"
        );
        assert!(!page.contains("Quinn <Q>"), "escaped: {page}");
        // Add a call task from the lead page, then log "no answer" from the queue.
        let r = rep
            .post(t.url(&format!("/leads/{id}/tasks")))
            .form(&[
                ("kind", "call"),
                ("due", "2026-12-01T10:00"),
                ("title", "First call"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        let lead_page = rep
            .get(t.url(&format!("/leads/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            lead_page.contains("First call") && lead_page.contains("value=\"no_answer\""),
            "{lead_page}"
        );
        assert!(
            lead_page.contains("First touch:"),
            "the clock on the lead page: {lead_page}"
        );
        let page = rep
            .get(t.url("/queue"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let task_id = page
            .split("action=\"/tasks/")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .unwrap_or_else(|| panic!("{}: no task form: {page}", t.name))
            .to_owned();
        let r = rep
            .post(t.url(&format!("/tasks/{task_id}/outcome")))
            .form(&[("outcome", "no_answer"), ("back", "https://evil.example/")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()["location"],
            "/queue?done=logged",
            "no open redirect"
        );
        let page = rep
            .get(t.url("/queue?done=logged"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Call (attempt 2)"),
            "the cadence's next attempt: {page}"
        );
        assert!(
            page.contains("no first-touch clock running"),
            "the clock stopped: {page}"
        );
        let lead_page = rep
            .get(t.url(&format!("/leads/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            lead_page.contains("no answer"),
            "the outcome on the timeline: {lead_page}"
        );

        // Managers edit the SLA policy on the Routing page; a bad one comes back with the field.
        let boss = signed_in(&t, "boss@queue.example", Role::Manager).await;
        let page = boss
            .get(t.url("/routing"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Follow-up SLA") && page.contains("Past SLA"),
            "{page}"
        );
        let r = boss
            .post(t.url("/routing/sla"))
            .form(&[(
                "sla_toml",
                "warn_before_minutes = 5\n[[targets]]\nname = \"x\"\nminutes = 0\n",
            )])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", t.name);
        assert!(r.text().await.unwrap().contains("targets[0].minutes"));
        let r = boss
            .post(t.url("/routing/sla"))
            .form(&[("sla_toml", "[[targets]]\nname = \"all\"\nminutes = 60\n")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        assert_eq!(t.app.sla_policy().await.unwrap().targets[0].minutes, 60);
        // Reps cannot.
        let r = rep
            .post(t.url("/routing/sla"))
            .form(&[("sla_toml", "[[targets]]\nname = \"all\"\nminutes = 1\n")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn the_lead_page_converts_and_the_board_moves_deals() {
    for t in common::apps().await {
        let c = signed_in(&t, "closer@deals.example", Role::Manager).await;
        let l: serde_json::Value = t
            .post("/api/v1/leads")
            .json(&serde_json::json!({"email": "cto@umbrella.example", "first_name": "Alice", "company": "Umbrella <Corp>"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = l["id"].as_str().unwrap();
        let page = c
            .get(t.url(&format!("/leads/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !page.contains("action=\"/leads/{id}/convert\""),
            "no dialog before sql"
        );
        for to in ["sal", "sql"] {
            t.post(&format!("/api/v1/leads/{id}/stage"))
                .json(&serde_json::json!({"to": to}))
                .send()
                .await
                .unwrap();
        }
        let page = c
            .get(t.url(&format!("/leads/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(&format!("action=\"/leads/{id}/convert\"")),
            "{}: {page}",
            t.name
        );
        let version = page
            .split(&format!("action=\"/leads/{id}/convert\""))
            .nth(1)
            .and_then(|s| s.split("name=\"version\" value=\"").nth(1))
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned();
        let r = c
            .post(t.url(&format!("/leads/{id}/convert")))
            .form(&[
                ("version", version.as_str()),
                ("opportunity", "on"),
                ("amount", "4,200.00"),
                ("currency", "eur"),
                ("close_date", "2027-01-15"),
                ("stage", "discovery"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("/opportunities/"), "{to}");
        let opp = c
            .get(t.url(&to))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            opp.contains("4200.00 EUR") && opp.contains("Lead converted."),
            "{opp}"
        );
        assert!(
            opp.contains("Umbrella &#60;Corp&#62;") || opp.contains("Umbrella &lt;Corp&gt;"),
            "escaped: {opp}"
        );
        // Converting the same form again is refused.
        let r = c
            .post(t.url(&format!("/leads/{id}/convert")))
            .form(&[("version", version.as_str())])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
        // The board shows the deal under Discovery with the total; moving it to lost needs a
        // reason.
        let board = c
            .get(t.url("/pipeline"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            board.contains("Discovery") && board.contains("4200.00 EUR"),
            "{board}"
        );
        assert!(board.contains("<svg"), "the chart");
        let opp_id = to
            .trim_start_matches("/opportunities/")
            .split('?')
            .next()
            .unwrap();
        let r = c
            .post(t.url(&format!("/opportunities/{opp_id}/stage")))
            .form(&[
                ("stage", "lost"),
                ("reason", ""),
                ("version", "1"),
                ("back", "board"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", t.name);
        let r = c
            .post(t.url(&format!("/opportunities/{opp_id}/stage")))
            .form(&[
                ("stage", "lost"),
                ("reason", "competitor"),
                ("version", "1"),
                ("back", "board"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/pipeline?done=moved");
        let page = c
            .get(t.url(&format!("/leads/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Converted") && page.contains(&format!("/opportunities/{opp_id}")),
            "{page}"
        );
    }
}

#[tokio::test]
async fn webhook_pages_add_test_rotate_and_show_the_log() {
    for t in common::apps().await {
        let c = signed_in(&t, "hooks.admin@example.com", Role::Admin).await;
        let r = c.get(t.url("/settings/webhooks")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", t.name);
        assert!(r.text().await.unwrap().contains("No endpoints yet"));
        // A bad URL is refused on the page, with the problem.
        let r = c
            .post(t.url("/settings/webhooks"))
            .form(&[("new", "1"), ("url", "ftp://example.com/x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("must start with https://"));
        let r = c
            .post(t.url("/settings/webhooks"))
            .form(&[
                ("new", "1"),
                ("url", "https://hooks.example.com/leadline"),
                ("description", "CRM <sync>"),
                ("events", "lead.created"),
                ("events", "lead.assigned"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let at = r.headers()["location"].to_str().unwrap().to_owned();
        let id = at
            .trim_start_matches("/settings/webhooks/")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let html = c
            .get(t.url(&at))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("Created."));
        assert!(html.contains("CRM &#60;sync&#62;") || html.contains("CRM &lt;sync&gt;"));
        assert!(!html.contains("CRM <sync>"));
        assert!(
            html.contains(r#"value="lead.assigned" checked"#),
            "{}",
            t.name
        );
        assert!(html.contains("whsec_"));
        // A test event shows in the log; its page holds the body.
        let r = c
            .post(t.url(&format!("/settings/webhooks/{id}/test")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let html = c
            .get(t.url(&format!("/settings/webhooks/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("webhook.test") && html.contains("waiting"),
            "{}",
            t.name
        );
        let delivery = html
            .split("/settings/webhooks/deliveries/")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let html = c
            .get(t.url(&format!("/settings/webhooks/deliveries/{delivery}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("A test event from Leadline."));
        assert!(html.contains("Not tried yet."));
        // Rotation keeps the old secret signing; switching off records who did it.
        let r = c
            .post(t.url(&format!("/settings/webhooks/{id}/rotate")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = c
            .post(t.url(&format!("/settings/webhooks/{id}")))
            .form(&[
                ("url", "https://hooks.example.com/leadline"),
                ("events", "lead.*"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let html = c
            .get(t.url(&format!("/settings/webhooks/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("The previous secret also signs until"));
        assert!(html.contains("Switched off: switched off by"), "{}", t.name);
        // Allowed private hosts are saved; garbage is refused.
        let r = c
            .post(t.url("/settings/webhooks/settings"))
            .form(&[("hosts", "127.0.0.1\nlocalhost")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = c
            .post(t.url("/settings/webhooks/settings"))
            .form(&[("hosts", "http://x/y")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let r = c.get(t.url("/settings/outbox")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("No messages"));
        // Reps do not see the pages.
        let rep = signed_in(&t, "hooks.rep@example.com", Role::Rep).await;
        for page in ["/settings/webhooks", "/settings/outbox"] {
            let r = rep.get(t.url(page)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{page}");
        }
        let r = c
            .post(t.url(&format!("/settings/webhooks/{id}/delete")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn nurture_pages_edit_preview_and_save_templates_and_sequences() {
    for t in common::apps().await {
        let c = signed_in(&t, "nurture.marketer@example.com", Role::Marketer).await;
        let html =
            "<p>Hi {{ lead.first_name }}</p>\n<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>";
        // Preview without saving: the sample lead, in a sandboxed frame.
        let r = c
            .post(t.url("/nurture/templates"))
            .form(&[
                ("name", "Hello"),
                ("subject", "Hi {{ lead.first_name }}"),
                ("html", html),
                ("marketing", "on"),
                ("lead_id", ""),
                ("action", "preview"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", t.name);
        let page = r.text().await.unwrap();
        assert!(page.contains("Subject:</strong> Hi Ada"), "{}", t.name);
        assert!(page.contains("sandbox=\"\" srcdoc=\""));
        // An unknown field is shown with its line, nothing saved.
        let r = c
            .post(t.url("/nurture/templates"))
            .form(&[
                ("name", "Hello"),
                ("subject", "Hi"),
                ("html", "<p>x</p>\n{{ lead.nope }}"),
                ("marketing", "on"),
                ("lead_id", ""),
                ("action", "save"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("html: line 2: uses a field that does not exist")
        );
        let r = c
            .post(t.url("/nurture/templates"))
            .form(&[
                ("name", "Hello <there>"),
                ("subject", "Hi"),
                ("html", html),
                ("marketing", "on"),
                ("lead_id", ""),
                ("action", "save"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let at = r.headers()["location"].to_str().unwrap().to_owned();
        let id = at
            .trim_start_matches("/nurture/templates/")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let page = c
            .get(t.url("/nurture"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Hello &#60;there&#62;") || page.contains("Hello &lt;there&gt;"),
            "{}",
            t.name
        );
        // A sequence in TOML; its flow reads as words; a loop without a wait is refused.
        let toml = format!(
            "name = \"Welcome\"\nsend_from_hour = 0\nsend_until_hour = 24\n[[steps]]\ntype = \"email\"\ntemplate_id = \"{id}\"\n[[steps]]\ntype = \"wait\"\ndays = 2\n"
        );
        let r = c
            .post(t.url("/nurture/sequences"))
            .form(&[("toml", toml.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", t.name);
        let at = r.headers()["location"].to_str().unwrap().to_owned();
        let page = c
            .get(t.url(&at))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Wait 2 days"), "{}", t.name);
        // Enrolled from the page; the lead page lists the sequence and its message.
        let lead: serde_json::Value = t
            .post("/api/v1/leads")
            .json(&serde_json::json!({"email": "ivy@nurture.example", "first_name": "Ivy"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let lead_id = lead["id"].as_str().unwrap();
        let r = c
            .post(t.url(&format!("{}/enroll", at.split('?').next().unwrap())))
            .form(&[("leads", lead_id)])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success() || r.status().is_redirection());
        t.app.run_sequences().await.unwrap();
        let lead_page = c
            .get(t.url(&format!("/leads/{lead_id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            lead_page.contains("Messages to this lead") && lead_page.contains("step 1"),
            "{}: {lead_page}",
            t.name
        );
        assert!(
            lead_page.contains("Welcome — step 3 due"),
            "{}: {lead_page}",
            t.name
        );
        // The step builder: a wait-until step added in front of the email (the draft only),
        // then the old first step removed; the page shows the flow in words.
        let seq_url = at.split('?').next().unwrap().to_owned();
        let add = c
            .post(t.url(&seq_url))
            .form(&[
                ("toml", toml.as_str()),
                ("action", "add_step"),
                ("step_type", "wait_until"),
                ("at", "1"),
                ("time", "09:30"),
                ("weekdays", "2"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(add.status(), StatusCode::OK, "{}", t.name);
        let page_added = add.text().await.unwrap();
        assert!(
            page_added.contains("Wait until 09:30 (Tue, the lead"),
            "{}: {page_added}",
            t.name
        );
        assert!(page_added.contains("Step added to the draft"));
        let bad = c
            .post(t.url(&seq_url))
            .form(&[
                ("toml", toml.as_str()),
                ("action", "add_step"),
                ("step_type", "branch"),
                ("test", "score_at_least"),
                ("value", "lots"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.text()
                .await
                .unwrap()
                .contains("new step: value: a score")
        );
        let removed = c
            .post(t.url(&seq_url))
            .form(&[("toml", toml.as_str()), ("remove", "1")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            removed.contains("Step removed") && !removed.contains("Send “Hello"),
            "{}",
            t.name
        );
        assert!(
            page.contains("Send “Hello &#60;there&#62;”")
                || page.contains("Send “Hello &lt;there&gt;”"),
            "{page}"
        );
        let looped = format!(
            "name = \"Loop\"\n[[steps]]\ntype = \"email\"\ntemplate_id = \"{id}\"\n[[steps]]\ntype = \"branch\"\nthen = 1\n[steps.condition]\ntest = \"opened\"\n"
        );
        let r = c
            .post(t.url("/nurture/sequences"))
            .form(&[("toml", looped.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("loop with no wait"));
        let r = c
            .post(t.url("/nurture/sequences"))
            .form(&[("toml", "name = ")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // Reps have no nurture pages.
        let rep = signed_in(&t, "nurture.rep@example.com", Role::Rep).await;
        for page in ["/nurture", "/nurture/templates/new"] {
            let r = rep.get(t.url(page)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{page}");
        }
    }
}

#[tokio::test]
async fn reports_dashboard_charts_tables_drills_down_and_downloads() {
    for t in common::apps().await {
        let name = t.name;
        let c = signed_in(&t, "analyst@reports.example", Role::Marketer).await;
        for (email, source, to) in [
            ("a@r.example", "google <ads>", Some("mql")),
            ("b@r.example", "google <ads>", None),
            ("c@r.example", "bing", Some("mql")),
        ] {
            let l: serde_json::Value = t
                .post("/api/v1/leads")
                .json(&serde_json::json!({"email": email, "first_touch": {"source": source}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(to) = to {
                t.post(&format!(
                    "/api/v1/leads/{}/stage",
                    l["id"].as_str().unwrap()
                ))
                .json(&serde_json::json!({"to": to}))
                .send()
                .await
                .unwrap();
            }
        }
        let page = c
            .get(t.url("/reports?report=funnel&by=source&from=&tz="))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // The chart, the escaped source, the MQL count linking to its leads, the CSV link.
        assert!(
            page.contains("<svg") && page.contains("role=\"img\""),
            "{name}"
        );
        assert!(
            page.contains("google &#60;ads&#62;") && !page.contains("google <ads>"),
            "{name}: {page}"
        );
        assert!(page.contains("50.0 %"), "{name}: the MQL rate of google");
        let link = "/leads?source=google+%3Cads%3E&#38;reached=mql";
        assert!(page.contains(link), "{name}: drill-down link in {page}");
        assert!(
            page.contains("/reports/csv?by=source&#38;report=funnel"),
            "{name}"
        );
        // The form has the report's filters; filtering to one source leaves its row only.
        assert!(
            page.contains("name=\"campaign\"") && page.contains("list=\"report-owners\""),
            "{name}: filter fields"
        );
        let filtered = c
            .get(t.url("/reports?report=funnel&by=source&source=bing"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            filtered.contains(">bing<") && !filtered.contains("google &#60;ads&#62;"),
            "{name}: {filtered}"
        );
        // Following the drill-down lists exactly the lead behind the number.
        let list = c
            .get(t.url("/leads?source=google+%3Cads%3E&reached=mql"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            list.contains("a@r.example") && !list.contains("b@r.example"),
            "{name}"
        );
        // A row without a value opens the leads lacking it; the list's form keeps the choice.
        let page = c
            .get(t.url("/reports?report=funnel&by=campaign&from=&tz="))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("/leads?missing=campaign"), "{name}: {page}");
        let list = c
            .get(t.url("/leads?missing=campaign"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            ["a@r.example", "b@r.example", "c@r.example"]
                .iter()
                .all(|e| list.contains(e)),
            "{name}: {list}"
        );
        assert!(
            list.contains("value=\"campaign\" checked"),
            "{name}: {list}"
        );
        let csv = c
            .get(t.url("/reports/csv?by=source&report=funnel"))
            .send()
            .await
            .unwrap();
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        let body = csv.text().await.unwrap();
        assert!(body.contains("\nbing,1,1,0,0,0,0,0,"), "{name}: {body}");
        // Bad input is shown on the page, not as a crash.
        let page = c
            .get(t.url("/reports?report=leads&from=2026-13-40"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("role=\"alert\""), "{name}: {page}");
        // Every report renders.
        for r in leadline_app::analytics::REPORTS {
            let p = c
                .get(t.url(&format!("/reports?report={}", r.name)))
                .send()
                .await
                .unwrap();
            assert_eq!(p.status(), StatusCode::OK, "{name}: {}", r.name);
            let text = p.text().await.unwrap();
            assert!(
                !text.contains("role=\"alert\""),
                "{name}: {}: {text}",
                r.name
            );
        }
        // Reps are refused.
        let rep = signed_in(&t, "rep@reports.example", Role::Rep).await;
        let r = rep.get(t.url("/reports")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
    }
}
