//! Backpressure and cancellation: a slow consumer holds back requests, dropping the stream stops
//! them, and the first rows arrive while discovery is still listing teams.

mod common;

use std::time::Duration;

use common::*;
use datafusion::physical_plan::execute_stream;
use futures::StreamExt;
use graph_sim::SimConfig;

fn big_tenant() -> SimConfig {
    SimConfig {
        teams: 4,
        channels_per_team: 5,
        messages_per_channel: 300,
        replies_per_message: 2,
        members_per_team: 4,
        ..SimConfig::for_tests()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_holds_back_requests_and_dropping_stops_them() {
    let env = env_with(big_tenant(), Default::default()).await;
    env.sim.reset_counters();
    let df = env.ctx.sql("SELECT * FROM messages").await.unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    let mut stream = execute_stream(plan, env.ctx.task_ctx()).unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.num_rows() > 0);
    // Give the producer time to run ahead as far as it can.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pages_total: u64 = 4 * 5 * 300u64.div_ceil(50);
    let sent = env.sim.counters().get("messages_list");
    assert!(
        sent < pages_total / 2,
        "{sent} of {pages_total} message pages requested while the consumer was idle"
    );
    drop(stream);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_drop = env.sim.counters().total();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.sim.counters().total(),
        after_drop,
        "requests after the stream was dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_rows_flow_before_discovery_finishes() {
    let cfg = SimConfig {
        teams: 12,
        channels_per_team: 2,
        // One message per channel: page_size 1 applies to every endpoint, and the client paces
        // requests per channel as Microsoft's limits require.
        messages_per_channel: 1,
        replies_per_message: 1,
        members_per_team: 3,
        ..SimConfig::for_tests()
    };
    // One team per page of `GET /teams`, so discovery itself takes twelve requests.
    let options = datafusion_teams::TeamsOptions {
        page_size: Some(1),
        concurrency: 2,
        ..Default::default()
    };
    let env = env_with(cfg, options).await;
    env.sim.reset_counters();
    let df = env.ctx.sql("SELECT id FROM messages").await.unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    let mut stream = execute_stream(plan, env.ctx.task_ctx()).unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.num_rows() > 0);
    let listed = env.sim.counters().get("teams_list");
    assert!(
        listed < 12,
        "all {listed} team pages were listed before the first rows"
    );
    let mut rows = first.num_rows();
    while let Some(b) = stream.next().await {
        rows += b.unwrap().num_rows();
    }
    assert_eq!(rows, 12 * 2);
    assert!(env.sim.counters().get("teams_list") >= 12);
}
