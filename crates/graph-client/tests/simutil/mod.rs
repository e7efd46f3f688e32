//! Clients pointed at an in-process simulator.
#![allow(dead_code)]

use graph_client::{GraphClient, GraphConfig, Secret, ThrottleLimits};

pub use crate::common::fast_retry;

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
