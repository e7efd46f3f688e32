//! Which sign-in method to use and its settings, from code or from the
//! azure-identity environment variables, and the credential built from
//! them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::assertion::ClientCertificateCredential;
use super::chain::{ChainCredential, Member};
use super::cli::AzureCliCredential;
use super::client_secret::ClientSecretCredential;
use super::managed::{IMDS_DEFAULT, ManagedIdentityCredential, Source};
use super::token_endpoint::TokenEndpoint;
use super::workload::WorkloadIdentityCredential;
use super::{AccessToken, CredentialError, CredentialInfo, TokenContext, TokenCredential};
use crate::error::GraphError;
use crate::secret::Secret;

/// The app registration a configuration names: what the sign-in methods need from it. A view
/// rather than the whole `GraphConfig`, so that this module does not depend on the one that
/// holds it.
#[derive(Clone, Copy)]
pub(crate) struct AppRegistration<'a> {
    pub tenant_id: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a Secret,
}

/// A sign-in method, by the name `--auth` and the profile key `auth` use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// `AZURE_CLIENT_SECRET`.
    #[default]
    Secret,
    /// `AZURE_CLIENT_CERTIFICATE_PATH` (+ `AZURE_CLIENT_CERTIFICATE_PASSWORD`).
    Certificate,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity,
    /// `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, else IMDS.
    ManagedIdentity,
    /// `az account get-access-token`.
    AzureCli,
    /// The first that applies, in `DefaultAzureCredential`'s order.
    Default,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 6] = [
        AuthMethod::Secret,
        AuthMethod::Certificate,
        AuthMethod::WorkloadIdentity,
        AuthMethod::ManagedIdentity,
        AuthMethod::AzureCli,
        AuthMethod::Default,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Secret => "secret",
            AuthMethod::Certificate => "certificate",
            AuthMethod::WorkloadIdentity => "workload-identity",
            AuthMethod::ManagedIdentity => "managed-identity",
            AuthMethod::AzureCli => "azure-cli",
            AuthMethod::Default => "default",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AuthMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        AuthMethod::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown sign-in method '{s}': use one of {}",
                    AuthMethod::ALL.map(|m| m.name()).join(", ")
                )
            })
    }
}

/// Everything a sign-in method needs besides the tenant, client id and
/// client secret (which stay on [`GraphConfig`]).
#[derive(Clone, Default)]
pub struct AuthSettings {
    pub method: AuthMethod,
    /// `AZURE_CLIENT_CERTIFICATE_PATH`: PEM (key + certificate) or PFX.
    pub certificate_path: Option<PathBuf>,
    /// `AZURE_CLIENT_CERTIFICATE_PASSWORD`, for a PFX.
    pub certificate_password: Option<Secret>,
    /// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`: send `x5c` (subject name /
    /// issuer authentication).
    pub send_certificate_chain: bool,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub federated_token_file: Option<PathBuf>,
    /// `IDENTITY_ENDPOINT` (App Service, Container Apps, Functions).
    pub identity_endpoint: Option<String>,
    /// `IDENTITY_HEADER`, sent as `X-IDENTITY-HEADER`.
    pub identity_header: Option<Secret>,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`: the IMDS address (default
    /// `http://169.254.169.254`).
    pub imds_endpoint: Option<String>,
    /// A credential of the embedding application's own, used instead of
    /// all of the above.
    pub custom: Option<Arc<dyn TokenCredential>>,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("method", &self.method)
            .field("certificate_path", &self.certificate_path)
            .field(
                "certificate_password",
                &self.certificate_password.as_ref().map(|_| "***"),
            )
            .field("send_certificate_chain", &self.send_certificate_chain)
            .field("federated_token_file", &self.federated_token_file)
            .field("identity_endpoint", &self.identity_endpoint)
            .field(
                "identity_header",
                &self.identity_header.as_ref().map(|_| "***"),
            )
            .field("imds_endpoint", &self.imds_endpoint)
            .field("custom", &self.custom.as_ref().map(|c| c.info()))
            .finish()
    }
}

pub const ENV_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
pub const ENV_CERTIFICATE_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
pub const ENV_SEND_CERTIFICATE_CHAIN: &str = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
pub const ENV_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
pub const ENV_IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
pub const ENV_IDENTITY_HEADER: &str = "IDENTITY_HEADER";
pub const ENV_IMDS_ENDPOINT: &str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";

impl AuthSettings {
    /// The settings of `method` from the azure-identity variables (read
    /// whatever the method, so that the default chain sees them all).
    pub fn from_lookup(method: AuthMethod, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        AuthSettings {
            method,
            certificate_path: get(ENV_CERTIFICATE_PATH).map(PathBuf::from),
            // Not trimmed: a password may end in a space.
            certificate_password: lookup(ENV_CERTIFICATE_PASSWORD)
                .filter(|v| !v.is_empty())
                .map(Secret::new),
            send_certificate_chain: get(ENV_SEND_CERTIFICATE_CHAIN)
                .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true"))
                .unwrap_or(false),
            federated_token_file: get(ENV_FEDERATED_TOKEN_FILE).map(PathBuf::from),
            identity_endpoint: get(ENV_IDENTITY_ENDPOINT),
            identity_header: lookup(ENV_IDENTITY_HEADER)
                .filter(|v| !v.trim().is_empty())
                .map(Secret::new),
            imds_endpoint: get(ENV_IMDS_ENDPOINT),
            custom: None,
        }
    }

    /// Secrets among the settings, for scrubbing.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        self.certificate_password
            .iter()
            .chain(self.identity_header.iter())
            .cloned()
            .collect()
    }

    /// Settings the method needs, checked before any request.
    pub(crate) fn validate(&self, cfg: AppRegistration<'_>) -> Result<(), GraphError> {
        if self.custom.is_some() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let app = matches!(
            self.method,
            AuthMethod::Secret | AuthMethod::Certificate | AuthMethod::WorkloadIdentity
        );
        if app && cfg.tenant_id.trim().is_empty() {
            missing.push("AZURE_TENANT_ID");
        }
        if app && cfg.client_id.trim().is_empty() {
            missing.push("AZURE_CLIENT_ID");
        }
        match self.method {
            AuthMethod::Secret if cfg.client_secret.is_empty() => {
                missing.push("AZURE_CLIENT_SECRET")
            }
            AuthMethod::Certificate if self.certificate_path.is_none() => {
                missing.push(ENV_CERTIFICATE_PATH)
            }
            AuthMethod::WorkloadIdentity if self.federated_token_file.is_none() => {
                missing.push(ENV_FEDERATED_TOKEN_FILE)
            }
            AuthMethod::ManagedIdentity
                if self.identity_endpoint.is_some() != self.identity_header.is_some() =>
            {
                missing.push(if self.identity_endpoint.is_some() {
                    ENV_IDENTITY_HEADER
                } else {
                    ENV_IDENTITY_ENDPOINT
                })
            }
            _ => {}
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(GraphError::config(format!(
            "{} not set: the {} sign-in method needs {}",
            missing.join(", "),
            self.method,
            if missing.len() == 1 { "it" } else { "them" }
        )))
    }
}

/// A member of the chain that is configured but cannot work (a
/// certificate file that does not load): it fails when its turn comes.
struct Broken(GraphError, &'static str);

impl TokenCredential for Broken {
    fn get_token<'a>(
        &'a self,
        _scope: &'a str,
        _ctx: &'a TokenContext<'a>,
    ) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        let e = self.0.clone();
        Box::pin(async move { Err(CredentialError::Fatal(e)) })
    }

    fn info(&self) -> CredentialInfo {
        CredentialInfo {
            method: self.1.into(),
            identity: "misconfigured".into(),
        }
    }
}

fn managed(
    a: &AuthSettings,
    cfg: AppRegistration<'_>,
    in_chain: bool,
) -> ManagedIdentityCredential {
    let source = match (&a.identity_endpoint, &a.identity_header) {
        (Some(endpoint), Some(header)) => Source::AppService {
            endpoint: endpoint.clone(),
            header: header.clone(),
        },
        _ => Source::Imds {
            base: a
                .imds_endpoint
                .clone()
                .unwrap_or_else(|| IMDS_DEFAULT.to_string()),
        },
    };
    let client_id = Some(cfg.client_id.trim().to_string()).filter(|c| !c.is_empty());
    ManagedIdentityCredential {
        source,
        client_id,
        in_chain,
    }
}

fn cli(cfg: AppRegistration<'_>, in_chain: bool) -> AzureCliCredential {
    AzureCliCredential {
        tenant: Some(cfg.tenant_id.trim().to_string()).filter(|t| !t.is_empty()),
        in_chain,
    }
}

pub(crate) fn build(
    a: &AuthSettings,
    cfg: AppRegistration<'_>,
    authority: &str,
) -> Result<Arc<dyn TokenCredential>, GraphError> {
    if let Some(c) = &a.custom {
        return Ok(c.clone());
    }
    let endpoint = || TokenEndpoint::new(authority, cfg.tenant_id, cfg.client_id);
    let certificate = |path: &PathBuf| {
        ClientCertificateCredential::new(
            endpoint(),
            path,
            a.certificate_password.as_ref(),
            a.send_certificate_chain,
        )
    };
    let app_ids = !cfg.tenant_id.trim().is_empty() && !cfg.client_id.trim().is_empty();
    Ok(match a.method {
        AuthMethod::Secret => Arc::new(ClientSecretCredential {
            endpoint: endpoint(),
            secret: cfg.client_secret.clone(),
        }),
        AuthMethod::Certificate => {
            let path = a
                .certificate_path
                .as_ref()
                .ok_or_else(|| GraphError::config(format!("{ENV_CERTIFICATE_PATH} not set")))?;
            Arc::new(certificate(path)?)
        }
        AuthMethod::WorkloadIdentity => Arc::new(WorkloadIdentityCredential {
            endpoint: endpoint(),
            token_file: a
                .federated_token_file
                .clone()
                .ok_or_else(|| GraphError::config(format!("{ENV_FEDERATED_TOKEN_FILE} not set")))?,
        }),
        AuthMethod::ManagedIdentity => Arc::new(managed(a, cfg, false)),
        AuthMethod::AzureCli => Arc::new(cli(cfg, false)),
        AuthMethod::Default => {
            let needs_ids = || {
                let mut m = Vec::new();
                if cfg.tenant_id.trim().is_empty() {
                    m.push("AZURE_TENANT_ID");
                }
                if cfg.client_id.trim().is_empty() {
                    m.push("AZURE_CLIENT_ID");
                }
                m.join(" and ")
            };
            let environment = match (&a.certificate_path, cfg.client_secret.is_empty()) {
                (_, false) if app_ids => Member::Ready(Arc::new(ClientSecretCredential {
                    endpoint: endpoint(),
                    secret: cfg.client_secret.clone(),
                })),
                (Some(path), _) if app_ids => match certificate(path) {
                    Ok(c) => Member::Ready(Arc::new(c)),
                    Err(e) => Member::Ready(Arc::new(Broken(e, "client certificate"))),
                },
                (None, true) => Member::Skipped(format!(
                    "not configured (neither AZURE_CLIENT_SECRET nor {ENV_CERTIFICATE_PATH} is set)"
                )),
                _ => Member::Skipped(format!("not configured ({} not set)", needs_ids())),
            };
            let workload = match &a.federated_token_file {
                Some(file) if app_ids => Member::Ready(Arc::new(WorkloadIdentityCredential {
                    endpoint: endpoint(),
                    token_file: file.clone(),
                })),
                Some(_) => Member::Skipped(format!(
                    "not configured ({ENV_FEDERATED_TOKEN_FILE} is set but {} not)",
                    needs_ids()
                )),
                None => Member::Skipped(format!(
                    "not configured ({ENV_FEDERATED_TOKEN_FILE} not set)"
                )),
            };
            Arc::new(ChainCredential::new(vec![
                ("environment", environment),
                ("workload identity", workload),
                (
                    "managed identity",
                    Member::Ready(Arc::new(managed(a, cfg, true))),
                ),
                ("Azure CLI", Member::Ready(Arc::new(cli(cfg, true)))),
            ]))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for m in AuthMethod::ALL {
            assert_eq!(m.name().parse::<AuthMethod>(), Ok(m));
        }
        assert_eq!("Azure_CLI".parse::<AuthMethod>(), Ok(AuthMethod::AzureCli));
        assert!(
            "kerberos"
                .parse::<AuthMethod>()
                .unwrap_err()
                .contains("azure-cli")
        );
    }

    #[test]
    fn debug_hides_password_and_header() {
        let s = AuthSettings::from_lookup(AuthMethod::Default, |k| match k {
            "AZURE_CLIENT_CERTIFICATE_PASSWORD" => Some("pfx-pass-word".into()),
            "IDENTITY_HEADER" => Some("hdr-secret-value".into()),
            "IDENTITY_ENDPOINT" => Some("http://127.0.0.1:9/msi/token".into()),
            _ => None,
        });
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("pfx-pass-word") && !shown.contains("hdr-secret-value"),
            "{shown}"
        );
        assert!(shown.contains("msi/token"));
    }
}
