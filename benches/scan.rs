//! What queries cost: Graph requests, 429s, time and rows per second for typical teams-sql
//! queries against a simulated tenant with Microsoft's throttling limits and realistic latency,
//! next to what the Lakeflow connector's documented strategy would spend on the same data (list
//! every team, every channel, every message page, then one replies request per message).
//! It prints figures; it asserts nothing.
//!
//! `cargo bench -p datafusion-teams --bench scan`. `SCAN_BENCH_TEAMS` (default 4),
//! `SCAN_BENCH_MESSAGES` (root posts per channel, default 60) size the tenant.

use std::time::Instant;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_teams::{MessageSource, TeamsConfig, TeamsOptions, register};
use graph_client::{GraphClient, GraphConfig, Secret};
use graph_sim::{SimConfig, SimServer};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client_for(server: &SimServer) -> Result<GraphClient, graph_client::GraphError> {
    GraphClient::new(
        GraphConfig::new(
            graph_sim::DEFAULT_TENANT_ID,
            graph_sim::DEFAULT_CLIENT_ID,
            Secret::new(graph_sim::DEFAULT_CLIENT_SECRET.to_string()),
        )
        .with_graph_endpoint(server.graph_url())
        .with_authority_host(server.authority_url()),
    )
}

/// Requests the Lakeflow connector's strategy needs for `messages` + `message_replies`: one list of
/// teams, one channel list per team, ceil(posts / 50) message pages per channel, and one
/// replies request (plus pages past 50) per message.
fn seed_strategy_requests(server: &SimServer) -> u64 {
    let sim = server.sim();
    let teams = sim.team_ids();
    let mut requests = 1u64;
    for team in &teams {
        requests += 1;
        for channel in sim.channels(team) {
            let Some(channel_id) = channel["id"].as_str() else {
                continue;
            };
            let messages = sim.messages(team, channel_id);
            requests += (messages.len() as u64).div_ceil(50).max(1);
            for m in &messages {
                let Some(id) = m["id"].as_str() else { continue };
                let replies = sim.replies(team, channel_id, id).len() as u64;
                requests += replies.div_ceil(50).max(1);
            }
        }
    }
    requests
}

struct Figure {
    label: String,
    rows: i64,
    requests: u64,
    throttled: u64,
    seconds: f64,
}

async fn run(
    server: &SimServer,
    label: &str,
    source: MessageSource,
    sql: &str,
) -> Result<Figure, Box<dyn std::error::Error>> {
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_default_catalog_and_schema("datafusion", "teams"),
    );
    let options = TeamsOptions {
        message_source: source,
        ..TeamsOptions::default()
    };
    register(
        &ctx,
        TeamsConfig {
            client: client_for(server)?,
            options,
        },
    )
    .await?;
    let sim = server.sim();
    sim.reset_counters();
    let started = Instant::now();
    let batches = ctx.sql(sql).await?.collect().await?;
    let seconds = started.elapsed().as_secs_f64();
    let counters = sim.counters();
    let mut rows = 0;
    for b in &batches {
        if let Some(col) = b.column(0).as_any().downcast_ref::<Int64Array>() {
            rows += (0..col.len()).map(|i| col.value(i)).sum::<i64>();
        } else {
            rows += b.num_rows() as i64;
        }
    }
    Ok(Figure {
        label: label.to_string(),
        rows,
        requests: counters.total(),
        throttled: counters.throttled_total(),
        seconds,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = SimConfig {
        teams: env_usize("SCAN_BENCH_TEAMS", 4),
        messages_per_channel: env_usize("SCAN_BENCH_MESSAGES", 60),
        // Microsoft's limits and latency: the figures are what a real tenant would cost.
        throttle_scale: Some(1.0),
        latency_ms: (60, 250),
        // The real clock, so "the last day" in the queries below means something.
        epoch: None,
        ..SimConfig::for_tests()
    };
    let server = graph_sim::start(cfg).await?;
    let sim = server.sim();
    let team = sim.team_ids().first().cloned().unwrap_or_default();
    let channel = sim
        .channels(&team)
        .first()
        .and_then(|c| c["id"].as_str().map(str::to_string))
        .unwrap_or_default();
    let seed = seed_strategy_requests(&server);

    let queries = [
        (
            "messages, LIMIT 10 in one channel",
            MessageSource::Auto,
            format!(
                "SELECT * FROM messages WHERE team_id = '{team}' AND channel_id = '{channel}' LIMIT 10"
            ),
        ),
        (
            "count(*) messages, channel listing",
            MessageSource::Channel,
            "SELECT count(*) FROM messages".to_string(),
        ),
        (
            "count(*) message_replies, channel listing",
            MessageSource::Channel,
            "SELECT count(*) FROM message_replies".to_string(),
        ),
        (
            "count(*) messages, export API",
            MessageSource::Export,
            "SELECT count(*) FROM messages".to_string(),
        ),
        (
            "messages changed in the last day (auto)",
            MessageSource::Auto,
            "SELECT count(*) FROM messages WHERE last_modified_date_time > now() - interval '1 day'"
                .to_string(),
        ),
        (
            "one team's members",
            MessageSource::Auto,
            format!("SELECT count(*) FROM members WHERE team_id = '{team}'"),
        ),
    ];

    println!(
        "tenant: {} teams, {} posts and replies; Microsoft's throttling limits, 60-250 ms latency",
        sim.team_ids().len(),
        sim.message_count()
    );
    println!(
        "seed connector strategy for messages + replies: {seed} Graph requests (one replies request per message)"
    );
    println!(
        "{:<44} {:>8} {:>9} {:>6} {:>8} {:>10}",
        "query", "rows", "requests", "429s", "seconds", "rows/s"
    );
    for (label, source, sql) in queries {
        let f = run(&server, label, source, &sql).await?;
        println!(
            "{:<44} {:>8} {:>9} {:>6} {:>8.2} {:>10.0}",
            f.label,
            f.rows,
            f.requests,
            f.throttled,
            f.seconds,
            f.rows as f64 / f.seconds.max(1e-9)
        );
    }
    server.shutdown().await;
    Ok(())
}
