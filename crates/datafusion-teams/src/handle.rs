//! State shared by every table of one `register` call: the notices the shell prints after a
//! query, and what this run learned about the tenant (export API refused, delta unsupported), so
//! that a refusal costs one request per run rather than one per team or channel.

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
    /// Parents found by listing (not named in the query): what a progress display shows while
    /// a tenant-wide scan is still finding its way.
    teams_discovered: AtomicU64,
    channels_discovered: AtomicU64,
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

    pub(crate) fn teams_found(&self, n: usize) {
        self.teams_discovered.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn channels_found(&self, n: usize) {
        self.channels_discovered
            .fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Teams and channels found by listing them since `register` (running totals).
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

    /// Teams and channels the scans found by listing them (running totals); a query's share is
    /// the difference across it. Parents named in the query are not counted: nothing was found.
    pub fn discovered(&self) -> Discovered {
        Discovered {
            teams: self.state.teams_discovered.load(Ordering::Relaxed),
            channels: self.state.channels_discovered.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for TeamsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsHandle")
            .field("skipped_children", &self.skipped_children())
            .finish_non_exhaustive()
    }
}
