//! One sync run: the snapshot tables (teams, channels, members) read whole through the SQL
//! tables and merged in one commit each; then messages and replies from one Graph pass per team
//! (`datafusion_teams::team_feed`), committed team by team with each team's cursor.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::time::Instant;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion_teams::{
    FeedItem, FeedRequest, FeedSource, Removed, Table, TeamsConfig, TeamsHandle, TeamsOptions,
    team_feed,
};
use deltalake::DeltaTable;
use futures::StreamExt;
use graph_client::{ChainScope, EndpointClass};
use serde_json::json;

use super::cursor;
use super::lake::{Batch, Counts, Lake, Written};
use super::rows::{TeamPart, TeamRows};
use super::summary::TableSummary;
use crate::copy_delta::{MATERIALIZE_IN_MEMORY_BYTES, Materializer};
use crate::error::{Result, ShellError};

/// Rows a message batch gathers before it commits: large enough that small teams share a commit,
/// small enough that a killed first load loses little.
pub const DEFAULT_BATCH_ROWS: usize = 50_000;

/// The least memory a team read keeps its rows in before spilling to disk.
const MIN_TEAM_MEMORY_BYTES: usize = 4 * 1024 * 1024;

/// The round trip assumed before the client has measured one (sizes the teams read at once).
const ASSUMED_LATENCY: std::time::Duration = std::time::Duration::from_millis(500);

pub struct Run {
    pub lake: Lake,
    pub handle: TeamsHandle,
    pub options: TeamsOptions,
    pub tenant: String,
    pub tables: Vec<Table>,
    /// `--team` ids; empty = the whole tenant.
    pub named_teams: Vec<String>,
    pub start: Option<DateTime<Utc>>,
    pub full: bool,
    pub partition_by: Option<String>,
    pub run_start: DateTime<Utc>,
    /// The run's start minus the lookback: no cursor passes it (microseconds).
    pub cap: i64,
    pub summaries: HashMap<Table, TableSummary>,
    /// Teams of this run and, per team, its channels and whether they were listed completely.
    teams: Vec<String>,
    channels: BTreeMap<String, (Vec<String>, bool)>,
    /// Some child was refused and left out (under `--on-forbidden skip`).
    pub partial: bool,
    progress: bool,
    /// Rows of read teams that wait before their batch commits.
    pub batch_rows: usize,
    /// Commits running on tasks of their own while the run reads on; settled before it ends.
    commits: Vec<Pending>,
    /// A team the export API serves is read in full once its last full read is this old.
    pub reconcile_every: chrono::Duration,
    /// The message tables, opened (or created) while Graph is read.
    opening: Option<tokio::task::JoinHandle<Opened>>,
}

/// The message tables as opened (or why one could not be).
type Opened = Vec<(Table, Result<DeltaTable>)>;

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Under `--on-forbidden skip` a statement whose only children Graph refused fails (an answer
/// made of refusals is not one). Sync reads one team per statement, so for it that only means
/// the team was not read this run: nothing of it is deleted and its cursor stays.
fn refused_entirely(e: &datafusion::error::DataFusionError) -> bool {
    match e.find_root() {
        datafusion::error::DataFusionError::External(inner) => inner
            .downcast_ref::<datafusion_teams::TeamsError>()
            .is_some_and(|t| matches!(t, datafusion_teams::TeamsError::AllRefused { .. })),
        _ => false,
    }
}

fn in_list(column: &str, values: &[String], negated: bool) -> Expr {
    col(column).in_list(values.iter().map(|v| lit(v.clone())).collect(), negated)
}

/// String values of `column` in a batch (ids).
pub(super) fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
    let Ok(i) = batch.schema().index_of(column) else {
        return Vec::new();
    };
    let array = batch.column(i);
    let array = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            datafusion::arrow::compute::cast(array, &DataType::Utf8).ok()
        }
        _ => None,
    };
    let Some(array) = array else {
        return Vec::new();
    };
    let s = array.as_string::<i32>();
    (0..s.len())
        .filter(|&i| s.is_valid(i))
        .map(|i| s.value(i).to_string())
        .collect()
}

impl Run {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lake: Lake,
        handle: TeamsHandle,
        options: TeamsOptions,
        tenant: String,
        tables: Vec<Table>,
        named_teams: Vec<String>,
        start: Option<DateTime<Utc>>,
        full: bool,
        partition_by: Option<String>,
        lookback: chrono::Duration,
    ) -> Run {
        let run_start = Utc::now();
        Run {
            lake,
            handle,
            options,
            tenant,
            tables,
            named_teams,
            start,
            full,
            partition_by,
            run_start,
            cap: (run_start - lookback).timestamp_micros(),
            summaries: HashMap::new(),
            teams: Vec::new(),
            channels: BTreeMap::new(),
            partial: false,
            progress: std::io::stderr().is_terminal(),
            batch_rows: DEFAULT_BATCH_ROWS,
            commits: Vec::new(),
            reconcile_every: chrono::Duration::days(7),
            opening: None,
        }
    }

    fn requests(&self) -> u64 {
        self.handle.client().stats().total_requests
    }

    fn progress(&self, text: &str) {
        if self.progress {
            let mut e = std::io::stderr();
            let _ = write!(e, "\r\x1b[2K{text}");
            let _ = e.flush();
        }
    }

    fn clear_progress(&self) {
        if self.progress {
            let mut e = std::io::stderr();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
        }
    }

    /// Prints what the statement or team read left out, and remembers it; true when anything
    /// (403 or 404) was left out.
    fn take_skips(&mut self) -> bool {
        let report = self.handle.take_report();
        for line in report.lines() {
            self.clear_progress();
            eprintln!("warning: {line}");
        }
        if report.is_partial() {
            self.partial = true;
        }
        !report.skipped.is_empty()
    }

    /// Runs every table asked for; each commits on its own.
    ///
    /// The team list comes first (everything hangs off it), then the channel lists (the message
    /// pass reads channel by channel when the export API is refused, and deletes what vanished
    /// with a channel). From there the members are read alongside the message pass, and every
    /// commit runs on a task of its own while reading goes on: the run's wall time is its
    /// busiest Graph limit, not reads and commits one after the other.
    pub async fn run(&mut self) -> Result<()> {
        let started = Instant::now();
        let before = self.requests();
        // Opening (or creating) the message tables needs nothing from Graph.
        let lake = self.lake.clone();
        let partition_by = self.partition_by.clone();
        let message_tables: Vec<Table> = self
            .tables
            .iter()
            .copied()
            .filter(|t| t.is_message_table())
            .collect();
        self.opening = Some(tokio::spawn(async move {
            let mut out = Vec::new();
            for t in message_tables {
                out.push((t, lake.open(t, partition_by.as_deref()).await));
            }
            out
        }));
        // Only the team ids are needed to go on: for the whole tenant, the teams' details (a
        // request per team, by id, so no second `GET /teams`) are read alongside everything
        // else. Named teams are read once, details and all.
        let detached = self.named_teams.is_empty() && self.tables.contains(&Table::Teams);
        let teams_result = self.teams_stage(!detached).await;
        if let Err(e) = teams_result {
            // Without the team list no other table can be brought up to date.
            for t in self.tables.clone() {
                let s = self.summaries.entry(t).or_default();
                s.fail(&e);
            }
            return Err(e);
        }
        let requests = self.requests() - before;
        if let Some(s) = self.summaries.get_mut(&Table::Teams) {
            s.requests = requests;
            s.elapsed = started.elapsed();
        }
        if detached && self.teams.is_empty() {
            // No team left: the table empties, in one commit.
            let none = Materializer::new(Table::Teams.schema(), MATERIALIZE_IN_MEMORY_BYTES);
            if let Err(e) = self.teams_commit(none, false).await {
                self.summaries.entry(Table::Teams).or_default().fail(e);
            }
            self.after_teams().await;
        } else if detached {
            let details = read_per_team(
                self.handle.client().clone(),
                self.options.clone(),
                1,
                vec![(
                    String::new(),
                    format!(
                        "SELECT * FROM teams.teams WHERE id IN ({})",
                        self.teams
                            .iter()
                            .map(|t| quote(t))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )],
            );
            let (read, ()) = tokio::join!(details, self.after_teams());
            let outcome = match read {
                Ok(mut read) => {
                    let s = self.summaries.entry(Table::Teams).or_default();
                    s.requests += read.requests;
                    s.elapsed = started.elapsed();
                    match read.results.pop() {
                        Some(r) => {
                            self.report(&r.lines, r.partial);
                            self.teams_rows(r).await
                        }
                        None => Ok(()),
                    }
                }
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                self.summaries.entry(Table::Teams).or_default().fail(e);
            }
        } else {
            self.after_teams().await;
        }
        // The message pass ran alongside other reads: its requests are what the others did
        // not make.
        let total = self.requests() - before;
        let others: u64 = [Table::Teams, Table::Channels, Table::Members]
            .iter()
            .filter_map(|t| self.summaries.get(t))
            .map(|s| s.requests)
            .sum();
        for t in Table::ALL.into_iter().filter(|t| t.is_message_table()) {
            if let Some(s) = self.summaries.get_mut(&t)
                && s.shared_with.is_none()
            {
                s.requests = total.saturating_sub(others);
            }
        }
        for pending in std::mem::take(&mut self.commits) {
            self.settle(pending).await;
        }
        self.clear_progress();
        Ok(())
    }

    /// The teams' rows read on their own (see [`Run::run`]), committed.
    async fn teams_rows(&mut self, read: TeamSql) -> Result<()> {
        let Some(first) = read.batches.first() else {
            return self
                .teams_commit(
                    Materializer::new(Table::Teams.schema(), MATERIALIZE_IN_MEMORY_BYTES),
                    read.skipped,
                )
                .await;
        };
        let mut rows = Materializer::new(first.schema(), MATERIALIZE_IN_MEMORY_BYTES);
        for b in read.batches {
            rows.push(b)?;
        }
        self.teams_commit(rows, read.skipped).await
    }

    /// Everything after the team list: the channel lists, then members and the message pass
    /// side by side.
    async fn after_teams(&mut self) {
        if self.tables.contains(&Table::Channels) {
            let started = Instant::now();
            let read = self.snapshot_read(Table::Channels).await;
            self.snapshot_commit(Table::Channels, read, started).await;
        }
        let members = self.tables.contains(&Table::Members).then(|| {
            read_per_team(
                self.handle.client().clone(),
                self.options.clone(),
                self.teams_at_once(),
                snapshot_jobs(Table::Members, &self.teams),
            )
        });
        let members_started = Instant::now();
        let messages = self.tables.iter().any(|t| t.is_message_table());
        let members_read = match (members, messages) {
            (Some(m), true) => {
                let (read, ()) = tokio::join!(m, self.message_stage());
                Some(read)
            }
            (Some(m), false) => Some(m.await),
            (None, true) => {
                self.message_stage().await;
                None
            }
            (None, false) => None,
        };
        if let Some(read) = members_read {
            self.snapshot_commit(Table::Members, read, members_started)
                .await;
        }
    }

    /// Teams read at once: enough request chains to fill the tenant budget of the source the
    /// messages come from (one chain per team with the export API, four channels of a team at
    /// once from the listing), sized as a scan sizes its chains
    /// (`ThrottleLimits::chains_to_fill`, a quarter more for chains starting and ending), never
    /// more than `teams.concurrency` nor than there are teams. More only wait on their own team's
    /// limit; fewer leave budget unused.
    fn teams_at_once(&self) -> usize {
        let client = self.handle.client();
        let limits = client.limits();
        let latency = client.stats().mean_latency().unwrap_or(ASSUMED_LATENCY);
        let export =
            limits.chains_to_fill(EndpointClass::GetAllMessages, ChainScope::Team, latency);
        let listing = limits
            .chains_to_fill(EndpointClass::MessagesList, ChainScope::Channel, latency)
            .div_ceil(limits.channels_per_team().max(1));
        let need = export.max(listing);
        need.saturating_add(need.div_ceil(4))
            .min(self.options.concurrency)
            .min(self.teams.len())
            .max(1)
    }

    /// Waits for a commit task and books what it did (or why it failed) on its table's line.
    async fn settle(&mut self, pending: Pending) -> Option<DeltaTable> {
        let Pending {
            table,
            task,
            teams_done,
            sources,
            started,
        } = pending;
        let outcome = match task.await {
            Ok(r) => r,
            Err(e) => Err(ShellError::Sync(format!(
                "the commit of {} did not finish: {e}",
                table.name()
            ))),
        };
        let s = self.summaries.entry(table).or_default();
        if let Some(started) = started {
            s.elapsed = started.elapsed();
        }
        match outcome {
            Ok((delta, counts)) => {
                s.counts += counts;
                s.teams_done += teams_done;
                for name in sources {
                    if !s.sources.contains(&name) {
                        s.sources.push(name);
                    }
                }
                // Cheapest first, whichever team finished first.
                let rank = |name: &String| {
                    [FeedSource::Export, FeedSource::Delta, FeedSource::Listing]
                        .iter()
                        .position(|f| f.to_string() == *name)
                };
                s.sources.sort_by_key(rank);
                Some(delta)
            }
            Err(e) => {
                s.fail(e);
                None
            }
        }
    }

    /// Starts committing `batch` to `table` on a task of its own. `keep` (the data the batch's
    /// DataFrame reads, possibly spilled to disk) lives until the commit ends.
    fn spawn_commit<K: Send + 'static>(
        &self,
        which: Table,
        table: DeltaTable,
        batch: Batch,
        keep: K,
    ) -> tokio::task::JoinHandle<Result<(DeltaTable, Counts)>> {
        let lake = self.lake.clone();
        tokio::spawn(async move {
            let r = lake.commit(which, table, batch).await;
            drop(keep);
            r
        })
    }

    /// Lists the teams (`GET /teams`, or the named ones) and syncs `teams` when asked.
    async fn teams_stage(&mut self, details: bool) -> Result<()> {
        let wanted = details && self.tables.contains(&Table::Teams);
        let filter = if self.named_teams.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = self.named_teams.iter().map(|t| quote(t)).collect();
            format!(" WHERE id IN ({})", ids.join(", "))
        };
        let columns = if wanted { "*" } else { "id" };
        self.progress("sync: listing teams");
        let sql = format!("SELECT {columns} FROM teams.teams{filter}");
        let mut ids = BTreeSet::new();
        let mut stream = self.lake.ctx.sql(&sql).await?.execute_stream().await?;
        let mut rows = Materializer::new(stream.schema(), MATERIALIZE_IN_MEMORY_BYTES);
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            ids.extend(strings(&batch, "id"));
            if wanted {
                rows.push(batch)?;
            }
        }
        let skipped = self.take_skips();
        self.teams = ids.into_iter().collect();
        if !wanted {
            return Ok(());
        }
        self.teams_commit(rows, skipped).await
    }

    /// Starts the one commit of `teams`.
    async fn teams_commit(&mut self, rows: Materializer, skipped: bool) -> Result<()> {
        let summary = self.summaries.entry(Table::Teams).or_default();
        summary.teams = self.teams.len();
        let table = self
            .lake
            .open(Table::Teams, self.partition_by.as_deref())
            .await?;
        // The listing is the whole tenant (or all the named teams): what it lacks is gone. A
        // named team that answered 403 is not gone, so a partial read of named teams deletes
        // nothing.
        let scope = if self.named_teams.is_empty() {
            Some(lit(true))
        } else if !skipped {
            Some(in_list("id", &self.named_teams, false))
        } else {
            None
        };
        let rows = rows.finish(&self.lake.ctx).await?;
        let batch = Batch {
            upserts: rows.df.clone(),
            delete_scope: scope,
            txns: vec![cursor::txn(
                cursor::table_app_id(&self.tenant, Table::Teams),
                self.run_start.timestamp_micros(),
            )],
            cursor_moved: false,
            metadata: json!({"table": "teams", "run_start": self.run_start.to_rfc3339()}),
            written: None,
        };
        let task = self.spawn_commit(Table::Teams, table, batch, rows);
        self.commits.push(Pending {
            table: Table::Teams,
            task,
            teams_done: self.teams.len(),
            sources: Vec::new(),
            started: None,
        });
        Ok(())
    }

    /// Lists the channels of every team not listed yet in this run (when `channels` is not
    /// synced), side by side.
    async fn prefetch_channels(&mut self) -> Result<()> {
        let jobs: Vec<(String, String)> = self
            .teams
            .iter()
            .filter(|t| !self.channels.contains_key(*t))
            .map(|t| {
                (
                    t.clone(),
                    format!("SELECT id FROM teams.channels WHERE team_id = {}", quote(t)),
                )
            })
            .collect();
        if jobs.is_empty() {
            return Ok(());
        }
        let read = read_per_team(
            self.handle.client().clone(),
            self.options.clone(),
            self.teams_at_once(),
            jobs,
        )
        .await?;
        for r in read.results {
            self.report(&r.lines, r.partial);
            let ids: Vec<String> = r.batches.iter().flat_map(|b| strings(b, "id")).collect();
            self.channels.insert(r.team, (ids, !r.skipped));
        }
        Ok(())
    }

    fn report(&mut self, lines: &[String], partial: bool) {
        for line in lines {
            self.clear_progress();
            eprintln!("warning: {line}");
        }
        self.partial |= partial;
    }

    /// `channels` or `members`: every team's rows, one query per team so that a team Graph
    /// refused is known and nothing of it is deleted.
    async fn snapshot_read(&mut self, table: Table) -> Result<SnapshotRead> {
        self.progress(&format!(
            "sync {}: {} teams",
            table.name(),
            self.teams.len()
        ));
        read_per_team(
            self.handle.client().clone(),
            self.options.clone(),
            self.teams_at_once(),
            snapshot_jobs(table, &self.teams),
        )
        .await
    }

    /// Books a snapshot table's read and starts its one commit.
    async fn snapshot_commit(
        &mut self,
        table: Table,
        read: Result<SnapshotRead>,
        started: Instant,
    ) {
        let requests = read.as_ref().map_or(0, |r| r.requests);
        let r = match read {
            Ok(read) => self.snapshot_batch(table, read).await,
            Err(e) => Err(e),
        };
        let s = self.summaries.entry(table).or_default();
        s.requests = requests;
        s.elapsed = started.elapsed();
        match r {
            Ok(pending) => self.commits.push(Pending {
                started: Some(started),
                ..pending
            }),
            Err(e) => s.fail(e),
        }
    }

    async fn snapshot_batch(&mut self, table: Table, read: SnapshotRead) -> Result<Pending> {
        let delta = self.lake.open(table, self.partition_by.as_deref()).await?;
        let mut rows: Option<Materializer> = None;
        let mut complete = Vec::new();
        let teams = self.teams.clone();
        self.summaries.entry(table).or_default().teams = teams.len();
        for r in read.results {
            self.report(&r.lines, r.partial);
            if !r.skipped {
                complete.push(r.team.clone());
            }
            if table == Table::Channels {
                let ids: Vec<String> = r.batches.iter().flat_map(|b| strings(b, "id")).collect();
                self.channels.insert(r.team.clone(), (ids, !r.skipped));
            }
            for batch in r.batches {
                // The statement's own schema (the table's columns as the provider states them).
                let rows = rows.get_or_insert_with(|| {
                    Materializer::new(batch.schema(), MATERIALIZE_IN_MEMORY_BYTES)
                });
                rows.push(batch)?;
            }
        }
        let mut scope: Option<Expr> =
            (!complete.is_empty()).then(|| in_list("team_id", &complete, false));
        if self.named_teams.is_empty() {
            // Teams no longer listed: their rows go.
            let gone = in_list("team_id", &self.teams, true);
            scope = Some(match scope {
                Some(s) => s.or(gone),
                None => gone,
            });
        }
        let rows =
            rows.unwrap_or_else(|| Materializer::new(table.schema(), MATERIALIZE_IN_MEMORY_BYTES));
        let rows = rows.finish(&self.lake.ctx).await?;
        let batch = Batch {
            upserts: rows.df.clone(),
            delete_scope: scope,
            txns: vec![cursor::txn(
                cursor::table_app_id(&self.tenant, table),
                self.run_start.timestamp_micros(),
            )],
            cursor_moved: false,
            metadata: json!({
                "table": table.name(),
                "run_start": self.run_start.to_rfc3339(),
                "teams_complete": complete.len(),
                "teams": teams.len(),
            }),
            written: None,
        };
        Ok(Pending {
            table,
            task: self.spawn_commit(table, delta, batch, rows),
            teams_done: teams.len(),
            sources: Vec::new(),
            started: None,
        })
    }

    /// `messages` and `message_replies` from one pass per team. Teams are committed together
    /// once `batch_rows` rows are waiting (and at the end), each with its own cursor in the
    /// commit: a killed first load resumes after the last committed batch.
    async fn message_stage(&mut self) {
        let started = Instant::now();
        let before = self.requests();
        let wanted: Vec<Table> = self
            .tables
            .iter()
            .copied()
            .filter(|t| t.is_message_table())
            .collect();
        let mut open: HashMap<Table, DeltaTable> = HashMap::new();
        let opening = match self.opening.take() {
            Some(task) => match task.await {
                Ok(opened) => opened,
                Err(e) => wanted
                    .iter()
                    .map(|&t| {
                        let e =
                            ShellError::Sync(format!("opening {} did not finish: {e}", t.name()));
                        (t, Err(e))
                    })
                    .collect(),
            },
            None => Vec::new(),
        };
        for (t, opened) in opening {
            self.summaries.entry(t).or_default().teams = self.teams.len();
            match opened {
                Ok(d) => {
                    open.insert(t, d);
                }
                Err(e) => self.summaries.entry(t).or_default().fail(e),
            }
        }
        if let (Some(&first), true) = (wanted.first(), wanted.len() == 2) {
            // One pass serves both tables; its requests are shown once.
            let second = wanted[1];
            self.summaries.entry(second).or_default().shared_with = Some(first);
        }
        if open.is_empty() {
            return;
        }
        let floor = match self.floor(&open).await {
            Ok(f) => f,
            Err(e) => {
                for &t in open.keys() {
                    self.summaries.entry(t).or_default().fail(&e);
                }
                return;
            }
        };
        if let Err(e) = self.prefetch_channels().await {
            for &t in &wanted {
                self.summaries.entry(t).or_default().fail(&e);
            }
            return;
        }
        let mut jobs = Vec::new();
        let teams = self.teams.clone();
        let found: Vec<Result<TeamJob>> = {
            let this = &*self;
            let open = &open;
            futures::stream::iter(teams.iter())
                .map(|team| this.team_job(team, open))
                .buffered(16)
                .collect()
                .await
        };
        for job in found {
            match job {
                Ok(job) => jobs.push(job),
                Err(e) => {
                    for &t in &wanted {
                        self.summaries.entry(t).or_default().fail(&e);
                    }
                }
            }
        }
        let total = jobs.len();
        let k = self.teams_at_once();
        // Each team read keeps its rows until its batch commits: the memory for that is shared
        // among the teams read at once.
        let in_memory = (MATERIALIZE_IN_MEMORY_BYTES / k).max(MIN_TEAM_MEMORY_BYTES);
        let (options, ctx, handle) = (
            self.options.clone(),
            self.lake.ctx.clone(),
            self.handle.clone(),
        );
        // A table with no data file yet has no row to update or delete: its rows are written
        // into Parquet files while Graph is read, and the batch's commit only adds them.
        let mut fresh: HashMap<Table, DeltaTable> = HashMap::new();
        for (&t, d) in &open {
            if d.snapshot().is_ok_and(|s| s.log_data().num_files() == 0) {
                fresh.insert(t, d.clone());
            }
        }
        let fresh = &fresh;
        let mut reads = futures::stream::iter(jobs)
            // k teams at once, all on the run's handle: what a source refused is learned once
            // per run, and each feed counts what it left out itself.
            .map(|job| {
                read_team(
                    &handle,
                    options.clone(),
                    ctx.clone(),
                    job,
                    floor,
                    in_memory,
                    fresh,
                )
            })
            .buffer_unordered(k);
        let mut pending: Vec<TeamRead> = Vec::new();
        // The batch committing while the next teams are read (one at a time: each commit
        // builds on the table version the previous one left).
        let mut committing: Vec<Pending> = Vec::new();
        let mut done = 0;
        while let Some(read) = reads.next().await {
            done += 1;
            self.progress(&format!(
                "sync messages: team {done}/{total} ({} requests)",
                self.requests() - before
            ));
            match read {
                Ok(read) => pending.push(read),
                Err(e) => {
                    for &t in &wanted {
                        self.summaries.entry(t).or_default().fail(&e);
                    }
                }
            }
            let waiting: usize = pending.iter().map(|r| r.rows).sum();
            if waiting >= self.batch_rows && done < total {
                for p in std::mem::take(&mut committing) {
                    let table = p.table;
                    if let Some(d) = self.settle(p).await {
                        open.insert(table, d);
                    }
                }
                committing = self
                    .flush(&open, std::mem::take(&mut pending), None, floor)
                    .await;
            }
        }
        drop(reads);
        // What the feeds left out, grouped by cause, once for the stage.
        self.take_skips();
        // Teams that left the tenant take their messages with them, in the last commit.
        let gone = self
            .named_teams
            .is_empty()
            .then(|| in_list("team_id", &self.teams, true));
        for p in std::mem::take(&mut committing) {
            let table = p.table;
            if let Some(d) = self.settle(p).await {
                open.insert(table, d);
            }
        }
        let last = self.flush(&open, pending, gone, floor).await;
        let requests = self.requests() - before;
        for &t in &wanted {
            let s = self.summaries.entry(t).or_default();
            s.requests = requests;
            s.elapsed = started.elapsed();
        }
        self.commits.extend(last.into_iter().map(|p| Pending {
            started: Some(started),
            ..p
        }));
    }

    /// Starts committing the teams read so far to each message table (the tables side by
    /// side): their rows, what vanished from them, and each team's cursor.
    async fn flush(
        &mut self,
        open: &HashMap<Table, DeltaTable>,
        reads: Vec<TeamRead>,
        extra_scope: Option<Expr>,
        floor: Option<DateTime<Utc>>,
    ) -> Vec<Pending> {
        if reads.is_empty() && extra_scope.is_none() {
            return Vec::new();
        }
        let floor_micros = floor.map(|f| f.timestamp_micros());
        let reads = std::sync::Arc::new(reads);
        let mut out = Vec::new();
        let tables: Vec<Table> = open.keys().copied().collect();
        for table in tables {
            let (upserts, written) = match self.union(table, &reads).await {
                Ok(u) => u,
                Err(e) => {
                    self.summaries.entry(table).or_default().fail(e);
                    continue;
                }
            };
            let mut txns = Vec::new();
            let mut moved = false;
            let mut scope: Vec<Expr> = Vec::new();
            let mut teams_meta = Vec::new();
            let mut sources: Vec<String> = Vec::new();
            for r in reads.iter() {
                let before = r.prev.get(&table).copied().flatten();
                // A team with something left out keeps its cursor: what was refused is read
                // again, from the same point, once Graph lets it.
                let next = if r.skipped {
                    before
                } else {
                    cursor::advance(before, r.max_read, self.cap)
                        .or(before)
                        .or(Some(floor_micros.unwrap_or(0)))
                };
                if let Some(n) = next {
                    txns.push(cursor::txn(
                        cursor::team_app_id(&self.tenant, table, &r.team),
                        n,
                    ));
                }
                if r.reconciled {
                    txns.push(cursor::txn(
                        cursor::reconciled_app_id(&self.tenant, table, &r.team),
                        self.run_start.timestamp_micros(),
                    ));
                }
                moved |= next != before;
                scope.extend(delete_scope(
                    table,
                    &r.team,
                    &r.channels,
                    r.channels_complete,
                    r.team_complete,
                    &r.complete_channels,
                    &r.removed,
                ));
                teams_meta.push(json!({
                    "team_id": r.team,
                    "since": r.since.map(|s| s.to_rfc3339()),
                    "cursor": next.and_then(cursor::to_time).map(|t| t.to_rfc3339()),
                    "sources": r.sources.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    "removed": r.removed.len(),
                    "partial": r.skipped,
                }));
                for src in &r.sources {
                    let name = src.to_string();
                    if !sources.contains(&name) {
                        sources.push(name);
                    }
                }
            }
            if let Some(f) = floor_micros {
                txns.push(cursor::txn(cursor::start_app_id(&self.tenant, table), f));
            }
            scope.extend(extra_scope.clone());
            let batch = Batch {
                upserts,
                delete_scope: scope.into_iter().reduce(Expr::or),
                txns,
                cursor_moved: moved,
                metadata: json!({
                    "table": table.name(),
                    "run_start": self.run_start.to_rfc3339(),
                    "teams": teams_meta,
                }),
                written,
            };
            let Some(delta) = open.get(&table) else {
                continue;
            };
            out.push(Pending {
                table,
                task: self.spawn_commit(table, delta.clone(), batch, std::sync::Arc::clone(&reads)),
                teams_done: reads.len(),
                sources,
                started: None,
            });
        }
        out
    }

    /// The rows of `table` of every read kept locally, as one DataFrame, and the files
    /// written for it during the reads (a first load).
    async fn union(
        &self,
        table: Table,
        reads: &[TeamRead],
    ) -> Result<(DataFrame, Option<Written>)> {
        let mut df: Option<DataFrame> = None;
        let mut written: Option<Written> = None;
        for r in reads {
            let part = match table {
                Table::Messages => &r.messages,
                _ => &r.replies,
            };
            match part {
                TeamPart::Local(m) => {
                    let part = m.df.clone();
                    df = Some(match df {
                        None => part,
                        Some(d) => d.union(part)?,
                    });
                }
                TeamPart::Files(w) => {
                    let all = written.get_or_insert_with(Written::default);
                    all.adds.extend(w.adds.iter().cloned());
                    all.rows += w.rows;
                }
            }
        }
        let df = match df {
            Some(d) => d,
            None => Materializer::new(table.schema(), 0)
                .finish(&self.lake.ctx)
                .await?
                .df
                .clone(),
        };
        Ok((df, written))
    }

    /// `--start`, or the floor the tables were first loaded with.
    async fn floor(&self, open: &HashMap<Table, DeltaTable>) -> Result<Option<DateTime<Utc>>> {
        if self.start.is_some() {
            return Ok(self.start);
        }
        for (&t, d) in open {
            if let Some(v) = cursor::read(d, &cursor::start_app_id(&self.tenant, t)).await? {
                return Ok(cursor::to_time(v));
            }
        }
        Ok(None)
    }

    /// What to read of one team: its channels and cursors.
    async fn team_job(&self, team: &str, open: &HashMap<Table, DeltaTable>) -> Result<TeamJob> {
        let (channels, channels_complete) = self
            .channels
            .get(team)
            .cloned()
            .unwrap_or((Vec::new(), false));
        let mut prev: HashMap<Table, Option<i64>> = HashMap::new();
        let mut reconcile = false;
        let due = (self.run_start - self.reconcile_every).timestamp_micros();
        for (&t, d) in open.iter() {
            let v = cursor::read(d, &cursor::team_app_id(&self.tenant, t, team)).await?;
            prev.insert(t, v);
            let last = cursor::read(d, &cursor::reconciled_app_id(&self.tenant, t, team)).await?;
            reconcile |= last.is_none_or(|at| at <= due);
        }
        // Both tables come from one pass: read from the older cursor; a table without one
        // (never loaded, or --full) makes it a full read.
        let since = if self.full || prev.values().any(Option::is_none) {
            None
        } else {
            prev.values()
                .flatten()
                .min()
                .copied()
                .and_then(cursor::to_time)
        };
        Ok(TeamJob {
            team: team.to_string(),
            channels,
            channels_complete,
            prev,
            since,
            reconcile,
        })
    }
}

/// A session of its own with the Teams tables, sharing the run's client (its pacing and
/// counters): a team's statement runs on one, so what Graph left out of it is known for that
/// team.
struct Reader {
    ctx: SessionContext,
    handle: TeamsHandle,
}

/// One team's statement: its rows, and whether Graph left anything of it out.
struct TeamSql {
    team: String,
    batches: Vec<RecordBatch>,
    skipped: bool,
    partial: bool,
    lines: Vec<String>,
}

/// What a snapshot table's statements returned, team by team, and the requests they made.
struct SnapshotRead {
    results: Vec<TeamSql>,
    requests: u64,
}

/// A commit on a task of its own, and what to book on its table's line once it ends.
struct Pending {
    table: Table,
    task: tokio::task::JoinHandle<Result<(DeltaTable, Counts)>>,
    teams_done: usize,
    sources: Vec<String>,
    /// When the table's stage started: its line's time runs to the end of its commit.
    started: Option<Instant>,
}

/// The statement per team of a snapshot table.
fn snapshot_jobs(table: Table, teams: &[String]) -> Vec<(String, String)> {
    teams
        .iter()
        .map(|team| {
            (
                team.clone(),
                format!(
                    "SELECT * FROM teams.{} WHERE team_id = {}",
                    table.name(),
                    quote(team)
                ),
            )
        })
        .collect()
}

/// Runs one statement per team, `at_once` at a time, each on a session of its own; counts
/// their requests apart from anything else the run does meanwhile.
async fn read_per_team(
    client: graph_client::GraphClient,
    options: TeamsOptions,
    at_once: usize,
    jobs: Vec<(String, String)>,
) -> Result<SnapshotRead> {
    let (client, stats) = client.scoped();
    let k = at_once.clamp(1, jobs.len().max(1));
    let mut readers = Vec::with_capacity(k);
    for _ in 0..k {
        let ctx = crate::session::new_context();
        let config = TeamsConfig {
            client: client.clone(),
            options: options.clone(),
        };
        let handle = datafusion_teams::register(&ctx, config).await?;
        readers.push(Reader { ctx, handle });
    }
    let results: Vec<Result<TeamSql>> = futures::stream::iter(jobs.into_iter().enumerate())
        // At most k statements run at once, k consecutive ones: never two on one reader.
        .map(|(i, (team, sql))| read_sql(&readers[i % k], team, sql))
        .buffered(k)
        .collect()
        .await;
    let results = results.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(SnapshotRead {
        results,
        requests: stats.snapshot().total_requests,
    })
}

async fn read_sql(reader: &Reader, team: String, sql: String) -> Result<TeamSql> {
    reader.handle.take_report();
    let (batches, refused) = match reader.ctx.sql(&sql).await?.collect().await {
        Ok(b) => (b, false),
        Err(e) if refused_entirely(&e) => (Vec::new(), true),
        Err(e) => return Err(e.into()),
    };
    let report = reader.handle.take_report();
    Ok(TeamSql {
        team,
        batches,
        skipped: refused || !report.skipped.is_empty(),
        partial: refused || report.is_partial(),
        lines: report.lines(),
    })
}

struct TeamJob {
    team: String,
    channels: Vec<String>,
    channels_complete: bool,
    prev: HashMap<Table, Option<i64>>,
    since: Option<DateTime<Utc>>,
    /// Its last full read is older than `--reconcile-every` (or unknown).
    reconcile: bool,
}

/// One team: its change feed, read once, kept locally until its batch commits.
async fn read_team(
    handle: &TeamsHandle,
    options: TeamsOptions,
    ctx: SessionContext,
    job: TeamJob,
    floor: Option<DateTime<Utc>>,
    in_memory: usize,
    fresh: &HashMap<Table, DeltaTable>,
) -> Result<TeamRead> {
    let TeamJob {
        team,
        channels,
        channels_complete,
        prev,
        since,
        reconcile,
    } = job;
    let req = FeedRequest {
        team_id: team.clone(),
        channel_ids: channels.clone(),
        since,
        floor,
        reconcile,
    };
    let mut feed = team_feed(handle, options, req);
    let mut messages = TeamRows::new(
        Table::Messages,
        Table::Messages.schema(),
        fresh.get(&Table::Messages),
        in_memory,
    )?;
    let mut replies = TeamRows::new(
        Table::MessageReplies,
        Table::MessageReplies.schema(),
        fresh.get(&Table::MessageReplies),
        in_memory,
    )?;
    let mut rows = 0usize;
    let mut removed: Vec<Removed> = Vec::new();
    let mut complete_channels: Vec<String> = Vec::new();
    let mut team_complete = false;
    let mut max_read: Option<i64> = None;
    let mut sources: BTreeSet<FeedSource> = BTreeSet::new();
    let mut skipped = 0;
    while let Some(item) = feed.next().await {
        match item.map_err(|e| ShellError::Sync(format!("team {team}: {e}")))? {
            FeedItem::Rows {
                messages: m,
                replies: r,
                max_modified,
            } => {
                rows += m.num_rows() + r.num_rows();
                messages.push(m).await?;
                replies.push(r).await?;
                if let Some(t) = max_modified {
                    max_read = Some(max_read.map_or(t, |x| x.max(t)));
                }
            }
            FeedItem::Removed(r) => removed.extend(r),
            FeedItem::Source(s, _) => {
                sources.insert(s);
            }
            FeedItem::ChannelComplete(c) => complete_channels.push(c),
            FeedItem::TeamComplete => team_complete = true,
            FeedItem::Skipped(n) => skipped = n,
        }
    }
    drop(feed);
    Ok(TeamRead {
        team,
        channels,
        channels_complete,
        prev,
        since,
        messages: messages.finish(&ctx).await?,
        replies: replies.finish(&ctx).await?,
        rows,
        removed,
        complete_channels,
        team_complete,
        max_read,
        sources,
        skipped: skipped > 0,
        // Everything of the team was read (the export API to its end, or every channel in
        // full), so what the lake holds beyond it is gone.
        reconciled: skipped == 0 && (team_complete || since.is_none()),
    })
}

/// One team's change feed, read and kept locally (in memory or spilled) until committed.
struct TeamRead {
    team: String,
    channels: Vec<String>,
    channels_complete: bool,
    /// Cursors before this run, per message table.
    prev: HashMap<Table, Option<i64>>,
    since: Option<DateTime<Utc>>,
    messages: TeamPart,
    replies: TeamPart,
    rows: usize,
    removed: Vec<Removed>,
    complete_channels: Vec<String>,
    team_complete: bool,
    max_read: Option<i64>,
    sources: BTreeSet<FeedSource>,
    /// Something of the team was left out (403 or 404).
    skipped: bool,
    /// The team was read in full: its reconciliation time moves to this run's start.
    reconciled: bool,
}

/// Target rows of `team` that may be gone: those a complete read covered (the whole team, or
/// whole channels), those of channels no longer listed, and those Graph reported removed.
/// Rows among them that the read brought back stay (the merge only deletes the others).
fn delete_scope(
    table: Table,
    team: &str,
    channels: &[String],
    channels_complete: bool,
    team_complete: bool,
    complete_channels: &[String],
    removed: &[Removed],
) -> Option<Expr> {
    let in_team = || col("team_id").eq(lit(team.to_string()));
    let mut parts: Vec<Expr> = Vec::new();
    if team_complete {
        parts.push(in_team());
    }
    if !complete_channels.is_empty() {
        parts.push(in_team().and(in_list("channel_id", complete_channels, false)));
    }
    if channels_complete {
        parts.push(in_team().and(in_list("channel_id", channels, true)));
    }
    for r in removed {
        let in_channel = in_team().and(col("channel_id").eq(lit(r.channel_id.clone())));
        match (table, r.is_post) {
            (Table::Messages, true) => {
                parts.push(in_channel.and(col("id").eq(lit(r.id.clone()))));
            }
            (Table::MessageReplies, true) => {
                parts.push(in_channel.and(col("parent_message_id").eq(lit(r.id.clone()))));
            }
            (Table::MessageReplies, false) => {
                let mut e = in_channel.and(col("id").eq(lit(r.id.clone())));
                if let Some(p) = &r.parent_message_id {
                    e = e.and(col("parent_message_id").eq(lit(p.clone())));
                }
                parts.push(e);
            }
            _ => {}
        }
    }
    parts.into_iter().reduce(Expr::or)
}
