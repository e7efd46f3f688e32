//! Links Graph hands back (`@odata.nextLink`, `@odata.deltaLink`,
//! `replies@odata.nextLink`): made absolute and checked before the bearer
//! token is sent to them.

use crate::error::GraphError;

/// Makes a Graph link absolute and checks it points at our Graph
/// endpoint, so the bearer token is never sent anywhere else.
pub(crate) fn resolve_link(
    graph_endpoint: &str,
    cloud_graph_host: &str,
    link: &str,
) -> Result<String, GraphError> {
    let base = graph_endpoint;
    let base_url = url::Url::parse(base)
        .map_err(|e| GraphError::config(format!("Graph endpoint '{base}' is invalid: {e}")))?;
    let lower = link.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        // Relative links (key syntax such as "teams('x')/channels/...")
        // are relative to the service root.
        let rel = link.trim_start_matches('/');
        let rel = rel.strip_prefix("v1.0/").unwrap_or(rel);
        return Ok(format!("{base}/v1.0/{rel}"));
    }
    let parsed = url::Url::parse(link).map_err(|_| GraphError::ForeignLink {
        link_origin: "(unparsable link)".to_string(),
    })?;
    let origin = parsed.origin();
    let rest = &parsed[url::Position::BeforePath..];
    if origin == base_url.origin() {
        return Ok(link.to_string());
    }
    if let Ok(cloud) = url::Url::parse(cloud_graph_host)
        && origin == cloud.origin()
    {
        // A proxy or simulator standing in for Graph passed Graph's own
        // link through: keep path and query, send it to the stand-in.
        let prefix = base_url.path().trim_end_matches('/');
        return Ok(format!(
            "{}{}{}",
            base_url.origin().ascii_serialization(),
            prefix,
            rest
        ));
    }
    Err(GraphError::ForeignLink {
        link_origin: origin.ascii_serialization(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIM: &str = "http://127.0.0.1:9";
    const CLOUD: &str = "https://graph.microsoft.com";

    #[test]
    fn links_resolve_to_the_configured_endpoint_only() {
        let same = "http://127.0.0.1:9/v1.0/teams?$skiptoken=a";
        assert_eq!(resolve_link(SIM, CLOUD, same).unwrap(), same);
        assert_eq!(
            resolve_link(
                SIM,
                CLOUD,
                "teams('x')/channels/getallMessages?$skiptoken=b"
            )
            .unwrap(),
            "http://127.0.0.1:9/v1.0/teams('x')/channels/getallMessages?$skiptoken=b"
        );
        assert_eq!(
            resolve_link(
                SIM,
                CLOUD,
                "https://graph.microsoft.com/v1.0/teams?$skiptoken=c"
            )
            .unwrap(),
            "http://127.0.0.1:9/v1.0/teams?$skiptoken=c"
        );
        for foreign in [
            "https://evil.example/v1.0/teams",
            "http://127.0.0.1:10/v1.0/teams",
            "https://graph.microsoft.us/v1.0/teams",
        ] {
            assert!(
                matches!(
                    resolve_link(SIM, CLOUD, foreign),
                    Err(GraphError::ForeignLink { .. })
                ),
                "{foreign}"
            );
        }
    }
}
