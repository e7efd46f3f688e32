//! Pacing by the documented limits against the simulator's throttling:
//! zero 429s when the client knows the limits, completion with backoff when
//! it overestimates them tenfold and 429s carry no Retry-After.

mod common;
mod simutil;

use std::time::{Duration, Instant};

use common::id_set;
use futures::TryStreamExt;
use graph_client::{GraphClient, GraphRequest, RetryPolicy, StatsSnapshot, ThrottleLimits};
use graph_sim::{Sim, SimConfig};
use serde_json::Value;

/// Reads the whole tenant the way the connector does: teams, then per team
/// (concurrently) channels and members, then per channel (concurrently)
/// messages and the replies of the first few threads. Checks completeness.
async fn crawl(client: &GraphClient, sim: &Sim, top: u32, threads: usize) {
    let teams: Vec<Value> = client
        .items(GraphRequest::list_teams())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(id_set(&teams), id_set(&sim.teams()));
    let mut tasks = Vec::new();
    for t in id_set(&teams) {
        let (client, sim) = (client.clone(), sim.clone());
        tasks.push(tokio::spawn(async move {
            let members: Vec<Value> = client
                .items(GraphRequest::list_members(&t))
                .try_collect()
                .await
                .unwrap();
            assert_eq!(id_set(&members), id_set(&sim.members(&t)));
            let channels: Vec<Value> = client
                .items(GraphRequest::list_channels(&t))
                .try_collect()
                .await
                .unwrap();
            assert_eq!(id_set(&channels), id_set(&sim.channels(&t)));
            let mut per_channel = Vec::new();
            for c in id_set(&channels) {
                let (client, sim, t) = (client.clone(), sim.clone(), t.clone());
                per_channel.push(tokio::spawn(async move {
                    let msgs: Vec<Value> = client
                        .items(GraphRequest::list_messages(&t, &c).top(top))
                        .try_collect()
                        .await
                        .unwrap();
                    assert_eq!(id_set(&msgs), id_set(&sim.messages(&t, &c)));
                    for m in id_set(&msgs).into_iter().take(threads) {
                        let replies: Vec<Value> = client
                            .items(GraphRequest::list_replies(&t, &c, &m).top(50))
                            .try_collect()
                            .await
                            .unwrap();
                        assert_eq!(id_set(&replies), id_set(&sim.replies(&t, &c, &m)));
                    }
                }));
            }
            for p in per_channel {
                p.await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn report(label: &str, s: &StatsSnapshot, sim: &Sim, elapsed: Duration) {
    let c = sim.counters();
    println!(
        "{label}: {} requests in {:.2} s; 429 received {} (sim throttled {}), retries {}, pacing wait {:.2} s, throttle wait {:.2} s, by class {:?}",
        s.total_requests,
        elapsed.as_secs_f64(),
        s.throttled_429,
        c.throttled.values().sum::<u64>(),
        s.retries,
        s.pacing_wait.as_secs_f64(),
        s.throttle_wait.as_secs_f64(),
        s.requests
    );
}

fn tenant(scale: f64) -> SimConfig {
    SimConfig {
        teams: 3,
        channels_per_team: 4,
        messages_per_channel: 40,
        replies_per_message: 4,
        members_per_team: 6,
        throttle_scale: Some(scale),
        ..SimConfig::for_tests()
    }
}

#[tokio::test]
async fn paced_run_at_scaled_limits_gets_zero_429() {
    // Sim and client both at 10x Microsoft's limits: same ratios, faster test.
    let server = graph_sim::start(tenant(10.0)).await.unwrap();
    let sim = server.sim();
    let client = GraphClient::new(
        simutil::sim_config(&server).with_limits(ThrottleLimits::microsoft().scaled(10.0)),
    )
    .unwrap();
    let started = Instant::now();
    crawl(&client, &sim, 5, 5).await;
    let s = client.stats();
    report("paced x10", &s, &sim, started.elapsed());
    assert!(s.total_requests > 150, "run too small to reach the limits");
    assert!(
        s.pacing_wait > Duration::ZERO,
        "the run never reached a limit"
    );
    assert_eq!(s.throttled_429, 0);
    assert_eq!(sim.counters().throttled.values().sum::<u64>(), 0);
    assert_eq!(s.retries, 0);
}

#[tokio::test]
async fn paced_run_at_microsoft_limits_gets_zero_429() {
    let cfg = SimConfig {
        teams: 2,
        channels_per_team: 2,
        messages_per_channel: 6,
        ..tenant(1.0)
    };
    let server = graph_sim::start(cfg).await.unwrap();
    let sim = server.sim();
    let client =
        GraphClient::new(simutil::sim_config(&server).with_limits(ThrottleLimits::microsoft()))
            .unwrap();
    let started = Instant::now();
    crawl(&client, &sim, 2, 0).await;
    let s = client.stats();
    report("paced x1", &s, &sim, started.elapsed());
    assert!(s.pacing_wait > Duration::ZERO);
    assert_eq!(s.throttled_429, 0);
    assert_eq!(sim.counters().throttled.values().sum::<u64>(), 0);
}

#[tokio::test]
async fn overestimated_limits_without_retry_after_still_complete() {
    // The client believes the limits are 10x what the simulator enforces,
    // and no 429 says how long to wait: exponential backoff must carry it.
    let cfg = SimConfig {
        omit_retry_after_rate: 1.0,
        ..tenant(10.0)
    };
    let server = graph_sim::start(cfg).await.unwrap();
    let sim = server.sim();
    let client = GraphClient::new(
        simutil::sim_config(&server)
            .with_limits(ThrottleLimits::microsoft().scaled(100.0))
            .with_retry(RetryPolicy {
                max_attempts: 20,
                max_elapsed: Duration::from_secs(60),
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(1),
            }),
    )
    .unwrap();
    let started = Instant::now();
    // About 30 requests per channel against a 10 rps / burst 10 channel
    // bucket: the run cannot finish inside the limits without pacing.
    crawl(&client, &sim, 2, 10).await;
    let s = client.stats();
    report(
        "overestimated x10, no Retry-After",
        &s,
        &sim,
        started.elapsed(),
    );
    assert!(
        s.throttled_429 > 0,
        "the simulator never throttled: test proves nothing"
    );
    assert_eq!(
        s.throttled_429,
        sim.counters().throttled.values().sum::<u64>()
    );
    assert_eq!(s.retries, s.throttled_429);
    assert!(s.throttle_wait > Duration::ZERO);
}
