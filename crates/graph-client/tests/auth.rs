//! Sign-in against the simulator: one token for many concurrent requests,
//! proactive refresh, 401 -> refresh -> success, and the AADSTS messages.

mod common;
mod simutil;

use std::time::Duration;

use graph_client::{GraphClient, GraphError, GraphRequest, Secret};
use graph_sim::SimConfig;

#[tokio::test]
async fn hundred_concurrent_requests_cause_one_token_request() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let client = simutil::sim_client(&server);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.get_page(&GraphRequest::list_teams()).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let sim = server.sim().counters();
    let s = client.stats();
    println!(
        "token requests: sim {} client {}",
        sim.token_requests, s.token_requests
    );
    assert_eq!(sim.token_requests, 1);
    assert_eq!(s.token_requests, 1);
    assert_eq!(s.total_requests, 100);
    assert_eq!(sim.get("teams_list"), 100);
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    // 3 s lifetime: refreshed after 2.7 s (10 % margin), never used expired.
    let cfg = SimConfig {
        token_lifetime: Duration::from_secs(3),
        ..SimConfig::for_tests()
    };
    let server = graph_sim::start(cfg).await.unwrap();
    let client = simutil::sim_client(&server);
    let until = tokio::time::Instant::now() + Duration::from_millis(3300);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while tokio::time::Instant::now() < until {
                    c.get_page(&GraphRequest::list_teams()).await.unwrap();
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let s = client.stats();
    println!(
        "{total} requests over 3.3 s, token requests {}, 401s {}",
        s.token_requests, s.unauthorized_401
    );
    assert!(total > 100);
    assert_eq!(s.token_requests, 2);
    assert_eq!(server.sim().counters().token_requests, 2);
    assert_eq!(
        s.unauthorized_401, 0,
        "a request went out with an expired token"
    );
}

#[tokio::test]
async fn token_expired_on_the_server_is_refreshed_once_and_retried() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let client = simutil::sim_client(&server);
    client.get_page(&GraphRequest::list_teams()).await.unwrap();
    // The simulator's clock ages its tokens; ours still thinks the token is fresh.
    server.sim().advance(chrono::Duration::hours(2));
    let page = client.get_page(&GraphRequest::list_teams()).await.unwrap();
    assert!(!page.is_empty());
    let s = client.stats();
    assert_eq!(s.unauthorized_401, 1);
    assert_eq!(s.token_requests, 2);
    assert_eq!(s.retries, 1);
    assert_eq!(server.sim().counters().token_requests, 2);
}

#[tokio::test]
async fn concurrent_requests_with_a_wrong_secret_cause_one_sign_in() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let client = GraphClient::new(graph_client::GraphConfig {
        client_secret: Secret::new("wrong-secret-value"),
        ..simutil::sim_config(&server)
    })
    .unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.get_page(&GraphRequest::list_teams()).await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(
            matches!(
                err,
                GraphError::Auth {
                    code: Some(7000215),
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert_eq!(server.sim().counters().token_requests, 1);
    assert_eq!(server.sim().counters().total(), 0);
}

async fn sign_in_error(
    sim_cfg: SimConfig,
    tweak: impl Fn(graph_client::GraphConfig) -> graph_client::GraphConfig,
) -> (GraphError, u64) {
    let server = graph_sim::start(sim_cfg).await.unwrap();
    let client = GraphClient::new(tweak(simutil::sim_config(&server))).unwrap();
    let err = client
        .get_page(&GraphRequest::list_teams())
        .await
        .unwrap_err();
    (err, server.sim().counters().token_requests)
}

type Tweak = Box<dyn Fn(graph_client::GraphConfig) -> graph_client::GraphConfig>;

#[tokio::test]
async fn aadsts_codes_give_actionable_messages() {
    let base = SimConfig::for_tests;
    let cases: Vec<(&str, SimConfig, Tweak, u32, &str)> = vec![
        (
            "wrong secret",
            base(),
            Box::new(|c| graph_client::GraphConfig {
                client_secret: Secret::new("not-the-secret~x"),
                ..c
            }),
            7000215,
            "client secret is wrong",
        ),
        (
            "expired secret",
            SimConfig {
                secret_expired: true,
                ..base()
            },
            Box::new(|c| c),
            7000222,
            "client secret has expired: create a new one under Certificates & secrets",
        ),
        (
            "unknown app",
            base(),
            Box::new(|c| graph_client::GraphConfig {
                client_id: "11111111-2222-3333-4444-555555555555".into(),
                ..c
            }),
            700016,
            "app not found in this tenant: check AZURE_CLIENT_ID and that admin consent was granted",
        ),
        (
            "unknown tenant",
            base(),
            Box::new(|c| graph_client::GraphConfig {
                tenant_id: "contoso.onmicrosoft.example".into(),
                ..c
            }),
            90002,
            "tenant not found: check AZURE_TENANT_ID and the cloud",
        ),
        (
            "bad scope",
            base(),
            Box::new(|c| c.with_scope("https://graph.microsoft.us/.default")),
            70011,
            "scope is invalid",
        ),
    ];
    for (name, sim_cfg, tweak, code, text) in cases {
        let (err, token_requests) = sign_in_error(sim_cfg, tweak).await;
        let msg = err.to_string();
        println!("{name}: {msg}");
        match &err {
            GraphError::Auth { code: got, .. } => assert_eq!(*got, Some(code), "{name}"),
            other => panic!("{name}: unexpected {other:?}"),
        }
        assert!(msg.contains(text), "{name}: {msg}");
        assert!(msg.contains(&format!("AADSTS{code}")), "{name}: {msg}");
        // Permanent errors are not retried.
        assert_eq!(token_requests, 1, "{name}");
        for shown in [msg, format!("{err:?}")] {
            assert!(
                !shown.contains(graph_sim::DEFAULT_CLIENT_SECRET),
                "{name}: {shown}"
            );
            assert!(!shown.contains("not-the-secret"), "{name}: {shown}");
        }
    }
}
