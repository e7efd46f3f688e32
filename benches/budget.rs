//! How close full reads come to Microsoft's ceiling. For tenants of 20 and 100 teams (5
//! channels, 60 root posts a channel, replies inline) at Microsoft's limits and 60-250 ms
//! latency, it reads `messages` and `message_replies` in full through the channel listing and
//! through the export API, with default settings, and prints for each: wall time, the throttle
//! lower bound for the fewest requests that read it (`ThrottleLimits::lower_bound`), their
//! ratio, requests / fewest, and 429s. It asserts nothing.
//!
//! `cargo bench --bench budget`. `BUDGET_BENCH_TEAMS` (comma-separated, default `20,100`)
//! picks the tenants; `BUDGET_BENCH_SCALE` (default 1) scales the simulator and the client alike,
//! for a quick look.

use std::time::Instant;

use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_teams::{MessageSource, TeamsConfig, TeamsOptions, ThrottleScale, register};
use futures::StreamExt;
use graph_client::{EndpointClass, GraphClient, GraphConfig, Scope, Secret, ThrottleLimits};
use graph_sim::{SimConfig, SimServer};

/// Microsoft's documented maximum for the message lists, and what the connector asks for.
const PAGE: usize = 50;

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

/// The fewest requests that read every message (and reply) of the tenant through `source`,
/// as (class, scope): one `GET /teams` page, then per team its channel list and a page per 50
/// posts of each channel (replies inline), or per team a page per 50 posts and replies of the
/// export API.
fn fewest(server: &SimServer, source: MessageSource) -> Vec<(EndpointClass, Scope)> {
    let sim = server.sim();
    let teams = sim.team_ids();
    let mut out = vec![(EndpointClass::TeamsList, Scope::default())];
    for team in &teams {
        let mut items = 0usize;
        if source == MessageSource::Channel {
            out.push((EndpointClass::ChannelsList, Scope::team(team.clone())));
        }
        for channel in sim.channels(team) {
            let Some(channel_id) = channel["id"].as_str() else {
                continue;
            };
            let messages = sim.messages(team, channel_id);
            let replies: usize = messages
                .iter()
                .filter_map(|m| m["id"].as_str())
                .map(|id| sim.replies(team, channel_id, id).len())
                .sum();
            if source == MessageSource::Channel {
                let pages = messages.len().div_ceil(PAGE).max(1);
                for _ in 0..pages {
                    out.push((
                        EndpointClass::MessagesList,
                        Scope::channel(team.clone(), channel_id.to_string()),
                    ));
                }
            }
            items += messages.len() + replies;
        }
        if source == MessageSource::Export {
            for _ in 0..items.div_ceil(PAGE).max(1) {
                out.push((EndpointClass::GetAllMessages, Scope::team(team.clone())));
            }
        }
    }
    out
}

struct Figure {
    rows: usize,
    wall: f64,
    requests: u64,
    throttled: u64,
}

async fn read_all(
    server: &SimServer,
    table: &str,
    source: MessageSource,
    scale: f64,
) -> Result<Figure, Box<dyn std::error::Error>> {
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_default_catalog_and_schema("datafusion", "teams"),
    );
    let options = TeamsOptions {
        message_source: source,
        throttle_scale: ThrottleScale::new(scale),
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
    let plan = ctx
        .sql(&format!("SELECT * FROM {table}"))
        .await?
        .create_physical_plan()
        .await?;
    let mut stream = execute_stream(plan, ctx.task_ctx())?;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        rows += batch?.num_rows();
    }
    let wall = started.elapsed().as_secs_f64();
    let c = sim.counters();
    Ok(Figure {
        rows,
        wall,
        requests: c.total(),
        throttled: c.throttled_total(),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tenants: Vec<usize> = std::env::var("BUDGET_BENCH_TEAMS")
        .unwrap_or_else(|_| "20,100".into())
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    let scale: f64 = std::env::var("BUDGET_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(1.0);
    println!(
        "simulator at Microsoft's limits x{scale}, latency 60-250 ms; default settings; 5 channels a team, 60 posts a channel"
    );
    println!(
        "{:<7} {:<16} {:<8} {:>7} {:>8} {:>8} {:>6} {:>9} {:>8} {:>5}",
        "teams",
        "table",
        "source",
        "rows",
        "wall s",
        "bound s",
        "ratio",
        "requests",
        "/fewest",
        "429s"
    );
    let limits = ThrottleLimits::microsoft().scaled(scale);
    for teams in tenants {
        let cfg = SimConfig {
            teams,
            channels_per_team: 5,
            messages_per_channel: 60,
            replies_per_message: 6,
            members_per_team: 4,
            big_threads: false,
            throttle_scale: Some(scale),
            latency_ms: (60, 250),
            ..SimConfig::default()
        };
        let server = graph_sim::start(cfg).await?;
        for source in [MessageSource::Channel, MessageSource::Export] {
            let fewest = fewest(&server, source);
            let bound = limits
                .lower_bound(fewest.iter().map(|(c, s)| (*c, s)))
                .as_secs_f64();
            for table in ["messages", "message_replies"] {
                let f = read_all(&server, table, source, scale).await?;
                println!(
                    "{:<7} {:<16} {:<8} {:>7} {:>8.2} {:>8.2} {:>6.2} {:>9} {:>8.3} {:>5}",
                    teams,
                    table,
                    source.to_string(),
                    f.rows,
                    f.wall,
                    bound,
                    f.wall / bound.max(1e-9),
                    f.requests,
                    f.requests as f64 / fewest.len() as f64,
                    f.throttled
                );
            }
        }
        server.shutdown().await;
    }
    Ok(())
}
