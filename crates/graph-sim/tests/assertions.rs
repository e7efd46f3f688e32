//! The token endpoint's checks of client assertions, request by request: each refusal carries
//! the AADSTS code Entra ID documents for it (docs/graph.md §6.4). Keys are the TEST-ONLY
//! fixtures in tests/fixtures/signin.

use graph_sim::{FederatedTrust, SimConfig, TrustedCertificate};
use ring::signature::RsaKeyPair;
use serde_json::{Value, json};

const ISSUER: &str = "https://oidc.test-only.example/cluster-1";
const SUBJECT: &str = "system:serviceaccount:analytics:teams-sql";

fn read(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/signin")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn b64url(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, x)| n | (*x as u32) << (16 - 8 * i));
        for i in 0..=c.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn b64_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        bits = bits << 6 | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// The PKCS#8 key of a PEM fixture.
fn key(name: &str) -> RsaKeyPair {
    let text = read(name);
    let b64: String = text
        .lines()
        .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
        .skip(1)
        .take_while(|l| *l != "-----END PRIVATE KEY-----")
        .collect();
    RsaKeyPair::from_pkcs8(&b64_decode(&b64)).unwrap()
}

fn sign(key: &RsaKeyPair, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", b64url(&sig))
}

fn thumbprint(cert_pem: &str) -> String {
    let b64: String = cert_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    b64url(ring::digest::digest(&ring::digest::SHA256, &b64_decode(&b64)).as_ref())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn post(server: &graph_sim::SimServer, assertion: &str) -> (u16, Value) {
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        server.authority_url(),
        graph_sim::DEFAULT_TENANT_ID
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .form(&[
            ("client_id", graph_sim::DEFAULT_CLIENT_ID),
            ("scope", graph_sim::GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn code(v: &Value) -> u64 {
    v["error_codes"][0].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn certificate_assertions_are_checked_like_entra_id() {
    let server = graph_sim::start(SimConfig {
        client_certificate: Some(TrustedCertificate::from_pem(&read("app.crt")).unwrap()),
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let aud = format!(
        "{}/{}/oauth2/v2.0/token",
        server.authority_url(),
        graph_sim::DEFAULT_TENANT_ID
    );
    let app = key("app.pem");
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t#S256": thumbprint(&read("app.crt"))});
    let claims = |jti: &str, exp: i64, aud: &str| {
        json!({"iss": graph_sim::DEFAULT_CLIENT_ID, "sub": graph_sim::DEFAULT_CLIENT_ID,
               "aud": aud, "jti": jti, "nbf": now() - 10, "exp": exp})
    };

    let good = sign(&app, &header, &claims("jti-1", now() + 600, &aud));
    let (status, body) = post(&server, &good).await;
    assert_eq!(status, 200, "{body}");
    // The same assertion again: its jti was used.
    let (status, body) = post(&server, &good).await;
    assert_eq!((status, code(&body)), (400, 50027), "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );

    let expired = sign(&app, &header, &claims("jti-2", now() - 3600, &aud));
    assert_eq!(code(&post(&server, &expired).await.1), 700024);

    let wrong_aud = sign(
        &app,
        &header,
        &claims("jti-3", now() + 600, "https://login.example/x"),
    );
    assert_eq!(code(&post(&server, &wrong_aud).await.1), 700023);

    // Signed by another key under the registered thumbprint: bad signature.
    let forged = sign(
        &key("other.pem"),
        &header,
        &claims("jti-4", now() + 600, &aud),
    );
    let (_, body) = post(&server, &forged).await;
    assert_eq!(code(&body), 700027);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("signature validation")
    );

    // Another certificate altogether: the key is not found.
    let other_header = json!({"alg": "RS256", "x5t#S256": thumbprint(&read("other.crt"))});
    let other = sign(
        &key("other.pem"),
        &other_header,
        &claims("jti-5", now() + 600, &aud),
    );
    let (_, body) = post(&server, &other).await;
    assert_eq!(code(&body), 700027);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not registered")
    );
}

#[tokio::test]
async fn federated_assertions_are_checked_like_entra_id() {
    let server = graph_sim::start(SimConfig {
        federated: Some(
            FederatedTrust::new(ISSUER.into(), SUBJECT.into(), &read("issuer-jwks.json")).unwrap(),
        ),
        ..SimConfig::for_tests()
    })
    .await
    .unwrap();
    let issuer = key("issuer.key");
    let header = json!({"alg": "RS256", "kid": "test-only-issuer-key"});
    let token = |iss: &str, sub: &str, aud: &str, exp: i64| json!({"iss": iss, "sub": sub, "aud": aud, "nbf": now() - 10, "exp": exp});
    let aud = "api://AzureADTokenExchange";
    let ok = sign(&issuer, &header, &token(ISSUER, SUBJECT, aud, now() + 600));
    assert_eq!(post(&server, &ok).await.0, 200);
    for (claims, expected) in [
        (
            token("https://other.example", SUBJECT, aud, now() + 600),
            700211,
        ),
        (
            token(ISSUER, "system:serviceaccount:x:y", aud, now() + 600),
            700213,
        ),
        (token(ISSUER, SUBJECT, "api://other", now() + 600), 700212),
        (token(ISSUER, SUBJECT, aud, now() - 3600), 700024),
    ] {
        let (status, body) = post(&server, &sign(&issuer, &header, &claims)).await;
        assert_eq!((status, code(&body)), (400, expected), "{body}");
    }
    let forged = sign(
        &key("app.pem"),
        &header,
        &token(ISSUER, SUBJECT, aud, now() + 600),
    );
    assert_eq!(code(&post(&server, &forged).await.1), 700027);
}
