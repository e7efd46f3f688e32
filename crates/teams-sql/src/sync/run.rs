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
use serde_json::json;

use super::cursor;
use super::lake::{Batch, Lake};
use super::summary::TableSummary;
use crate::copy_delta::{MATERIALIZE_IN_MEMORY_BYTES, Materialized, Materializer};
use crate::error::{Result, ShellError};

/// Rows a message batch gathers before it commits: large enough that small teams share a commit,
/// small enough that a killed first load loses little.
pub const DEFAULT_BATCH_ROWS: usize = 50_000;

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
    readers: Vec<Reader>,
}

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
fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
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
            readers: Vec::new(),
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
    pub async fn run(&mut self) -> Result<()> {
        let started = Instant::now();
        let before = self.requests();
        let teams_result = self.teams_stage().await;
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
        for table in [Table::Channels, Table::Members] {
            if self.tables.contains(&table) {
                let started = Instant::now();
                let before = self.requests();
                let r = self.snapshot_stage(table).await;
                let requests = self.requests() - before;
                let s = self.summaries.entry(table).or_default();
                if let Err(e) = r {
                    s.fail(e);
                }
                s.requests = requests;
                s.elapsed = started.elapsed();
            }
        }
        if self.tables.iter().any(|t| t.is_message_table()) {
            self.message_stage().await;
        }
        self.clear_progress();
        Ok(())
    }

    /// Lists the teams (`GET /teams`, or the named ones) and syncs `teams` when asked.
    async fn teams_stage(&mut self) -> Result<()> {
        let wanted = self.tables.contains(&Table::Teams);
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
        };
        let (_, counts) = self.lake.commit(Table::Teams, table, batch).await?;
        let s = self.summaries.entry(Table::Teams).or_default();
        s.counts += counts;
        s.teams_done = self.teams.len();
        Ok(())
    }

    /// The channels of `team` as listed now, and whether the listing was complete.
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
        for r in self.per_team_sql(jobs).await? {
            let ids: Vec<String> = r.batches.iter().flat_map(|b| strings(b, "id")).collect();
            self.channels.insert(r.team, (ids, !r.skipped));
        }
        Ok(())
    }

    /// Sessions of their own with the Teams tables (sharing this run's client, so its pacing and
    /// counters), one per team read at once: what a team's read left out is then known for that
    /// team.
    async fn ensure_readers(&mut self) -> Result<()> {
        if self.readers.is_empty() {
            let n = self.options.concurrency.clamp(1, 4);
            for _ in 0..n {
                let ctx = crate::session::new_context();
                let config = TeamsConfig {
                    client: self.handle.client().clone(),
                    options: self.options.clone(),
                };
                let handle = datafusion_teams::register(&ctx, config).await?;
                self.readers.push(Reader { ctx, handle });
            }
        }
        Ok(())
    }

    /// Runs one statement per team, several teams at once; prints what each left out.
    async fn per_team_sql(&mut self, jobs: Vec<(String, String)>) -> Result<Vec<TeamSql>> {
        self.ensure_readers().await?;
        let readers = std::mem::take(&mut self.readers);
        let k = readers.len().max(1);
        let results: Vec<Result<TeamSql>> = futures::stream::iter(jobs.into_iter().enumerate())
            // At most k statements run at once, k consecutive ones: never two on one reader.
            .map(|(i, (team, sql))| read_sql(&readers[i % k], team, sql))
            .buffered(k)
            .collect()
            .await;
        self.readers = readers;
        let mut out = Vec::new();
        for r in results {
            let r = r?;
            self.report(&r.lines, r.partial);
            out.push(r);
        }
        Ok(out)
    }

    fn report(&mut self, lines: &[String], partial: bool) {
        for line in lines {
            self.clear_progress();
            eprintln!("warning: {line}");
        }
        self.partial |= partial;
    }

    /// `channels` or `members`: every team's rows, one query per team so that a team Graph
    /// refused is known and nothing of it is deleted; one commit for the table.
    async fn snapshot_stage(&mut self, table: Table) -> Result<()> {
        let delta = self.lake.open(table, self.partition_by.as_deref()).await?;
        let mut rows: Option<Materializer> = None;
        let mut complete = Vec::new();
        let teams = self.teams.clone();
        self.summaries.entry(table).or_default().teams = teams.len();
        self.progress(&format!("sync {}: {} teams", table.name(), teams.len()));
        let jobs: Vec<(String, String)> = teams
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
            .collect();
        for r in self.per_team_sql(jobs).await? {
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
        };
        let (_, counts) = self.lake.commit(table, delta, batch).await?;
        let s = self.summaries.entry(table).or_default();
        s.counts += counts;
        s.teams_done = teams.len();
        Ok(())
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
        for &t in &wanted {
            self.summaries.entry(t).or_default().teams = self.teams.len();
            match self.lake.open(t, self.partition_by.as_deref()).await {
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
        for team in self.teams.clone() {
            match self.team_job(&team, &open).await {
                Ok(job) => jobs.push(job),
                Err(e) => {
                    for &t in &wanted {
                        self.summaries.entry(t).or_default().fail(&e);
                    }
                }
            }
        }
        let total = jobs.len();
        let k = self.options.concurrency.clamp(1, 4);
        let (options, ctx, handle) = (
            self.options.clone(),
            self.lake.ctx.clone(),
            self.handle.clone(),
        );
        let mut reads = futures::stream::iter(jobs)
            // k teams at once, all on the run's handle: what a source refused is learned once
            // per run, and each feed counts what it left out itself.
            .map(|job| read_team(&handle, options.clone(), ctx.clone(), job, floor))
            .buffered(k);
        let mut pending: Vec<TeamRead> = Vec::new();
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
                self.flush(&mut open, std::mem::take(&mut pending), None, floor)
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
        self.flush(&mut open, pending, gone, floor).await;
        let requests = self.requests() - before;
        for &t in &wanted {
            let s = self.summaries.entry(t).or_default();
            s.requests = requests;
            s.elapsed = started.elapsed();
        }
    }

    /// Commits the teams read so far to each message table: their rows, what vanished from
    /// them, and each team's cursor.
    async fn flush(
        &mut self,
        open: &mut HashMap<Table, DeltaTable>,
        reads: Vec<TeamRead>,
        extra_scope: Option<Expr>,
        floor: Option<DateTime<Utc>>,
    ) {
        if reads.is_empty() && extra_scope.is_none() {
            return;
        }
        let floor_micros = floor.map(|f| f.timestamp_micros());
        let tables: Vec<Table> = open.keys().copied().collect();
        for table in tables {
            let upserts = match self.union(table, &reads).await {
                Ok(df) => df,
                Err(e) => {
                    self.summaries.entry(table).or_default().fail(e);
                    continue;
                }
            };
            let mut txns = Vec::new();
            let mut moved = false;
            let mut scope: Vec<Expr> = Vec::new();
            let mut teams_meta = Vec::new();
            for r in &reads {
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
            };
            let Some(delta) = open.get_mut(&table) else {
                continue;
            };
            match self.lake.commit(table, delta.clone(), batch).await {
                Ok((t, counts)) => {
                    *delta = t;
                    let s = self.summaries.entry(table).or_default();
                    s.counts += counts;
                    s.teams_done += reads.len();
                    for r in &reads {
                        for src in &r.sources {
                            let name = src.to_string();
                            if !s.sources.contains(&name) {
                                s.sources.push(name);
                            }
                        }
                    }
                }
                Err(e) => self.summaries.entry(table).or_default().fail(e),
            }
        }
    }

    /// The rows of `table` of every read, as one DataFrame.
    async fn union(&self, table: Table, reads: &[TeamRead]) -> Result<DataFrame> {
        let mut df: Option<DataFrame> = None;
        for r in reads {
            let part = match table {
                Table::Messages => r.messages.df.clone(),
                _ => r.replies.df.clone(),
            };
            df = Some(match df {
                None => part,
                Some(d) => d.union(part)?,
            });
        }
        match df {
            Some(d) => Ok(d),
            None => Ok(Materializer::new(table.schema(), 0)
                .finish(&self.lake.ctx)
                .await?
                .df
                .clone()),
        }
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
        for (&t, d) in open.iter() {
            let v = cursor::read(d, &cursor::team_app_id(&self.tenant, t, team)).await?;
            prev.insert(t, v);
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
        })
    }
}

/// A session of its own with the Teams tables (see [`Run::ensure_readers`]).
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
}

/// One team: its change feed, read once, kept locally until its batch commits.
async fn read_team(
    handle: &TeamsHandle,
    options: TeamsOptions,
    ctx: SessionContext,
    job: TeamJob,
    floor: Option<DateTime<Utc>>,
) -> Result<TeamRead> {
    let TeamJob {
        team,
        channels,
        channels_complete,
        prev,
        since,
    } = job;
    let req = FeedRequest {
        team_id: team.clone(),
        channel_ids: channels.clone(),
        since,
        floor,
    };
    let mut feed = team_feed(handle, options, req);
    let mut messages = Materializer::new(Table::Messages.schema(), MATERIALIZE_IN_MEMORY_BYTES);
    let mut replies =
        Materializer::new(Table::MessageReplies.schema(), MATERIALIZE_IN_MEMORY_BYTES);
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
                messages.push(m)?;
                replies.push(r)?;
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
    messages: Materialized,
    replies: Materialized,
    rows: usize,
    removed: Vec<Removed>,
    complete_channels: Vec<String>,
    team_complete: bool,
    max_read: Option<i64>,
    sources: BTreeSet<FeedSource>,
    /// Something of the team was left out (403 or 404).
    skipped: bool,
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
