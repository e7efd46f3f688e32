//! No secret or token in any error, Debug or Display string, even when a
//! server echoes them back.

mod common;
mod mini;

use graph_client::{GraphClient, GraphRequest, RetryPolicy, Secret};
use mini::{Action, MiniServer, json};

const TOKEN: &str = "mini.token.value-0123456789";
const SECRET: &str = "mini~secret+value/==";

fn assert_clean(text: &str) {
    assert!(!text.contains(TOKEN), "token leaked: {text}");
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    // The URL-encoded form of the secret must not appear either.
    assert!(
        !text.contains("mini%7Esecret"),
        "encoded secret leaked: {text}"
    );
}

#[tokio::test]
async fn debug_of_config_client_and_secret_hides_values() {
    let server = MiniServer::start(vec![], json(200, r#"{"value":[]}"#)).await;
    let cfg = server.config();
    assert_clean(&format!("{cfg:?}"));
    let client = GraphClient::new(cfg).unwrap();
    client.sign_in().await.unwrap();
    assert_clean(&format!("{client:?}"));
    assert_clean(&format!("{:?}", client.identity()));
    assert_clean(&client.identity().to_string());
    assert_clean(&format!("{:?}", Secret::new(SECRET)));
    assert_clean(&Secret::new(SECRET).to_string());
}

#[tokio::test]
async fn echoed_credentials_are_scrubbed_from_errors() {
    let echo = format!(
        r#"{{"error":{{"code":"BadRequest","message":"you sent Bearer {TOKEN} and {SECRET}"}}}}"#
    );
    let garbage = format!("<html>token {TOKEN} secret {SECRET}</html>");
    let script = vec![
        json(400, &echo),
        json(403, &echo),
        json(200, &garbage),
        json(200, &garbage),
        json(200, &garbage),
        json(200, &garbage),
        json(200, &garbage),
        json(418, &garbage),
    ];
    let server = MiniServer::start(script, json(500, "{}")).await;
    let cfg = server.config().with_retry(RetryPolicy {
        max_attempts: 5,
        ..mini::fast_retry()
    });
    let client = GraphClient::new(cfg).unwrap();
    let mut errors = Vec::new();
    // The third request meets five garbled 200s: decode errors spend the
    // retry budget of 5 attempts like any transient failure, then are reported.
    for req in [
        GraphRequest::list_teams(),
        GraphRequest::list_channels("t"),
        GraphRequest::list_teams(),
        GraphRequest::list_teams(),
    ] {
        errors.push(client.get_page(&req).await.unwrap_err());
    }
    assert_eq!(errors.len(), 4);
    assert!(
        matches!(errors[2], graph_client::GraphError::Decode { .. }),
        "{:?}",
        errors[2]
    );
    for e in &errors {
        let (display, debug) = (e.to_string(), format!("{e:?}"));
        assert_clean(&display);
        assert_clean(&debug);
        assert!(
            display.contains("***")
                || matches!(e, graph_client::GraphError::Forbidden { .. })
                || display.contains("418"),
            "{display}"
        );
    }
}

#[tokio::test]
async fn token_endpoint_echo_is_scrubbed() {
    let reply = format!(
        r#"{{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided: {SECRET}","error_codes":[7000215]}}"#
    );
    let server = MiniServer::start_with_token(vec![], json(200, "{}"), 400, &reply).await;
    let client = GraphClient::new(server.config()).unwrap();
    let err = client.sign_in().await.unwrap_err();
    assert_clean(&err.to_string());
    assert_clean(&format!("{err:?}"));
    assert!(err.to_string().contains("client secret is wrong"), "{err}");
}

#[tokio::test]
async fn transport_errors_do_not_leak() {
    let server = MiniServer::start(vec![], Action::Reset).await;
    let client = GraphClient::new(server.config().with_retry(RetryPolicy {
        max_attempts: 2,
        ..mini::fast_retry()
    }))
    .unwrap();
    let err = client
        .get_page(&GraphRequest::list_teams())
        .await
        .unwrap_err();
    assert_clean(&err.to_string());
    assert_clean(&format!("{err:?}"));
}
