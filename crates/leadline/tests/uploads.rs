//! Issue 11, uploads: a 1 GiB body sent to every endpoint that takes a file or a
//! submission — CSV import, raw email, capture API, web-to-lead, hosted form — once with its
//! length declared and once chunked (no length), is refused with `413` once past that
//! endpoint's limit, and the server's peak memory grows by far less than the body (it
//! never holds more than a small multiple of the limit). Against a `leadline serve`
//! process, so its memory is its own.

mod common;

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GIB: u64 = 1 << 30;

/// Peak resident memory of a process, in MiB (`VmHWM`).
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024
}

/// Sends `head`, then a 1 GiB body (length declared, or chunked) that starts as a valid
/// document (`start`) and goes on with one endless value, until the server answers; returns
/// the status line and how many body bytes went out before the answer.
async fn flood(port: u16, head: &str, start: &str, chunked: bool) -> (String, u64) {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let length = if chunked {
        "Transfer-Encoding: chunked\r\n".to_owned()
    } else {
        format!("Content-Length: {GIB}\r\n")
    };
    wr.write_all(format!("{head}{length}Connection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let start = start.as_bytes().to_vec();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    let writer = tokio::spawn(async move {
        let mut chunk = vec![b'a'; 1 << 20];
        chunk[..start.len()].copy_from_slice(&start);
        while counter.load(std::sync::atomic::Ordering::SeqCst) < GIB {
            let r = if chunked {
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                wr.write_all(&framed).await
            } else {
                wr.write_all(&chunk).await
            };
            if r.is_err() {
                break;
            }
            counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::SeqCst);
            chunk[..start.len()].fill(b'a');
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(120);
    while !answer.windows(2).any(|w| w == b"\r\n") && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(120), rd.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    writer.abort();
    let _ = writer.await;
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    let line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    (line, sent)
}

#[tokio::test]
async fn a_gigabyte_body_is_refused_with_413_without_the_server_holding_it() {
    for t in common::apps().await {
        let n = t.name;
        common::ok(
            t.post("/api/v1/forms")
                .json(&serde_json::json!({"slug": "big", "name": "Big",
                    "definition": {"fields": [{"target": "email", "label": "Email"}]}}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let (mut child, base) = common::spawn_serve(&t.db_url, dir.path());
        let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
        let client = reqwest::Client::new();
        common::wait_ready(&base).await;
        let idle = peak_mib(child.id());
        eprintln!("{n}: peak resident memory when ready {idle} MiB");
        let auth = format!("Authorization: Bearer {}\r\n", t.key);
        let endpoints = [
            (
                "CSV import",
                format!(
                    "POST /api/v1/imports HTTP/1.1\r\nHost: x\r\n{auth}\
                     Content-Type: multipart/form-data; boundary=B\r\n"
                ),
                "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\
                 Content-Type: text/csv\r\n\r\nemail,last_name\r\nbig@example.com,",
            ),
            (
                "raw email",
                format!(
                    "POST /api/v1/inbound/email HTTP/1.1\r\nHost: x\r\n{auth}\
                     Content-Type: message/rfc822\r\n"
                ),
                "From: Big <big@example.com>\r\nSubject: big\r\n\r\n",
            ),
            (
                "capture API",
                format!(
                    "POST /api/v1/capture HTTP/1.1\r\nHost: x\r\n{auth}\
                     Content-Type: application/json\r\n"
                ),
                "{\"lead\": {\"email\": \"big@example.com\", \"last_name\": \"",
            ),
            (
                "web-to-lead",
                "POST /w2l HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n"
                    .to_owned(),
                "email=big%40example.com&last_name=",
            ),
            (
                "hosted form",
                "POST /f/big HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n"
                    .to_owned(),
                "email=big%40example.com&first_name=",
            ),
        ];
        for (what, head, start) in &endpoints {
            for chunked in [false, true] {
                let (status, sent) = flood(port, head, start, chunked).await;
                eprintln!(
                    "{n}: {what} ({}): {status:?} after {} MiB sent; peak {} MiB",
                    if chunked {
                        "chunked"
                    } else {
                        "length declared"
                    },
                    sent >> 20,
                    peak_mib(child.id())
                );
                assert!(
                    status.starts_with("HTTP/1.1 413"),
                    "{n}: {what}, chunked {chunked}: answered {status:?}"
                );
                assert!(sent < GIB, "{n}: {what}: the whole gigabyte was read");
            }
        }
        let r = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert!(r.status().is_success(), "{n}: still serving");
        let peak = peak_mib(child.id());
        eprintln!("{n}: peak resident memory {peak} MiB");
        child.kill().unwrap();
        child.wait().unwrap();
        // Holding the gigabyte would take 1,024 MiB; the limits are 64 MiB (CSV), 10 MiB
        // (email) and less.
        assert!(
            peak - idle < 512,
            "{n}: the server's peak memory grew from {idle} to {peak} MiB"
        );
    }
}
