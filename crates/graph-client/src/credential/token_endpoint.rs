//! The Entra ID token endpoint (`POST {authority}/{tenant}/oauth2/v2.0/token`,
//! client-credentials grant), shared by every method that proves the app's
//! identity to it: a client secret, a certificate-signed assertion, or a
//! federated (workload identity) assertion.

use std::time::Duration;

use serde::Deserialize;

use super::{AccessToken, CredentialError};
use crate::body::{BodyError, read_capped};
use crate::error::{GraphError, describe_reqwest, excerpt};
use crate::secret::Secret;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the app proves who it is, which also decides the advice on failure.
pub(crate) enum ClientAuth<'a> {
    Secret(&'a Secret),
    /// A JWT signed with the app's certificate.
    CertificateAssertion(&'a Secret),
    /// A token from a federated issuer (Kubernetes, GitHub, ...).
    FederatedAssertion(&'a Secret),
}

impl ClientAuth<'_> {
    fn value(&self) -> &Secret {
        match self {
            ClientAuth::Secret(s)
            | ClientAuth::CertificateAssertion(s)
            | ClientAuth::FederatedAssertion(s) => s,
        }
    }
}

#[derive(Debug)]
pub(crate) struct TokenEndpoint {
    pub(crate) token_url: String,
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct TokenErrorReply {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
}

/// Seconds from a JSON number or numeric string (some servers send
/// `expires_in` as a string); `None` for anything else.
pub(crate) fn seconds(v: Option<&serde_json::Value>) -> Option<f64> {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite())
}

/// A token lifetime from `expires_in`: an hour when absent or garbled (the
/// documented usual), at most two days.
pub(crate) fn lifetime(expires_in: Option<f64>) -> Duration {
    Duration::from_secs_f64(
        expires_in
            .filter(|s| *s > 0.0)
            .unwrap_or(3600.0)
            .min(86_400.0 * 2.0),
    )
}

/// An excerpt of a token reply that could not be parsed. A truncated or
/// malformed success body can still hold the start of an access token, so
/// the excerpt stops at the token's key (`access_token`, or `accessToken`
/// in the Azure CLI's output).
pub(crate) fn token_reply_excerpt(body: &[u8], secrets: &[&str]) -> String {
    let at = [b"access_token".as_slice(), b"accessToken".as_slice()]
        .iter()
        .filter_map(|key| {
            body.windows(key.len())
                .position(|w| w == *key)
                .map(|p| p + key.len())
        })
        .min();
    match at {
        Some(at) => format!("{} (rest hidden)", excerpt(&body[..at], secrets)),
        None => excerpt(body, secrets),
    }
}

/// What to tell the user for each AADSTS code (docs/graph.md §6.3, §6.4).
pub(crate) fn aadsts_hint(code: Option<u32>, error: &str, auth: &ClientAuth<'_>) -> String {
    let what = match auth {
        ClientAuth::Secret(_) => "AZURE_CLIENT_SECRET",
        ClientAuth::CertificateAssertion(_) => {
            "the certificate (AZURE_CLIENT_CERTIFICATE_PATH) and the certificates registered on the app"
        }
        ClientAuth::FederatedAssertion(_) => {
            "the federated token (AZURE_FEDERATED_TOKEN_FILE) and the app's federated credentials"
        }
    };
    match code {
        Some(7000215) => "client secret is wrong: check AZURE_CLIENT_SECRET (use the secret's Value, not its Secret ID)".into(),
        Some(7000222) => "client secret has expired: create a new one under Certificates & secrets in the app registration and update AZURE_CLIENT_SECRET".into(),
        Some(700016) => "app not found in this tenant: check AZURE_CLIENT_ID and that admin consent was granted in this tenant".into(),
        Some(90002) => "tenant not found: check AZURE_TENANT_ID and the cloud (global, usgov, usgov-dod, china)".into(),
        Some(70011) => "the requested scope is invalid: it must be the Graph host of the cloud followed by /.default (check the cloud setting)".into(),
        Some(700022) => "the scope names more than one resource: use only <graph host>/.default".into(),
        Some(7000218) => "no client credential was sent: set AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE".into(),
        Some(500011) => "Microsoft Graph was not found in this tenant: check that the tenant is in the configured cloud".into(),
        Some(700027) => "the client assertion's signature was not accepted: the certificate in AZURE_CLIENT_CERTIFICATE_PATH is not one registered on the app (upload its public part under Certificates & secrets), or its key does not match it".into(),
        Some(700024) => "the client assertion is expired or not yet valid: check this machine's clock; for workload identity, the token file is stale (is the projected service-account token being refreshed?)".into(),
        Some(700021) => "the client assertion names another app: its iss/sub must be AZURE_CLIENT_ID".into(),
        Some(700023) => "the client assertion's audience is wrong: it must be the token endpoint of this tenant and cloud".into(),
        Some(700211) => "the federated token's issuer is not trusted by the app: add a federated credential for this issuer (the cluster's OIDC issuer URL) on the app registration".into(),
        Some(700213) => "the federated token's subject matches no federated credential of the app: the subject must be exactly system:serviceaccount:<namespace>:<service account>".into(),
        Some(700212) => "the federated token's audience matches no federated credential of the app: it must be api://AzureADTokenExchange".into(),
        Some(50027) => format!("the client assertion is malformed: check {what}"),
        Some(90014) | Some(900144) => "the token request lacked a required field: this is a client bug, please report it".into(),
        Some(90055) | Some(90006) | Some(90033) => "the sign-in service is busy or temporarily unavailable: try again in a few minutes".into(),
        _ => match error {
            "invalid_client" => format!("the client credentials were rejected: check AZURE_CLIENT_ID and {what}"),
            "unauthorized_client" => "the app is not registered or not added to this tenant: check AZURE_CLIENT_ID and admin consent".into(),
            "invalid_scope" => "the requested scope is invalid: check the cloud setting".into(),
            "temporarily_unavailable" => "the sign-in service is temporarily unavailable: try again later".into(),
            _ => format!("the token endpoint refused the request: check AZURE_TENANT_ID, AZURE_CLIENT_ID, {what} and the cloud"),
        },
    }
}

/// Codes and statuses worth retrying: the identity platform's own
/// "retryable" codes, and 429/5xx from the token endpoint.
fn token_error_is_transient(status: u16, code: Option<u32>, error: &str) -> bool {
    matches!(code, Some(90055) | Some(90006) | Some(90033))
        || error == "temporarily_unavailable"
        || status == 429
        || status >= 500
}

impl TokenEndpoint {
    pub(crate) fn new(authority: &str, tenant_id: &str, client_id: &str) -> Self {
        TokenEndpoint {
            token_url: format!(
                "{}/{}/oauth2/v2.0/token",
                authority.trim_end_matches('/'),
                crate::request::encode_component(tenant_id)
            ),
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
        }
    }

    /// The request body. form_urlencoded percent-encodes the secret, as the
    /// grant requires (secrets routinely contain '~', '+', '=' and '/').
    pub(crate) fn form(&self, scope: &str, auth: &ClientAuth<'_>) -> Secret {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("client_id", &self.client_id)
            .append_pair("scope", scope);
        match auth {
            ClientAuth::Secret(s) => {
                form.append_pair("client_secret", s.expose());
            }
            ClientAuth::CertificateAssertion(a) | ClientAuth::FederatedAssertion(a) => {
                form.append_pair("client_assertion_type", ASSERTION_TYPE)
                    .append_pair("client_assertion", a.expose());
            }
        }
        form.append_pair("grant_type", "client_credentials");
        Secret::new(form.finish())
    }

    /// One request to the token endpoint.
    pub(crate) async fn request(
        &self,
        http: &reqwest::Client,
        scope: &str,
        auth: ClientAuth<'_>,
    ) -> Result<AccessToken, CredentialError> {
        let secret = auth.value().expose();
        let resp = http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(self.form(scope, &auth).expose().to_string())
            .send()
            .await
            .map_err(|e| {
                CredentialError::Transient(self.auth_error(
                    None,
                    None,
                    "transport".into(),
                    format!(
                        "could not reach the token endpoint {}: {}; check network access and AZURE_AUTHORITY_HOST",
                        self.token_url,
                        describe_reqwest(&e)
                    ),
                    secret,
                ))
            })?;
        let status = resp.status().as_u16();
        // A token reply is a few KB; a megabyte is not one.
        let body = match read_capped(resp, 1 << 20).await {
            Ok(b) => b,
            Err(BodyError::Transport(e)) => {
                return Err(CredentialError::Transient(self.auth_error(
                    Some(status),
                    None,
                    "transport".into(),
                    format!(
                        "the token endpoint's reply was cut off: {}",
                        describe_reqwest(&e)
                    ),
                    secret,
                )));
            }
            Err(BodyError::TooLarge) => {
                return Err(CredentialError::Fatal(self.auth_error(
                    Some(status),
                    None,
                    "oversized reply".into(),
                    "the token endpoint sent a reply over 1 MiB: check AZURE_AUTHORITY_HOST points at the Microsoft identity platform".into(),
                    secret,
                )));
            }
        };
        if (200..300).contains(&status) {
            let reply: TokenReply = serde_json::from_slice(&body).map_err(|e| {
                CredentialError::Fatal(GraphError::Decode {
                    endpoint: "POST /{tenant}/oauth2/v2.0/token",
                    reason: e.to_string(),
                    excerpt: token_reply_excerpt(&body, &[secret]),
                })
            })?;
            return Ok(AccessToken {
                token: Secret::new(reply.access_token),
                expires_in: lifetime(seconds(reply.expires_in.as_ref())),
            });
        }
        let reply: TokenErrorReply = serde_json::from_slice(&body).unwrap_or_default();
        let code = reply.error_codes.first().copied().or_else(|| {
            // error_codes is optional; the description always starts with
            // "AADSTSnnnn:".
            let d = reply.error_description.strip_prefix("AADSTS")?;
            let digits: String = d.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        });
        let error = if reply.error.is_empty() {
            format!("HTTP {status}")
        } else {
            reply.error.clone()
        };
        let hint = aadsts_hint(code, &error, &auth);
        let e = self.auth_error(Some(status), code, error.clone(), hint, secret);
        if token_error_is_transient(status, code, &error) {
            Err(CredentialError::Transient(e))
        } else {
            Err(CredentialError::Fatal(e))
        }
    }

    fn auth_error(
        &self,
        status: Option<u16>,
        code: Option<u32>,
        error: String,
        hint: String,
        secret: &str,
    ) -> GraphError {
        GraphError::Auth {
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            code,
            error: crate::secret::redact(&error, &[secret]),
            hint: crate::secret::redact(&hint, &[secret]),
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_reply_excerpt_never_shows_the_token() {
        let body = br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi"#;
        let e = token_reply_excerpt(body, &["secret"]);
        assert!(!e.contains("eyJ0"), "{e}");
        assert!(e.contains("expires_in") && e.contains("rest hidden"), "{e}");
        assert_eq!(token_reply_excerpt(b"<html>", &["secret"]), "<html>");
        let cli = br#"{"accessToken": "eyJ0eXAi", "expiresOn": "x"}"#;
        assert!(!token_reply_excerpt(cli, &[]).contains("eyJ0"));
    }

    #[test]
    fn form_body_encodes_secret() {
        let c = TokenEndpoint::new("https://login.microsoftonline.com/", "tenant", "client");
        let secret = Secret::new("a+b/c=d~e&f");
        assert_eq!(
            c.form(
                "https://graph.microsoft.com/.default",
                &ClientAuth::Secret(&secret)
            )
            .expose(),
            "client_id=client&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_secret=a%2Bb%2Fc%3Dd%7Ee%26f&grant_type=client_credentials"
        );
        assert_eq!(
            c.token_url,
            "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"
        );
        let a = Secret::new("h.p.s");
        assert_eq!(
            c.form("s", &ClientAuth::CertificateAssertion(&a)).expose(),
            "client_id=client&scope=s&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=h.p.s&grant_type=client_credentials"
        );
    }
}
