//! Server lifecycle: shutdown is prompt even with idle keep-alive connections, and the port is
//! released.

mod common;

use std::time::{Duration, Instant};

use common::Env;
use graph_sim::SimConfig;

#[tokio::test]
async fn shutdown_is_prompt_and_releases_the_port() {
    let env = Env::new(SimConfig::for_tests()).await;
    env.ok("/teams").await;
    let url = env.url("/teams");
    let Env {
        server,
        http,
        token,
    } = env;
    let start = Instant::now();
    server.shutdown().await;
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "shutdown took {:?}",
        start.elapsed()
    );
    let r = http.get(&url).bearer_auth(&token).send().await;
    assert!(r.is_err(), "server still answering after shutdown");
}
