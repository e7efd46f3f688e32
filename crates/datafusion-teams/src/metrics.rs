//! Per-scan metrics shown by `EXPLAIN ANALYZE`.
//!
//! Request, retry, 429, byte and throttle-wait figures come from the scoped statistics of the
//! Graph client the scan runs with, so they count exactly this scan's requests, retries
//! included; pages, rows and skipped children are counted by the scan itself. The achieved
//! request rate (`graph_requests_per_s`) is requests over the scan's wall time.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, Gauge, MetricBuilder, Time,
};
use graph_client::{Stats, StatsSnapshot};

#[derive(Debug, Clone)]
pub(crate) struct ScanMetrics {
    pub baseline: BaselineMetrics,
    pub pages: Count,
    pub children_skipped: Count,
    graph_requests: Gauge,
    retries: Gauge,
    throttled_429: Gauge,
    bytes: Gauge,
    throttle_wait: Time,
    /// Requests per second achieved since the scan started, next to the lower bound EXPLAIN
    /// printed for a full read.
    request_rate: Gauge,
    started: Instant,
    stats: Arc<Stats>,
    last: Arc<Mutex<StatsSnapshot>>,
}

impl ScanMetrics {
    pub fn new(set: &ExecutionPlanMetricsSet, partition: usize, stats: Arc<Stats>) -> Self {
        ScanMetrics {
            baseline: BaselineMetrics::new(set, partition),
            pages: MetricBuilder::new(set).counter("graph_pages", partition),
            children_skipped: MetricBuilder::new(set).counter("children_skipped", partition),
            graph_requests: MetricBuilder::new(set).gauge("graph_requests", partition),
            retries: MetricBuilder::new(set).gauge("graph_retries", partition),
            throttled_429: MetricBuilder::new(set).gauge("graph_429s", partition),
            bytes: MetricBuilder::new(set).gauge("graph_bytes", partition),
            throttle_wait: MetricBuilder::new(set).subset_time("throttle_wait", partition),
            request_rate: MetricBuilder::new(set).gauge("graph_requests_per_s", partition),
            started: Instant::now(),
            stats,
            last: Arc::new(Mutex::new(StatsSnapshot::default())),
        }
    }

    /// Copies the client's counters for this scan into the plan metrics.
    pub fn sync(&self) {
        let now = self.stats.snapshot();
        self.graph_requests.set(to_usize(now.total_requests));
        self.retries.set(to_usize(now.retries));
        self.throttled_429.set(to_usize(now.throttled_429));
        self.bytes.set(to_usize(now.bytes));
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 {
            // Rounded: a gauge holds whole numbers.
            self.request_rate
                .set((now.total_requests as f64 / secs).round() as usize);
        }
        if let Ok(mut last) = self.last.lock() {
            if let Some(delta) = now.throttle_wait.checked_sub(last.throttle_wait) {
                self.throttle_wait.add_duration(delta);
            }
            *last = now;
        }
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
