//! Servers that misbehave on purpose (issue 10): nextLink chains that loop
//! or never end, replies that trickle or never come, token endpoints that
//! echo the request body, garbled bodies. Each case failed before the fix
//! it names: the client looped, hung, leaked or gave up early.

mod common;
mod mini;

use std::time::{Duration, Instant};

use futures::StreamExt;
use graph_client::{EndpointClass, GraphClient, GraphError, GraphRequest, RetryPolicy, Scope};
use mini::{Action, MiniServer, json};

const TOKEN: &str = "mini.token.value-0123456789";
const SECRET: &str = "mini~secret+value/==";

fn assert_clean(text: &str) {
    assert!(!text.contains(TOKEN), "token leaked: {text}");
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    for encoded in [
        "mini%7Esecret",
        "mini%7esecret",
        "value%2F%3D%3D",
        "value\\/==",
    ] {
        assert!(!text.contains(encoded), "encoded secret leaked: {text}");
    }
}

/// Drains a page stream; returns the pages read and the error that ended it.
async fn drain(
    s: impl futures::Stream<Item = Result<graph_client::Page, GraphError>>,
) -> (usize, Option<GraphError>) {
    let mut s = std::pin::pin!(s);
    let mut pages = 0;
    while let Some(r) = s.next().await {
        match r {
            Ok(_) => pages += 1,
            Err(e) => return (pages, Some(e)),
        }
    }
    (pages, None)
}

#[tokio::test]
async fn a_two_link_cycle_is_stopped_before_any_page_repeats() {
    // A (the first request) -> B -> A: each page alone looks fine.
    let a_to_b = r#"{"value":[{"id":"1"}],"@odata.nextLink":"{base}/v1.0/teams?$skiptoken=B"}"#;
    let b_to_a = r#"{"value":[{"id":"2"}],"@odata.nextLink":"{base}/v1.0/teams"}"#;
    let server = MiniServer::start(
        vec![json(200, a_to_b), json(200, b_to_a)],
        // Were the loop followed, it would go on: A again, then B again...
        json(200, a_to_b),
    )
    .await;
    let client = GraphClient::new(server.config()).unwrap();
    let (pages, err) = drain(client.pages(GraphRequest::list_teams())).await;
    let err = err.expect("the loop ends with an error");
    assert_eq!(pages, 2);
    assert_eq!(server.graph_requests().len(), 2);
    assert!(matches!(err, GraphError::Paging { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("GET /teams") && msg.contains("already read"),
        "{msg}"
    );
    println!("cycle: {msg}");
}

#[tokio::test]
async fn a_cycle_among_followed_links_is_stopped_too() {
    // The connector walks replies@odata.nextLink chains with follow_pages.
    let link = |to: &str| {
        format!(
            r#"{{"value":[{{"id":"r"}}],"@odata.nextLink":"{{base}}/v1.0/teams/t/channels/c/messages/m/replies?$skiptoken={to}"}}"#
        )
    };
    let server = MiniServer::start(
        vec![json(200, &link("Q")), json(200, &link("P"))],
        json(200, &link("Q")),
    )
    .await;
    let client = GraphClient::new(server.config()).unwrap();
    let start = format!(
        "{}/v1.0/teams/t/channels/c/messages/m/replies?$skiptoken=P",
        server.url
    );
    let (pages, err) =
        drain(client.follow_pages(EndpointClass::RepliesList, Scope::channel("t", "c"), start))
            .await;
    assert_eq!(pages, 2);
    assert_eq!(server.graph_requests().len(), 2);
    let msg = err.expect("loop detected").to_string();
    assert!(
        msg.contains("/replies") && msg.contains("already read"),
        "{msg}"
    );
    // The replies are message pages: the Prefer header is kept on links.
    assert!(
        server.graph_requests()[1]
            .headers
            .iter()
            .any(|(k, v)| k == "prefer" && v.contains("include-unknown-enum-members"))
    );
}

#[tokio::test]
async fn endless_fresh_links_stop_at_the_page_cap() {
    let endless =
        r#"{"value":[{"id":"{n}"}],"@odata.nextLink":"{base}/v1.0/teams?$skiptoken={n}"}"#;
    let server = MiniServer::start(vec![], json(200, endless)).await;
    let client = GraphClient::new(server.config().with_max_pages(7)).unwrap();
    let (pages, err) = drain(client.pages(GraphRequest::list_teams())).await;
    assert_eq!(pages, 7);
    assert_eq!(server.graph_requests().len(), 7);
    let msg = err.expect("the cap ends the chain").to_string();
    assert!(
        msg.contains("GET /teams") && msg.contains("max_pages"),
        "{msg}"
    );
    assert!(msg.contains("after 7"), "{msg}");
}

#[test]
fn the_default_page_cap_and_deadline_are_documented_values() {
    let cfg = graph_client::GraphConfig::new("t", "c", graph_client::Secret::new("s"));
    assert_eq!(cfg.max_pages, graph_client::DEFAULT_MAX_PAGES);
    assert_eq!(cfg.max_pages, 100_000);
    assert_eq!(cfg.request_timeout, Duration::from_secs(100));
}

fn short_deadline(server: &MiniServer, attempts: u32) -> graph_client::GraphConfig {
    server
        .config()
        .with_request_timeout(Duration::from_millis(400))
        .with_retry(RetryPolicy {
            max_attempts: attempts,
            ..mini::fast_retry()
        })
}

#[tokio::test]
async fn a_trickling_reply_misses_the_deadline_and_is_retried_like_a_504() {
    // One byte every 100 ms of a 10,000-byte body: the read timeout (60 s
    // of silence) never fires, so before the deadline this took 1000 s.
    let trickle = Action::Trickle {
        len: 10_000,
        every: Duration::from_millis(100),
    };
    let server =
        MiniServer::start(vec![trickle.clone(), trickle], json(200, r#"{"value":[]}"#)).await;
    let client = GraphClient::new(short_deadline(&server, 4)).unwrap();
    let page = client.get_page(&GraphRequest::list_teams()).await.unwrap();
    assert!(page.is_empty());
    let s = client.stats();
    assert_eq!(s.total_requests, 3);
    assert_eq!(
        s.unavailable_5xx, 2,
        "a missed deadline counts as a 504: {s:?}"
    );
    assert_eq!(s.retries, 2);

    let server = MiniServer::start(
        vec![],
        Action::Trickle {
            len: 10_000,
            every: Duration::from_millis(100),
        },
    )
    .await;
    let client = GraphClient::new(short_deadline(&server, 3)).unwrap();
    let started = Instant::now();
    let err = client
        .get_page(&GraphRequest::list_teams())
        .await
        .unwrap_err();
    println!(
        "trickle, 3 attempts of 0.4 s: gave up after {:?}: {err}",
        started.elapsed()
    );
    assert!(
        matches!(err, GraphError::Deadline { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(504));
    let msg = err.to_string();
    assert!(msg.contains("deadline") && msg.contains("504"), "{msg}");
}

#[tokio::test]
async fn a_server_that_never_answers_misses_the_deadline() {
    let server = MiniServer::start(
        vec![],
        Action::Silent {
            hold: Duration::from_secs(30),
        },
    )
    .await;
    let client = GraphClient::new(short_deadline(&server, 2)).unwrap();
    let started = Instant::now();
    let err = client
        .get_page(&GraphRequest::list_teams())
        .await
        .unwrap_err();
    println!(
        "silent server, 2 attempts of 0.4 s: gave up after {:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, GraphError::Deadline { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(server.graph_requests().len(), 2);
}

#[tokio::test]
async fn a_silent_token_endpoint_misses_the_deadline() {
    let server = MiniServer::start_with_token_action(
        vec![],
        json(200, r#"{"value":[]}"#),
        Action::Silent {
            hold: Duration::from_secs(30),
        },
    )
    .await;
    let client = GraphClient::new(short_deadline(&server, 2)).unwrap();
    let err = client.sign_in().await.unwrap_err();
    assert!(matches!(err, GraphError::Auth { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("no complete answer within"), "{msg}");
    assert_eq!(*server.token_requests.lock().unwrap(), 2);
}

#[tokio::test]
async fn garbled_bodies_spend_the_same_budget_as_other_failures() {
    // Four garbled bodies and a cut one, then a good page: within a budget
    // of 6 attempts this succeeds (garbled bodies used to stop at 3).
    let cut = || Action::Truncate(r#"{"value":[{"id":"#.into());
    let garbled = || json(200, "<html>proxy error</html>");
    let script = vec![garbled(), garbled(), cut(), garbled(), garbled()];
    let server = MiniServer::start(script, json(200, r#"{"value":[{"id":"a"}]}"#)).await;
    let client = GraphClient::new(server.config()).unwrap();
    let page = client.get_page(&GraphRequest::list_teams()).await.unwrap();
    assert_eq!(page.len(), 1);
    let s = client.stats();
    assert_eq!(s.total_requests, 6);
    assert_eq!(s.retries, 5);

    // And the budget is one: garbled bodies mixed with 503s stop at it.
    let script = vec![garbled(), json(503, "{}"), cut(), garbled()];
    let server = MiniServer::start(script, json(200, r#"{"value":[]}"#)).await;
    let client = GraphClient::new(server.config().with_retry(RetryPolicy {
        max_attempts: 4,
        ..mini::fast_retry()
    }))
    .unwrap();
    let err = client
        .get_page(&GraphRequest::list_teams())
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Decode { .. }), "{err:?}");
    assert_eq!(server.graph_requests().len(), 4);
}

#[tokio::test]
async fn a_token_endpoint_echoing_the_request_body_never_shows_the_secret() {
    // The body we send carries the secret form-encoded (`~` -> `%7E`).
    for (status, reply) in [
        (
            400,
            r#"{"error":"invalid_request: could not parse {body}"}"#,
        ),
        (200, "<html>bad gateway for {body}</html>"),
        (503, r#"{"error":"temporarily_unavailable {body}"}"#),
    ] {
        let server = MiniServer::start_with_token(vec![], json(200, "{}"), status, reply).await;
        let client = GraphClient::new(server.config().with_retry(RetryPolicy {
            max_attempts: 2,
            ..mini::fast_retry()
        }))
        .unwrap();
        let err = client.sign_in().await.unwrap_err();
        // The echo really carried the encoded secret.
        let sent = server.seen.lock().unwrap()[0].body.clone();
        assert!(sent.contains("mini%7Esecret"), "{sent}");
        println!("{status}: {err}");
        assert_clean(&err.to_string());
        assert_clean(&format!("{err:?}"));
    }
}

#[tokio::test]
async fn graph_errors_echoing_encoded_secrets_are_scrubbed() {
    let spellings = [
        "mini%7Esecret%2Bvalue%2F%3D%3D",
        "mini%7esecret%2bvalue%2f%3d%3d",
        "mini~secret%2Bvalue%2F%3D%3D",
        "mini~secret+value\\/==",
    ];
    let script: Vec<Action> = spellings
        .iter()
        .map(|s| {
            json(
                400,
                &format!(r#"{{"error":{{"code":"BadRequest","message":"echo {s} end"}}}}"#),
            )
        })
        .collect();
    let server = MiniServer::start(script, json(500, "{}")).await;
    let client = GraphClient::new(server.config()).unwrap();
    for _ in spellings {
        let err = client
            .get_page(&GraphRequest::list_teams())
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("echo *** end"), "{msg}");
        assert_clean(&msg);
    }
}
