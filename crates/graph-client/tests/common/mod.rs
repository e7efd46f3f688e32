//! Helpers shared by every test file, whichever server it talks to.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::Duration;

use graph_client::RetryPolicy;
use serde_json::Value;

/// Fast retries so tests of the retry path take milliseconds.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        max_elapsed: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

/// The `id`s of a list of entities, as a set (order-independent comparisons).
pub fn id_set(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|v| v["id"].as_str().unwrap_or("").to_string())
        .collect()
}
