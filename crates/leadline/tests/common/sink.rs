//! A minimal SMTP server for tests: a real SMTP conversation over TCP, every message kept.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A minimal SMTP server: records every message; answers RCPT with `rcpt_reply`.
#[derive(Clone)]
pub struct Sink {
    pub messages: Arc<Mutex<Vec<String>>>,
    pub rcpt_reply: Arc<Mutex<String>>,
}

impl Sink {
    /// Listens on 127.0.0.1 (a free port).
    pub async fn start() -> (Sink, u16) {
        let sink = Sink {
            messages: Arc::default(),
            rcpt_reply: Arc::new(Mutex::new("250 OK".into())),
        };
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let s = sink.clone();
        tokio::spawn(async move {
            loop {
                let (sock, _) = l.accept().await.unwrap();
                tokio::spawn(s.clone().session(sock));
            }
        });
        (sink, port)
    }

    async fn session(self, sock: tokio::net::TcpStream) {
        let (r, mut w) = sock.into_split();
        let mut lines = BufReader::new(r).lines();
        w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            let cmd = line.to_ascii_uppercase();
            let reply = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                "250-sink\r\n250 8BITMIME".to_owned()
            } else if cmd.starts_with("RCPT") {
                self.rcpt_reply.lock().unwrap().clone()
            } else if cmd.starts_with("DATA") {
                w.write_all(b"354 go on\r\n").await.unwrap();
                let mut msg = String::new();
                let mut complete = false;
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        complete = true;
                        break;
                    }
                    msg.push_str(&l);
                    msg.push('\n');
                }
                // A message cut off before its final dot was never accepted.
                if !complete {
                    return;
                }
                self.messages.lock().unwrap().push(msg);
                "250 queued".to_owned()
            } else if cmd.starts_with("QUIT") {
                let _ = w.write_all(b"221 bye\r\n").await;
                return;
            } else {
                "250 OK".to_owned()
            };
            if w.write_all(format!("{reply}\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// Every message received so far.
    pub fn got(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}
