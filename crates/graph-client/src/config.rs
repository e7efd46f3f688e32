//! Client configuration: credentials, cloud, base URL overrides, limits,
//! retry bounds and timeouts, from code or from the azure-identity
//! environment variables.

use std::net::IpAddr;
use std::time::Duration;

use std::sync::Arc;

use crate::cloud::Cloud;
use crate::credential::{AppRegistration, AuthMethod, AuthSettings, TokenCredential};
use crate::error::GraphError;
use crate::pacing::ThrottleLimits;
use crate::retry::RetryPolicy;
use crate::secret::Secret;

#[derive(Clone, Debug)]
pub struct GraphConfig {
    /// The app's tenant. Optional for managed identity and the Azure CLI
    /// (then passed as `--tenant`).
    pub tenant_id: String,
    /// The app's (client) id; for managed identity, a user-assigned
    /// identity's client id (empty: the system-assigned identity).
    pub client_id: String,
    /// The client secret of [`AuthMethod::Secret`] (and the default
    /// chain's environment step).
    pub client_secret: Secret,
    /// The sign-in method and its settings (certificate, federated token
    /// file, managed identity endpoints, or a credential of your own).
    pub auth: AuthSettings,
    pub cloud: Cloud,
    /// Overrides the cloud's token host, e.g. `https://login.microsoftonline.us`
    /// or a simulator's `http://127.0.0.1:PORT`.
    pub authority_host: Option<String>,
    /// Overrides the cloud's Graph host (no `/v1.0`), e.g. a proxy or simulator.
    pub graph_endpoint: Option<String>,
    /// Overrides the OAuth2 scope (normally `<cloud graph host>/.default`).
    pub scope: Option<String>,
    pub limits: ThrottleLimits,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    /// Longest silence while reading a response.
    pub read_timeout: Duration,
    /// Total deadline of one attempt: connecting, the headers and the
    /// whole body. A server that trickles a byte at a time never trips
    /// `read_timeout`; this bounds it. A missed deadline is retried like a
    /// 504 Gateway Timeout. Default [`DEFAULT_REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// Most pages one `@odata.nextLink` chain may have before the client
    /// stops with an error. Default [`DEFAULT_MAX_PAGES`].
    pub max_pages: u64,
    /// Accept an `https://` authority host that is none of Microsoft's
    /// sign-in hosts. Off by default: the client credential goes to that host,
    /// so a typo or a hostile config must not be able to redirect it.
    pub allow_custom_authority: bool,
}

/// Default per-attempt deadline: 100 s, the `HttpClient.Timeout` default
/// of .NET that the Microsoft Graph SDKs inherit (learn.microsoft.com,
/// "HttpClient.Timeout Property"), so a request Graph itself would still
/// answer is never cut short by us. The largest page we ask for (50 posts
/// with up to 1000 inline replies, see `body::MAX_BODY`) arrives well
/// within it on any working connection.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(100);

/// Default page cap of one nextLink chain. Derived from Microsoft's
/// documented limits ("Limits and specifications for Microsoft Teams",
/// learn.microsoft.com/microsoftteams/limits-specifications-teams) and
/// the page sizes of the Graph v1.0 reference pages (learn.microsoft.com/
/// graph/api/group-list, team-list-members, channel-list-messages,
/// chatmessage-list-replies, chatmessage-delta):
/// - the longest bounded collection is a tenant's teams: at most 500,000
///   teams per organisation; `GET /groups` serves 100 per page by default
///   (`GET /teams` documents no page size), 5,000 pages;
/// - members: 25,000 per team at 100 per page (maximum 999), 250 pages;
///   channels: 1,000 per team, a few pages;
/// - channel messages have no documented count; their pages hold at most
///   50 (`$top` maximum of list, replies and delta). 100,000 pages is 5
///   million posts in one channel (or one team's export), and at
///   Microsoft's documented 1 request per second per channel it is more
///   than 27 hours of reading that single chain.
///
/// So 100,000 pages is 20 times the longest bounded chain and beyond any
/// channel a session reads in one go, while a server that hands out
/// endless fresh links is stopped instead of streaming forever. Tables
/// read with a tiny `page_size` may need it raised.
pub const DEFAULT_MAX_PAGES: u64 = 100_000;

/// Microsoft's sign-in hosts: the national clouds' authority hosts
/// (`Cloud::authority_host`), the China host named by the Graph
/// deployments page, and the global cloud's historical aliases.
const MICROSOFT_AUTHORITY_HOSTS: [&str; 6] = [
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn",
    "login.windows.net",
    "login.microsoft.com",
];

impl GraphConfig {
    /// Global cloud, Microsoft's limits, default retry bounds and timeouts.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Self {
        GraphConfig {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret,
            auth: AuthSettings::default(),
            cloud: Cloud::Global,
            authority_host: None,
            graph_endpoint: None,
            scope: None,
            limits: ThrottleLimits::microsoft(),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_pages: DEFAULT_MAX_PAGES,
            allow_custom_authority: false,
        }
    }

    /// From the azure-identity environment variables, signing in with the
    /// first method that applies in `DefaultAzureCredential`'s order
    /// (environment secret or certificate, workload identity, managed
    /// identity, Azure CLI); `AZURE_AUTHORITY_HOST` picks the cloud.
    pub fn from_env() -> Result<Self, GraphError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env) with a custom variable source
    /// (tests, or a config file mapped to the same names).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, GraphError> {
        Self::from_lookup_with(AuthMethod::Default, lookup)
    }

    /// From the environment variables, signing in with `method`. Fails
    /// when a variable the method needs is unset.
    pub fn from_lookup_with(
        method: AuthMethod,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, GraphError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let secret = lookup("AZURE_CLIENT_SECRET")
            .filter(|v| !v.is_empty())
            .unwrap_or_default();
        let mut cfg = GraphConfig::new(
            get("AZURE_TENANT_ID").unwrap_or_default(),
            get("AZURE_CLIENT_ID").unwrap_or_default(),
            Secret::new(secret),
        );
        cfg.auth = AuthSettings::from_lookup(method, &lookup);
        if let Some(host) = get("AZURE_AUTHORITY_HOST") {
            if let Some(cloud) = Cloud::from_authority_host(&host) {
                cfg.cloud = cloud;
            }
            cfg.authority_host = Some(host);
        }
        cfg.auth.validate(cfg.app())?;
        Ok(cfg)
    }

    /// Signs in with `auth` (method and settings).
    pub fn with_auth(mut self, auth: AuthSettings) -> Self {
        self.auth = auth;
        self
    }

    /// Signs in with a credential of your own (for example one backed by
    /// the `azure_identity` crate); the client still caches its tokens,
    /// refreshes them ahead of expiry and retries transient failures.
    pub fn with_credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.auth.custom = Some(credential);
        self
    }

    pub fn with_graph_endpoint(mut self, url: impl Into<String>) -> Self {
        self.graph_endpoint = Some(url.into());
        self
    }

    pub fn with_authority_host(mut self, url: impl Into<String>) -> Self {
        self.authority_host = Some(url.into());
        self
    }

    pub fn with_cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    pub fn with_limits(mut self, limits: ThrottleLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self
    }

    /// Total deadline of each attempt (see [`GraphConfig::request_timeout`]).
    pub fn with_request_timeout(mut self, deadline: Duration) -> Self {
        self.request_timeout = deadline;
        self
    }

    /// Page cap of one nextLink chain (see [`GraphConfig::max_pages`]).
    pub fn with_max_pages(mut self, max_pages: u64) -> Self {
        self.max_pages = max_pages;
        self
    }

    /// Accept an authority host that is not Microsoft's (see
    /// [`GraphConfig::allow_custom_authority`]).
    pub fn with_custom_authority_allowed(mut self, allowed: bool) -> Self {
        self.allow_custom_authority = allowed;
        self
    }

    /// The token service base URL actually used (validated): one of
    /// Microsoft's sign-in hosts, a loopback address (simulators, local
    /// proxies), or any https host when `allow_custom_authority` is set.
    pub fn effective_authority(&self) -> Result<String, GraphError> {
        let raw = self
            .authority_host
            .clone()
            .unwrap_or_else(|| self.cloud.authority_host().to_string());
        let base = checked_base_url(&raw, "authority host")?;
        if self.allow_custom_authority {
            return Ok(base);
        }
        let url = url::Url::parse(&base)
            .map_err(|e| GraphError::config(format!("authority host '{base}': {e}")))?;
        let known = match url.host() {
            Some(url::Host::Domain(d)) => {
                d.eq_ignore_ascii_case("localhost")
                    || MICROSOFT_AUTHORITY_HOSTS
                        .iter()
                        .any(|h| d.eq_ignore_ascii_case(h))
            }
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        };
        if !known {
            return Err(GraphError::config(format!(
                "authority host '{base}' is not a Microsoft sign-in host ({}) nor loopback; the client secret would be sent to it. Check for a typo; if this host really is your identity provider, allow it explicitly (allow_custom_authority, --allow-custom-authority)",
                MICROSOFT_AUTHORITY_HOSTS.join(", ")
            )));
        }
        Ok(base)
    }

    /// The Graph base URL actually used (validated, no trailing slash, no `/v1.0`).
    pub fn effective_graph_endpoint(&self) -> Result<String, GraphError> {
        let raw = self
            .graph_endpoint
            .clone()
            .unwrap_or_else(|| self.cloud.graph_host().to_string());
        let base = checked_base_url(&raw, "Graph endpoint")?;
        // Accept "https://graph.microsoft.com/v1.0" too; the client adds the version.
        Ok(base.strip_suffix("/v1.0").unwrap_or(&base).to_string())
    }

    /// The app registration part, as the sign-in methods see it.
    pub(crate) fn app(&self) -> AppRegistration<'_> {
        AppRegistration {
            tenant_id: &self.tenant_id,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
        }
    }

    pub fn effective_scope(&self) -> String {
        self.scope.clone().unwrap_or_else(|| self.cloud.scope())
    }

    /// Checks the whole configuration without building a client, so that
    /// a caller can tell bad settings (usage errors) from failures later.
    pub fn validate(&self) -> Result<(), GraphError> {
        self.auth.validate(self.app())?;
        if self.request_timeout.is_zero() {
            return Err(GraphError::config("request_timeout must be more than zero"));
        }
        if self.max_pages == 0 {
            return Err(GraphError::config("max_pages must be at least 1"));
        }
        if self.retry.max_attempts == 0 {
            return Err(GraphError::config("retry.max_attempts must be at least 1"));
        }
        let l = &self.limits;
        let rates_ok = l
            .per_tenant
            .iter()
            .all(|r| r.rps > 0.0 && r.rps.is_finite())
            && l.per_team_rps > 0.0
            && l.per_channel_rps > 0.0
            && l.scale > 0.0
            && l.scale.is_finite()
            && l.headroom > 0.0
            && l.headroom <= 1.0;
        if l.enabled && !rates_ok {
            return Err(GraphError::config(
                "throttle limits must be positive, scale positive and headroom in (0, 1]",
            ));
        }
        self.effective_authority()?;
        self.effective_graph_endpoint()?;
        Ok(())
    }
}

/// Parses a base URL, adding `https://` to a bare host, and refuses plain
/// `http://` unless the host is a loopback address: a token sent in clear
/// text over a real network is a leaked token.
pub(crate) fn checked_base_url(raw: &str, what: &str) -> Result<String, GraphError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|e| GraphError::config(format!("{what} '{trimmed}' is not a valid URL: {e}")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(GraphError::config(format!(
            "{what} '{trimmed}' must not have a query or fragment"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(GraphError::config(format!(
            "{what} must not embed credentials in the URL"
        )));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                None => false,
            };
            if !loopback {
                return Err(GraphError::config(format!(
                    "{what} '{trimmed}' uses plain http:// to a non-loopback host: use https:// (http is allowed only for 127.0.0.1, ::1 and localhost)"
                )));
            }
        }
        other => {
            return Err(GraphError::config(format!(
                "{what} '{trimmed}' has unsupported scheme '{other}': use https://"
            )));
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn base_url_rules() {
        assert_eq!(
            checked_base_url("login.microsoftonline.us", "x").unwrap(),
            "https://login.microsoftonline.us"
        );
        assert!(checked_base_url("http://127.0.0.1:8080", "x").is_ok());
        assert!(checked_base_url("http://[::1]:8080/", "x").is_ok());
        assert!(checked_base_url("http://localhost:1", "x").is_ok());
        assert!(checked_base_url("http://graph.example.com", "x").is_err());
        assert!(checked_base_url("http://10.0.0.1", "x").is_err());
        assert!(checked_base_url("ftp://127.0.0.1", "x").is_err());
        assert!(checked_base_url("https://u:p@graph.example.com", "x").is_err());
    }

    #[test]
    fn from_lookup_reads_azure_vars() {
        let vars: HashMap<&str, &str> = [
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t-value"),
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us"),
        ]
        .into();
        let cfg = GraphConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(cfg.cloud, Cloud::UsGov);
        assert_eq!(cfg.effective_scope(), "https://graph.microsoft.us/.default");
        assert_eq!(
            cfg.effective_graph_endpoint().unwrap(),
            "https://graph.microsoft.us"
        );
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
        assert_eq!(cfg.auth.method, AuthMethod::Default);

        let only_tenant = |k: &str| (k == "AZURE_TENANT_ID").then(|| "t".to_string());
        let err = GraphConfig::from_lookup_with(AuthMethod::Secret, only_tenant)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AZURE_CLIENT_ID") && err.contains("AZURE_CLIENT_SECRET"),
            "{err}"
        );
        let err = GraphConfig::from_lookup_with(AuthMethod::WorkloadIdentity, only_tenant)
            .unwrap_err()
            .to_string();
        assert!(err.contains("AZURE_FEDERATED_TOKEN_FILE"), "{err}");
        // Managed identity and the Azure CLI need no variables at all.
        assert!(GraphConfig::from_lookup_with(AuthMethod::ManagedIdentity, |_| None).is_ok());
    }

    #[test]
    fn custom_authority_needs_explicit_consent() {
        let cfg = GraphConfig::new("t", "c", Secret::new("s"));
        for host in [
            "https://login.microsoftonline.us",
            "LOGIN.MICROSOFTONLINE.COM",
            "http://127.0.0.1:9",
            "https://[::1]:8443",
        ] {
            let c = cfg.clone().with_authority_host(host);
            assert!(c.effective_authority().is_ok(), "{host}");
        }
        for host in [
            "https://login.microsoftonline.co",
            "https://login.microsoftonline.com.evil.example",
            "https://idp.example",
        ] {
            let c = cfg.clone().with_authority_host(host);
            let err = c.effective_authority().unwrap_err().to_string();
            assert!(err.contains("--allow-custom-authority"), "{err}");
            assert!(
                c.with_custom_authority_allowed(true)
                    .effective_authority()
                    .is_ok(),
                "{host}"
            );
        }
    }

    #[test]
    fn clouds_set_hosts() {
        let cfg = GraphConfig::new("t", "c", Secret::new("s")).with_cloud(Cloud::China);
        assert_eq!(
            cfg.effective_graph_endpoint().unwrap(),
            "https://microsoftgraph.chinacloudapi.cn"
        );
        assert_eq!(
            cfg.effective_authority().unwrap(),
            "https://login.partner.microsoftonline.cn"
        );
        let cfg = cfg.with_graph_endpoint("https://proxy.example/v1.0/");
        assert_eq!(
            cfg.effective_graph_endpoint().unwrap(),
            "https://proxy.example"
        );
    }
}
