//! Which tenant and app the shell connects as, and what a complete set of credentials is.
//! Where each value comes from (flags, profile, environment) is decided in `settings.rs`. The
//! secret is only ever read from an environment variable.

use std::fmt;
use std::time::Duration;

use graph_client::{Cloud, GraphConfig, Secret};

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
        .with_cloud(cloud);
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

    /// True when `text` holds the client secret, as typed or form-encoded (`~` as `%7E`), so
    /// the REPL can keep such a line out of its history file.
    pub fn secret_appears_in(&self, text: &str) -> bool {
        let secret = self.secret.expose();
        if secret.is_empty() {
            return false;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        text.contains(secret) || text.contains(&encoded)
    }

    /// Lines for `\conn`: everything needed to know who we are, never the secret.
    pub fn describe(&self) -> Vec<(String, String)> {
        let origin = match &self.origin {
            Origin::Environment => "environment / command line".to_string(),
            Origin::Profile(p) => format!("profile '{p}'"),
            Origin::Demo => "--demo (simulated tenant on loopback)".to_string(),
        };
        vec![
            ("tenant".into(), self.tenant_id.clone()),
            ("client id".into(), self.client_id.clone()),
            ("secret".into(), format!("set, from {}", self.secret_env)),
            ("cloud".into(), self.cloud_name.clone()),
            // The URLs requests actually go to, cloud defaults resolved.
            (
                "graph endpoint".into(),
                self.endpoint(|c| c.effective_graph_endpoint().map(|g| format!("{g}/v1.0"))),
            ),
            (
                "token endpoint".into(),
                // The token path is graph-client's (token.rs); the authority is ours.
                self.endpoint(|c| {
                    c.effective_authority()
                        .map(|a| format!("{a}/{}/oauth2/v2.0/token", self.tenant_id))
                }),
            ),
            ("settings from".into(), origin),
        ]
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

/// The three values an app registration signs in with, or an error naming each one missing
/// and how to set it. `secret_env` is the variable the secret was looked up in.
pub fn app_credentials(
    tenant_id: Option<String>,
    client_id: Option<String>,
    secret: Option<String>,
    secret_env: &str,
) -> Result<(String, String, Secret)> {
    let mut missing = Vec::new();
    if tenant_id.is_none() {
        missing.push(format!("{ENV_TENANT_ID} (or --tenant-id)"));
    }
    if client_id.is_none() {
        missing.push(format!("{ENV_CLIENT_ID} (or --client-id)"));
    }
    if secret.is_none() {
        missing.push(if secret_env == ENV_CLIENT_SECRET {
            format!("{ENV_CLIENT_SECRET} (or name another variable with --client-secret-env)")
        } else {
            format!(
                "{} (named by client_secret_env / --client-secret-env); give the NAME of a \
                 variable that holds the secret, never the secret itself",
                shown_env_name(secret_env)
            )
        });
    }
    match (tenant_id, client_id, secret) {
        (Some(t), Some(c), Some(s)) => Ok((t, c, Secret::new(s))),
        _ => Err(ShellError::Credentials(missing_message(&missing))),
    }
}

fn missing_message(missing: &[String]) -> String {
    let mut msg = String::from("missing Azure credentials; set:\n");
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
         registration\" in the README).\nTo try teams-sql without a tenant: teams-sql --demo",
    );
    msg
}
