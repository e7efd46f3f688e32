//! Counters a caller can read: per client, and per query via `scoped()`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::request::EndpointClass;

/// Live counters, updated with relaxed atomics (they are statistics, not
/// synchronisation).
#[derive(Debug, Default)]
pub struct Stats {
    requests: [AtomicU64; 12],
    retries: AtomicU64,
    throttled_429: AtomicU64,
    unavailable_5xx: AtomicU64,
    transport_errors: AtomicU64,
    unauthorized_401: AtomicU64,
    decode_errors: AtomicU64,
    throttle_wait_ns: AtomicU64,
    pacing_wait_ns: AtomicU64,
    bytes: AtomicU64,
    token_requests: AtomicU64,
    answered: AtomicU64,
    answer_time_ns: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// HTTP requests sent to Graph (each attempt counts), by endpoint class.
    pub requests: BTreeMap<&'static str, u64>,
    pub total_requests: u64,
    /// Attempts after the first, for any reason (429, 503/504, transport, decode, 401).
    pub retries: u64,
    /// 429 Too Many Requests received.
    pub throttled_429: u64,
    /// 503 / 504 / 509 received.
    pub unavailable_5xx: u64,
    /// Connection resets, timeouts, truncated bodies.
    pub transport_errors: u64,
    /// 401 received from Graph (each one triggers at most one token refresh).
    pub unauthorized_401: u64,
    /// Success replies whose body was not the expected JSON (e.g. cut off).
    pub decode_errors: u64,
    /// Time spent sleeping before retrying a 429 / 503 / 504 (its
    /// Retry-After, or backoff when it gave none). Backoff after network
    /// or decode failures is not included.
    pub throttle_wait: Duration,
    /// Time spent in the client's own pacing, before sending.
    pub pacing_wait: Duration,
    /// Response body bytes received from Graph (after decompression).
    pub bytes: u64,
    /// Requests to the token endpoint.
    pub token_requests: u64,
    /// Graph requests that got an answer (any status), and the time from
    /// sending each to its answer, summed: the observed latency that sizes
    /// how many requests a scan keeps in flight.
    pub answered: u64,
    pub answer_time: Duration,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

fn dur_ns(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

impl Stats {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn request(&self, class: EndpointClass) {
        add(&self.requests[class.index()], 1);
    }
    pub(crate) fn retry(&self) {
        add(&self.retries, 1);
    }
    pub(crate) fn throttled(&self) {
        add(&self.throttled_429, 1);
    }
    pub(crate) fn unavailable(&self) {
        add(&self.unavailable_5xx, 1);
    }
    pub(crate) fn transport_error(&self) {
        add(&self.transport_errors, 1);
    }
    pub(crate) fn unauthorized(&self) {
        add(&self.unauthorized_401, 1);
    }
    pub(crate) fn decode_error(&self) {
        add(&self.decode_errors, 1);
    }
    pub(crate) fn throttle_wait(&self, d: Duration) {
        add(&self.throttle_wait_ns, dur_ns(d));
    }
    pub(crate) fn pacing_wait(&self, d: Duration) {
        add(&self.pacing_wait_ns, dur_ns(d));
    }
    pub(crate) fn bytes(&self, n: u64) {
        add(&self.bytes, n);
    }
    pub(crate) fn token_request(&self) {
        add(&self.token_requests, 1);
    }
    pub(crate) fn answered(&self, d: Duration) {
        add(&self.answered, 1);
        add(&self.answer_time_ns, dur_ns(d));
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut requests = BTreeMap::new();
        let mut total = 0;
        for class in EndpointClass::ALL {
            let n = get(&self.requests[class.index()]);
            total += n;
            if n > 0 {
                requests.insert(class.as_str(), n);
            }
        }
        StatsSnapshot {
            requests,
            total_requests: total,
            retries: get(&self.retries),
            throttled_429: get(&self.throttled_429),
            unavailable_5xx: get(&self.unavailable_5xx),
            transport_errors: get(&self.transport_errors),
            unauthorized_401: get(&self.unauthorized_401),
            decode_errors: get(&self.decode_errors),
            throttle_wait: Duration::from_nanos(get(&self.throttle_wait_ns)),
            pacing_wait: Duration::from_nanos(get(&self.pacing_wait_ns)),
            bytes: get(&self.bytes),
            token_requests: get(&self.token_requests),
            answered: get(&self.answered),
            answer_time: Duration::from_nanos(get(&self.answer_time_ns)),
        }
    }
}

impl StatsSnapshot {
    /// Requests of one class (0 if none).
    pub fn get(&self, class: EndpointClass) -> u64 {
        self.requests.get(class.as_str()).copied().unwrap_or(0)
    }

    /// Mean time from sending a request to its answer, once any answered.
    pub fn mean_latency(&self) -> Option<Duration> {
        u32::try_from(self.answered)
            .ok()
            .filter(|n| *n > 0)
            .map(|n| self.answer_time / n)
    }
}

/// The set of `Stats` one client records into: the client-wide one plus
/// any added by `scoped()`.
#[derive(Clone, Debug)]
pub(crate) struct Sinks(pub(crate) Vec<std::sync::Arc<Stats>>);

impl Sinks {
    pub(crate) fn each(&self, f: impl Fn(&Stats)) {
        for s in &self.0 {
            f(s);
        }
    }
}
