//! Crawl of a simulated tenant with Microsoft-like throttling and latency,
//! once with the client's pacing and once without, printing throughput,
//! 429s and waits. Run with `cargo bench -p graph-client --bench crawl`;
//! `GRAPH_BENCH_SCALE` (default 1, Microsoft's numbers) scales both the
//! simulator's and the client's limits; latency is the simulator's
//! Microsoft-like default (60-250 ms).

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use graph_client::{
    GraphClient, GraphConfig, GraphError, GraphRequest, RetryPolicy, Secret, ThrottleLimits,
};
use graph_sim::SimConfig;
use serde_json::Value;

async fn crawl(client: &GraphClient) -> Result<usize, GraphError> {
    let teams: Vec<Value> = client
        .items(GraphRequest::list_teams())
        .try_collect()
        .await?;
    let mut tasks = Vec::new();
    for team in teams {
        let t = team["id"].as_str().unwrap_or_default().to_string();
        let channels: Vec<Value> = client
            .items(GraphRequest::list_channels(&t))
            .try_collect()
            .await?;
        for ch in channels {
            let c = ch["id"].as_str().unwrap_or_default().to_string();
            let (client, t) = (client.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                let msgs: Vec<Value> = client
                    .items(GraphRequest::list_messages(&t, &c).top(20))
                    .try_collect()
                    .await?;
                let mut n = msgs.len();
                for m in msgs.iter().take(10) {
                    let id = m["id"].as_str().unwrap_or_default();
                    let replies: Vec<Value> = client
                        .items(GraphRequest::list_replies(&t, &c, id).top(50))
                        .try_collect()
                        .await?;
                    n += replies.len();
                }
                Ok::<usize, GraphError>(n)
            }));
        }
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.map_err(|e| GraphError::Config {
            message: format!("task failed: {e}"),
        })??;
    }
    Ok(total)
}

async fn run(label: &str, scale: f64, limits: ThrottleLimits) {
    let cfg = SimConfig {
        teams: 4,
        channels_per_team: 4,
        messages_per_channel: 60,
        replies_per_message: 6,
        big_threads: false,
        throttle_scale: Some(scale),
        latency_ms: SimConfig::default().latency_ms,
        ..SimConfig::for_tests()
    };
    let server = match graph_sim::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("could not start the simulator: {e}");
            return;
        }
    };
    let client = GraphClient::new(
        GraphConfig::new(
            graph_sim::DEFAULT_TENANT_ID,
            graph_sim::DEFAULT_CLIENT_ID,
            Secret::new(graph_sim::DEFAULT_CLIENT_SECRET),
        )
        .with_graph_endpoint(server.graph_url())
        .with_authority_host(server.authority_url())
        .with_limits(limits)
        .with_retry(RetryPolicy {
            max_attempts: 30,
            ..RetryPolicy::default()
        }),
    );
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return;
        }
    };
    let started = Instant::now();
    let result = crawl(&client).await;
    let elapsed = started.elapsed();
    let s = client.stats();
    match result {
        Ok(items) => println!(
            "{label:<28} {items:>6} items, {:>5} requests in {:>6.2} s = {:>6.1} req/s; 429s {:>4}, retries {:>4}, \
             server-imposed wait {:>7.2} s, own pacing wait {:>7.2} s (summed over tasks)",
            s.total_requests,
            elapsed.as_secs_f64(),
            s.total_requests as f64 / elapsed.as_secs_f64().max(1e-9),
            s.throttled_429,
            s.retries,
            s.throttle_wait.as_secs_f64(),
            s.pacing_wait.as_secs_f64(),
        ),
        Err(e) => println!(
            "{label:<28} failed after {:.2} s: {e}",
            elapsed.as_secs_f64()
        ),
    }
    server.shutdown().await;
}

fn main() {
    let scale: f64 = std::env::var("GRAPH_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(1.0);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            return;
        }
    };
    println!("limits x{scale} (simulator and client), latency 60-250 ms, 16 channels");
    rt.block_on(async {
        run(
            "paced (documented limits)",
            scale,
            ThrottleLimits::microsoft().scaled(scale),
        )
        .await;
        run("unpaced (retry only)", scale, ThrottleLimits::unlimited()).await;
        // Keep the process alive briefly so the servers' tasks wind down.
        tokio::time::sleep(Duration::from_millis(50)).await;
    });
}
