//! A Graph stand-in that misbehaves on purpose, for end-to-end checks of the binary against
//! what the simulator never does: looping or endless nextLinks, replies that trickle, a token
//! endpoint that echoes the request. Plain threads, one per connection, on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does with one request.
pub enum Reply {
    /// Status and body; `{base}` becomes the server's URL, `{body}` the request's body.
    Json(u16, String),
    /// A 200 announcing `len` bytes, then one byte every `every` (stops after `len` bytes or
    /// when the client hangs up).
    Trickle { len: usize, every: Duration },
}

type Handler = dyn Fn(&str, &str, usize) -> Reply + Send + Sync;

pub struct Hostile {
    pub url: String,
    /// Graph requests (token requests not counted).
    pub graph_requests: Arc<AtomicUsize>,
    pub bodies: Arc<Mutex<Vec<String>>>,
}

pub const TOKEN_OK: &str =
    r#"{"token_type":"Bearer","expires_in":3599,"access_token":"hostile.token.value-0123456789"}"#;

impl Hostile {
    /// `handler(method, target, n)` answers every request; `n` counts Graph requests from 1.
    /// Token requests (`POST .../oauth2/v2.0/token`) get `token(body)`.
    pub fn start(
        token: impl Fn(&str) -> Reply + Send + Sync + 'static,
        handler: impl Fn(&str, &str, usize) -> Reply + Send + Sync + 'static,
    ) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let graph_requests = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let token: Arc<dyn Fn(&str) -> Reply + Send + Sync> = Arc::new(token);
        {
            let (url, count, bodies) = (url.clone(), graph_requests.clone(), bodies.clone());
            std::thread::spawn(move || {
                for sock in listener.incoming().flatten() {
                    let (url, count, bodies) = (url.clone(), count.clone(), bodies.clone());
                    let (handler, token) = (handler.clone(), token.clone());
                    std::thread::spawn(move || {
                        serve(sock, &url, &count, &bodies, &*handler, &*token)
                    });
                }
            });
        }
        Hostile {
            url,
            graph_requests,
            bodies,
        }
    }

    pub fn requests(&self) -> usize {
        self.graph_requests.load(Ordering::SeqCst)
    }
}

fn serve(
    mut sock: TcpStream,
    base: &str,
    count: &AtomicUsize,
    bodies: &Mutex<Vec<String>>,
    handler: &Handler,
    token: &(dyn Fn(&str) -> Reply + Send + Sync),
) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut parts = head.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let len: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
    bodies.lock().unwrap().push(body.clone());
    let reply = if method == "POST" && target.contains("/oauth2/v2.0/token") {
        token(&body)
    } else {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        handler(&method, &target, n)
    };
    match reply {
        Reply::Json(status, text) => {
            let text = text.replace("{base}", base).replace("{body}", &body);
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = sock.write_all(resp.as_bytes());
        }
        Reply::Trickle { len, every } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            );
            if sock.write_all(head.as_bytes()).is_err() {
                return;
            }
            for _ in 0..len {
                if sock.write_all(b" ").and_then(|_| sock.flush()).is_err() {
                    return;
                }
                std::thread::sleep(every);
            }
        }
    }
}
