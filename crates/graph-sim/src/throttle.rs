//! Microsoft's Teams throttling limits as token buckets (docs/graph.md §4.2, §9.4): one request per
//! second per channel, four per team, and a per-tenant rate for each request class
//! ([`crate::EndpointClass::tenant_limit`]). A request is
//! admitted only when every bucket it falls under has a token; otherwise it gets a 429 whose
//! Retry-After is the time until all of them have one again (fractional, as documented in 1.3).
//!
//! Buckets hold one second's worth of tokens, but at least two: a client that paces itself exactly
//! at the documented rate, with ordinary network jitter, must never be refused.

use std::collections::HashMap;
use std::time::Instant;

/// "A maximum of four requests per second per app can be issued on a given team."
pub const TEAM_RATE: f64 = 4.0;
/// "A maximum of one request per second per app per tenant can be issued on a given channel."
pub const CHANNEL_RATE: f64 = 1.0;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Tenant(&'static str),
    Team(String),
    Channel(String),
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
pub struct Throttle {
    scale: Option<f64>,
    buckets: HashMap<Key, Bucket>,
}

impl Throttle {
    pub fn new(scale: Option<f64>) -> Self {
        Throttle {
            scale: scale.filter(|s| *s > 0.0 && s.is_finite()),
            buckets: HashMap::new(),
        }
    }

    /// Admits a request against `keys` (each with its unscaled rate and burst), or returns the
    /// seconds to wait.
    pub fn admit(&mut self, now: Instant, keys: &[(Key, f64, f64)]) -> Result<(), f64> {
        let Some(scale) = self.scale else {
            return Ok(());
        };
        let mut wait: f64 = 0.0;
        for (key, rate, burst) in keys {
            let rate = rate * scale;
            let cap = (burst * scale).max(2.0);
            let b = self.buckets.entry(key.clone()).or_insert(Bucket {
                tokens: cap,
                last: now,
            });
            let dt = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens = (b.tokens + dt * rate).min(cap);
            b.last = now;
            if b.tokens < 1.0 {
                wait = wait.max((1.0 - b.tokens) / rate);
            }
        }
        if wait > 0.0 {
            return Err(wait);
        }
        for (key, _, _) in keys {
            if let Some(b) = self.buckets.get_mut(key) {
                b.tokens -= 1.0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_math() {
        let mut t = Throttle::new(Some(1.0));
        let start = Instant::now();
        let keys = [(Key::Channel("c".into()), CHANNEL_RATE, CHANNEL_RATE)];
        // Burst of two, then one per second.
        assert!(t.admit(start, &keys).is_ok());
        assert!(t.admit(start, &keys).is_ok());
        let wait = t.admit(start, &keys).unwrap_err();
        assert!((wait - 1.0).abs() < 1e-9);
        assert!(t.admit(start + Duration::from_millis(500), &keys).is_err());
        assert!(t.admit(start + Duration::from_millis(1000), &keys).is_ok());
        // x0.1 (the slow switch): the per-channel rate is one request per 10 s, and a burst of
        // 2 is still allowed so that a well-paced client is never refused.
        let mut slow = Throttle::new(Some(0.1));
        assert!(slow.admit(start, &keys).is_ok());
        assert!(slow.admit(start, &keys).is_ok());
        let wait = slow.admit(start, &keys).unwrap_err();
        assert!((wait - 10.0).abs() < 1e-9, "{wait}");
        assert!(slow.admit(start + Duration::from_secs(9), &keys).is_err());
        assert!(slow.admit(start + Duration::from_secs(10), &keys).is_ok());
        // x10: ten a second on one channel after the burst.
        let mut fast = Throttle::new(Some(10.0));
        for _ in 0..10 {
            assert!(fast.admit(start, &keys).is_ok());
        }
        let wait = fast.admit(start, &keys).unwrap_err();
        assert!((wait - 0.1).abs() < 1e-9, "{wait}");
        let mut off = Throttle::new(None);
        for _ in 0..100 {
            assert!(off.admit(start, &keys).is_ok());
        }
    }
}
