//! Email-to-lead on both databases: a real SMTP conversation over TCP with the built-in
//! listener, the raw-message HTTP endpoint, `leadline import-eml`, and every sample message
//! of the shared corpus parsed without a panic.

mod common;

use leadline_app::capture::email::parse_email;
use leadline_domain::Principal;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const INQUIRY: &str = "From: Ana Lima <ana.lima@acme.example>\r\n\
To: leads@ours.example\r\n\
Subject: =?ISO-8859-1?Q?Anfrage:_CRM_f=FCr_40_Vertriebler?=\r\n\
Message-ID: <inq-1@acme.example>\r\n\
Date: Tue, 3 Nov 2026 09:15:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n";

fn inquiry() -> String {
    use base64::Engine;
    let body = "Hello,\r\nwe need a lead system for 40 reps.\r\n\r\nBest regards,\r\nAna Lima\r\nHead of Sales\r\nAcme Logistics GmbH\r\nTel: +49 30 1234567\r\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    format!("{INQUIRY}{b64}\r\n")
}

fn corpus() -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/eml");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    Some(files)
}

/// The header value the corpus' oracle expects, if it lists one.
fn expected_header<'a>(expected: &'a Value, name: &str) -> Option<&'a Value> {
    expected["parts"][0]["headers"]
        .as_array()?
        .iter()
        .find(|h| h["name"] == name)
        .map(|h| &h["value"])
}

#[tokio::test]
async fn every_sample_message_is_parsed_and_captured_without_panics() {
    let Some(files) = corpus() else {
        eprintln!("skipped: ../shared/data/eml is absent");
        return;
    };
    assert!(files.len() >= 10, "the corpus is there");
    let mut parsed = 0;
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let oracle: Option<Value> = std::fs::read_to_string(f.with_extension("expected.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        match parse_email(&raw) {
            Ok(m) => {
                parsed += 1;
                if let Some(o) = &oracle {
                    if let Some(s) = expected_header(o, "subject").and_then(|v| v["Text"].as_str())
                    {
                        assert_eq!(
                            m.subject.as_deref(),
                            Some(s.trim()).filter(|s| !s.is_empty()),
                            "{}",
                            f.display()
                        );
                    }
                    let from = expected_header(o, "reply-to")
                        .or_else(|| expected_header(o, "from"))
                        .and_then(|v| v["Address"]["List"][0]["address"].as_str());
                    if let Some(addr) = from {
                        assert_eq!(m.sender, addr.trim(), "{}", f.display());
                    }
                }
            }
            Err(e) => eprintln!("{}: {e}", f.display()),
        }
    }
    assert!(
        parsed * 2 > files.len(),
        "most samples have a sender: {parsed}/{}",
        files.len()
    );
    for db in leadline_store::testing::backends().await {
        let app = leadline_app::App {
            db: db.db.clone(),
            config: Default::default(),
        };
        let by = Principal::system("test");
        let (mut captured, mut refused) = (0, 0);
        for f in &files {
            let raw = std::fs::read(f).unwrap();
            match app.capture_email(&by, &raw, None).await {
                Ok(_) => captured += 1,
                Err(leadline_app::AppError::Validation(_)) => refused += 1,
                Err(e) => panic!("{}: {}: {e}", db.name, f.display()),
            }
        }
        assert_eq!(
            captured, parsed,
            "{}: every parsable message with a sender is captured",
            db.name
        );
        let kept = app
            .rejected_submissions(&by, None, None, 200)
            .await
            .unwrap()
            .len();
        assert_eq!(kept, refused, "{}: every refused message is kept", db.name);
    }
}

async fn smtp_line(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        all.push_str(&line);
        // Multi-line replies continue with "250-".
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return all;
        }
    }
}

async fn smtp_send(addr: std::net::SocketAddr, from: &str, message: &str) -> String {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (read, mut w) = stream.into_split();
    let mut r = BufReader::new(read);
    assert!(smtp_line(&mut r).await.starts_with("220"));
    for cmd in [
        "EHLO client.example".to_owned(),
        format!("MAIL FROM:<{from}>"),
        "RCPT TO:<leads@ours.example>".to_owned(),
        "DATA".to_owned(),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).await.unwrap();
        let reply = smtp_line(&mut r).await;
        assert!(
            reply.starts_with('2') || reply.starts_with('3'),
            "{cmd}: {reply}"
        );
    }
    // Dot-stuffing: a line starting with "." is sent as "..".
    for line in message.split("\r\n") {
        let stuffed = if line.starts_with('.') {
            format!(".{line}")
        } else {
            line.to_owned()
        };
        w.write_all(format!("{stuffed}\r\n").as_bytes())
            .await
            .unwrap();
    }
    w.write_all(b".\r\n").await.unwrap();
    let reply = smtp_line(&mut r).await;
    w.write_all(b"QUIT\r\n").await.unwrap();
    assert!(smtp_line(&mut r).await.starts_with("221"));
    reply
}

#[tokio::test]
async fn the_smtp_listener_turns_mail_into_leads() {
    for t in common::apps().await {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(leadline_web::smtp::serve_smtp(
            listener,
            t.app.clone(),
            stop.clone(),
        ));

        let reply = smtp_send(addr, "ana.lima@acme.example", &inquiry()).await;
        assert!(
            reply.starts_with("250 2.0.0 accepted as lead"),
            "{}: {reply}",
            t.name
        );
        let body: Value = t
            .get("/api/v1/leads?q=ana.lima@acme.example")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let lead = &body["data"][0];
        assert_eq!(lead["first_name"], "Ana", "{lead}");
        assert_eq!(lead["company"], "Acme Logistics GmbH", "from the signature");
        assert_eq!(lead["title"], "Head of Sales");
        assert_eq!(
            lead["phone"], "+49301234567",
            "from the signature, in E.164"
        );
        assert!(
            lead["description"]
                .as_str()
                .unwrap()
                .starts_with("Anfrage: CRM für 40 Vertriebler"),
            "{lead}"
        );

        // A known sender: no new lead, one more email on the timeline.
        let again = inquiry()
            .replace("inq-1@", "inq-2@")
            .replace("40 reps", "50 reps");
        assert!(
            smtp_send(addr, "ana.lima@acme.example", &again)
                .await
                .starts_with("250")
        );
        let count = t.lead_count().await;
        assert_eq!(count, 1, "{}", t.name);
        let id = lead["id"].as_str().unwrap();
        let acts: Value = t
            .get(&format!("/api/v1/leads/{id}/activities"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let emails = acts["data"]
            .as_array()
            .or(acts.as_array())
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "email_received")
            .count();
        assert_eq!(emails, 2);

        // A message without a sender is kept for review, and the server does not retry.
        let reply = smtp_send(
            addr,
            "x@y.example",
            "Subject: no from\r\n\r\n.hidden dot line\r\nbody",
        )
        .await;
        assert!(
            reply.starts_with("250 2.0.0 accepted for review"),
            "{reply}"
        );
        let kept: Vec<Value> = t
            .get("/api/v1/rejected-submissions?channel=email")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(kept[0]["reason_code"], "no_sender");
        assert!(
            kept[0]["payload"]["message"]
                .as_str()
                .unwrap()
                .contains(".hidden dot line"),
            "dot-stuffing undone"
        );
        stop.cancel();
    }
}

#[tokio::test]
async fn raw_messages_over_http() {
    for t in common::apps().await {
        let send = |body: String| {
            t.post("/api/v1/inbound/email")
                .header("content-type", "message/rfc822")
                .body(body)
                .send()
        };
        let r = send(inquiry()).await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", t.name);
        let r = send(inquiry()).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = send("complete garbage without headers".into())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // The message cargo-fuzz found tripping mail-parser: answered, never a 500.
        let found =
            include_bytes!("../../../fuzz/seeds/email_parsing/found-mail-parser-debug-assert.eml");
        let r = t
            .post("/api/v1/inbound/email")
            .header("content-type", "message/rfc822")
            .body(found.to_vec())
            .send()
            .await
            .unwrap();
        assert!(!r.status().is_server_error(), "{}: {}", t.name, r.status());
        let r = t
            .post("/api/v1/inbound/email")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}

#[test]
fn import_eml_reads_message_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.eml");
    std::fs::write(&a, inquiry()).unwrap();
    let b = dir.path().join("b.eml");
    std::fs::write(&b, "not a message").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadline"))
        .current_dir(dir.path())
        .env("LEADLINE_LOG", "warn")
        .env_remove("LEADLINE_DATABASE_URL")
        .args(["import-eml", a.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("a.eml: created lead"), "{stdout}");
    assert!(stdout.contains("b.eml: kept for review"), "{stdout}");
}
