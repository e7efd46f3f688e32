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
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Multiplies every rate (10.0 = limits ten times looser). A client's
    /// scale can be changed while it runs ([`crate::GraphClient::set_throttle_scale`]).
    pub scale: f64,
    /// Fraction of each limit actually used; 1 by default.
    ///
    /// Requests are spaced evenly at exactly `1 / rate`, never in bursts, so
    /// no half-open one-second window, however aligned, ever holds more than
    /// `rate` of them: that is all a per-second limit can mean, whether it is
    /// counted in windows or, like the simulator's model, in token buckets
    /// holding at least one second's worth (a bucket of one second absorbs
    /// the arrival jitter of a request sent on time). Microsoft documents
    /// neither the window nor the bucket; a 429 that still arrives holds only
    /// its own bucket for its Retry-After (see `Pacer::hold_until`), so
    /// pacing below the documented rate would cost every read to save a
    /// rare wait on one channel. Tenants that share the app's budget between
    /// processes lower `scale` instead.
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
            headroom: 1.0,
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

    /// The documented per-tenant rate of `class` times `scale` (no headroom): what a
    /// lower-bound estimate divides by. `None` when pacing is off or no row counts the class.
    pub fn tenant_rps(&self, class: EndpointClass) -> Option<f64> {
        let row = self
            .per_tenant
            .iter()
            .find(|r| r.classes.contains(&class))?;
        self.documented(row.rps)
    }

    /// The per-team rate times `scale` (see [`Self::tenant_rps`]).
    pub fn team_rps(&self) -> Option<f64> {
        self.documented(self.per_team_rps)
    }

    /// The per-channel rate times `scale` (see [`Self::tenant_rps`]).
    pub fn channel_rps(&self) -> Option<f64> {
        self.documented(self.per_channel_rps)
    }

    fn documented(&self, rps: f64) -> Option<f64> {
        let r = rps * self.scale;
        (self.enabled && r.is_finite() && r > 0.0).then_some(r)
    }

    fn rate_at(&self, rps: f64, scale: f64) -> Option<f64> {
        let r = rps * scale * self.headroom;
        (r.is_finite() && r > 0.0).then_some(r)
    }

    /// The tenant-wide row `class` counts against.
    fn row(&self, class: EndpointClass) -> Option<&TenantLimit> {
        self.per_tenant.iter().find(|r| r.classes.contains(&class))
    }

    /// Requests per second the pacer sends on `class` across the tenant
    /// (documented rate x scale x headroom); `None` when unpaced.
    pub fn tenant_rate(&self, class: EndpointClass) -> Option<f64> {
        if !self.enabled {
            return None;
        }
        self.rate_at(self.row(class)?.rps, self.scale)
    }

    /// How many request chains of `class` must be open at once for their
    /// requests to fill the tenant budget of `class`. A chain (the pages of
    /// one nextLink walk) sends its next request only after the previous
    /// answer, so it runs at most once per `latency`, and never faster than
    /// its own team or channel allows (`per`). Fewer chains leave tenant
    /// budget unused; more only wait on their own limits.
    pub fn chains_to_fill(
        &self,
        class: EndpointClass,
        per: ChainScope,
        latency: Duration,
    ) -> usize {
        let Some(tenant) = self.tenant_rate(class) else {
            return usize::MAX;
        };
        let mut per_chain = 1.0 / latency.as_secs_f64().max(1e-3);
        if matches!(per, ChainScope::Team | ChainScope::Channel)
            && let Some(r) = self.rate_at(self.per_team_rps, self.scale)
        {
            per_chain = per_chain.min(r);
        }
        if per == ChainScope::Channel
            && let Some(r) = self.rate_at(self.per_channel_rps, self.scale)
        {
            per_chain = per_chain.min(r);
        }
        let n = (tenant / per_chain).ceil();
        if n.is_finite() {
            (n as usize).max(1)
        } else {
            usize::MAX
        }
    }

    /// Channels of one team worth reading at once: the team's limit over
    /// the channel's (four by Microsoft's table).
    pub fn channels_per_team(&self) -> usize {
        let n = (self.per_team_rps / self.per_channel_rps).ceil();
        if n.is_finite() && n >= 1.0 {
            n as usize
        } else {
            1
        }
    }

    /// The throttle lower bound: the shortest wall time these limits allow
    /// for `requests` (each its class and the team and channel it falls
    /// on), however they are scheduled. Every limit a request falls under
    /// (its class's tenant row, its team, its channel) admits one request
    /// per `1 / rate`, the first at once, so a limit carrying `n` of them
    /// needs `(n - 1) / rate`; the busiest limit sets the bound. Latency is
    /// not included. Used by the benches to print wall / bound, and by the
    /// planner to weigh one source against another.
    pub fn lower_bound<'a>(
        &self,
        requests: impl IntoIterator<Item = (EndpointClass, &'a Scope)>,
    ) -> Duration {
        if !self.enabled {
            return Duration::ZERO;
        }
        let mut tenant: HashMap<usize, u64> = HashMap::new();
        let mut teams: HashMap<&'a str, u64> = HashMap::new();
        let mut channels: HashMap<&'a str, u64> = HashMap::new();
        for (class, scope) in requests {
            if let Some(i) = self
                .per_tenant
                .iter()
                .position(|r| r.classes.contains(&class))
            {
                *tenant.entry(i).or_default() += 1;
            }
            if let Some(t) = &scope.team_id {
                *teams.entry(t).or_default() += 1;
                if let Some(c) = &scope.channel_id {
                    *channels.entry(c).or_default() += 1;
                }
            }
        }
        let span = |n: u64, rps: f64| {
            self.rate_at(rps, self.scale)
                .map_or(0.0, |r| n.saturating_sub(1) as f64 / r)
        };
        let mut secs: f64 = 0.0;
        for (i, n) in tenant {
            secs = secs.max(span(n, self.per_tenant[i].rps));
        }
        for n in teams.into_values() {
            secs = secs.max(span(n, self.per_team_rps));
        }
        for n in channels.into_values() {
            secs = secs.max(span(n, self.per_channel_rps));
        }
        Duration::from_secs_f64(secs)
    }
}

/// What the requests of one chain share besides the tenant-wide row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainScope {
    /// Tenant-level lists (`GET /teams`).
    Tenant,
    /// One team's collection (channels, members, getAllMessages).
    Team,
    /// One channel's collection (messages, replies, delta).
    Channel,
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
    /// `limits.scale`, changeable while requests are in flight (f64 bits).
    scale: AtomicU64,
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
            scale: AtomicU64::new(limits.scale.to_bits()),
            limits,
            row_of,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn scale(&self) -> f64 {
        f64::from_bits(self.scale.load(Ordering::Relaxed))
    }

    /// Multiplies every documented rate by `scale` from now on. Slots
    /// already reserved keep their times; the next reservations are spaced
    /// by the new rates.
    pub(crate) fn set_scale(&self, scale: f64) {
        if scale.is_finite() && scale > 0.0 {
            self.scale.store(scale.to_bits(), Ordering::Relaxed);
        }
    }

    /// The limits as they apply now (with the current scale).
    pub(crate) fn limits(&self) -> ThrottleLimits {
        ThrottleLimits {
            scale: self.scale(),
            ..self.limits.clone()
        }
    }

    /// Every limit a request falls under, with the minimum gap between two
    /// requests on it.
    fn keys(&self, class: EndpointClass, scope: &Scope) -> Vec<(BucketKey, Duration)> {
        let scale = self.scale();
        let gap = |rps: f64| {
            self.limits
                .rate_at(rps, scale)
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
        // 1 rps => 1 s apart.
        assert_eq!(b - a, Duration::from_secs(1));
        assert_eq!(c - b, Duration::from_secs(1));
        // Another channel of another team only waits for the tenant-wide
        // message limit (20 rps => 50 ms after the first request).
        let d = p.reserve(EndpointClass::MessagesList, &Scope::channel("t2", "c2"));
        assert_eq!(d - t0, Duration::from_millis(50));
        // The same (shared) channel reached through another team is the
        // same channel: it queues behind the first three.
        let e = p.reserve(EndpointClass::MessagesList, &Scope::channel("t3", "c"));
        assert_eq!(e - c, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn tenant_class_limit_applies_across_teams() {
        let p = Pacer::new(ThrottleLimits::microsoft());
        let t0 = Instant::now();
        let mut last = t0;
        for i in 0..37 {
            last = p.reserve(EndpointClass::TeamGet, &Scope::team(format!("t{i}")));
        }
        // 30 rps: 37 requests span at least 36/30 s.
        assert!(last - t0 >= Duration::from_secs_f64(36.0 / 30.0 - 0.001));
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
        // The channel's second request waits 1 s ...
        let second = p.reserve(EndpointClass::MessagesList, &c);
        assert!(second - t0 >= Duration::from_millis(1000));
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
        assert!(next - t0 < Duration::from_millis(1100), "{:?}", next - t0);
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

    #[tokio::test(start_paused = true)]
    async fn a_hold_ends_and_the_channel_is_paced_again() {
        let p = Pacer::new(ThrottleLimits::microsoft());
        let t0 = Instant::now();
        let busy = Scope::channel("t", "busy");
        // Retry-After 2.5 s on the busy channel.
        let until = t0 + Duration::from_millis(2500);
        p.hold_until(EndpointClass::MessagesList, &busy, until);
        // The same team's other channel and the tenant row are not held.
        let sibling = p.reserve(EndpointClass::MessagesList, &Scope::channel("t", "calm"));
        assert!(sibling - t0 < Duration::from_millis(100));
        // The busy channel goes at the end of its hold, then at its own rate again.
        let first = p.reserve(EndpointClass::MessagesList, &busy);
        assert_eq!(first, until);
        let second = p.reserve(EndpointClass::MessagesList, &busy);
        assert_eq!(second - first, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_scale_change_applies_to_the_next_reservations() {
        let p = Pacer::new(ThrottleLimits::microsoft());
        let c = Scope::channel("t", "c");
        let a = p.reserve(EndpointClass::MessagesList, &c);
        p.set_scale(2.5);
        let b = p.reserve(EndpointClass::MessagesList, &c);
        assert_eq!(b - a, Duration::from_millis(400));
        assert_eq!(p.limits().scale, 2.5);
        p.set_scale(f64::NAN);
        assert_eq!(p.limits().scale, 2.5, "an invalid scale is ignored");
    }

    #[test]
    fn chains_fill_the_tightest_budget() {
        let l = ThrottleLimits::microsoft();
        let fast = Duration::from_millis(100);
        // Channel messages: 20/s over 1/s a channel.
        assert_eq!(
            l.chains_to_fill(EndpointClass::MessagesList, ChainScope::Channel, fast),
            20
        );
        // getAllMessages: 200/s over 4/s a team, or over one answer per latency when slower.
        assert_eq!(
            l.chains_to_fill(EndpointClass::GetAllMessages, ChainScope::Team, fast),
            50
        );
        let slow = Duration::from_millis(500);
        assert_eq!(
            l.chains_to_fill(EndpointClass::GetAllMessages, ChainScope::Team, slow),
            100
        );
        // Scaled limits scale the tenant and the chain alike.
        let x3 = l.clone().scaled(3.0);
        assert_eq!(
            x3.chains_to_fill(EndpointClass::MessagesList, ChainScope::Channel, fast),
            20
        );
        assert_eq!(l.channels_per_team(), 4);
        assert_eq!(
            ThrottleLimits::unlimited().chains_to_fill(
                EndpointClass::MessagesList,
                ChainScope::Channel,
                fast
            ),
            usize::MAX
        );
    }

    #[test]
    fn lower_bound_is_the_busiest_limit() {
        let l = ThrottleLimits::microsoft();
        // 100 channels of 2 pages each: 200 requests on the 20/s tenant row take 199/20 s;
        // each channel alone would take 1 s, each team of 5 channels 9/4 s.
        let scopes: Vec<Scope> = (0..100)
            .map(|c| Scope::channel(format!("t{}", c / 5), format!("c{c}")))
            .collect();
        let reqs = scopes.iter().flat_map(|s| {
            [
                (EndpointClass::MessagesList, s),
                (EndpointClass::MessagesList, s),
            ]
        });
        assert_eq!(l.lower_bound(reqs), Duration::from_secs_f64(199.0 / 20.0));
        // One team of 40 export pages: its 4/s team limit binds, not the 200/s row.
        let team = Scope::team("t");
        let export = std::iter::repeat_n((EndpointClass::GetAllMessages, &team), 40);
        assert_eq!(l.lower_bound(export), Duration::from_secs_f64(39.0 / 4.0));
        assert_eq!(
            l.scaled(2.0).lower_bound(std::iter::repeat_n(
                (EndpointClass::GetAllMessages, &team),
                41
            )),
            Duration::from_secs(5)
        );
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
