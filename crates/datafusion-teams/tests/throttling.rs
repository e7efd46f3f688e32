//! Under throttling the rows stay right and EXPLAIN ANALYZE shows the 429s, retries and the time
//! spent waiting. The client's own pacing is off here so that the simulator's limits bite.

mod common;

use common::*;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_teams::{TeamsConfig, primary_key, register};
use graph_client::{GraphClient, GraphConfig, Secret, ThrottleLimits};
use graph_sim::SimConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_scan_is_correct_and_reports_429s() {
    let cfg = SimConfig {
        teams: 1,
        channels_per_team: 2,
        messages_per_channel: 120,
        replies_per_message: 0,
        members_per_team: 2,
        // Microsoft's per-channel limit is 1 request/s; scaled 5x looser it still bites when
        // the client does not pace itself.
        throttle_scale: Some(5.0),
        ..SimConfig::for_tests()
    };
    let server = graph_sim::start(cfg).await.unwrap();
    let client = GraphClient::new(
        GraphConfig::new(
            graph_sim::DEFAULT_TENANT_ID,
            graph_sim::DEFAULT_CLIENT_ID,
            Secret::new(graph_sim::DEFAULT_CLIENT_SECRET.to_string()),
        )
        .with_graph_endpoint(server.graph_url())
        .with_authority_host(server.authority_url())
        .with_limits(ThrottleLimits::unlimited()),
    )
    .unwrap();
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_default_catalog_and_schema("datafusion", "teams"),
    );
    let options = datafusion_teams::TeamsOptions {
        page_size: Some(10),
        ..Default::default()
    };
    register(&ctx, TeamsConfig { client, options })
        .await
        .unwrap();
    let sim = server.sim();

    let batches = ctx
        .sql("SELECT * FROM messages")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let schema = datafusion_teams::Table::Messages.schema();
    assert_rows_eq(
        actual_rows(&batches),
        truth(&sim, "messages", &schema),
        primary_key("messages").unwrap(),
    );

    let analyzed = ctx
        .sql("EXPLAIN ANALYZE SELECT id FROM messages")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&analyzed)
        .unwrap()
        .to_string();
    println!("{text}");
    let throttled = sim.counters().throttled.values().sum::<u64>();
    assert!(throttled > 0, "the simulator should have throttled");
    assert!(!text.contains("graph_429s=0,"), "{text}");
    assert!(!text.contains("graph_retries=0,"), "{text}");
    assert!(text.contains("throttle_wait="), "{text}");
    server.shutdown().await;
}
