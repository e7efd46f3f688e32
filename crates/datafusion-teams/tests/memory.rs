//! Bounded memory: the scan's peak allocation does not grow with the tenant. Measured with a
//! counting global allocator; this binary holds a single test so nothing else allocates
//! concurrently.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

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

struct Measured {
    rows: usize,
    streamed: usize,
    peak: usize,
}

/// Streams all replies of a tenant with `messages` root posts per channel, dropping each batch
/// as it arrives, and reports the allocation peak above the level before the scan started.
async fn measure(messages: usize) -> Measured {
    let cfg = SimConfig {
        teams: 4,
        channels_per_team: 5,
        messages_per_channel: messages,
        replies_per_message: 6,
        members_per_team: 8,
        ..SimConfig::for_tests()
    };
    // The bound is a few pages per open channel chain, and the scan opens as many as fill the
    // throttle budget, up to `concurrency`: the test tenant has only 20 channels, so a bound
    // below that shows the peak does not follow the tenant.
    let options = datafusion_teams::TeamsOptions {
        concurrency: 8,
        ..Default::default()
    };
    let env = env_with(cfg, options).await;
    let df = env.ctx.sql("SELECT * FROM message_replies").await.unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    let mut stream = execute_stream(plan, env.ctx.task_ctx()).unwrap();
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let (mut rows, mut streamed) = (0, 0);
    while let Some(batch) = stream.next().await {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        streamed += batch.get_array_memory_size();
    }
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    drop(stream);
    env.server.shutdown().await;
    Measured {
        rows,
        streamed,
        peak,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_memory_does_not_grow_with_the_tenant() {
    let small = measure(100).await;
    let big = measure(400).await;
    for (name, m) in [("small", &small), ("big", &big)] {
        println!(
            "{name}: rows={} streamed={} KiB peak_over_baseline={} KiB",
            m.rows,
            m.streamed >> 10,
            m.peak >> 10
        );
    }
    assert!(big.rows > 3 * small.rows, "the big tenant must be bigger");
    // Four times the data, but the scan (and the in-process simulator serving it) holds about
    // the same at its peak: a few pages per concurrent channel.
    assert!(
        big.peak < 2 * small.peak,
        "peak grew from {} to {} bytes",
        small.peak,
        big.peak
    );
    assert!(
        big.streamed > 2 * big.peak,
        "streamed {} bytes with a peak of {} bytes",
        big.streamed,
        big.peak
    );
}
