//! The built-in SMTP listener for email-to-lead (`serve --smtp-addr 127.0.0.1:2525`):
//! point a mail route (e.g. `leads@` forwarded by your mail server) at it. The protocol
//! state machine is `mailin`'s; each accepted message is stored before `250` is sent, so
//! an acknowledged message survives a crash. Plain SMTP without TLS or AUTH: listen on a
//! private address and let the mail server in front handle the internet.

use leadline_app::capture::email::{MAX_EMAIL_BYTES, Received};
use leadline_app::{App, AppError};
use leadline_domain::Principal;
use mailin::{Handler, Response, SessionBuilder};
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Longest command line accepted outside DATA (RFC 5321 allows 512; we are lenient).
const MAX_LINE: usize = 4096;
/// A client silent for this long is disconnected.
const IDLE: Duration = Duration::from_secs(300);

/// A finished message, handed from the synchronous protocol handler to the async loop.
#[derive(Default)]
struct Inbox {
    in_data: bool,
    data: Vec<u8>,
    too_large: bool,
    complete: Option<(Vec<u8>, bool)>,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Inbox>>);

impl Collector {
    fn with<T>(&self, f: impl FnOnce(&mut Inbox) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

impl Handler for Collector {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.with(|i| {
            i.data.clear();
            i.too_large = false;
            i.in_data = true;
        });
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.with(|i| {
            if i.data.len() + buf.len() > MAX_EMAIL_BYTES {
                i.too_large = true;
            } else {
                i.data.extend_from_slice(buf);
            }
        });
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.with(|i| {
            let data = std::mem::take(&mut i.data);
            i.in_data = false;
            i.complete = Some((data, i.too_large));
        });
        mailin::response::OK
    }
}

/// Accepts SMTP connections until `shutdown`.
pub async fn serve_smtp(
    listener: TcpListener,
    app: App,
    shutdown: CancellationToken,
) -> io::Result<()> {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "smtp accept failed");
                        continue;
                    }
                };
                let app = app.clone();
                let stop = shutdown.clone();
                tokio::spawn(async move {
                    if let Err(e) = session(stream, peer.ip(), app, stop).await {
                        tracing::debug!(error = %e, "smtp session ended");
                    }
                });
            }
        }
    }
}

async fn write(out: &mut tokio::net::tcp::OwnedWriteHalf, r: &Response) -> io::Result<()> {
    out.write_all(&r.buffer()?).await
}

async fn session(
    stream: TcpStream,
    ip: IpAddr,
    app: App,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let (read, mut out) = stream.into_split();
    let mut reader = BufReader::new(read);
    let collector = Collector::default();
    let mut smtp = SessionBuilder::new("leadline").build(ip, collector.clone());
    write(&mut out, &smtp.greeting()).await?;
    let by = Principal::system("email-to-lead");
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_EMAIL_BYTES as u64 + 2);
        let read = tokio::time::timeout(IDLE, limited.read_until(b'\n', &mut line));
        let n = tokio::select! {
            _ = shutdown.cancelled() => {
                out.write_all(b"421 4.3.2 shutting down\r\n").await?;
                return Ok(());
            }
            r = read => match r {
                Ok(r) => r?,
                Err(_) => {
                    out.write_all(b"421 4.4.2 idle too long\r\n").await?;
                    return Ok(());
                }
            }
        };
        if n == 0 {
            return Ok(());
        }
        let in_data = smtp_in_data(&collector);
        if !in_data && line.len() > MAX_LINE {
            out.write_all(b"500 5.5.2 line too long\r\n").await?;
            continue;
        }
        let response = smtp.process(&line);
        if let Some((data, too_large)) = collector.with(|i| i.complete.take()) {
            let reply = if too_large {
                format!("552 5.3.4 message larger than {MAX_EMAIL_BYTES} bytes\r\n")
            } else {
                match app.capture_email(&by, &data, Some(ip.to_string())).await {
                    Ok(Received::Lead(c)) => {
                        tracing::info!(lead_id = %c.lead.id, created = c.created, "email captured");
                        format!("250 2.0.0 accepted as lead {}\r\n", c.lead.id)
                    }
                    Ok(Received::Returned(r)) => {
                        format!("250 2.0.0 accepted ({})\r\n", r.outcome.replace('_', " "))
                    }
                    // Kept for review with the reason; the sender's server need not retry.
                    Err(AppError::Validation(_)) => "250 2.0.0 accepted for review\r\n".into(),
                    Err(e) => {
                        tracing::error!(error = %e, "email not stored");
                        "451 4.3.0 could not store the message; try again later\r\n".into()
                    }
                }
            };
            out.write_all(reply.as_bytes()).await?;
            continue;
        }
        match response.action {
            mailin::Action::NoReply => {}
            mailin::Action::Close => {
                write(&mut out, &response).await?;
                return Ok(());
            }
            // No STARTTLS is offered, so a client asking for it gets the state machine's
            // refusal like any other reply.
            mailin::Action::Reply | mailin::Action::UpgradeTls => {
                write(&mut out, &response).await?
            }
        }
    }
}

/// True while the client is sending message data (lines may then be long).
fn smtp_in_data(c: &Collector) -> bool {
    c.with(|i| i.in_data)
}
