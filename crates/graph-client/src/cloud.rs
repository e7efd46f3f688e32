//! National clouds: each one has its own token host and Graph host, and a
//! token from one cloud is useless in another.

use std::fmt;
use std::str::FromStr;

/// A Microsoft cloud by name (docs/graph.md §7.2).
///
/// GCC (not High) tenants use [`Cloud::Global`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Cloud {
    #[default]
    Global,
    /// US Government L4 (GCC High).
    UsGov,
    /// US Government L5 (DoD).
    UsGovDod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    pub const ALL: [Cloud; 4] = [Cloud::Global, Cloud::UsGov, Cloud::UsGovDod, Cloud::China];

    /// The name accepted by `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::UsGovDod => "usgov-dod",
            Cloud::China => "china",
        }
    }

    /// Base URL of the Entra ID token service.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDod => "https://login.microsoftonline.us",
            // The Graph deployments page and the Entra national-cloud page
            // disagree (login.chinacloudapi.cn vs login.partner.microsoftonline.cn).
            // The Entra page is the identity team's own and is newer, so it wins;
            // AZURE_AUTHORITY_HOST overrides it for tenants that need the other.
            Cloud::China => "https://login.partner.microsoftonline.cn",
        }
    }

    /// Base URL of Microsoft Graph, without the `/v1.0` version segment.
    pub fn graph_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// OAuth2 scope for the client-credentials grant: the cloud's Graph
    /// resource with `/.default` (a single resource, as the grant requires).
    pub fn scope(self) -> String {
        format!("{}/.default", self.graph_host())
    }

    /// Guesses the cloud from an authority host, so that setting only
    /// `AZURE_AUTHORITY_HOST` (the azure-identity convention) also selects a
    /// matching Graph host and scope. `.us` maps to GCC High because the token
    /// host cannot tell GCC High from DoD; DoD users pick the cloud explicitly.
    pub fn from_authority_host(host: &str) -> Option<Cloud> {
        let h = host.trim_end_matches('/').to_ascii_lowercase();
        let h = h
            .strip_prefix("https://")
            .or_else(|| h.strip_prefix("http://"))
            .unwrap_or(&h);
        match h {
            "login.microsoftonline.com" => Some(Cloud::Global),
            "login.microsoftonline.us" => Some(Cloud::UsGov),
            "login.chinacloudapi.cn" | "login.partner.microsoftonline.cn" => Some(Cloud::China),
            _ => None,
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cloud {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "global" | "public" | "azurepubliccloud" => Ok(Cloud::Global),
            "usgov" | "gcchigh" | "gcc-high" | "azureusgovernment" => Ok(Cloud::UsGov),
            "usgov-dod" | "dod" => Ok(Cloud::UsGovDod),
            "china" | "azurechinacloud" => Ok(Cloud::China),
            other => Err(format!(
                "unknown cloud '{other}': use one of global, usgov, usgov-dod, china"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_hosts() {
        for c in Cloud::ALL {
            assert_eq!(c.name().parse::<Cloud>(), Ok(c));
        }
        assert_eq!(
            Cloud::UsGovDod.scope(),
            "https://dod-graph.microsoft.us/.default"
        );
        assert_eq!(
            Cloud::Global.scope(),
            "https://graph.microsoft.com/.default"
        );
        assert!("mars".parse::<Cloud>().is_err());
        assert_eq!(
            Cloud::from_authority_host("https://login.microsoftonline.us/"),
            Some(Cloud::UsGov)
        );
    }
}
