//! Bounded memory on a tenant far larger than what the scan holds at once, and no request after
//! the result stream is dropped. Memory is measured with a counting global allocator (this test
//! binary only).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use datafusion::physical_plan::execute_stream;
use futures::StreamExt;
use graph_sim::SimConfig;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn big_tenant() -> SimConfig {
    SimConfig {
        teams: 4,
        channels_per_team: 5,
        messages_per_channel: 300,
        replies_per_message: 6,
        members_per_team: 8,
        ..SimConfig::for_tests()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_streams_with_bounded_memory() {
    let env = env_with(big_tenant(), Default::default()).await;
    let df = env.ctx.sql("SELECT * FROM message_replies").await.unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    let mut stream = execute_stream(plan, env.ctx.task_ctx()).unwrap();

    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let mut rows = 0usize;
    let mut streamed_bytes = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        streamed_bytes += batch.get_array_memory_size();
    }
    let peak_over_baseline = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    println!(
        "rows={rows} streamed={} MiB peak_over_baseline={} MiB",
        streamed_bytes >> 20,
        peak_over_baseline >> 20
    );
    let expected: usize = env
        .sim
        .team_ids()
        .iter()
        .flat_map(|t| {
            let sim = env.sim.clone();
            env.sim.channels(t).into_iter().map(move |c| {
                let c = c["id"].as_str().unwrap().to_string();
                sim.messages(t, &c)
                    .iter()
                    .map(|m| sim.replies(t, &c, m["id"].as_str().unwrap()).len())
                    .sum::<usize>()
            })
        })
        .sum();
    assert_eq!(rows, expected);
    // The whole result is several times what the scan (and the in-process simulator serving it)
    // ever held at once.
    assert!(
        streamed_bytes > 3 * peak_over_baseline,
        "streamed {streamed_bytes} bytes with a peak of {peak_over_baseline} bytes"
    );
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
