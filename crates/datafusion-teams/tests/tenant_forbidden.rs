//! A 403 on the tenant-level `GET /teams` fails the query and names the permission to grant.
//! The simulator has no switch for it, so a minimal HTTP server plays Graph: it issues a token
//! and answers every Graph request with Graph's 403 body.

use datafusion::prelude::SessionContext;
use datafusion_teams::{TeamsConfig, register};
use graph_client::{GraphClient, GraphConfig, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn serve(listener: TcpListener) {
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
                (
                    "403 Forbidden",
                    r#"{"error":{"code":"Forbidden","message":"Missing role permissions on the request.","innerError":{"request-id":"r1","date":"2026-01-01T00:00:00"}}}"#,
                )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_team_listing_fails_with_the_permission() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener));
    let client = GraphClient::new(
        GraphConfig::new("tenant", "client", Secret::new("secret".to_string()))
            .with_graph_endpoint(url.clone())
            .with_authority_host(url),
    )
    .unwrap();
    let ctx = SessionContext::new();
    let handle = register(&ctx, TeamsConfig::new(client)).await.unwrap();
    for sql in [
        "SELECT * FROM teams.teams",
        "SELECT * FROM teams.channels",
        "SELECT id FROM teams.messages",
    ] {
        let err = ctx
            .sql(sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("Team.ReadBasic.All"), "{sql}: {err}");
        assert!(err.contains("GET /teams"), "{sql}: {err}");
    }
    assert_eq!(handle.skipped_children(), 0);
    server.abort();
}
