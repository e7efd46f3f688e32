//! When and how long to wait before retrying 429 / 503 / 504 and
//! transport failures.

use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

/// A fresh jitter source. Seeded from the clock and a counter: the jitter
/// only has to differ between requests and processes, not be unpredictable.
pub(crate) fn jitter_rng() -> SmallRng {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    SmallRng::seed_from_u64(t ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Bounds on retrying one request.
///
/// Microsoft's SDK guidance is 10 attempts and 1800 s total with a 3 s
/// initial interval. This crate serves an interactive SQL shell, where
/// half an hour of silent retrying is worse than an error that says
/// "throttled", so the defaults are tighter; all are configurable.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included.
    pub max_attempts: u32,
    /// Give up once this much time has been spent on one request; a
    /// Retry-After that would overrun it ends the retries immediately.
    pub max_elapsed: Duration,
    /// First backoff ceiling when the server gives no Retry-After.
    pub initial_backoff: Duration,
    /// Largest backoff ceiling.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            max_elapsed: Duration::from_secs(300),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (tests of error paths, or callers that retry themselves).
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        }
    }

    /// "Full jitter" exponential backoff: a uniform wait in
    /// [0, min(max, initial * 2^(retry-1))]. Spreading retries over the
    /// whole interval avoids clients retrying in lockstep after a shared 429.
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

/// The one retry engine of the crate, used by Graph requests and by
/// sign-in alike: it counts attempts, keeps the time budget, and decides
/// whether and how long to wait after a transient failure. Every transient
/// failure (429, 503/504, a missed deadline, a network error, a garbled
/// body) spends from the same budget; the caller only says which failure
/// it was and whether the server asked for a wait.
pub(crate) struct Budget<'a> {
    policy: &'a RetryPolicy,
    max_attempts: u32,
    /// Set when the first attempt is sent: time queued behind our own
    /// pacing before it is not the server's doing.
    started: Option<Instant>,
    attempts: u32,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(policy: &'a RetryPolicy) -> Self {
        Self::capped(policy, policy.max_attempts)
    }

    /// The same policy with fewer attempts (sign-in: a failing token
    /// endpoint is asked at most a few times).
    pub(crate) fn capped(policy: &'a RetryPolicy, max_attempts: u32) -> Self {
        Budget {
            policy,
            max_attempts: max_attempts.clamp(1, policy.max_attempts.max(1)),
            started: None,
            attempts: 0,
        }
    }

    /// Call just before sending an attempt; returns its number (1-based).
    pub(crate) fn begin_attempt(&mut self) -> u32 {
        self.started.get_or_insert_with(Instant::now);
        self.attempts += 1;
        self.attempts
    }

    /// Gives back the attempt just made: a 401 answered by a token refresh
    /// is the client's own bookkeeping, not a server failure.
    pub(crate) fn refund(&mut self) {
        self.attempts = self.attempts.saturating_sub(1);
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.map(|s| s.elapsed()).unwrap_or_default()
    }

    /// The longest an attempt starting now may take: the per-request
    /// deadline, but never past the overall budget (so a request never
    /// runs much longer than `max_elapsed`). At least a second, so that a
    /// nearly spent budget still lets a fast server answer.
    pub(crate) fn attempt_deadline(&self, per_request: Duration) -> Duration {
        let left = self.policy.max_elapsed.saturating_sub(self.elapsed());
        per_request.min(left.max(Duration::from_secs(1)))
    }

    /// After a transient failure: how long to wait before the next attempt
    /// (the server's `Retry-After` if it gave one, else jittered backoff),
    /// or `None` when the attempts or the time budget are spent.
    pub(crate) fn next_wait(&self, server_wait: Option<Duration>) -> Option<Duration> {
        let wait = server_wait
            .unwrap_or_else(|| self.policy.backoff(self.attempts.max(1), &mut jitter_rng()));
        if self.attempts >= self.max_attempts || self.elapsed() + wait > self.policy.max_elapsed {
            None
        } else {
            Some(wait)
        }
    }
}

/// Parses `Retry-After`: decimal seconds (Graph sends fractions such as
/// `2.128`) or an HTTP date. Returns None for anything else, so the caller
/// falls back to backoff rather than trusting a garbled value.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            // Cap at a day: anything longer is a broken header, and
            // Duration::from_secs_f64 panics on overflow.
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
        return None;
    }
    // RFC 7231 IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT") is RFC 2822
    // compatible, and chrono accepts the GMT zone name.
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    let delta = at.signed_duration_since(now);
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Statuses Microsoft documents as retryable (docs/graph.md §4.5, §4.6).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 503 | 504 | 509)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn retry_after_forms() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 50).unwrap();
        assert_eq!(
            parse_retry_after("2.128", now),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
    }

    #[test]
    fn backoff_is_bounded() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
            ..Default::default()
        };
        let mut rng = SmallRng::seed_from_u64(7);
        for retry in 1..40 {
            let ceiling = Duration::from_millis(100 * (1u64 << (retry - 1).min(10)))
                .min(Duration::from_millis(800));
            for _ in 0..50 {
                assert!(p.backoff(retry, &mut rng) <= ceiling);
            }
        }
    }
}
