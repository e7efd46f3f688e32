//! Ways to sign in: the [`TokenCredential`] trait and the methods the
//! azure-identity libraries taught Azure admins (client secret, client
//! certificate, workload identity, managed identity, Azure CLI and the
//! `DefaultAzureCredential`-style chain of them).
//!
//! A credential only fetches a token. Caching, the refresh margin, the
//! single flight, the replay of a recent failure and the retries (the
//! crate's one retry engine, `retry::Budget`) stay in the client, so every
//! method, and one an embedding engine plugs in, behaves the same.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::error::GraphError;
use crate::secret::Secret;

mod assertion;
mod chain;
mod cli;
mod client_secret;
mod der;
mod managed;
mod pem;
mod pkcs12;
mod settings;
mod token_endpoint;
mod workload;

#[cfg(test)]
pub(crate) use client_secret::ClientSecretCredential;
pub(crate) use settings::AppRegistration;
pub use settings::{AuthMethod, AuthSettings};
#[cfg(test)]
pub(crate) use token_endpoint::TokenEndpoint;

/// A token and how long it stays valid from now.
pub struct AccessToken {
    pub token: Secret,
    pub expires_in: Duration,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &self.token)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why one attempt to get a token did not produce one.
#[derive(Debug, Clone)]
pub enum CredentialError {
    /// This method does not apply here (not configured, or its service is
    /// absent); a chain goes on to the next method.
    Unavailable(String),
    /// Worth another attempt (network, 5xx, throttling).
    Transient(GraphError),
    /// Retrying will not help (wrong credential, missing permission).
    Fatal(GraphError),
}

impl CredentialError {
    /// The error a caller sees when no more attempts are made.
    pub fn into_graph_error(self, method: &str) -> GraphError {
        match self {
            CredentialError::Unavailable(why) => GraphError::SignIn {
                method: method.to_string(),
                message: why,
            },
            CredentialError::Transient(e) | CredentialError::Fatal(e) => e,
        }
    }
}

/// What a credential is, for `\conn` and errors: the method and the
/// identity it signs in as. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialInfo {
    /// `client secret`, `client certificate`, ... (see [`AuthMethod::describe`]).
    pub method: String,
    /// Who signs in, e.g. `app 0c8e... in tenant 6f1c...` or
    /// `system-assigned managed identity`.
    pub identity: String,
}

impl fmt::Display for CredentialInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.method, self.identity)
    }
}

/// What a credential gets to do its work: the client's HTTP connection
/// pool (no redirects, rustls, the configured timeouts).
pub struct TokenContext<'a> {
    pub(crate) http: &'a reqwest::Client,
}

impl TokenContext<'_> {
    pub fn http(&self) -> &reqwest::Client {
        self.http
    }
}

/// Gets an access token for a scope (`<resource>/.default`).
///
/// Called once per attempt: the client decides when a token is needed,
/// retries [`CredentialError::Transient`] failures within its retry
/// budget, and caches the result until `expires_in` minus a margin. An
/// embedding engine implements this to sign in its own way (for example
/// with the `azure_identity` crate) and hands it to
/// [`GraphConfig::with_credential`](crate::GraphConfig::with_credential).
pub trait TokenCredential: Send + Sync {
    fn get_token<'a>(
        &'a self,
        scope: &'a str,
        ctx: &'a TokenContext<'a>,
    ) -> BoxFuture<'a, Result<AccessToken, CredentialError>>;

    /// The method and identity, for display.
    fn info(&self) -> CredentialInfo;

    /// Values that must be scrubbed from any text shown to the user
    /// (client secret, header secrets). Tokens are scrubbed by the client.
    fn secrets(&self) -> Vec<Secret> {
        Vec::new()
    }
}

/// The resource of a `.default` scope, as managed identity and the Azure
/// CLI want it (`https://graph.microsoft.com/.default` ->
/// `https://graph.microsoft.com`).
pub(crate) fn resource_of(scope: &str) -> &str {
    scope.strip_suffix("/.default").unwrap_or(scope)
}

/// Builds the credential a configuration asks for.
pub(crate) fn build(
    settings: &AuthSettings,
    app: AppRegistration<'_>,
    authority: &str,
) -> Result<Arc<dyn TokenCredential>, GraphError> {
    settings::build(settings, app, authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_of_scope() {
        assert_eq!(
            resource_of("https://graph.microsoft.com/.default"),
            "https://graph.microsoft.com"
        );
        assert_eq!(resource_of("https://x"), "https://x");
    }
}
