//! Transport-level behaviour against a scripted loopback server: resets,
//! truncated bodies, 503/504, Retry-After forms, 401 handling, what goes on
//! the wire (encoded ids, the token form), link following and stream drop.

mod common;
mod mini;

use std::time::Duration;

use futures::StreamExt;
use graph_client::{
    EndpointClass, GraphClient, GraphError, GraphRequest, RetryPolicy, Scope, odata,
};
use mini::{Action, MiniServer, json};

const PAGE: &str = r#"{"value":[{"id":"a"},{"id":"b"}]}"#;

#[tokio::test]
async fn resets_truncation_and_5xx_are_retried_and_counted() {
    let script = vec![
        Action::Reset,
        Action::Reset,
        Action::Respond(
            503,
            vec![("Retry-After".into(), "0.05".into())],
            "{}".into(),
        ),
        json(504, r#"{"error":{"code":"GatewayTimeout","message":"x"}}"#),
        Action::Truncate(r#"{"value":[{"id":"#.into()),
        json(200, PAGE),
    ];
    let server = MiniServer::start(script, json(500, "{}")).await;
    let client = GraphClient::new(server.config()).unwrap();
    let page = client.get_page(&GraphRequest::list_teams()).await.unwrap();
    assert_eq!(page.len(), 2);
    let s = client.stats();
    assert_eq!(s.total_requests, 6);
    assert_eq!(s.get(EndpointClass::TeamsList), 6);
    assert_eq!(s.transport_errors, 3, "{s:?}");
    assert_eq!(s.unavailable_5xx, 2);
    assert_eq!(s.retries, 5);
    assert_eq!(s.throttled_429, 0);
    assert_eq!(s.token_requests, 1);
    println!("stats after resets/5xx: {s:?}");
}

#[tokio::test]
async fn transport_failure_after_all_attempts_is_reported() {
    let server = MiniServer::start(vec![], Action::Reset).await;
    let cfg = server.config().with_retry(RetryPolicy {
        max_attempts: 3,
        ..mini::fast_retry()
    });
    let client = GraphClient::new(cfg).unwrap();
    let err = client
        .get_page(&GraphRequest::list_teams())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    let s = client.stats();
    assert_eq!(s.transport_errors, 3);
    assert_eq!(s.retries, 2);
    assert_eq!(
        s.throttle_wait,
        Duration::ZERO,
        "network backoff is not throttling"
    );
}

#[tokio::test]
async fn throttled_without_retry_after_gives_up_with_attempts_and_time() {
    let server = MiniServer::start(
        vec![],
        json(
            429,
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        ),
    )
    .await;
    let cfg = server.config().with_retry(RetryPolicy {
        max_attempts: 4,
        ..mini::fast_retry()
    });
    let client = GraphClient::new(cfg).unwrap();
    let err = client
        .get_page(&GraphRequest::list_channels("t"))
        .await
        .unwrap_err();
    match &err {
        GraphError::Throttled {
            attempts,
            last_status,
            ..
        } => {
            assert_eq!(*attempts, 4);
            assert_eq!(*last_status, 429);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string().contains("gave up after 4 attempts over"),
        "{err}"
    );
    let s = client.stats();
    assert_eq!(s.throttled_429, 4);
    assert_eq!(s.retries, 3);
}

#[tokio::test]
async fn retry_after_seconds_and_http_date_are_honoured() {
    // The date lies 1-2 s ahead (whole seconds); fast_retry's backoff is at
    // most 0.2 s, so a total wait above 1.15 s shows both values were used.
    let date = httpdate_in(Duration::from_secs(1));
    let script = vec![
        Action::Respond(429, vec![("Retry-After".into(), date)], "{}".into()),
        Action::Respond(
            429,
            vec![("Retry-After".into(), "0.25".into())],
            "{}".into(),
        ),
        json(200, PAGE),
    ];
    let server = MiniServer::start(script, json(500, "{}")).await;
    let client = GraphClient::new(server.config()).unwrap();
    client.get_page(&GraphRequest::list_teams()).await.unwrap();
    let s = client.stats();
    assert_eq!(s.throttled_429, 2);
    assert!(s.throttle_wait >= Duration::from_millis(1150), "{s:?}");
    assert!(s.throttle_wait <= Duration::from_millis(2300), "{s:?}");
}

/// An IMF-fixdate `d` from now, rounded up to the next whole second.
fn httpdate_in(d: Duration) -> String {
    let t =
        chrono::Utc::now() + chrono::Duration::from_std(d).unwrap() + chrono::Duration::seconds(1);
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn retry_after_beyond_budget_gives_up_at_once() {
    let server = MiniServer::start(
        vec![],
        Action::Respond(
            429,
            vec![("Retry-After".into(), "3600".into())],
            "{}".into(),
        ),
    )
    .await;
    let client = GraphClient::new(server.config()).unwrap();
    let err = client
        .get_page(&GraphRequest::list_teams())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Throttled { attempts: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn ids_with_special_characters_are_one_path_segment() {
    let team = "team/../x?y=1#frag";
    let channel = "19:abc@thread.tacv2";
    let message = "100%25 /?#:@&=+";
    let server = MiniServer::start(vec![], json(200, r#"{"id":"m"}"#)).await;
    let client = GraphClient::new(server.config()).unwrap();
    client
        .get_page(&GraphRequest::get_message(team, channel, message))
        .await
        .unwrap();
    let evil = odata::Filter::eq_str("displayName", "x' or true or 'a&$top=1#").unwrap();
    client
        .get_page(&GraphRequest::list_teams().filter(evil).top(5))
        .await
        .unwrap_err(); // the canned single object is not a collection
    let seen = server.graph_requests();
    let target = &seen[0].target;
    let path = target.split('?').next().unwrap();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    assert_eq!(segments.len(), 7, "{target}");
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .unwrap()
            .to_string()
    };
    assert_eq!(segments[0], "v1.0");
    assert_eq!(decode(segments[2]), team);
    assert_eq!(decode(segments[4]), channel);
    assert_eq!(decode(segments[6]), message);
    assert!(!target.contains('#') && !target.contains('?'), "{target}");

    let query_target = &seen[1].target;
    let url = url::Url::parse(&format!("http://x{query_target}")).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert_eq!(pairs[0].0, "$filter");
    assert_eq!(pairs[0].1, "displayName eq 'x'' or true or ''a&$top=1#'");
    assert_eq!(pairs[1], ("$top".to_string(), "5".to_string()));
}

#[tokio::test]
async fn dot_segment_ids_are_refused_before_sending() {
    let server = MiniServer::start(vec![], json(200, PAGE)).await;
    let client = GraphClient::new(server.config()).unwrap();
    let err = client
        .get_page(&GraphRequest::list_channels(".."))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::InvalidId { .. }), "{err:?}");
    assert!(server.graph_requests().is_empty());
}

#[tokio::test]
async fn token_request_is_form_encoded_and_bearer_is_sent() {
    let server = MiniServer::start(vec![], json(200, PAGE)).await;
    let client = GraphClient::new(server.config()).unwrap();
    client
        .get_page(&GraphRequest::list_messages("t", "c").prefer_include_unknown_enum_members())
        .await
        .unwrap();
    let seen = server.seen.lock().unwrap().clone();
    let token = seen.iter().find(|s| s.method == "POST").unwrap();
    assert_eq!(token.target, "/tenant-1/oauth2/v2.0/token");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(token.body.as_bytes())
        .into_owned()
        .collect();
    assert!(form.contains(&("client_secret".into(), "mini~secret+value/==".into())));
    assert!(form.contains(&("grant_type".into(), "client_credentials".into())));
    assert!(form.contains(&(
        "scope".into(),
        "https://graph.microsoft.com/.default".into()
    )));
    // The raw body carries the secret URL-encoded ('+' and '/' and '=' escaped).
    assert!(
        token
            .body
            .contains("client_secret=mini%7Esecret%2Bvalue%2F%3D%3D"),
        "{}",
        token.body
    );
    let get = seen.iter().find(|s| s.method == "GET").unwrap();
    let header = |name: &str| {
        get.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        header("authorization"),
        "Bearer mini.token.value-0123456789"
    );
    assert_eq!(header("prefer"), "include-unknown-enum-members");
    assert!(header("accept-encoding").contains("gzip"));
}

#[tokio::test]
async fn persistent_401_refreshes_once_then_reports() {
    let server = MiniServer::start(
        vec![],
        json(
            401,
            r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token validation failure."}}"#,
        ),
    )
    .await;
    let client = GraphClient::new(server.config()).unwrap();
    let err = client
        .get_page(&GraphRequest::list_members("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("known issue"), "{err}");
    assert_eq!(*server.token_requests.lock().unwrap(), 2);
    assert_eq!(server.graph_requests().len(), 2);
    assert_eq!(client.stats().unauthorized_401, 2);
}

#[tokio::test]
async fn next_links_are_followed_whole_and_foreign_hosts_refused() {
    let first =
        r#"{"value":[{"id":"1"}],"@odata.nextLink":"{base}/v1.0/teams?$skiptoken=abc%3D&$top=1"}"#;
    // Graph's own host is rewritten to the configured endpoint (proxy case).
    let second = r#"{"value":[],"@odata.nextLink":"https://graph.microsoft.com/v1.0/teams('x')/channels/getallMessages?$skiptoken=p2&$filter=a+gt+b%3a1"}"#;
    let third = r#"{"value":[{"id":"3"}],"@odata.nextLink":"https://evil.example/v1.0/steal"}"#;
    let script = vec![json(200, first), json(200, second), json(200, third)];
    let server = MiniServer::start(script, json(500, "{}")).await;
    let client = GraphClient::new(server.config()).unwrap();
    let pages: Vec<_> = client.pages(GraphRequest::list_teams()).collect().await;
    assert_eq!(pages.len(), 4);
    assert!(pages[0].is_ok() && pages[1].is_ok() && pages[2].is_ok());
    assert!(pages[1].as_ref().unwrap().is_empty());
    assert!(matches!(pages[3], Err(GraphError::ForeignLink { .. })));
    let seen = server.graph_requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].target, "/v1.0/teams?$skiptoken=abc%3D&$top=1");
    assert_eq!(
        seen[2].target,
        "/v1.0/teams('x')/channels/getallMessages?$skiptoken=p2&$filter=a+gt+b%3a1"
    );
}

#[tokio::test]
async fn dropping_a_stream_stops_requests() {
    let endless =
        r#"{"value":[{"id":"x"}],"@odata.nextLink":"{base}/v1.0/teams?$skiptoken=more{n}"}"#;
    let server = MiniServer::start(vec![], json(200, endless)).await;
    let client = GraphClient::new(server.config()).unwrap();
    let mut items = Box::pin(client.items(GraphRequest::list_teams()));
    for _ in 0..3 {
        items.next().await.unwrap().unwrap();
    }
    drop(items);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.graph_requests().len(), 3);
    assert_eq!(client.stats().total_requests, 3);
}

#[tokio::test]
async fn follow_uses_given_class_and_scope() {
    let server = MiniServer::start(vec![], json(200, PAGE)).await;
    let client = GraphClient::new(server.config()).unwrap();
    let link = format!(
        "{}/v1.0/teams/t/channels/c/messages/m/replies?$skiptoken=2",
        server.url
    );
    let page = client
        .follow(EndpointClass::RepliesList, Scope::channel("t", "c"), &link)
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(client.stats().get(EndpointClass::RepliesList), 1);
}

#[tokio::test]
async fn next_pages_keep_the_original_prefer_header() {
    let first = r#"{"value":[{"id":"1"}],"@odata.nextLink":"{base}/v1.0/teams/t/channels/c/messages?$skiptoken=2"}"#;
    let script = vec![
        json(200, first),
        json(200, PAGE),
        json(200, first),
        json(200, PAGE),
    ];
    let server = MiniServer::start(script, json(500, "{}")).await;
    let client = GraphClient::new(server.config()).unwrap();
    let with = GraphRequest::list_messages("t", "c").prefer_include_unknown_enum_members();
    let n: usize = client.items(with).map(|r| r.unwrap()).count().await;
    assert_eq!(n, 3);
    let n: usize = client
        .items(GraphRequest::list_messages("t", "c"))
        .map(|r| r.unwrap())
        .count()
        .await;
    assert_eq!(n, 3);
    let prefer: Vec<Option<String>> = server
        .graph_requests()
        .iter()
        .map(|s| {
            s.headers
                .iter()
                .find(|(k, _)| k == "prefer")
                .map(|(_, v)| v.clone())
        })
        .collect();
    let p = Some("include-unknown-enum-members".to_string());
    assert_eq!(prefer, vec![p.clone(), p, None, None]);
}

#[tokio::test]
async fn expired_delta_state_asks_for_a_full_sync() {
    let script = vec![
        Action::Respond(
            410,
            vec![(
                "Location".into(),
                "{base}/v1.0/teams/t/channels/c/messages/delta".into(),
            )],
            r#"{"error":{"code":"Gone","message":"gone"}}"#.into(),
        ),
        json(
            400,
            r#"{"error":{"code":"syncStateNotFound","message":"The sync state is not found"}}"#,
        ),
        json(
            400,
            r#"{"error":{"code":"resyncRequired","message":"Resync required"}}"#,
        ),
        json(
            400,
            r#"{"error":{"code":"BadRequest","message":"Parameter 'DeltaToken' not supported for this request."}}"#,
        ),
    ];
    let server = MiniServer::start(script, json(500, "{}")).await;
    let client = GraphClient::new(server.config()).unwrap();
    let link = format!(
        "{}/v1.0/teams/t/channels/c/messages/delta?$deltatoken=x",
        server.url
    );
    let follow = || async {
        client
            .follow(
                EndpointClass::MessagesDelta,
                Scope::channel("t", "c"),
                &link,
            )
            .await
            .unwrap_err()
    };
    for _ in 0..3 {
        let err = follow().await;
        assert!(matches!(err, GraphError::ResyncRequired { .. }), "{err:?}");
        assert!(err.to_string().contains("full sync"), "{err}");
    }
    let err = follow().await;
    assert!(
        matches!(err, GraphError::DeltaUnsupported { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn config_errors_are_reported_before_any_request() {
    let server = MiniServer::start(vec![], json(200, PAGE)).await;
    let err = GraphClient::new(
        server
            .config()
            .with_graph_endpoint("http://graph.example.com"),
    )
    .unwrap_err();
    assert!(matches!(err, GraphError::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("https://"), "{err}");
    let err =
        GraphClient::new(server.config().with_authority_host("http://10.1.2.3:8080")).unwrap_err();
    assert!(matches!(err, GraphError::Config { .. }), "{err:?}");
    assert!(server.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_next_link_that_repeats_itself_ends_the_stream() {
    let looping = r#"{"value":[{"id":"x"}],"@odata.nextLink":"{base}/v1.0/teams?$skiptoken=same"}"#;
    let server = MiniServer::start(vec![], json(200, looping)).await;
    let client = GraphClient::new(server.config()).unwrap();
    let pages: Vec<_> = client.pages(GraphRequest::list_teams()).collect().await;
    // First page, the page at the link, then the error: it repeated itself.
    assert_eq!(pages.len(), 3);
    assert!(
        matches!(pages[2], Err(GraphError::Paging { .. })),
        "{:?}",
        pages[2]
    );
    assert_eq!(server.graph_requests().len(), 2);
}
