//! Which tenant and app the shell connects as, how it signs in (`--auth`), and what a complete
//! set of credentials is for each method. Where each value comes from (flags, profile,
//! environment) is decided in `settings.rs`. Secrets (client secret, certificate password,
//! managed identity header) are only ever read from environment variables.

use std::fmt;
use std::time::Duration;

use graph_client::{AuthMethod, AuthSettings, Cloud, CredentialInfo, GraphConfig, Secret};

use crate::error::{Result, ShellError};

pub const ENV_TENANT_ID: &str = "AZURE_TENANT_ID";
pub const ENV_CLIENT_ID: &str = "AZURE_CLIENT_ID";
pub const ENV_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
pub const ENV_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";

/// Where the connection settings came from, for `\conn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Environment,
    Profile(String),
    Demo,
}

/// A resolved connection. `Debug` and `Display` never show the secret.
#[derive(Clone)]
pub struct Connection {
    pub tenant_id: String,
    pub client_id: String,
    /// Redacted in `Debug` and `Display`; read only through `expose()`.
    pub secret: Secret,
    /// The environment variable the secret came from, as it may be shown (by `\conn`): see
    /// [`shown_env_name`].
    pub secret_env: String,
    /// The sign-in method, and the settings of the non-secret methods (certificate path,
    /// federated token file, managed identity endpoints) from the azure-identity variables.
    pub auth: AuthSettings,
    /// Whether `--auth` / the profile chose the method (else the environment did).
    pub auth_explicit: bool,
    pub cloud_name: String,
    pub graph_endpoint: Option<String>,
    pub authority_host: Option<String>,
    pub allow_custom_authority: bool,
    pub request_timeout: Option<Duration>,
    pub max_pages: Option<u64>,
    pub origin: Origin,
}

/// How the name given for the secret's variable may be shown. People paste the secret itself
/// where its variable's name belongs; a name that does not look like one (upper case letters,
/// digits and `_`, as environment variables are conventionally named) is never echoed.
pub fn shown_env_name(name: &str) -> String {
    let conventional = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if conventional {
        name.to_string()
    } else {
        "the variable named by --client-secret-env / client_secret_env (name not shown: it does \
         not look like a variable name)"
            .to_string()
    }
}

/// The secret from the variable `name`; names the platform cannot hold (empty, `=` or NUL,
/// on which lookups may panic) are simply unset.
pub fn secret_from(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    env(name).filter(|v| !v.trim().is_empty())
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("secret", &"***")
            .field("secret_env", &self.secret_env)
            .field("auth", &self.auth)
            .field("auth_explicit", &self.auth_explicit)
            .field("cloud", &self.cloud_name)
            .field("graph_endpoint", &self.graph_endpoint)
            .field("authority_host", &self.authority_host)
            .field("allow_custom_authority", &self.allow_custom_authority)
            .field("request_timeout", &self.request_timeout)
            .field("max_pages", &self.max_pages)
            .field("origin", &self.origin)
            .finish()
    }
}

impl Connection {
    /// The simulated tenant of `--demo`, with the simulator's documented test credentials.
    pub fn demo(graph_url: String, authority_url: String) -> Self {
        Connection {
            tenant_id: graph_sim::DEFAULT_TENANT_ID.to_string(),
            client_id: graph_sim::DEFAULT_CLIENT_ID.to_string(),
            secret: Secret::new(graph_sim::DEFAULT_CLIENT_SECRET.to_string()),
            secret_env: "(built-in demo credentials)".to_string(),
            auth: AuthSettings::default(),
            auth_explicit: false,
            cloud_name: "global".to_string(),
            graph_endpoint: Some(graph_url),
            authority_host: Some(authority_url),
            allow_custom_authority: false,
            request_timeout: None,
            max_pages: None,
            origin: Origin::Demo,
        }
    }

    /// The Graph client's configuration, checked: a bad URL, an unknown authority host or a
    /// zero limit is a usage error (exit 2), found before any request.
    pub fn graph_config(&self) -> Result<GraphConfig> {
        let cloud: Cloud = parse_cloud(&self.cloud_name)?;
        let mut cfg = GraphConfig::new(
            self.tenant_id.clone(),
            self.client_id.clone(),
            self.secret.clone(),
        )
        .with_cloud(cloud)
        .with_auth(self.auth.clone());
        if let Some(url) = &self.graph_endpoint {
            cfg = cfg.with_graph_endpoint(url.clone());
        }
        if let Some(url) = &self.authority_host {
            cfg = cfg.with_authority_host(url.clone());
        }
        cfg = cfg.with_custom_authority_allowed(self.allow_custom_authority);
        if let Some(d) = self.request_timeout {
            cfg = cfg.with_request_timeout(d);
        }
        if let Some(n) = self.max_pages {
            cfg = cfg.with_max_pages(n);
        }
        cfg.validate().map_err(|e| match e {
            graph_client::GraphError::Config { message } => ShellError::Usage(message),
            other => ShellError::Graph(other),
        })?;
        Ok(cfg)
    }

    /// The Graph client for this connection. A credential that cannot be loaded (a certificate
    /// file that is unreadable, a wrong PFX password) is a configuration error (exit 2), found
    /// before any request.
    pub fn client(&self) -> Result<graph_client::GraphClient> {
        graph_client::GraphClient::new(self.graph_config()?).map_err(|e| match e {
            graph_client::GraphError::Config { message } => ShellError::Usage(message),
            other => ShellError::Graph(other),
        })
    }

    /// True when `text` holds a secret this connection signs in with (the client secret, the
    /// PFX password, the managed identity header), as typed or form-encoded (`~` as `%7E`), so
    /// the REPL can keep such a line out of its history file.
    pub fn secret_appears_in(&self, text: &str) -> bool {
        let secrets = [
            Some(&self.secret),
            self.auth.certificate_password.as_ref(),
            self.auth.identity_header.as_ref(),
        ];
        secrets.into_iter().flatten().any(|s| {
            let secret = s.expose();
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            !secret.is_empty() && (text.contains(secret) || text.contains(&encoded))
        })
    }

    /// How the shell signs in, as `\conn` shows it: the method and where its credential comes
    /// from, never the credential.
    fn sign_in(&self) -> String {
        let a = &self.auth;
        let path = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let how = match a.method {
            AuthMethod::Secret => format!("client secret, from {}", self.secret_env),
            AuthMethod::Certificate => format!(
                "client certificate {} (AZURE_CLIENT_CERTIFICATE_PATH{})",
                path(&a.certificate_path),
                if a.certificate_password.is_some() {
                    ", password from AZURE_CLIENT_CERTIFICATE_PASSWORD"
                } else {
                    ""
                }
            ),
            AuthMethod::WorkloadIdentity => format!(
                "workload identity, federated token {} (AZURE_FEDERATED_TOKEN_FILE)",
                path(&a.federated_token_file)
            ),
            AuthMethod::ManagedIdentity => format!(
                "managed identity ({}), via {}",
                if self.client_id.is_empty() {
                    "system-assigned".to_string()
                } else {
                    format!("user-assigned, client id {}", self.client_id)
                },
                match (&a.identity_endpoint, &a.imds_endpoint) {
                    (Some(e), _) => format!("IDENTITY_ENDPOINT {e}"),
                    (None, Some(i)) => format!("IMDS {i}"),
                    (None, None) => "IMDS http://169.254.169.254".to_string(),
                }
            ),
            AuthMethod::AzureCli => "Azure CLI (az account get-access-token)".to_string(),
            AuthMethod::Default => {
                let mut configured = Vec::new();
                if !self.secret.is_empty() {
                    configured.push(format!("client secret set, from {}", self.secret_env));
                }
                if a.certificate_path.is_some() {
                    configured.push(format!("certificate {}", path(&a.certificate_path)));
                }
                if a.federated_token_file.is_some() {
                    configured.push(format!("federated token {}", path(&a.federated_token_file)));
                }
                if let Some(e) = &a.identity_endpoint {
                    configured.push(format!("IDENTITY_ENDPOINT {e}"));
                }
                format!(
                    "default chain: environment, workload identity, managed identity, Azure CLI{}",
                    if configured.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", configured.join("; "))
                    }
                )
            }
        };
        let chosen = if self.auth_explicit {
            format!("--auth {}", a.method)
        } else {
            "chosen from the environment".to_string()
        };
        format!("{how} [{chosen}]")
    }

    /// Lines for `\conn`: everything needed to know who we are, never a secret, key or token.
    /// `signed_in` is the client's own account of its credential (for the default chain, the
    /// method that worked).
    pub fn describe(&self, signed_in: Option<CredentialInfo>) -> Vec<(String, String)> {
        let origin = match &self.origin {
            Origin::Environment => "environment / command line".to_string(),
            Origin::Profile(p) => format!("profile '{p}'"),
            Origin::Demo => "--demo (simulated tenant on loopback)".to_string(),
        };
        let shown = |v: &str| {
            if v.is_empty() {
                "(not set)".to_string()
            } else {
                v.to_string()
            }
        };
        let mut lines = vec![
            ("tenant".into(), shown(&self.tenant_id)),
            ("client id".into(), shown(&self.client_id)),
            ("sign-in".into(), self.sign_in()),
        ];
        if let Some(info) = signed_in {
            lines.push(("identity".into(), info.to_string()));
        }
        lines.extend([
            ("cloud".into(), self.cloud_name.clone()),
            // The URLs requests actually go to, cloud defaults resolved.
            (
                "graph endpoint".into(),
                self.endpoint(|c| c.effective_graph_endpoint().map(|g| format!("{g}/v1.0"))),
            ),
        ]);
        // Managed identity and the Azure CLI never talk to the token endpoint themselves.
        if !matches!(
            self.auth.method,
            AuthMethod::ManagedIdentity | AuthMethod::AzureCli
        ) {
            lines.push((
                "token endpoint".into(),
                // The token path is graph-client's (token_endpoint.rs); the authority is ours.
                self.endpoint(|c| {
                    c.effective_authority()
                        .map(|a| format!("{a}/{}/oauth2/v2.0/token", self.tenant_id))
                }),
            ));
        }
        lines.push(("settings from".into(), origin));
        lines
    }
}

impl Connection {
    fn endpoint(
        &self,
        url: impl Fn(&GraphConfig) -> std::result::Result<String, graph_client::GraphError>,
    ) -> String {
        match self.graph_config() {
            Ok(cfg) => url(&cfg).unwrap_or_else(|e| format!("(invalid: {e})")),
            Err(e) => format!("(invalid: {e})"),
        }
    }
}

pub fn parse_cloud(name: &str) -> Result<Cloud> {
    name.parse::<Cloud>().map_err(|_| {
        ShellError::Usage(format!(
            "unknown cloud '{name}': expected global, usgov, usgov-dod or china"
        ))
    })
}

/// Checks that the connection's method has what it needs, or names each missing variable and
/// how to set it. `path` is the PATH variable (where `az` may be). Without `--auth` the default chain is used, and at least one of its methods must be configured: the
/// one thing that cannot be seen from here is a VM's IMDS, which `--auth managed-identity`
/// selects.
pub fn check_method(c: &Connection, path: Option<&str>) -> Result<()> {
    let (method, explicit) = (c.auth.method, c.auth_explicit);
    let (tenant_id, client_id, secret) = (c.tenant_id.as_str(), c.client_id.as_str(), &c.secret);
    let (secret_env, auth) = (c.secret_env.as_str(), &c.auth);
    let tenant = format!("{ENV_TENANT_ID} (or --tenant-id)");
    let client = format!("{ENV_CLIENT_ID} (or --client-id)");
    let secret_line = if secret_env == ENV_CLIENT_SECRET {
        format!("{ENV_CLIENT_SECRET} (or name another variable with --client-secret-env)")
    } else {
        format!(
            "{} (named by client_secret_env / --client-secret-env); give the NAME of a \
             variable that holds the secret, never the secret itself",
            shown_env_name(secret_env)
        )
    };
    let mut missing = Vec::new();
    let app_ids = |missing: &mut Vec<String>| {
        if tenant_id.is_empty() {
            missing.push(tenant.clone());
        }
        if client_id.is_empty() {
            missing.push(client.clone());
        }
    };
    match method {
        AuthMethod::Secret => {
            app_ids(&mut missing);
            if secret.is_empty() {
                missing.push(secret_line);
            }
        }
        AuthMethod::Certificate => {
            app_ids(&mut missing);
            if auth.certificate_path.is_none() {
                missing.push(
                    "AZURE_CLIENT_CERTIFICATE_PATH (a PEM with the private key and the \
                     certificate, or a PFX with AZURE_CLIENT_CERTIFICATE_PASSWORD)"
                        .into(),
                );
            }
        }
        AuthMethod::WorkloadIdentity => {
            app_ids(&mut missing);
            if auth.federated_token_file.is_none() {
                missing.push(
                    "AZURE_FEDERATED_TOKEN_FILE (set by the Azure Workload Identity webhook in a \
                     pod labelled azure.workload.identity/use: \"true\")"
                        .into(),
                );
            }
        }
        AuthMethod::ManagedIdentity => {
            if auth.identity_endpoint.is_some() != auth.identity_header.is_some() {
                missing.push(
                    "both IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service, Container Apps and \
                     Functions set them together)"
                        .into(),
                );
            }
        }
        AuthMethod::AzureCli => {}
        AuthMethod::Default if explicit => {}
        AuthMethod::Default => {
            let ids = !tenant_id.is_empty() && !client_id.is_empty();
            let plausible = (ids
                && (!secret.is_empty()
                    || auth.certificate_path.is_some()
                    || auth.federated_token_file.is_some()))
                || auth.identity_endpoint.is_some()
                || auth.imds_endpoint.is_some()
                || az_on_path(path);
            if !plausible {
                app_ids(&mut missing);
                missing.push(format!(
                    "{secret_line}, or AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_FEDERATED_TOKEN_FILE"
                ));
                return Err(ShellError::Credentials(missing_message(
                    &missing,
                    "No sign-in method is configured. Set the variables of one (a client secret \
                     or certificate of an app registration, or workload identity), run az login, \
                     or on an Azure host with a managed identity use --auth managed-identity.",
                )));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(ShellError::Credentials(missing_message(
        &missing,
        &format!("--auth {method} needs them."),
    )))
}

/// `az` on `path` (the PATH variable): the Azure CLI may hold a signed-in account.
fn az_on_path(path: Option<&str>) -> bool {
    path.is_some_and(|path| {
        std::env::split_paths(path).any(|d| d.join("az").is_file() || d.join("az.cmd").is_file())
    })
}

fn missing_message(missing: &[String], why: &str) -> String {
    let mut msg = format!("missing Azure credentials. {why} Set:\n");
    for m in missing {
        msg.push_str("  ");
        msg.push_str(m);
        msg.push('\n');
    }
    msg.push_str(
        "They come from an Entra ID app registration with the Microsoft Graph application \
         permissions Team.ReadBasic.All, Channel.ReadBasic.All, ChannelMessage.Read.All and \
         TeamMember.Read.All, with admin consent granted; reading channel messages also needs \
         Microsoft's approval of the app for the protected Teams APIs (see \"Azure app \
         registration\" in the README; \"Setting up access\" covers every sign-in method).\nTo try \
         teams-sql without a tenant: teams-sql --demo",
    );
    msg
}
