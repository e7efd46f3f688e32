//! Clients pointed at an in-process simulator.
#![allow(dead_code)]

use std::time::Duration;

use graph_client::{GraphClient, GraphConfig, RetryPolicy, Secret, ThrottleLimits};

/// Fast retries so tests of the retry path take milliseconds.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        max_elapsed: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

pub fn sim_config(server: &graph_sim::SimServer) -> GraphConfig {
    GraphConfig::new(
        graph_sim::DEFAULT_TENANT_ID,
        graph_sim::DEFAULT_CLIENT_ID,
        Secret::new(graph_sim::DEFAULT_CLIENT_SECRET),
    )
    .with_graph_endpoint(server.graph_url())
    .with_authority_host(server.authority_url())
    .with_limits(ThrottleLimits::unlimited())
    .with_retry(fast_retry())
}

pub fn sim_client(server: &graph_sim::SimServer) -> GraphClient {
    GraphClient::new(sim_config(server)).expect("client")
}
