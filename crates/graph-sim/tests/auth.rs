//! Token endpoint (AADSTS error bodies) and bearer checks (401 Graph error bodies).

mod common;

use common::Env;
use graph_sim::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, SimConfig};
use serde_json::Value;

async fn token_call(base: &str, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap())
}

fn form<'a>(client: &'a str, secret: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

fn assert_aadsts(v: &Value, code: u64, error: &str) {
    assert_eq!(v["error"], error, "{v}");
    assert_eq!(v["error_codes"], serde_json::json!([code]), "{v}");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}:")),
        "{v}"
    );
    for k in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(v[k].is_string(), "missing {k} in {v}");
    }
}

const SCOPE: &str = "https://graph.microsoft.com/.default";

#[tokio::test]
async fn token_success_form_basic_and_own_scope() {
    let cfg = SimConfig {
        token_lifetime: std::time::Duration::from_secs(600),
        ..SimConfig::for_tests()
    };
    let server = graph_sim::start(cfg).await.unwrap();
    let base = server.authority_url();
    let (s, v) = token_call(
        &base,
        DEFAULT_TENANT_ID,
        &form(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SCOPE),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 600);
    assert!(v["access_token"].as_str().unwrap().len() > 20);

    let own = format!("{}/.default", server.graph_url());
    let (s, _) = token_call(
        &base,
        DEFAULT_TENANT_ID,
        &form(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, &own),
    )
    .await;
    assert_eq!(s, 200);

    // HTTP Basic: base64 of "id:secret" (RFC 6749 2.3.1).
    let resp = reqwest::Client::new()
        .post(format!("{base}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"))
        .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.sim().counters().token_requests, 3);
    assert_eq!(
        server.sim().counters().total(),
        0,
        "token calls are not Graph calls"
    );
}

#[tokio::test]
async fn token_errors_have_documented_aadsts_bodies() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    let base = server.authority_url();
    let (s, v) = token_call(
        &base,
        "00000000-0000-0000-0000-000000000000",
        &form(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SCOPE),
    )
    .await;
    assert_eq!(s, 400);
    assert_aadsts(&v, 90002, "invalid_request");
    let (s, v) = token_call(
        &base,
        DEFAULT_TENANT_ID,
        &form(
            "11111111-2222-3333-4444-555555555555",
            DEFAULT_CLIENT_SECRET,
            SCOPE,
        ),
    )
    .await;
    assert_eq!(s, 400);
    assert_aadsts(&v, 700016, "unauthorized_client");
    let (s, v) = token_call(
        &base,
        DEFAULT_TENANT_ID,
        &form(DEFAULT_CLIENT_ID, "wrong", SCOPE),
    )
    .await;
    assert_eq!(s, 400);
    assert_aadsts(&v, 7000215, "invalid_client");
    assert!(
        !v.to_string().contains(DEFAULT_CLIENT_SECRET),
        "secret echoed"
    );
    let (s, v) = token_call(
        &base,
        DEFAULT_TENANT_ID,
        &form(
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            "https://graph.microsoft.us/.default",
        ),
    )
    .await;
    assert_eq!(s, 400);
    assert_aadsts(&v, 70011, "invalid_scope");
    let (s, v) = token_call(
        &base,
        DEFAULT_TENANT_ID,
        &form(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, "User.Read"),
    )
    .await;
    assert_eq!(s, 400);
    assert_aadsts(&v, 70011, "invalid_scope");

    let expired = graph_sim::start(SimConfig {
        secret_expired: true,
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let (s, v) = token_call(
        &expired.authority_url(),
        DEFAULT_TENANT_ID,
        &form(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SCOPE),
    )
    .await;
    assert_eq!(s, 400);
    assert_aadsts(&v, 7000222, "invalid_client");
    // A wrong secret is still reported as wrong, not as expired.
    let (_, v) = token_call(
        &expired.authority_url(),
        DEFAULT_TENANT_ID,
        &form(DEFAULT_CLIENT_ID, "nope", SCOPE),
    )
    .await;
    assert_aadsts(&v, 7000215, "invalid_client");
}

#[tokio::test]
async fn bearer_missing_unknown_and_expired_give_401() {
    let cfg = SimConfig {
        token_lifetime: std::time::Duration::from_secs(60),
        ..SimConfig::for_tests()
    };
    let env = Env::new(cfg).await;
    let http = reqwest::Client::new();
    let url = env.url("/teams");
    let check = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().get("www-authenticate").is_some());
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "InvalidAuthenticationToken", "{v}");
        assert!(v["error"]["innerError"]["request-id"].is_string());
        assert!(v["error"]["innerError"]["date"].is_string());
        v["error"]["message"].as_str().unwrap().to_string()
    };
    let m = check(http.get(&url).send().await.unwrap()).await;
    assert!(m.contains("empty"), "{m}");
    check(
        http.get(&url)
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(env.ok("/teams").await["value"].as_array().unwrap().len(), 3);
    // An unknown path is checked for a token first, then refused as an unknown segment.
    check(http.get(env.url("/nonsense")).send().await.unwrap()).await;
    assert_eq!(env.get("/nonsense").await.0, 400);
    env.server.sim().advance(chrono::Duration::seconds(61));
    let m = check(http.get(&url).bearer_auth(&env.token).send().await.unwrap()).await;
    assert!(m.contains("expired"), "{m}");
    // A fresh token works again.
    let fresh = common::token(&env.server, &http).await;
    assert_eq!(
        http.get(&url)
            .bearer_auth(fresh)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
