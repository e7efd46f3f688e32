//! State shared by every table of one `register` call: what the statements skipped and the
//! notices the shell prints after each, and what this run learned about the tenant (export API refused, delta unsupported), so
//! that a refusal costs one request per run rather than one per team or channel.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use graph_client::GraphClient;

use crate::cost::Shape;
use crate::plan::RunFacts;
use crate::refusal::{Cause, Groups, SkipGroup};

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
    /// Children left out since the last report, grouped by cause.
    skips: Mutex<Groups>,
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
    shape: Mutex<Option<Shape>>,
}

impl RunState {
    pub(crate) fn notice(&self, text: String) {
        tracing::warn!("{text}");
        if let Ok(mut n) = self.notices.lock() {
            // Bounded and deduplicated: these are per-run facts (a source fallback), not per child.
            if n.len() < 100 && !n.contains(&text) {
                n.push(text);
            }
        }
    }

    pub(crate) fn skipped_child(&self, cause: &Cause, child: &str) {
        // Debug, not warn: the grouped report is the user-facing line, never one per child.
        tracing::debug!("left out {child}: {}", cause.label);
        self.skipped.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.skips.lock() {
            g.add(cause, child);
        }
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

    /// What a scan planned now can know of this run (see [`RunFacts`]).
    pub(crate) fn facts(&self, client: &GraphClient) -> RunFacts {
        RunFacts {
            limits: Some(client.limits()).filter(|l| l.enabled),
            shape: self.shape.lock().ok().and_then(|s| *s),
            // Held only while a probe is in flight; its outcome is unknown until it ends.
            export_refused: self
                .export
                .try_lock()
                .is_ok_and(|a| *a == Availability::Refused),
        }
    }

    /// A full read of the messages (with their replies) has shown the tenant's shape.
    pub(crate) fn shape_seen(&self, shape: Shape) {
        if let Ok(mut s) = self.shape.lock() {
            *s = Some(shape);
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

/// What statements left out, and why (see [`TeamsHandle::take_report`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Children left out, one group per cause.
    pub skipped: Vec<SkipGroup>,
    /// Other notices: source fallbacks and the like.
    pub notices: Vec<String>,
}

impl ReadReport {
    /// Some child was refused (403) and left out under `on_forbidden = 'skip'`: the result is
    /// not the whole of what was asked for. (404s are not: those children no longer exist.)
    pub fn is_partial(&self) -> bool {
        self.skipped.iter().any(|g| g.refused)
    }

    /// Children refused and left out.
    pub fn refused(&self) -> u64 {
        self.skipped
            .iter()
            .filter(|g| g.refused)
            .map(|g| g.count)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.skipped.is_empty() && self.notices.is_empty()
    }

    /// One line per cause, then one per notice.
    pub fn lines(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(ToString::to_string)
            .chain(self.notices.iter().cloned())
            .collect()
    }
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

    /// What the statements since the last call left out, and other notices (source fallbacks),
    /// then starts afresh: call it before a statement to reset and after it to learn whether its
    /// read was partial. Concurrent statements on one handle share the report.
    pub fn take_report(&self) -> ReadReport {
        ReadReport {
            skipped: self
                .state
                .skips
                .lock()
                .map(|mut g| g.take())
                .unwrap_or_default(),
            notices: self
                .state
                .notices
                .lock()
                .map(|mut n| std::mem::take(&mut *n))
                .unwrap_or_default(),
        }
    }

    /// The report so far, without resetting it (a writer checks it before committing).
    pub fn report(&self) -> ReadReport {
        ReadReport {
            skipped: self
                .state
                .skips
                .lock()
                .map(|g| g.snapshot())
                .unwrap_or_default(),
            notices: self
                .state
                .notices
                .lock()
                .map(|n| n.clone())
                .unwrap_or_default(),
        }
    }

    /// [`TeamsHandle::take_report`] as lines: one per cause of skipping (with a count and up
    /// to three examples), then the other notices.
    pub fn take_notices(&self) -> Vec<String> {
        self.take_report().lines()
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
