//! A tiny scripted HTTP server for transport-level cases the simulator
//! cannot produce on demand (resets, truncation, exact wire checks).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graph_client::{GraphConfig, Secret, ThrottleLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub use crate::common::fast_retry;

/// What the scripted server does with one Graph request.
#[derive(Clone, Debug)]
pub enum Action {
    /// Status, extra headers, body.
    Respond(u16, Vec<(String, String)>, String),
    /// Close the connection with a TCP reset before answering.
    Reset,
    /// Send headers announcing a longer body than is sent, then close.
    Truncate(String),
    /// Send a 200 with headers announcing `len` bytes, then one byte every
    /// `every`, never finishing within a test's deadline (gives up after
    /// `len` bytes).
    Trickle { len: usize, every: Duration },
    /// Read the request and never answer; the connection is dropped after
    /// `hold` so the server task ends.
    Silent { hold: Duration },
}

pub fn json(status: u16, body: &str) -> Action {
    Action::Respond(status, vec![], body.to_string())
}

/// A recorded request: the request line and the headers.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A one-connection-per-request HTTP/1.1 server on 127.0.0.1:0. Token
/// requests (POST .../oauth2/v2.0/token) get a token from `token_reply`;
/// every other request takes the next scripted action (or `fallback`).
/// `{base}` in a response body is replaced by the server's own URL, `{n}`
/// by the number of requests seen so far, and `{body}` by the body of the
/// request being answered (an echoing server).
pub struct MiniServer {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub token_requests: Arc<Mutex<u32>>,
}

impl MiniServer {
    pub async fn start(script: Vec<Action>, fallback: Action) -> MiniServer {
        Self::start_with_token(
            script,
            fallback,
            200,
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"mini.token.value-0123456789"}"#,
        )
        .await
    }

    pub async fn start_with_token(
        script: Vec<Action>,
        fallback: Action,
        token_status: u16,
        token_reply: &str,
    ) -> MiniServer {
        Self::start_with_token_action(
            script,
            fallback,
            Action::Respond(token_status, vec![], token_reply.to_string()),
        )
        .await
    }

    /// Like `start`, with the token endpoint doing `token` on every request.
    pub async fn start_with_token_action(
        script: Vec<Action>,
        fallback: Action,
        token: Action,
    ) -> MiniServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let token_requests = Arc::new(Mutex::new(0));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        {
            let seen = seen.clone();
            let token_requests = token_requests.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((sock, _)) = listener.accept().await else {
                        return;
                    };
                    let seen = seen.clone();
                    let script = script.clone();
                    let fallback = fallback.clone();
                    let token_requests = token_requests.clone();
                    let token_reply = token.clone();
                    let base = format!("http://{addr}");
                    tokio::spawn(async move {
                        serve(
                            sock,
                            seen,
                            script,
                            fallback,
                            token_requests,
                            token_reply,
                            base,
                        )
                        .await;
                    });
                }
            });
        }
        MiniServer {
            url: format!("http://{addr}"),
            seen,
            token_requests,
        }
    }

    pub fn config(&self) -> GraphConfig {
        GraphConfig::new("tenant-1", "client-1", Secret::new("mini~secret+value/=="))
            .with_graph_endpoint(self.url.clone())
            .with_authority_host(self.url.clone())
            .with_limits(ThrottleLimits::unlimited())
            .with_retry(fast_retry())
    }

    pub fn graph_requests(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| !s.target.contains("/oauth2/"))
            .cloned()
            .collect()
    }
}

async fn serve(
    mut sock: TcpStream,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Action>>>,
    fallback: Action,
    token_requests: Arc<Mutex<u32>>,
    token_reply: Action,
    base: String,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        target: target.clone(),
        headers,
        body,
    });
    let request_body = seen
        .lock()
        .unwrap()
        .last()
        .map(|s| s.body.clone())
        .unwrap_or_default();
    let action = if method == "POST" && target.contains("/oauth2/v2.0/token") {
        *token_requests.lock().unwrap() += 1;
        token_reply
    } else {
        script.lock().unwrap().pop_front().unwrap_or(fallback)
    };
    match action {
        Action::Respond(status, extra, body) => {
            let n = seen.lock().unwrap().len().to_string();
            let body = body
                .replace("{base}", &base)
                .replace("{n}", &n)
                .replace("{body}", &request_body);
            let mut resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in extra {
                resp.push_str(&format!("{k}: {v}\r\n"));
            }
            resp.push_str("\r\n");
            resp.push_str(&body);
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
        Action::Reset => {
            // Linger 0 makes the close a TCP reset; nothing is left to flush,
            // so the deprecation warning (blocking on drop) does not apply.
            #[allow(deprecated)]
            let _ = sock.set_linger(Some(Duration::ZERO));
            drop(sock);
        }
        Action::Truncate(body) => {
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len() + 100,
                body
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            // Linger 0 makes the close a TCP reset; nothing is left to flush,
            // so the deprecation warning (blocking on drop) does not apply.
            #[allow(deprecated)]
            let _ = sock.set_linger(Some(Duration::ZERO));
            drop(sock);
        }
        Action::Trickle { len, every } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            );
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for _ in 0..len {
                if sock.write_all(b" ").await.is_err() || sock.flush().await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        }
        Action::Silent { hold } => {
            tokio::time::sleep(hold).await;
        }
    }
}
