//! Client configuration: credentials, cloud, base URL overrides, limits,
//! retry bounds and timeouts, from code or from the azure-identity
//! environment variables.

use std::net::IpAddr;
use std::time::Duration;

use crate::cloud::Cloud;
use crate::error::GraphError;
use crate::pacing::ThrottleLimits;
use crate::retry::RetryPolicy;
use crate::secret::Secret;

#[derive(Clone, Debug)]
pub struct GraphConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
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
}

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
            cloud: Cloud::Global,
            authority_host: None,
            graph_endpoint: None,
            scope: None,
            limits: ThrottleLimits::microsoft(),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
        }
    }

    /// From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` and
    /// optionally `AZURE_AUTHORITY_HOST` (the azure-identity convention).
    pub fn from_env() -> Result<Self, GraphError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env) with a custom variable source
    /// (tests, or a config file mapped to the same names).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, GraphError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut missing = Vec::new();
        let tenant = get("AZURE_TENANT_ID");
        let client = get("AZURE_CLIENT_ID");
        let secret = lookup("AZURE_CLIENT_SECRET").filter(|v| !v.is_empty());
        if tenant.is_none() {
            missing.push("AZURE_TENANT_ID");
        }
        if client.is_none() {
            missing.push("AZURE_CLIENT_ID");
        }
        if secret.is_none() {
            missing.push("AZURE_CLIENT_SECRET");
        }
        let (Some(tenant), Some(client), Some(secret)) = (tenant, client, secret) else {
            return Err(GraphError::config(format!(
                "{} not set: set the tenant id, app (client) id and client secret of an app registration with Graph application permissions",
                missing.join(", ")
            )));
        };
        let mut cfg = GraphConfig::new(tenant, client, Secret::new(secret));
        if let Some(host) = get("AZURE_AUTHORITY_HOST") {
            if let Some(cloud) = Cloud::from_authority_host(&host) {
                cfg.cloud = cloud;
            }
            cfg.authority_host = Some(host);
        }
        Ok(cfg)
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

    /// The token service base URL actually used (validated).
    pub fn effective_authority(&self) -> Result<String, GraphError> {
        let raw = self
            .authority_host
            .clone()
            .unwrap_or_else(|| self.cloud.authority_host().to_string());
        checked_base_url(&raw, "authority host")
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

    pub fn effective_scope(&self) -> String {
        self.scope.clone().unwrap_or_else(|| self.cloud.scope())
    }

    pub(crate) fn validate(&self) -> Result<(), GraphError> {
        if self.tenant_id.trim().is_empty() {
            return Err(GraphError::config(
                "tenant id is empty: set AZURE_TENANT_ID",
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(GraphError::config(
                "client id is empty: set AZURE_CLIENT_ID",
            ));
        }
        if self.client_secret.is_empty() {
            return Err(GraphError::config(
                "client secret is empty: set AZURE_CLIENT_SECRET",
            ));
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

        let err = GraphConfig::from_lookup(|k| (k == "AZURE_TENANT_ID").then(|| "t".to_string()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("AZURE_CLIENT_ID") && err.contains("AZURE_CLIENT_SECRET"));
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
