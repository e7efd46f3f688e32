//! The simulator's clock. Tenant history is laid out relative to it, delta windows and token
//! lifetimes are measured on it, and tests move it forward instead of sleeping.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};

/// Milliseconds since the Unix epoch, the unit of every stored timestamp (message ids are these).
pub type Millis = i64;

#[derive(Debug)]
pub struct Clock {
    inner: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    base: Millis,
    /// `Some` when the clock follows real time (no fixed epoch); a fixed epoch freezes the clock so
    /// that output is reproducible byte for byte.
    real_start: Option<Instant>,
    /// Sum of `advance` calls and of the 1 ms ticks that keep mutation times distinct.
    offset: Millis,
    last_tick: Millis,
}

impl Clock {
    pub fn new(epoch: Option<DateTime<Utc>>) -> Self {
        let (base, real_start) = match epoch {
            Some(e) => (e.timestamp_millis(), None),
            None => (Utc::now().timestamp_millis(), Some(Instant::now())),
        };
        Clock {
            inner: Mutex::new(ClockState {
                base,
                real_start,
                offset: 0,
                last_tick: Millis::MIN,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // A panic while holding this lock cannot leave the state inconsistent (plain integers).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn now_ms(&self) -> Millis {
        self.lock().now()
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms()).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// Total time added by `advance` (used so that `advance` also ages access tokens).
    pub fn manual_offset_ms(&self) -> Millis {
        self.lock().offset
    }

    pub fn advance(&self, by_ms: Millis) {
        let mut s = self.lock();
        s.offset = s.offset.saturating_add(by_ms.max(0));
    }

    /// The time of a mutation: now, but strictly later than the previous mutation, moving the
    /// clock forward by 1 ms when needed. With a frozen clock two edits would otherwise share a
    /// timestamp (and two posts a message id).
    pub fn tick(&self) -> Millis {
        let mut s = self.lock();
        let mut t = s.now();
        if t <= s.last_tick {
            s.offset += s.last_tick + 1 - t;
            t = s.last_tick + 1;
        }
        s.last_tick = t;
        t
    }
}

impl ClockState {
    fn now(&self) -> Millis {
        let real = self
            .real_start
            .map(|i| i.elapsed().as_millis() as Millis)
            .unwrap_or(0);
        self.base + self.offset + real
    }
}
