//! What leads do with sequence mail, on both databases: opens (pixel) and clicks (tracked
//! links) recorded once per message and on the timeline, feeding scores and branches;
//! replies and bounce reports coming back through the inbound-email endpoint; consent,
//! form and score-band enrollment, per-domain throttling, set-field and event steps; and
//! the per-step report. Its own binary, one test: the engagement part stops the clock.

mod common;

use common::nurture::{enroll, enrollments};
use common::ok;
use leadline_domain::time::manual_clock;
use mail_parser::MessageParser;
use reqwest::StatusCode;
use serde_json::{Value, json};

const BODY: &str = "<p>Hello {{ lead.first_name | default(\"there\") }},</p>\n\
<p><a href=\"https://www.example.com/pricing?a=1&amp;b=2\">See pricing</a></p>\n\
<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>";

async fn template(t: &common::TestApp) -> String {
    let r = t
        .post("/api/v1/email-templates")
        .json(
            &json!({"name": "Tracked", "subject": "News for {{ lead.first_name }}", "html": BODY}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sequence(t: &common::TestApp, body: Value) -> String {
    let r = t
        .post("/api/v1/sequences")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}: {}",
        t.name,
        r.text().await.unwrap()
    );
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn lead(t: &common::TestApp, body: Value) -> String {
    ok(t.post("/api/v1/leads").json(&body).send().await.unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn enrollment(t: &common::TestApp, lead: &str) -> Value {
    enrollments(t, lead)
        .await
        .first()
        .cloned()
        .unwrap_or(Value::Null)
}

async fn activity_kinds(t: &common::TestApp, lead: &str) -> Vec<String> {
    ok(t.get(&format!("/api/v1/leads/{lead}/activities"))
        .send()
        .await
        .unwrap())
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|a| a["kind"].as_str().unwrap().to_owned())
    .collect()
}

/// The sink's message to `to`: its Message-ID and decoded HTML part.
fn message_to(got: &[String], to: &str) -> (String, String) {
    let raw = got
        .iter()
        .find(|m| m.contains(&format!("To: {to}")) || m.contains(&format!("<{to}>")))
        .unwrap_or_else(|| panic!("no message to {to}"));
    let m = MessageParser::default().parse(raw.as_bytes()).unwrap();
    (
        format!("<{}>", m.message_id().unwrap()),
        m.body_html(0).unwrap().into_owned(),
    )
}

/// The path of the first link in `html` that starts with `prefix`.
fn link(html: &str, prefix: &str) -> String {
    let at = html
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {html}"));
    let rest = &html[at..];
    let end = rest.find('"').unwrap();
    rest[..end]
        .trim_start_matches("https://leads.example.com")
        .to_owned()
}

fn dsn(message_id: &str, status: &str) -> String {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.initech.example>\r\n\
To: news@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.initech.example\r\n\r\n\
Final-Recipient: rfc822; bo@initech.example\r\nAction: failed\r\nStatus: {status}\r\n\
Diagnostic-Code: smtp; 550 {status} mailbox unavailable\r\n\r\n\
--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\nSubject: News\r\n\r\n--b1--\r\n"
    )
}

async fn inbound(t: &common::TestApp, raw: String) -> Value {
    ok(t.post("/api/v1/inbound/email")
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .unwrap())
    .await
}

#[tokio::test]
async fn leads_engage_with_sequences_and_enroll_by_rule() {
    for t in common::apps().await {
        consent_forms_score_bands_and_domain_throttling(&t).await;
        opens_clicks_replies_and_bounces_come_back_to_the_sequence(&t).await;
    }
}

async fn opens_clicks_replies_and_bounces_come_back_to_the_sequence(t: &common::TestApp) {
    let name = t.name;
    let (sink, port) = common::sink::Sink::start().await;
    let mailer = leadline_app::mail::Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "News <news@example.com>",
        Some("https://leads.example.com"),
    )
    .unwrap();
    // A person's mail client (no user agent at all counts as a bot).
    let browser = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) Thunderbird/128.0")
        .build()
        .unwrap();
    let no_redirect = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tpl = template(t).await;
    let seq = sequence(
        t,
        json!({"name": "Engage", "send_from_hour": 0, "send_until_hour": 24, "steps": [
            {"type": "email", "template_id": tpl},
            {"type": "wait", "days": 1},
            {"type": "branch", "condition": {"test": "clicked"}, "then": 4, "otherwise": 6},
            {"type": "event", "name": "engaged"},
            {"type": "set_field", "field": "industry", "value": "Software"},
            {"type": "email", "template_id": tpl}
        ]}),
    )
    .await;
    let kim = lead(
        t,
        json!({"email": "kim@initech.example", "first_name": "Kim"}),
    )
    .await;
    let lee = lead(
        t,
        json!({"email": "lee@initech.example", "first_name": "Lee"}),
    )
    .await;
    let ray = lead(
        t,
        json!({"email": "ray@initech.example", "first_name": "Ray"}),
    )
    .await;
    let bo = lead(
        t,
        json!({"email": "bo@initech.example", "first_name": "Bo"}),
    )
    .await;
    assert_eq!(
        enroll(t, &seq, &[&kim, &lee, &ray, &bo]).await,
        ["enrolled"; 4],
        "{name}"
    );
    t.app.run_sequences().await.unwrap();
    t.app.send_mail(&mailer).await.unwrap();
    // (The outbox also held the first part's mail, to other domains.)
    let ours = |got: Vec<String>| {
        got.into_iter()
            .filter(|m| m.contains("@initech.example"))
            .collect::<Vec<_>>()
    };
    let got = ours(sink.got());
    assert_eq!(got.len(), 4, "{name}");

    // Kim's message: the link is tracked, the pixel is there, the unsubscribe link is not
    // rewritten.
    let (_, html) = message_to(&got, "kim@initech.example");
    assert!(!html.contains("www.example.com/pricing"), "{name}: {html}");
    assert_eq!(
        html.matches("leads.example.com/r/").count(),
        1,
        "{name}: the unsubscribe link stays as it is: {html}"
    );
    let click = link(&html, "https://leads.example.com/r/");
    let pixel = link(&html, "https://leads.example.com/o/");
    let r = no_redirect.get(t.url(&click)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
    let to = r.headers()["location"].to_str().unwrap();
    assert!(
        to.starts_with("https://www.example.com/pricing?a=1&b=2&ll_t="),
        "{name}: {to}"
    );
    for _ in 0..2 {
        let r = browser.get(t.url(&pixel)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "image/gif");
    }
    let kinds = activity_kinds(t, &kim).await;
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(
        (count("email_opened"), count("email_clicked")),
        (1, 1),
        "{name}: one open however often the image loads: {kinds:?}"
    );
    let msgs = ok(t
        .get(&format!("/api/v1/leads/{kim}/messages"))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(msgs.as_array().unwrap().len(), 1, "{name}: {msgs}");
    assert_eq!(
        (msgs[0]["opens"].as_i64(), msgs[0]["clicks"].as_i64()),
        (Some(3), Some(1)),
        "{name}: two pixel loads and the click (which implies an open): {msgs}"
    );
    assert!(msgs[0]["clicked_at"].is_string() && msgs[0]["replied_at"].is_null());
    let scored = ok(t.get(&format!("/api/v1/leads/{kim}")).send().await.unwrap()).await;
    assert!(
        scored["score"].as_i64().unwrap() >= 6,
        "{name}: open and click feed the score: {scored}"
    );
    // A bot's fetch of the pixel is not an open.
    let (_, lee_html) = message_to(&got, "lee@initech.example");
    let lee_pixel = link(&lee_html, "https://leads.example.com/o/");
    browser
        .get(t.url(&lee_pixel))
        .header("user-agent", "Googlebot/2.1")
        .send()
        .await
        .unwrap();
    assert!(
        !activity_kinds(t, &lee)
            .await
            .contains(&"email_opened".to_owned())
    );
    browser.get(t.url(&lee_pixel)).send().await.unwrap();

    // Ray replies: the reply is his timeline's and his sequence ends. Lee's out-of-office
    // is noted and changes nothing.
    let (ray_id, _) = message_to(&got, "ray@initech.example");
    let reply = format!(
        "From: Ray <ray@initech.example>\r\nTo: news@example.com\r\nIn-Reply-To: {ray_id}\r\n\
References: {ray_id}\r\nSubject: Re: News for Ray\r\n\r\nSounds good, call me.\r\n"
    );
    let r = inbound(t, reply).await;
    assert_eq!(r["outcome"], "replied", "{name}: {r}");
    assert_eq!(r["lead_id"], ray.as_str());
    let e = enrollment(t, &ray).await;
    assert_eq!(
        (e["status"].as_str(), e["exit_reason"].as_str()),
        (Some("exited"), Some("replied")),
        "{name}"
    );
    assert!(
        activity_kinds(t, &ray)
            .await
            .contains(&"email_replied".to_owned())
    );
    let (lee_id, _) = message_to(&got, "lee@initech.example");
    let ooo = format!(
        "From: lee@initech.example\r\nIn-Reply-To: {lee_id}\r\nAuto-Submitted: auto-replied\r\n\
Subject: Out of office\r\n\r\nBack Monday.\r\n"
    );
    assert_eq!(inbound(t, ooo).await["outcome"], "auto_replied");
    assert_eq!(enrollment(t, &lee).await["status"], "active", "{name}");

    // Bo's address bounces (an RFC 3464 report): suppressed, the enrollment ends, and a
    // bounce about a message we never sent is kept for review, not made a lead.
    let (bo_id, _) = message_to(&got, "bo@initech.example");
    let r = inbound(t, dsn(&bo_id, "5.1.1")).await;
    assert_eq!(
        (r["outcome"].as_str(), r["lead_id"].as_str()),
        (Some("bounced"), Some(bo.as_str())),
        "{name}: {r}"
    );
    assert_eq!(enrollment(t, &bo).await["exit_reason"], "bounced");
    assert_eq!(enroll(t, &seq, &[&bo]).await, ["unsubscribed"], "{name}");
    let unknown = "<0000000000000000000000000000beef@leadline>";
    assert_eq!(
        inbound(t, dsn(unknown, "5.1.1")).await["outcome"],
        "unmatched_bounce"
    );
    let q = ok(t.get("/api/v1/leads?q=mailer-daemon").send().await.unwrap()).await;
    assert_eq!(q["data"].as_array().unwrap().len(), 0, "{name}: {q}");

    // A day on: Kim clicked, so the branch runs the event and set-field steps; Lee did
    // not. Both get the second message.
    manual_clock::set(leadline_domain::time::now() + chrono::Duration::minutes(24 * 60 + 1));
    t.app.run_sequences().await.unwrap();
    t.app.send_mail(&mailer).await.unwrap();
    assert_eq!(ours(sink.got()).len(), 6, "{name}");
    let k = ok(t.get(&format!("/api/v1/leads/{kim}")).send().await.unwrap()).await;
    assert_eq!(k["industry"], "Software", "{name}");
    let l = ok(t.get(&format!("/api/v1/leads/{lee}")).send().await.unwrap()).await;
    assert_eq!(l["industry"], Value::Null, "{name}");

    let report = ok(t
        .get(&format!("/api/v1/sequences/{seq}/report"))
        .send()
        .await
        .unwrap())
    .await;
    let s1 = &report["steps"][0];
    assert_eq!(s1["step"], 1);
    let figures: Vec<i64> = [
        "sent",
        "delivered",
        "opened",
        "clicked",
        "replied",
        "bounced",
    ]
    .iter()
    .map(|k| s1[k].as_i64().unwrap())
    .collect();
    assert_eq!(figures, [4, 3, 2, 1, 1, 1], "{name}: {report}");
    assert_eq!(report["steps"][1]["sent"], 2, "{name}: {report}");
    assert_eq!(report["exited"]["replied"], 1);
    assert_eq!(report["exited"]["bounced"], 1);
    manual_clock::clear();
}

async fn consent_forms_score_bands_and_domain_throttling(t: &common::TestApp) {
    let name = t.name;
    let tpl = template(t).await;
    // Enrolled on submitting the form, only with consent on record.
    let form = t
        .post("/api/v1/forms")
        .json(
            &json!({"slug": "newsletter", "name": "Newsletter", "definition": {
                "fields": [{"target": "email", "required": true}, {"target": "first_name"}],
                "consent_text": "Send me the monthly newsletter."
            }}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::CREATED, "{name}");
    let news = sequence(
        t,
        json!({"name": "Newsletter", "requires_consent": true, "enroll_on_forms": ["newsletter"],
            "send_from_hour": 0, "send_until_hour": 24,
            "steps": [{"type": "email", "template_id": tpl}]}),
    )
    .await;
    let submit = |body: &'static str| {
        t.client
            .post(t.url("/f/newsletter"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(
        submit("email=ann%40globex.example&first_name=Ann&consent=on")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        submit("email=ben%40globex.example&first_name=Ben")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let id_of = |email: &'static str| async move {
        ok(t.get(&format!("/api/v1/leads?q={email}"))
            .send()
            .await
            .unwrap())
        .await["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (ann, ben) = (
        id_of("ann@globex.example").await,
        id_of("ben@globex.example").await,
    );
    let e = enrollment(t, &ann).await;
    assert_eq!(e["sequence_id"], news.as_str(), "{name}: {e}");
    assert_eq!(e["enrolled_by"], "on submitting form newsletter");
    let consents = ok(t
        .get(&format!("/api/v1/leads/{ann}/consents"))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(consents[0]["granted"], true, "{name}: {consents}");
    assert_eq!(consents[0]["source"], "form:newsletter");
    assert_eq!(
        consents[0]["consent_text"],
        "Send me the monthly newsletter."
    );
    assert_eq!(enrollment(t, &ben).await, Value::Null, "{name}: no consent");
    assert_eq!(enroll(t, &news, &[&ben]).await, ["no_consent"]);
    let r = t
        .post(&format!("/api/v1/leads/{ben}/consents"))
        .json(&json!({"granted": true, "source": "trade show", "ip": "not-an-ip"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = t
        .post(&format!("/api/v1/leads/{ben}/consents"))
        .json(&json!({"granted": true, "source": "trade show"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{name}");
    assert_eq!(enroll(t, &news, &[&ben]).await, ["enrolled"]);
    // Withdrawn before the send: the enrollment ends instead of mailing.
    ok(t.post(&format!("/api/v1/leads/{ben}/consents"))
        .json(&json!({"granted": false}))
        .send()
        .await
        .unwrap())
    .await;
    t.app.run_sequences().await.unwrap();
    assert_eq!(
        enrollment(t, &ben).await["exit_reason"],
        "no_consent",
        "{name}"
    );

    // Score band: a lead whose (behaviour) score enters 15+ is enrolled once.
    let band = sequence(
        t,
        json!({"name": "Warm", "enroll_on_score": {"min": 15},
            "steps": [{"type": "wait", "days": 1}]}),
    )
    .await;
    let dee = lead(t, json!({"email": "dee@globex.example", "title": "CEO"})).await;
    assert_eq!(
        enrollment(t, &dee).await,
        Value::Null,
        "{name}: fit alone is no score"
    );
    ok(t.post(&format!("/api/v1/leads/{dee}/activities"))
        .json(&json!({"kind": "webinar_attended"}))
        .send()
        .await
        .unwrap())
    .await;
    let e = enrollment(t, &dee).await;
    assert_eq!(e["sequence_id"], band.as_str(), "{name}: {e}");
    assert_eq!(e["enrolled_by"], "on reaching score 20");

    // At most two messages an hour to one domain, over all sequences.
    let slow = sequence(
        t,
        json!({"name": "Slow", "domain_hourly_limit": 2, "send_from_hour": 0, "send_until_hour": 24,
            "steps": [{"type": "email", "template_id": tpl}]}),
    )
    .await;
    let mut many = Vec::new();
    for who in ["a", "b", "c"] {
        many.push(lead(t, json!({"email": format!("{who}@umbrella.example")})).await);
    }
    let other = lead(t, json!({"email": "z@hooli.example"})).await;
    let ids: Vec<&str> = many
        .iter()
        .map(String::as_str)
        .chain([other.as_str()])
        .collect();
    assert_eq!(enroll(t, &slow, &ids).await, ["enrolled"; 4]);
    t.app.run_sequences().await.unwrap();
    let waiting: Vec<Value> = {
        let mut v = Vec::new();
        for id in &many {
            v.push(enrollment(t, id).await);
        }
        v
    };
    let held: Vec<&Value> = waiting.iter().filter(|e| e["status"] == "active").collect();
    assert_eq!(held.len(), 1, "{name}: {waiting:?}");
    assert_eq!(held[0]["next_step"], 1);
    assert_eq!(enrollment(t, &other).await["status"], "finished", "{name}");

    // A bad step is refused with where and why.
    let r = t
        .post("/api/v1/sequences")
        .json(&json!({"name": "Bad", "steps": [
            {"type": "set_field", "field": "owner_id", "value": null},
            {"type": "wait_until", "hour": 25}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = r.json().await.unwrap();
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["steps[1].field", "steps[2]"], "{name}: {p}");
}
