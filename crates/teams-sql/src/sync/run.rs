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
use datafusion_teams::{
    FeedItem, FeedRequest, FeedSource, Removed, Table, TeamsHandle, TeamsOptions, team_feed,
};
use deltalake::DeltaTable;
use futures::StreamExt;
use serde_json::json;

use super::cursor;
use super::lake::{Batch, Counts, Lake};
use super::summary::TableSummary;
use crate::copy_delta::{MATERIALIZE_IN_MEMORY_BYTES, Materializer};
use crate::error::{Result, ShellError};

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
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
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
        let batch = Batch {
            upserts: rows.finish(&self.lake.ctx).await?,
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
        let batches = self.lake.ctx.sql(&sql).await?.collect().await?;
        let skipped = self.take_skips();
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
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                if table == Table::Channels {
                    ids.extend(strings(&batch, "id"));
                }
                rows.push(batch)?;
            }
            let skipped = self.take_skips();
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
        let batch = Batch {
            upserts: rows.finish(&self.lake.ctx).await?,
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

    /// `messages` and `message_replies` from one pass per team, committed team by team.
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
        for (i, team) in teams.iter().enumerate() {
            self.progress(&format!(
                "sync messages: team {}/{} ({} requests)",
                i + 1,
                teams.len(),
                self.requests() - before
            ));
            if let Err(e) = self.team_messages(team, floor, &mut open).await {
                for &t in &wanted {
                    self.summaries.entry(t).or_default().fail(&e);
                }
            }
        }
        if self.named_teams.is_empty() {
            // Teams that left the tenant take their messages with them.
            for (&t, delta) in open.iter_mut() {
                let r = self
                    .commit_scope(
                        t,
                        delta,
                        in_list("team_id", &self.teams, true),
                        vec![],
                        false,
                    )
                    .await;
                match r {
                    Ok(c) => self.summaries.entry(t).or_default().counts += c,
                    Err(e) => self.summaries.entry(t).or_default().fail(e),
                }
            }
        }
        let requests = self.requests() - before;
        for &t in &wanted {
            let s = self.summaries.entry(t).or_default();
            s.requests = requests;
            s.elapsed = started.elapsed();
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

    async fn commit_scope(
        &self,
        table: Table,
        delta: &mut DeltaTable,
        scope: Expr,
        txns: Vec<deltalake::kernel::Transaction>,
        cursor_moved: bool,
    ) -> Result<Counts> {
        let empty = Materializer::new(table.schema(), 0)
            .finish(&self.lake.ctx)
            .await?;
        let batch = Batch {
            upserts: empty,
            delete_scope: Some(scope),
            txns,
            cursor_moved,
            metadata: json!({"table": table.name(), "run_start": self.run_start.to_rfc3339(), "removed_teams": true}),
        };
        let (t, c) = self.lake.commit(table, delta.clone(), batch).await?;
        *delta = t;
        Ok(c)
    }

    /// One team: read its change feed once, then commit each message table.
    async fn team_messages(
        &mut self,
        team: &str,
        floor: Option<DateTime<Utc>>,
        open: &mut HashMap<Table, DeltaTable>,
    ) -> Result<()> {
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
        let materialized = [
            (Table::Messages, messages.finish(&self.lake.ctx).await?),
            (Table::MessageReplies, replies.finish(&self.lake.ctx).await?),
        ];
        let floor_micros = floor.map(|f| f.timestamp_micros());
        for (table, upserts) in materialized {
            let Some(delta) = open.get_mut(&table) else {
                continue;
            };
            let before = prev.get(&table).copied().flatten();
            // A team with something left out keeps its cursor: what was refused is read again,
            // from the same point, once Graph lets it.
            let next = if skipped {
                before
            } else {
                cursor::advance(before, max_read, self.cap)
                    .or(before)
                    .or(Some(floor_micros.unwrap_or(0)))
            };
            let mut txns = Vec::new();
            if let Some(n) = next {
                txns.push(cursor::txn(
                    cursor::team_app_id(&self.tenant, table, team),
                    n,
                ));
            }
            if let Some(f) = floor_micros {
                txns.push(cursor::txn(cursor::start_app_id(&self.tenant, table), f));
            }
            let scope = delete_scope(
                table,
                team,
                &channels,
                channels_complete,
                team_complete,
                &complete_channels,
                &removed,
            );
            let batch = Batch {
                upserts,
                delete_scope: scope,
                txns,
                cursor_moved: next != before,
                metadata: json!({
                    "table": table.name(),
                    "team_id": team,
                    "run_start": self.run_start.to_rfc3339(),
                    "since": since.map(|s| s.to_rfc3339()),
                    "cursor": next.and_then(cursor::to_time).map(|t| t.to_rfc3339()),
                    "sources": sources.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    "removed": removed.len(),
                    "partial": skipped,
                }),
            };
            let (t, counts) = self.lake.commit(table, delta.clone(), batch).await?;
            *delta = t;
            let s = self.summaries.entry(table).or_default();
            s.counts += counts;
            s.teams_done += 1;
            for src in &sources {
                let name = src.to_string();
                if !s.sources.contains(&name) {
                    s.sources.push(name);
                }
            }
        }
        Ok(())
    }
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
