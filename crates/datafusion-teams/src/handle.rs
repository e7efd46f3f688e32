//! State shared by every table of one `register` call: the notices the shell prints after a
//! query, and what this run learned about the tenant (export API refused, delta unsupported), so
//! that a refusal costs one request per run rather than one per team or channel.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use graph_client::GraphClient;

/// Whether a message source works for this tenant, as learned during the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Availability {
    #[default]
    Unknown,
    Available,
    Refused,
}

#[derive(Debug, Default)]
pub(crate) struct RunState {
    notices: Mutex<Vec<String>>,
    skipped: AtomicU64,
    /// Parents found by listing (not named in the query) since the last
    /// [`TeamsHandle::start_statement`]: what a progress display shows while a tenant-wide scan
    /// is still finding its way. Kept as sets of id hashes because the scans of one statement
    /// (a join, a union, subqueries) list the same teams again, and counting every listing said
    /// "found 12 teams" of a 4-team tenant. Bounded by the tenant's size, 8 bytes an entry.
    found: Mutex<Found>,
    /// Rows the scans have produced (running total): progress for statements whose rows are
    /// consumed where the shell cannot count them (a Delta COPY plans and runs its own scan).
    rows: AtomicU64,
    /// Held across the first export request so concurrent teams do not all probe a refusing API.
    pub(crate) export: tokio::sync::Mutex<Availability>,
    pub(crate) delta: tokio::sync::Mutex<Availability>,
}

impl RunState {
    pub(crate) fn notice(&self, text: String) {
        tracing::warn!("{text}");
        if let Ok(mut n) = self.notices.lock() {
            // Bounded: a tenant where every channel refuses would otherwise grow this without end.
            if n.len() < 1000 {
                n.push(text);
            }
        }
    }

    pub(crate) fn skipped_child(&self, text: String) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        self.notice(text);
    }

    pub(crate) fn teams_found<'a>(&self, ids: impl Iterator<Item = &'a str>) {
        if let Ok(mut f) = self.found.lock() {
            f.teams.extend(ids.map(|id| id_hash(&[id])));
        }
    }

    pub(crate) fn channels_found<'a>(&self, ids: impl Iterator<Item = (&'a str, &'a str)>) {
        if let Ok(mut f) = self.found.lock() {
            f.channels
                .extend(ids.map(|(team, channel)| id_hash(&[team, channel])));
        }
    }

    pub(crate) fn rows_produced(&self, n: usize) {
        self.rows.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct Found {
    teams: HashSet<u64>,
    channels: HashSet<u64>,
}

fn id_hash(parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// Distinct teams and channels found by listing them since the last
/// [`TeamsHandle::start_statement`] (or since `register`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    pub teams: u64,
    pub channels: u64,
}

/// Returned by [`crate::register`]: the client the tables use, and the run's notices.
#[derive(Clone)]
pub struct TeamsHandle {
    pub(crate) client: GraphClient,
    pub(crate) state: Arc<RunState>,
}

impl TeamsHandle {
    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    /// Skipped children (403/404) and source fallbacks since the last call; the shell prints
    /// them after each query.
    pub fn take_notices(&self) -> Vec<String> {
        match self.state.notices.lock() {
            Ok(mut n) => std::mem::take(&mut *n),
            Err(_) => Vec::new(),
        }
    }

    /// Children skipped since `register` (running total).
    pub fn skipped_children(&self) -> u64 {
        self.state.skipped.load(Ordering::Relaxed)
    }

    /// Distinct teams and channels the scans found by listing them since the last
    /// [`TeamsHandle::start_statement`], however many scans listed them. Parents named in the
    /// query are not counted: nothing was found.
    pub fn discovered(&self) -> Discovered {
        match self.state.found.lock() {
            Ok(f) => Discovered {
                teams: f.teams.len() as u64,
                channels: f.channels.len() as u64,
            },
            Err(_) => Discovered::default(),
        }
    }

    /// Starts counting [`TeamsHandle::discovered`] afresh: call it before each statement.
    pub fn start_statement(&self) {
        if let Ok(mut f) = self.state.found.lock() {
            *f = Found::default();
        }
    }

    /// Rows the scans of these tables have produced since `register` (running total); a
    /// statement's share is the difference across it.
    pub fn rows_produced(&self) -> u64 {
        self.state.rows.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for TeamsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsHandle")
            .field("skipped_children", &self.skipped_children())
            .finish_non_exhaustive()
    }
}
