//! List items Graph returns without an `id` cannot be keyed: they are left out and reported,
//! never emitted as rows with a NULL key. The simulator always sends ids, so a minimal HTTP
//! server plays Graph here.

use datafusion::arrow::array::{Array, AsArray};
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
            } else if head.contains("/channels") {
                (
                    "200 OK",
                    r#"{"value":[{"id":"c1","displayName":"General"},{"displayName":"No key"},{"id":"","displayName":"Empty key"}]}"#,
                )
            } else {
                (
                    "200 OK",
                    r#"{"value":[{"id":"t1","displayName":"Keyed"},{"displayName":"Keyless","visibility":"public"}]}"#,
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
async fn items_without_an_id_are_left_out_and_reported() {
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
    // Listing channels lists the teams first: the keyless team is reported there too.
    for (sql, expected, causes) in [
        ("SELECT id, display_name FROM teams.teams", vec!["t1"], 1),
        ("SELECT id, team_id FROM teams.channels", vec!["c1"], 2),
    ] {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let ids: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let col = b.column(0).as_string::<i32>().clone();
                (0..col.len())
                    .map(move |i| {
                        assert!(!col.is_null(i), "{sql}: a NULL key");
                        col.value(i).to_string()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(ids, expected, "{sql}");
        let report = handle.take_report();
        assert!(!report.is_partial());
        let lines = report.lines();
        assert_eq!(lines.len(), causes, "{sql}: {lines:?}");
        assert!(
            lines.iter().all(|l| l.contains("without an id")),
            "{lines:?}"
        );
    }
    server.abort();
}
