//! Every sign-in method against the simulator, which verifies each as Entra ID does: client
//! certificate (PEM and PFX), workload identity, managed identity (App Service and IMDS,
//! system- and user-assigned), a credential plugged in by the embedding application, and the
//! default chain. Keys and certificates are the TEST-ONLY fixtures in tests/fixtures/signin.

mod common;
mod simutil;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::FutureExt;
use futures::future::BoxFuture;
use graph_client::{
    AccessToken, AuthMethod, AuthSettings, CredentialError, CredentialInfo, GraphClient,
    GraphConfig, GraphError, GraphRequest, Secret, TokenContext, TokenCredential,
};
use graph_sim::{FederatedTrust, ManagedIdentity, SimConfig, TrustedCertificate};

const ISSUER: &str = "https://oidc.test-only.example/cluster-1";
const SUBJECT: &str = "system:serviceaccount:analytics:teams-sql";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/signin")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn sim_config() -> SimConfig {
    SimConfig {
        client_certificate: Some(TrustedCertificate::from_pem(&read("app.crt")).unwrap()),
        federated: Some(
            FederatedTrust::new(ISSUER.into(), SUBJECT.into(), &read("issuer-jwks.json")).unwrap(),
        ),
        managed_identity: ManagedIdentity {
            identity_header: Some("test-only-identity-header".into()),
            imds: true,
            user_assigned_client_ids: vec!["11111111-2222-3333-4444-555555555555".into()],
        },
        ..SimConfig::for_tests()
    }
}

/// A federated token as a Kubernetes OIDC issuer signs it, with `exp` this many seconds from now.
fn federated_token(iss: &str, sub: &str, exp_in: i64) -> String {
    let pem = read("issuer.key");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let now = chrono::Utc::now().timestamp();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "test-only-issuer-key"});
    let claims = serde_json::json!({
        "iss": iss, "sub": sub, "aud": ["api://AzureADTokenExchange"],
        "iat": now, "nbf": now, "exp": now + exp_in,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn config(server: &graph_sim::SimServer, auth: AuthSettings) -> GraphConfig {
    GraphConfig {
        client_secret: Secret::default(),
        ..simutil::sim_config(server)
    }
    .with_auth(auth)
}

async fn reads_teams(cfg: GraphConfig) -> Result<usize, GraphError> {
    let client = GraphClient::new(cfg)?;
    Ok(client.get_page(&GraphRequest::list_teams()).await?.len())
}

#[tokio::test]
async fn certificate_as_pem_and_as_pfx_signs_in() {
    let server = graph_sim::start(sim_config()).await.unwrap();
    for (file, password) in [
        ("app.pem", None),
        ("app.pfx", Some("test-only-pfx-password")),
    ] {
        let auth = AuthSettings {
            method: AuthMethod::Certificate,
            certificate_path: Some(fixture(file)),
            certificate_password: password.map(Secret::new),
            send_certificate_chain: file == "app.pfx",
            ..AuthSettings::default()
        };
        let n = reads_teams(config(&server, auth)).await.unwrap();
        assert_eq!(n, 3, "{file}");
    }
}

#[tokio::test]
async fn a_certificate_not_registered_on_the_app_is_refused_with_aadsts700027() {
    let server = graph_sim::start(sim_config()).await.unwrap();
    let auth = AuthSettings {
        method: AuthMethod::Certificate,
        certificate_path: Some(fixture("other.pem")),
        ..AuthSettings::default()
    };
    let err = reads_teams(config(&server, auth)).await.unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Auth {
                code: Some(700027),
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("not one registered on the app"), "{msg}");
}

#[tokio::test]
async fn workload_identity_rereads_a_rotated_token_file() {
    let server = graph_sim::start(SimConfig {
        token_lifetime: std::time::Duration::from_secs(1),
        ..sim_config()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, federated_token(ISSUER, SUBJECT, 3600)).unwrap();
    let client = GraphClient::new(config(
        &server,
        AuthSettings {
            method: AuthMethod::WorkloadIdentity,
            federated_token_file: Some(file.clone()),
            ..AuthSettings::default()
        },
    ))
    .unwrap();
    client.get_page(&GraphRequest::list_teams()).await.unwrap();
    // Kubernetes rotates the token: an expired one is refused, so only a re-read signs in.
    std::fs::write(&file, federated_token(ISSUER, SUBJECT, -3600)).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let err = client
        .get_page(&GraphRequest::list_teams())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Auth {
                code: Some(700024),
                ..
            }
        ),
        "{err:?}"
    );
    std::fs::write(&file, federated_token(ISSUER, SUBJECT, 3600)).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5100)).await; // past the failure replay
    client.get_page(&GraphRequest::list_teams()).await.unwrap();
}

#[tokio::test]
async fn federated_tokens_from_an_unknown_issuer_or_subject_are_refused() {
    let server = graph_sim::start(sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (iss, sub, code) in [
        ("https://evil.example", SUBJECT, 700211),
        (ISSUER, "system:serviceaccount:other:x", 700213),
    ] {
        let file = dir.path().join(format!("t{code}"));
        std::fs::write(&file, federated_token(iss, sub, 3600)).unwrap();
        let auth = AuthSettings {
            method: AuthMethod::WorkloadIdentity,
            federated_token_file: Some(file),
            ..AuthSettings::default()
        };
        let err = reads_teams(config(&server, auth)).await.unwrap_err();
        assert!(
            matches!(err, GraphError::Auth { code: Some(c), .. } if c == code),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn managed_identity_app_service_and_imds_system_and_user_assigned() {
    let server = graph_sim::start(sim_config()).await.unwrap();
    let app_service = AuthSettings {
        method: AuthMethod::ManagedIdentity,
        identity_endpoint: Some(format!("{}/msi/token", server.graph_url())),
        identity_header: Some(Secret::new("test-only-identity-header")),
        ..AuthSettings::default()
    };
    let imds = AuthSettings {
        method: AuthMethod::ManagedIdentity,
        imds_endpoint: Some(server.graph_url()),
        ..AuthSettings::default()
    };
    for auth in [app_service.clone(), imds.clone()] {
        for client_id in ["", "11111111-2222-3333-4444-555555555555"] {
            let cfg = GraphConfig {
                tenant_id: String::new(),
                client_id: client_id.into(),
                ..config(&server, auth.clone())
            };
            assert_eq!(reads_teams(cfg).await.unwrap(), 3, "{auth:?} {client_id}");
        }
        let cfg = GraphConfig {
            client_id: "99999999-0000-0000-0000-000000000000".into(),
            ..config(&server, auth.clone())
        };
        let err = reads_teams(cfg).await.unwrap_err().to_string();
        assert!(
            err.contains("user-assigned identity with client id 9999"),
            "{err}"
        );
    }
    let wrong = AuthSettings {
        identity_header: Some(Secret::new("stale-header-value")),
        ..app_service
    };
    let err = reads_teams(config(&server, wrong))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("IDENTITY_HEADER does not match"), "{err}");
    assert!(!err.contains("stale-header-value"), "{err}");
}

/// A credential of the embedding application's own: the client caches its token.
struct Plugged {
    token: String,
    calls: AtomicU32,
}

impl TokenCredential for Plugged {
    fn get_token<'a>(
        &'a self,
        _scope: &'a str,
        _ctx: &'a TokenContext<'a>,
    ) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let token = self.token.clone();
        async move {
            Ok(AccessToken {
                token: Secret::new(token),
                expires_in: std::time::Duration::from_secs(3600),
            })
        }
        .boxed()
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo {
            method: "embedder".into(),
            identity: "test".into(),
        }
    }
}

#[tokio::test]
async fn a_plugged_in_credential_is_cached_by_the_client() {
    let server = graph_sim::start(sim_config()).await.unwrap();
    // A token the simulator issued, fetched the ordinary way.
    let token = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            server.authority_url(),
            graph_sim::DEFAULT_TENANT_ID
        ))
        .form(&[
            ("client_id", graph_sim::DEFAULT_CLIENT_ID),
            ("client_secret", graph_sim::DEFAULT_CLIENT_SECRET),
            ("scope", graph_sim::GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let plugged = Arc::new(Plugged {
        token,
        calls: AtomicU32::new(0),
    });
    let client =
        GraphClient::new(config(&server, AuthSettings::default()).with_credential(plugged.clone()))
            .unwrap();
    for _ in 0..3 {
        client.get_page(&GraphRequest::list_teams()).await.unwrap();
    }
    assert_eq!(plugged.calls.load(Ordering::SeqCst), 1);
    assert_eq!(client.credential_info().method, "embedder");
}

#[tokio::test]
async fn the_default_chain_lists_every_method_when_none_applies() {
    let server = graph_sim::start(SimConfig::for_tests()).await.unwrap();
    // IMDS pointed at a port nobody listens on; no az on PATH is assumed not to matter: the
    // chain reports whichever it finds.
    let auth = AuthSettings {
        method: AuthMethod::Default,
        imds_endpoint: Some("http://127.0.0.1:1".into()),
        ..AuthSettings::default()
    };
    let cfg = GraphConfig {
        tenant_id: String::new(),
        client_id: String::new(),
        ..config(&server, auth)
    };
    let err = reads_teams(cfg).await.unwrap_err().to_string();
    for method in [
        "environment:",
        "workload identity:",
        "managed identity:",
        "Azure CLI:",
    ] {
        assert!(err.contains(method), "{method}: {err}");
    }
    assert!(
        err.contains("AZURE_CLIENT_SECRET") && err.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{err}"
    );
}
