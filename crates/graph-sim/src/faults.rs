//! Seeded latency and transport faults. Rates come from `SimConfig::faults`; all draws use the
//! simulator's seeded generator, so a run with the same request sequence sees the same faults.

use rand::Rng;
use rand::rngs::SmallRng;

use crate::config::Faults;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 Service Unavailable, retryable with Retry-After (docs/graph.md §4.6).
    Unavailable,
    /// 504 Gateway Timeout, retryable (docs/graph.md §4.6).
    GatewayTimeout,
    /// Connection dropped after the headers.
    Reset,
    /// Complete HTTP answer with half the JSON body.
    Truncated,
}

pub fn roll(rng: &mut SmallRng, f: &Faults) -> Option<Fault> {
    if !f.any() {
        return None;
    }
    let x: f64 = rng.random();
    let mut acc = 0.0;
    for (rate, fault) in [
        (f.rate_503, Fault::Unavailable),
        (f.rate_504, Fault::GatewayTimeout),
        (f.rate_reset, Fault::Reset),
        (f.rate_truncated, Fault::Truncated),
    ] {
        acc += rate.max(0.0);
        if x < acc {
            return Some(fault);
        }
    }
    None
}

/// Latency of one request, uniform in `range` milliseconds.
pub fn latency_ms(rng: &mut SmallRng, range: (u64, u64)) -> u64 {
    let (lo, hi) = range;
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}
