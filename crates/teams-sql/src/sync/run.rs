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
use datafusion::prelude::DataFrame;
use datafusion_teams::{
    FeedItem, FeedRequest, FeedSource, Removed, Table, TeamsHandle, TeamsOptions, team_feed,
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
    async fn team_channels(&mut self, team: &str) -> Result<(Vec<String>, bool)> {
        if let Some(c) = self.channels.get(team) {
            return Ok(c.clone());
        }
        let sql = format!(
            "SELECT id FROM teams.channels WHERE team_id = {}",
            quote(team)
        );
        let (batches, refused) = match self.lake.ctx.sql(&sql).await?.collect().await {
            Ok(b) => (b, false),
            Err(e) if refused_entirely(&e) => {
                self.partial = true;
                (Vec::new(), true)
            }
            Err(e) => return Err(e.into()),
        };
        let skipped = self.take_skips() || refused;
        let ids: Vec<String> = batches.iter().flat_map(|b| strings(b, "id")).collect();
        self.channels
            .insert(team.to_string(), (ids.clone(), !skipped));
        Ok((ids, !skipped))
    }

    /// `channels` or `members`: every team's rows, one query per team so that a team Graph
    /// refused is known and nothing of it is deleted; one commit for the table.
    async fn snapshot_stage(&mut self, table: Table) -> Result<()> {
        let delta = self.lake.open(table, self.partition_by.as_deref()).await?;
        let mut rows: Option<Materializer> = None;
        let mut complete = Vec::new();
        let teams = self.teams.clone();
        self.summaries.entry(table).or_default().teams = teams.len();
        for (i, team) in teams.iter().enumerate() {
            self.progress(&format!(
                "sync {}: team {}/{} ({} rows)",
                table.name(),
                i + 1,
                teams.len(),
                rows.as_ref().map_or(0, Materializer::rows)
            ));
            let sql = format!(
                "SELECT * FROM teams.{} WHERE team_id = {}",
                table.name(),
                quote(team)
            );
            let mut stream = self.lake.ctx.sql(&sql).await?.execute_stream().await?;
            // The query's own schema (the table's columns as the provider states them).
            let rows = rows.get_or_insert_with(|| {
                Materializer::new(stream.schema(), MATERIALIZE_IN_MEMORY_BYTES)
            });
            let mut ids = Vec::new();
            let mut refused = false;
            while let Some(batch) = stream.next().await {
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) if refused_entirely(&e) => {
                        refused = true;
                        self.partial = true;
                        break;
                    }
                    Err(e) => return Err(e.into()),
                };
                if table == Table::Channels {
                    ids.extend(strings(&batch, "id"));
                }
                rows.push(batch)?;
            }
            let skipped = self.take_skips() || refused;
            if !skipped {
                complete.push(team.clone());
            }
            if table == Table::Channels {
                self.channels.insert(team.clone(), (ids, !skipped));
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
        let teams = self.teams.clone();
        let mut pending: Vec<TeamRead> = Vec::new();
        for (i, team) in teams.iter().enumerate() {
            self.progress(&format!(
                "sync messages: team {}/{} ({} requests)",
                i + 1,
                teams.len(),
                self.requests() - before
            ));
            match self.team_messages(team, floor, &open).await {
                Ok(read) => pending.push(read),
                Err(e) => {
                    for &t in &wanted {
                        self.summaries.entry(t).or_default().fail(&e);
                    }
                }
            }
            let waiting: usize = pending.iter().map(|r| r.rows).sum();
            let last = i + 1 == teams.len();
            if waiting >= self.batch_rows && !last {
                self.flush(&mut open, std::mem::take(&mut pending), None, floor)
                    .await;
            }
        }
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

    /// One team: its change feed, read once, kept locally until its batch commits.
    async fn team_messages(
        &mut self,
        team: &str,
        floor: Option<DateTime<Utc>>,
        open: &HashMap<Table, DeltaTable>,
    ) -> Result<TeamRead> {
        let (channels, channels_complete) = self.team_channels(team).await?;
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
        self.take_skips();
        let req = FeedRequest {
            team_id: team.to_string(),
            channel_ids: channels.clone(),
            since,
            floor,
        };
        let mut feed = team_feed(&self.handle, self.options.clone(), req);
        let mut messages = Materializer::new(Table::Messages.schema(), MATERIALIZE_IN_MEMORY_BYTES);
        let mut replies =
            Materializer::new(Table::MessageReplies.schema(), MATERIALIZE_IN_MEMORY_BYTES);
        let mut rows = 0usize;
        let mut removed: Vec<Removed> = Vec::new();
        let mut complete_channels: Vec<String> = Vec::new();
        let mut team_complete = false;
        let mut max_read: Option<i64> = None;
        let mut sources: BTreeSet<FeedSource> = BTreeSet::new();
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
            }
        }
        drop(feed);
        let skipped = self.take_skips();
        Ok(TeamRead {
            team: team.to_string(),
            channels,
            channels_complete,
            prev,
            since,
            messages: messages.finish(&self.lake.ctx).await?,
            replies: replies.finish(&self.lake.ctx).await?,
            rows,
            removed,
            complete_channels,
            team_complete,
            max_read,
            sources,
            skipped,
        })
    }
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
