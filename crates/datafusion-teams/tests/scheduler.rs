//! The scan's scheduling against a simulator scaled 2x (figures chosen to stay fast): it keeps
//! the tenant budget full while channels wait on their own limits, and a 429 slows only the
//! bucket it came from. Both are read from the simulator's arrival journal (order, not time).

mod common;

use std::collections::HashSet;

use common::*;
use datafusion_teams::TeamsOptions;
use graph_client::{GraphClient, GraphConfig, GraphRequest, RetryPolicy, Secret, ThrottleLimits};
use graph_sim::{Arrival, SimConfig};

/// Microsoft's limits x2 in the simulator; the client learns the same through the setting.
const SCALE: f64 = 2.0;

fn tenant(teams: usize, channels_per_team: usize) -> SimConfig {
    SimConfig {
        teams,
        channels_per_team,
        messages_per_channel: 30,
        replies_per_message: 0,
        throttle_scale: Some(SCALE),
        ..SimConfig::for_tests()
    }
}

async fn scaled_env(cfg: SimConfig) -> Env {
    // Three pages a channel, so every channel has to wait on its own limit between pages.
    let options = TeamsOptions {
        page_size: Some(10),
        ..TeamsOptions::default()
    };
    let env = env_with(cfg, options).await;
    env.query(&format!("SET teams.throttle_scale = {SCALE}"))
        .await;
    env
}

fn message_requests(journal: &[Arrival]) -> Vec<&Arrival> {
    journal
        .iter()
        .filter(|a| a.class == graph_sim::EndpointClass::MessagesList)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_budget_stays_full_while_channels_wait_on_their_own_limit() {
    let env = scaled_env(tenant(6, 4)).await;
    env.sim.start_journal();
    let batches = env.query("SELECT id FROM messages").await;
    assert_eq!(row_count(&batches), 6 * 4 * 30);

    let journal = env.sim.journal();
    assert!(
        journal.iter().all(|a| !a.throttled),
        "paced at the (scaled) documented limits, nothing may be throttled: {journal:?}"
    );
    // The tenant admits 20 channel-message requests for every one a channel may send (20/s
    // against 1/s, both x2). So the first 20 requests can only fill the tenant's budget if they
    // go to 20 different channels; a scan whose waiting channels hold the places of ready ones
    // (8 channels at a time, before) sends its 9th request to a channel already waiting.
    let messages = message_requests(&journal);
    let first: HashSet<&str> = messages
        .iter()
        .take(20)
        .filter_map(|a| a.channel.as_deref())
        .collect();
    assert_eq!(
        first.len(),
        20,
        "first 20 message requests went to {} channels: {:?}",
        first.len(),
        messages.iter().take(20).collect::<Vec<_>>()
    );
    // EXPLAIN ANALYZE reports the rate the scan achieved.
    let batches = env.query("EXPLAIN ANALYZE SELECT id FROM messages").await;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .expect("format")
        .to_string();
    let rate: usize = text
        .split("graph_requests_per_s=")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no graph_requests_per_s in {text}"));
    assert!(rate > 0, "{text}");
    env.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_slows_only_its_own_channel_which_then_recovers() {
    let env = scaled_env(tenant(2, 3)).await;
    let team = env.sim.team_ids()[0].clone();
    let busy = env.sim.channels(&team)[0]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    // Another process of the same app drains the busy channel's budget just before the scan:
    // unpaced, no retries, until the simulator refuses it.
    let rogue = GraphClient::new(
        GraphConfig::new(
            graph_sim::DEFAULT_TENANT_ID,
            graph_sim::DEFAULT_CLIENT_ID,
            Secret::new(graph_sim::DEFAULT_CLIENT_SECRET.to_string()),
        )
        .with_graph_endpoint(env.server.graph_url())
        .with_authority_host(env.server.authority_url())
        .with_limits(ThrottleLimits::unlimited())
        .with_retry(RetryPolicy::none()),
    )
    .expect("client");
    let drain = GraphRequest::list_messages(&team, &busy).top(1);
    let mut drained = false;
    for _ in 0..20 {
        if rogue.get_page(&drain).await.is_err() {
            drained = true;
            break;
        }
    }
    assert!(drained, "the simulator never throttled the rogue client");

    env.sim.start_journal();
    let batches = env.query("SELECT id FROM messages").await;
    assert_eq!(
        row_count(&batches),
        2 * 3 * 30,
        "every row, the busy channel's too"
    );

    let journal = env.sim.journal();
    let messages = message_requests(&journal);
    let on_busy = |a: &Arrival| a.channel.as_deref() == Some(busy.as_str());
    let throttled: Vec<usize> = (0..messages.len())
        .filter(|&i| messages[i].throttled)
        .collect();
    assert!(
        !throttled.is_empty(),
        "the busy channel should answer 429 once"
    );
    assert!(
        throttled.iter().all(|&i| on_busy(messages[i])),
        "only the drained channel may be throttled: {messages:?}"
    );
    // Held for its Retry-After, the busy channel lets the others go on...
    let first_429 = throttled[0];
    let recovered = (first_429..messages.len())
        .find(|&i| on_busy(messages[i]) && !messages[i].throttled)
        .expect("the busy channel is read after its Retry-After");
    let others_meanwhile = messages[first_429..recovered]
        .iter()
        .filter(|a| !on_busy(a) && !a.throttled)
        .count();
    assert!(
        others_meanwhile > 0,
        "no other channel was read while the busy one waited: {messages:?}"
    );
    // ...and, once through, is paced again without another 429.
    assert!(
        messages[recovered..]
            .iter()
            .filter(|a| on_busy(a))
            .all(|a| !a.throttled),
        "{messages:?}"
    );
    assert_eq!(
        messages[recovered..].iter().filter(|a| on_busy(a)).count(),
        3,
        "the busy channel's three pages"
    );
    env.server.shutdown().await;
}
