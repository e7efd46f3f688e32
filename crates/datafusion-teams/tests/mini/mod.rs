//! A minimal Graph stand-in for cases the simulator has no switch for: it issues a token and
//! answers every Graph request with what `respond` returns for the request's head.

use graph_client::{GraphClient, GraphConfig, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Status line and JSON body for a request head (request line and headers).
pub type Respond = fn(&str) -> (&'static str, &'static str);

/// Starts the server on a free loopback port; returns a client signed in against it and the
/// server task (abort it at the end of the test).
pub async fn start(respond: Respond) -> (GraphClient, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener, respond));
    let client = GraphClient::new(
        GraphConfig::new("tenant", "client", Secret::new("secret".to_string()))
            .with_graph_endpoint(url.clone())
            .with_authority_host(url),
    )
    .unwrap();
    (client, server)
}

async fn serve(listener: TcpListener, respond: Respond) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then as much body as Content-Length says.
            loop {
                let Ok(n) = sock.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            let (status, body) = if head.contains("/oauth2/v2.0/token") {
                (
                    "200 OK",
                    r#"{"token_type":"Bearer","expires_in":3599,"access_token":"test-token"}"#,
                )
            } else {
                respond(&head)
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}
