//! Server lifecycle: shutdown completes with idle keep-alive connections open, and the port is
//! released.

mod common;

use common::Env;
use graph_sim::SimConfig;

#[tokio::test]
async fn shutdown_completes_and_releases_the_port() {
    let env = Env::new(SimConfig::for_tests()).await;
    env.ok("/teams").await;
    let url = env.url("/teams");
    let Env {
        server,
        http,
        token,
    } = env;
    // Shutdown returns (bounded inside by a 2 s grace period) and the listener is gone.
    server.shutdown().await;
    let r = http.get(&url).bearer_auth(&token).send().await;
    assert!(r.is_err(), "server still answering after shutdown");
}
