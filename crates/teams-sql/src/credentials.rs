//! Which tenant and app the shell connects as. Precedence, highest first: command-line flags,
//! the selected profile, then the `AZURE_*` environment variables that azure-identity and the
//! Azure CLI use. The secret is only ever read from an environment variable.

use std::fmt;
use std::time::Duration;

use graph_client::{Cloud, GraphConfig, Secret};

use crate::args::Args;
use crate::error::{Result, ShellError};
use crate::profile::Profile;

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
    secret: Secret,
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
fn secret_from(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
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

fn parse_cloud(name: &str) -> Result<Cloud> {
    name.parse::<Cloud>().map_err(|_| {
        ShellError::Usage(format!(
            "unknown cloud '{name}': expected global, usgov, usgov-dod or china"
        ))
    })
}

/// Resolves flags, profile and environment into a connection, or explains exactly what is
/// missing. `env` is injected so tests do not depend on the process environment.
pub fn resolve(
    args: &Args,
    profile: Option<&(String, Profile)>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Connection> {
    let p = profile.map(|(_, p)| p);
    let env_nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());

    let tenant_id = args
        .tenant_id
        .clone()
        .or_else(|| p.and_then(|p| p.tenant_id.clone()))
        .or_else(|| env_nonempty(ENV_TENANT_ID));
    let client_id = args
        .client_id
        .clone()
        .or_else(|| p.and_then(|p| p.client_id.clone()))
        .or_else(|| env_nonempty(ENV_CLIENT_ID));
    let secret_env = args
        .client_secret_env
        .clone()
        .or_else(|| p.and_then(|p| p.client_secret_env.clone()))
        .unwrap_or_else(|| ENV_CLIENT_SECRET.to_string());
    let secret = secret_from(env, &secret_env);

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
                shown_env_name(&secret_env)
            )
        });
    }
    let (Some(tenant_id), Some(client_id), Some(secret)) = (tenant_id, client_id, secret) else {
        return Err(ShellError::Credentials(missing_message(&missing)));
    };

    let cloud_name = args
        .cloud
        .clone()
        .or_else(|| p.and_then(|p| p.cloud.clone()))
        .unwrap_or_else(|| "global".to_string());
    parse_cloud(&cloud_name)?;
    let graph_endpoint = args
        .graph_endpoint
        .clone()
        .or_else(|| p.and_then(|p| p.graph_endpoint.clone()));
    let authority_host = args
        .authority_host
        .clone()
        .or_else(|| p.and_then(|p| p.authority_host.clone()))
        .or_else(|| env_nonempty(ENV_AUTHORITY_HOST));
    let allow_custom_authority =
        args.allow_custom_authority || p.and_then(|p| p.allow_custom_authority).unwrap_or(false);
    let request_timeout = match args
        .request_timeout
        .or_else(|| p.and_then(|p| p.request_timeout))
    {
        Some(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => {
            Some(Duration::from_secs_f64(secs))
        }
        Some(secs) => {
            return Err(ShellError::Usage(format!(
                "request timeout {secs} s: give a number of seconds above 0 and at most 86400"
            )));
        }
        None => None,
    };
    let max_pages = args.max_pages.or_else(|| p.and_then(|p| p.max_pages));
    let origin = match profile {
        Some((name, _)) => Origin::Profile(name.clone()),
        None => Origin::Environment,
    };
    Ok(Connection {
        tenant_id,
        client_id,
        secret: Secret::new(secret),
        secret_env: shown_env_name(&secret_env),
        cloud_name,
        graph_endpoint,
        authority_host,
        allow_custom_authority,
        request_timeout,
        max_pages,
        origin,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["teams-sql"];
        v.extend_from_slice(extra);
        Args::parse_from(v)
    }

    #[test]
    fn missing_credentials_name_each_variable_and_the_readme() {
        let env = env_of(&[("AZURE_CLIENT_ID", "c")]);
        let err = resolve(&args(&[]), None, &env).unwrap_err().to_string();
        assert!(err.contains("AZURE_TENANT_ID"), "{err}");
        assert!(err.contains("AZURE_CLIENT_SECRET"), "{err}");
        assert!(!err.contains("AZURE_CLIENT_ID (or"), "{err}");
        assert!(err.contains("Azure app registration"), "{err}");
        assert!(err.contains("ChannelMessage.Read.All"), "{err}");
    }

    #[test]
    fn flags_override_profile_override_environment() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "env-t"),
            ("AZURE_CLIENT_ID", "env-c"),
            ("MY_SECRET", "s3cr3t-value"),
            ("AZURE_AUTHORITY_HOST", "https://login.example"),
        ]);
        let profile = (
            "p".to_string(),
            Profile {
                client_id: Some("prof-c".into()),
                client_secret_env: Some("MY_SECRET".into()),
                cloud: Some("usgov".into()),
                ..Profile::default()
            },
        );
        let c = resolve(&args(&["--tenant-id", "flag-t"]), Some(&profile), &env).unwrap();
        assert_eq!(c.tenant_id, "flag-t");
        assert_eq!(c.client_id, "prof-c");
        assert_eq!(c.cloud_name, "usgov");
        assert_eq!(c.authority_host.as_deref(), Some("https://login.example"));
        assert_eq!(c.origin, Origin::Profile("p".into()));
        let shown = format!("{c:?} {:?}", c.describe());
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("MY_SECRET"), "{shown}");
    }

    #[test]
    fn secret_from_named_variable_missing_is_reported_by_that_name() {
        let env = env_of(&[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c")]);
        let err = resolve(&args(&["--client-secret-env", "TEAMS_SECRET"]), None, &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("TEAMS_SECRET"), "{err}");
    }

    #[test]
    fn a_secret_given_as_the_variable_name_is_never_echoed() {
        let env = env_of(&[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c")]);
        for pasted in ["Ab8Q~x.yZ_12-abcdEFGH", "abc8qxyz12abcdefgh1234", "a=b", ""] {
            let err = resolve(&args(&["--client-secret-env", pasted]), None, &env)
                .unwrap_err()
                .to_string();
            assert!(pasted.is_empty() || !err.contains(pasted), "{err}");
            assert!(err.contains("client_secret_env"), "{err}");
        }
    }

    #[test]
    fn bad_endpoints_and_authorities_are_usage_errors() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t-value"),
        ]);
        for flags in [
            &["--graph-endpoint", "http://graph.example.com"][..],
            &["--graph-endpoint", "https://[bad"][..],
            &["--authority-host", "https://login.microsoftonline.co"][..],
            &["--max-pages", "0"][..],
            &["--request-timeout", "0"][..],
        ] {
            let err = resolve(&args(flags), None, &env)
                .and_then(|c| c.graph_config())
                .unwrap_err();
            assert_eq!(err.exit_code(), 2, "{flags:?}: {err}");
        }
        let c = resolve(
            &args(&[
                "--authority-host",
                "https://idp.example",
                "--allow-custom-authority",
                "--request-timeout",
                "2.5",
                "--max-pages",
                "9",
            ]),
            None,
            &env,
        )
        .unwrap();
        let cfg = c.graph_config().unwrap();
        assert_eq!(cfg.request_timeout, Duration::from_millis(2500));
        assert_eq!(cfg.max_pages, 9);
    }

    #[test]
    fn unknown_cloud_is_rejected() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ]);
        assert!(resolve(&args(&["--cloud", "mars"]), None, &env).is_err());
    }
}
