//! Managed identity: the Azure host hands out tokens for the identity
//! assigned to it, with no credential in the app at all.
//!
//! - App Service, Container Apps and Functions set `IDENTITY_ENDPOINT` and
//!   `IDENTITY_HEADER` (api-version 2019-08-01; the header guards against
//!   server-side request forgery).
//! - Virtual machines and scale sets answer at IMDS,
//!   `http://169.254.169.254/metadata/identity/oauth2/token` (api-version
//!   2018-02-01, header `Metadata: true`). Its address is overridden with
//!   `AZURE_POD_IDENTITY_AUTHORITY_HOST`, as the azure-identity libraries
//!   (Python, .NET, Go, JS) do.
//!
//! `client_id` picks a user-assigned identity; without it the
//! system-assigned identity is used.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;

use super::token_endpoint::{lifetime, seconds, token_reply_excerpt};
use super::{AccessToken, CredentialError, CredentialInfo, TokenContext, TokenCredential};
use crate::body::read_capped;
use crate::error::{GraphError, describe_reqwest, excerpt};
use crate::secret::Secret;

pub(crate) const IMDS_DEFAULT: &str = "http://169.254.169.254";
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

pub(crate) enum Source {
    AppService { endpoint: String, header: Secret },
    Imds { base: String },
}

pub(crate) struct ManagedIdentityCredential {
    pub(crate) source: Source,
    /// A user-assigned identity's client id; `None` for the system-assigned one.
    pub(crate) client_id: Option<String>,
    /// In the default chain, an IMDS that does not answer quickly means
    /// "not on an Azure VM": the chain moves on instead of retrying.
    pub(crate) in_chain: bool,
}

#[derive(Deserialize)]
struct Reply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
}

/// How long the chain waits for IMDS before deciding there is none (the
/// azure-identity libraries probe it with a similarly short timeout).
const CHAIN_PROBE: Duration = Duration::from_secs(2);

const METHOD: &str = "managed identity";

impl ManagedIdentityCredential {
    fn url(&self, resource: &str) -> Result<url::Url, CredentialError> {
        let (base, version) = match &self.source {
            Source::AppService { endpoint, .. } => (endpoint.clone(), "2019-08-01"),
            Source::Imds { base } => (
                format!("{}{IMDS_PATH}", base.trim_end_matches('/')),
                "2018-02-01",
            ),
        };
        let mut url = url::Url::parse(&base).map_err(|e| {
            CredentialError::Fatal(sign_in(format!(
                "the managed identity endpoint '{base}' is not a URL ({e}): check IDENTITY_ENDPOINT / AZURE_POD_IDENTITY_AUTHORITY_HOST"
            )))
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("api-version", version)
                .append_pair("resource", resource);
            if let Some(id) = &self.client_id {
                q.append_pair("client_id", id);
            }
        }
        Ok(url)
    }

    fn where_(&self) -> &'static str {
        match self.source {
            Source::AppService { .. } => "IDENTITY_ENDPOINT",
            Source::Imds { .. } => "IMDS",
        }
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: &str,
    ) -> Result<AccessToken, CredentialError> {
        let url = self.url(resource)?;
        let shown = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        let mut req = http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        let header_secret = match &self.source {
            Source::AppService { header, .. } => {
                req = req.header("X-IDENTITY-HEADER", header.expose());
                header.expose().to_string()
            }
            Source::Imds { .. } => {
                req = req.header("Metadata", "true");
                String::new()
            }
        };
        let send = req.send();
        let resp = if self.in_chain {
            match tokio::time::timeout(CHAIN_PROBE, send).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(CredentialError::Unavailable(format!(
                        "no managed identity endpoint answered at {shown} within {} s (not an Azure host)",
                        CHAIN_PROBE.as_secs()
                    )));
                }
            }
        } else {
            send.await
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) if self.in_chain => {
                let cause = if e.is_connect() {
                    "nothing listens there".to_string()
                } else if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    describe_reqwest(&e)
                };
                return Err(CredentialError::Unavailable(format!(
                    "no managed identity endpoint at {shown} ({cause}): not an Azure host with a managed identity"
                )));
            }
            Err(e) => {
                return Err(CredentialError::Transient(sign_in(format!(
                    "could not reach the managed identity endpoint {shown} ({}): {}; check that this runs on an Azure host with a managed identity, or set AZURE_POD_IDENTITY_AUTHORITY_HOST",
                    self.where_(),
                    describe_reqwest(&e)
                ))));
            }
        };
        let status = resp.status().as_u16();
        let body = read_capped(resp, 1 << 20).await.map_err(|_| {
            CredentialError::Transient(sign_in(format!(
                "the managed identity endpoint {shown} sent an incomplete or oversized reply"
            )))
        })?;
        let secrets = [header_secret.as_str()];
        if (200..300).contains(&status) {
            let reply: Reply = serde_json::from_slice(&body).map_err(|e| {
                CredentialError::Fatal(GraphError::Decode {
                    endpoint: "managed identity token endpoint",
                    reason: e.to_string(),
                    excerpt: token_reply_excerpt(&body, &secrets),
                })
            })?;
            return Ok(AccessToken {
                token: Secret::new(reply.access_token),
                expires_in: expiry(
                    seconds(reply.expires_in.as_ref()),
                    seconds(reply.expires_on.as_ref()),
                ),
            });
        }
        let detail = excerpt(&body, &secrets);
        let who = match &self.client_id {
            Some(id) => format!("the user-assigned identity with client id {id}"),
            None => "a system-assigned identity".to_string(),
        };
        let e = match (status, &self.source) {
            (429, _) | (500.., _) => {
                return Err(CredentialError::Transient(sign_in(format!(
                    "the managed identity endpoint {shown} answered {status}: {detail}"
                ))));
            }
            (400 | 404, Source::Imds { .. }) if self.in_chain => {
                return Err(CredentialError::Unavailable(format!(
                    "IMDS at {shown} has no identity for this request ({status}: {detail})"
                )));
            }
            (401 | 403, Source::AppService { .. }) => format!(
                "the managed identity endpoint {shown} refused the request ({status}: {detail}): IDENTITY_HEADER does not match this host's (it is rotated by the platform; take both IDENTITY_ENDPOINT and IDENTITY_HEADER from the current environment)"
            ),
            _ => format!(
                "the managed identity endpoint {shown} refused to issue a token for {who} ({status}: {detail}): check the identity is assigned to this resource (az webapp/containerapp/vm identity show), and for a user-assigned one that AZURE_CLIENT_ID is its client id"
            ),
        };
        Err(CredentialError::Fatal(sign_in(e)))
    }
}

fn sign_in(message: String) -> GraphError {
    GraphError::SignIn {
        method: METHOD.into(),
        message,
    }
}

/// Lifetime from `expires_in`, else from `expires_on` (Unix seconds; the
/// App Service protocol sends only that).
fn expiry(expires_in: Option<f64>, expires_on: Option<f64>) -> Duration {
    if expires_in.is_some() {
        return lifetime(expires_in);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    lifetime(expires_on.map(|on| on - now))
}

impl TokenCredential for ManagedIdentityCredential {
    fn get_token<'a>(
        &'a self,
        scope: &'a str,
        ctx: &'a TokenContext<'a>,
    ) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        self.fetch(ctx.http, super::resource_of(scope)).boxed()
    }

    fn info(&self) -> CredentialInfo {
        let who = match &self.client_id {
            Some(id) => format!("user-assigned identity {id}"),
            None => "system-assigned identity".to_string(),
        };
        let via = match &self.source {
            Source::AppService { endpoint, .. } => format!("App Service endpoint {endpoint}"),
            Source::Imds { base } => format!("IMDS {base}"),
        };
        CredentialInfo {
            method: METHOD.into(),
            identity: format!("{who} via {via}"),
        }
    }

    fn secrets(&self) -> Vec<Secret> {
        match &self.source {
            Source::AppService { header, .. } => vec![header.clone()],
            Source::Imds { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_prefers_expires_in_then_expires_on() {
        assert_eq!(expiry(Some(60.0), None), Duration::from_secs(60));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let d = expiry(None, Some(now + 1200.0));
        assert!(d > Duration::from_secs(1100) && d <= Duration::from_secs(1200));
        assert_eq!(expiry(None, None), Duration::from_secs(3600));
    }

    #[test]
    fn url_carries_version_resource_and_client_id() {
        let c = ManagedIdentityCredential {
            source: Source::AppService {
                endpoint: "http://127.0.0.1:1/msi/token".into(),
                header: Secret::new("h"),
            },
            client_id: Some("uai".into()),
            in_chain: false,
        };
        let Ok(url) = c.url("https://graph.microsoft.com") else {
            panic!("url")
        };
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fgraph.microsoft.com&client_id=uai"
        );
    }
}
