//! Client-side pacing by Microsoft's documented Teams limits, so that a
//! healthy run never receives a 429.
//!
//! Each limit is a GCRA (virtual scheduling) bucket. A request reserves a
//! send time that satisfies every bucket it falls under — its request class
//! across the tenant, its team, its channel — and sleeps until then.
//! Reservations are taken in arrival order under one short lock, so
//! concurrent requests queue fairly instead of racing and retrying.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound::Excluded;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::request::{EndpointClass, Scope};

/// One per-tenant row of the limits table.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantLimit {
    /// Name for diagnostics ("channel messages", ...).
    pub name: String,
    /// Requests per second per app per tenant.
    pub rps: f64,
    /// Endpoint classes counted against this row.
    pub classes: Vec<EndpointClass>,
}

/// Request-rate limits the client holds itself to.
///
/// The defaults are Microsoft's Teams table (docs/graph.md §4.2-§4.4, newest
/// version): per app per tenant 20 rps for channel messages, 60 for the
/// members and channels lists (one shared bucket), 200 for getAllMessages, 30 for other GETs;
/// at most 4 rps on one team and 1 rps on one channel. It is data so that
/// tenants with other limits, or a simulator scaled up for fast tests, can
/// be matched.
///
/// The limits are per app per tenant, and this schedule lives in one
/// `GraphClient` (shared by its clones). Several processes signing in as
/// the same app share Microsoft's budget, so each should run with
/// `scale` = 1 / number of processes.
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottleLimits {
    /// False turns pacing off entirely.
    pub enabled: bool,
    pub per_tenant: Vec<TenantLimit>,
    /// "A maximum of four requests per second per app can be issued on a given team."
    pub per_team_rps: f64,
    /// "A maximum of one request per second per app per tenant can be issued on a given channel."
    pub per_channel_rps: f64,
    /// Multiplies every rate (10.0 = limits ten times looser).
    pub scale: f64,
    /// Fraction of each limit actually used. Below 1 so that clock skew and
    /// network jitter between our send and the server's count cannot tip a
    /// request over the line.
    pub headroom: f64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self::microsoft()
    }
}

impl ThrottleLimits {
    /// Microsoft's documented Teams limits.
    pub fn microsoft() -> Self {
        use EndpointClass::*;
        ThrottleLimits {
            enabled: true,
            per_tenant: vec![
                // List messages, list replies and delta have no row of their
                // own; "GET channel message" (20) is the nearest and the
                // stricter of the two candidates, so they share it.
                TenantLimit {
                    name: "channel messages".into(),
                    rps: 20.0,
                    classes: vec![MessagesList, MessageGet, RepliesList, MessagesDelta],
                },
                // The table has separate 60 rps rows for members and for
                // channels. Whether Microsoft counts them in one bucket is
                // undocumented; sharing one is the safe reading (it can only
                // make us slower, never throttled).
                TenantLimit {
                    name: "members and channel lists".into(),
                    rps: 60.0,
                    classes: vec![MembersList, ChannelsList, AllChannelsList],
                },
                TenantLimit {
                    name: "getAllMessages".into(),
                    rps: 200.0,
                    classes: vec![GetAllMessages],
                },
                // GET /teams is not itemised; /groups falls under identity
                // limits that are far higher. "Other GET" (30) is safe for both.
                TenantLimit {
                    name: "other GET".into(),
                    rps: 30.0,
                    classes: vec![TeamsList, TeamGet, GroupsList, ChannelGet],
                },
            ],
            per_team_rps: 4.0,
            per_channel_rps: 1.0,
            scale: 1.0,
            headroom: 0.9,
        }
    }

    /// No pacing (a server without limits, or tests of the retry path).
    pub fn unlimited() -> Self {
        ThrottleLimits {
            enabled: false,
            ..Self::microsoft()
        }
    }

    /// Same table, every rate multiplied by `scale`.
    pub fn scaled(self, scale: f64) -> Self {
        ThrottleLimits { scale, ..self }
    }

    fn rate(&self, rps: f64) -> Option<f64> {
        let r = rps * self.scale * self.headroom;
        (r.is_finite() && r > 0.0).then_some(r)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum BucketKey {
    Tenant(usize),
    Team(String),
    /// Keyed on the channel id alone: channel ids (`19:...@thread...`) are
    /// unique in the tenant, and a shared channel is reachable through every
    /// team it is shared with, but Microsoft's 1 rps is per channel.
    Channel(String),
}

/// The send times reserved on one limit, and a hold after a 429.
///
/// Requests must be at least `1/rate` apart, with no bursts: Microsoft does
/// not document bucket sizes, and even spacing is what a per-second limit
/// accepts under any window alignment. Keeping the reserved times (rather
/// than only the last one) lets a request fill a free slot *before* a later
/// reservation: otherwise a request waiting for its busy channel would push
/// the shared tenant schedule forward and stall requests to idle channels.
#[derive(Debug, Default)]
struct Bucket {
    reserved: BTreeSet<Instant>,
    hold_until: Option<Instant>,
}

impl Bucket {
    /// Drops reservations that can no longer conflict with a request at or
    /// after `now`.
    fn prune(&mut self, now: Instant, gap: Duration) {
        let horizon = now.checked_sub(gap).unwrap_or(now);
        self.reserved = self.reserved.split_off(&horizon);
        if self.hold_until.is_some_and(|h| h <= now) {
            self.hold_until = None;
        }
    }

    /// The earliest time >= t that is free on this bucket, or None if t is
    /// free already.
    fn conflict(&self, t: Instant, gap: Duration) -> Option<Instant> {
        if let Some(h) = self.hold_until
            && t < h
        {
            return Some(h);
        }
        let lo = t.checked_sub(gap).unwrap_or(t);
        self.reserved
            .range((Excluded(lo), Excluded(t + gap)))
            .next_back()
            .map(|r| *r + gap)
    }

    fn is_idle(&self) -> bool {
        self.reserved.is_empty() && self.hold_until.is_none()
    }
}

pub(crate) struct Pacer {
    limits: ThrottleLimits,
    /// Tenant-row index for each endpoint class.
    row_of: [Option<usize>; 12],
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

/// Idle buckets are dropped once the map grows past this, so memory stays
/// bounded by the number of recently active teams and channels.
const EVICT_AT: usize = 4096;

impl Pacer {
    pub(crate) fn new(limits: ThrottleLimits) -> Pacer {
        let mut row_of = [None; 12];
        for (i, row) in limits.per_tenant.iter().enumerate() {
            for c in &row.classes {
                row_of[c.index()] = Some(i);
            }
        }
        Pacer {
            limits,
            row_of,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Every limit a request falls under, with the minimum gap between two
    /// requests on it.
    fn keys(&self, class: EndpointClass, scope: &Scope) -> Vec<(BucketKey, Duration)> {
        let gap = |rps: f64| {
            self.limits
                .rate(rps)
                .map(|r| Duration::from_secs_f64(1.0 / r))
        };
        let mut keys = Vec::with_capacity(3);
        if let Some(row) = self.row_of[class.index()]
            && let Some(g) = gap(self.limits.per_tenant[row].rps)
        {
            keys.push((BucketKey::Tenant(row), g));
        }
        if let Some(team) = &scope.team_id {
            if let Some(g) = gap(self.limits.per_team_rps) {
                keys.push((BucketKey::Team(team.clone()), g));
            }
            if let Some(ch) = &scope.channel_id
                && let Some(g) = gap(self.limits.per_channel_rps)
            {
                keys.push((BucketKey::Channel(ch.clone()), g));
            }
        }
        keys
    }

    /// Reserves the earliest send time free on every limit the request
    /// falls under, and returns it.
    pub(crate) fn reserve(&self, class: EndpointClass, scope: &Scope) -> Instant {
        let now = Instant::now();
        if !self.limits.enabled {
            return now;
        }
        let keys = self.keys(class, scope);
        // A poisoned lock only means another request panicked mid-update;
        // the schedule is still valid, so keep using it.
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > EVICT_AT {
            map.retain(|_, b| {
                b.prune(now, Duration::from_secs(1));
                !b.is_idle()
            });
        }
        for (k, gap) in &keys {
            map.entry(k.clone()).or_default().prune(now, *gap);
        }
        // Move t forward past every conflict until it is free everywhere.
        // Each step moves t to just after an existing reservation, so the
        // loop ends after at most (number of reservations) steps.
        let mut t = now;
        loop {
            let mut moved = false;
            for (k, gap) in &keys {
                if let Some(b) = map.get(k)
                    && let Some(later) = b.conflict(t, *gap)
                {
                    t = later;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        for (k, _) in &keys {
            map.entry(k.clone()).or_default().reserved.insert(t);
        }
        t
    }

    /// Waits for a send slot; returns how long it waited.
    ///
    /// If the caller is dropped while waiting (a query stopped early), the
    /// slot is given back so the requests behind it are not delayed by a
    /// request that never went out.
    pub(crate) async fn acquire(&self, class: EndpointClass, scope: &Scope) -> Duration {
        let at = self.reserve(class, scope);
        let now = Instant::now();
        if at <= now {
            return Duration::ZERO;
        }
        let guard = Unsent {
            pacer: self,
            class,
            scope,
            at,
        };
        tokio::time::sleep_until(at).await;
        std::mem::forget(guard);
        at - now
    }

    fn release(&self, class: EndpointClass, scope: &Scope, at: Instant) {
        let keys = self.keys(class, scope);
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        for (k, _) in keys {
            if let Some(b) = map.get_mut(&k) {
                b.reserved.remove(&at);
            }
        }
    }

    /// After a 429 with Retry-After, holds the narrowest limit the request
    /// fell under (its channel, else its team, else its class across the
    /// tenant) until then, so the requests queued behind it do not run into
    /// the same wall. The reply does not say which limit was hit; holding
    /// the whole tenant class for one busy channel would stall every other
    /// channel, and if the tenant limit was hit the other channels' own
    /// 429s will hold them too.
    pub(crate) fn hold_until(&self, class: EndpointClass, scope: &Scope, until: Instant) {
        if !self.limits.enabled {
            return;
        }
        let Some((key, _)) = self.keys(class, scope).pop() else {
            return;
        };
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.entry(key).or_default();
        b.hold_until = Some(b.hold_until.map_or(until, |h| h.max(until)));
    }
}

/// A reservation whose request has not been sent; releases it on drop.
struct Unsent<'a> {
    pacer: &'a Pacer,
    class: EndpointClass,
    scope: &'a Scope,
    at: Instant,
}

impl Drop for Unsent<'_> {
    fn drop(&mut self) {
        self.pacer.release(self.class, self.scope, self.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn channel_requests_are_spaced() {
        let p = Pacer::new(ThrottleLimits::microsoft());
        let s = Scope::channel("t", "c");
        let t0 = Instant::now();
        let a = p.reserve(EndpointClass::MessagesList, &s);
        let b = p.reserve(EndpointClass::MessagesList, &s);
        let c = p.reserve(EndpointClass::RepliesList, &s);
        assert_eq!(a, t0);
        // 1 rps * 0.9 headroom => 1.111 s apart.
        assert!(b - a >= Duration::from_millis(1100));
        assert!(c - b >= Duration::from_millis(1100));
        // Another channel of another team only waits for the tenant-wide
        // message limit (18 rps => 56 ms after the first request).
        let d = p.reserve(EndpointClass::MessagesList, &Scope::channel("t2", "c2"));
        assert!(d - t0 < Duration::from_millis(100));
        assert!(d - t0 >= Duration::from_millis(55));
        // The same (shared) channel reached through another team is the
        // same channel: it queues behind the first three.
        let e = p.reserve(EndpointClass::MessagesList, &Scope::channel("t3", "c"));
        assert!(e - c >= Duration::from_millis(1100));
    }

    #[tokio::test(start_paused = true)]
    async fn tenant_class_limit_applies_across_teams() {
        let p = Pacer::new(ThrottleLimits::microsoft());
        let t0 = Instant::now();
        let mut last = t0;
        for i in 0..37 {
            last = p.reserve(EndpointClass::TeamGet, &Scope::team(format!("t{i}")));
        }
        // 30 rps * 0.9 = 27 rps: 37 requests span at least 36/27 s.
        assert!(last - t0 >= Duration::from_secs_f64(36.0 / 27.0 - 0.01));
    }

    #[tokio::test(start_paused = true)]
    async fn hold_delays_only_the_held_channel() {
        let p = Pacer::new(ThrottleLimits::microsoft());
        let t0 = Instant::now();
        let held = Scope::channel("t", "busy");
        p.hold_until(
            EndpointClass::MessagesList,
            &held,
            t0 + Duration::from_secs(5),
        );
        assert_eq!(
            p.reserve(EndpointClass::MessagesList, &held),
            t0 + Duration::from_secs(5)
        );
        let other = p.reserve(EndpointClass::MessagesList, &Scope::channel("t2", "idle"));
        assert!(other - t0 < Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn free_slot_before_a_later_reservation_is_used() {
        let p = Pacer::new(ThrottleLimits::microsoft());
        let t0 = Instant::now();
        let c = Scope::channel("t", "c");
        p.reserve(EndpointClass::MessagesList, &c);
        // The channel's second request waits ~1.1 s ...
        let second = p.reserve(EndpointClass::MessagesList, &c);
        assert!(second - t0 >= Duration::from_millis(1100));
        // ... but a request to another channel (other team) is not queued
        // behind it on the shared tenant-wide message limit.
        let other = p.reserve(EndpointClass::MessagesList, &Scope::channel("u", "d"));
        assert!(other - t0 < Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn abandoned_wait_gives_its_slot_back() {
        let p = Pacer::new(ThrottleLimits::microsoft());
        let c = Scope::channel("t", "c");
        let t0 = Instant::now();
        p.reserve(EndpointClass::MessagesList, &c);
        {
            let waiting = p.acquire(EndpointClass::MessagesList, &c);
            // Poll once so it reserves, then drop it mid-wait.
            let _ = tokio::time::timeout(Duration::from_millis(10), waiting).await;
        }
        let next = p.reserve(EndpointClass::MessagesList, &c);
        assert!(next - t0 < Duration::from_millis(1200), "{:?}", next - t0);
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let p = Pacer::new(ThrottleLimits::unlimited());
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(
                p.reserve(EndpointClass::MessagesList, &Scope::channel("t", "c")),
                t0
            );
        }
    }

    /// The simulator is the only Graph every test and bench runs against, so its classes and
    /// limits must be the ones this pacer schedules by: the same class names, the same classes
    /// sharing one tenant bucket, and never a paced rate above what the simulator admits.
    #[test]
    fn classes_and_limits_agree_with_the_simulator() {
        let ours: Vec<&str> = EndpointClass::ALL.iter().map(|c| c.as_str()).collect();
        let sims: Vec<&str> = graph_sim::EndpointClass::ALL
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(ours, sims);
        let limits = ThrottleLimits::microsoft();
        let pacer = Pacer::new(limits.clone());
        for (ours, sims) in EndpointClass::ALL.iter().zip(graph_sim::EndpointClass::ALL) {
            assert_eq!(ours.is_protected_api(), sims.is_protected_api(), "{ours}");
            let row = pacer.row_of[ours.index()].expect("every class has a tenant row");
            let sim_limit = sims.tenant_limit();
            // Pacing slower than the simulator is safe; faster would be throttled.
            assert!(limits.per_tenant[row].rps <= sim_limit.rps, "{ours}");
            if *ours != EndpointClass::GroupsList {
                // /groups is paced at "other GET" on purpose (see microsoft()); every Teams
                // class is paced at exactly its documented row.
                assert_eq!(limits.per_tenant[row].rps, sim_limit.rps, "{ours}");
            }
            // Two classes share a simulator bucket exactly when they share a pacing row.
            for (o2, s2) in EndpointClass::ALL.iter().zip(graph_sim::EndpointClass::ALL) {
                if *ours == EndpointClass::GroupsList || *o2 == EndpointClass::GroupsList {
                    continue;
                }
                assert_eq!(
                    pacer.row_of[o2.index()] == Some(row),
                    s2.tenant_limit().bucket == sim_limit.bucket,
                    "{ours} and {o2}"
                );
            }
        }
        assert_eq!(limits.per_team_rps, graph_sim::TEAM_RATE);
        assert_eq!(limits.per_channel_rps, graph_sim::CHANNEL_RATE);
    }
}
