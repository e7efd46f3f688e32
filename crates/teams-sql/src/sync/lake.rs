//! The Delta side of a sync: one table per SQL table under the `--to` root, opened or created
//! with COPY's checks (`copy_delta::prepare_destination`, `check_schema`), and one commit per
//! batch that merges the batch's rows, deletes what Graph no longer has and records the
//! cursor, all through COPY's merge (`copy_delta::merge`); a first load's message rows arrive
//! as Parquet files already written during the read, which the commit adds (`Written`).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::{Column, JoinType};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, cast};
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion_teams::Table;
use deltalake::DeltaTable;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, Transaction};
use deltalake::protocol::{DeltaOperation, OutputMode, SaveMode};

use crate::copy_delta::{self, Destination, Mode};
use crate::destinations::staging::{self, Target};
use crate::error::{Result, ShellError};

/// Where the tables live.
#[derive(Clone)]
pub struct Lake {
    pub ctx: SessionContext,
    root: String,
}

/// What one commit changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub files_added: u64,
    pub commits: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.deleted += o.deleted;
        self.files_added += o.files_added;
        self.commits += o.commits;
    }
}

/// One batch to commit: rows to upsert, target rows to consider for deletion (those among
/// them whose key is not upserted are deleted), and the commit's cursor and metadata.
pub struct Batch {
    pub upserts: DataFrame,
    pub delete_scope: Option<Expr>,
    pub txns: Vec<Transaction>,
    /// The transactions move a cursor: commit them even when no row changes.
    pub cursor_moved: bool,
    pub metadata: serde_json::Value,
    /// Parquet files already written under the table while Graph was read (a first load):
    /// the commit adds them instead of writing `upserts`.
    pub written: Option<Written>,
}

/// Data files written but not yet in the log: invisible to readers until a commit adds them,
/// so a kill before the commit leaves only unreferenced files (a rerun reads the team again).
#[derive(Clone, Debug, Default)]
pub struct Written {
    pub adds: Vec<Add>,
    pub rows: u64,
}

impl Lake {
    pub fn new(ctx: SessionContext, root: &str) -> Result<Lake> {
        crate::destinations::register_for_copy(&ctx, root)?;
        Ok(Lake {
            ctx,
            root: root.trim_end_matches('/').to_string(),
        })
    }

    /// Removes the staging directories a killed run left beside the tables (SIGKILL skips
    /// every clean-up); only ours, by name.
    pub async fn remove_stale(&self) {
        if let Ok(target) = Target::resolve(&self.ctx, &format!("{}/", self.root)) {
            staging::remove_stale(&target.store, target.path(), target.is_local()).await;
        }
    }

    pub fn url(&self, table: Table) -> String {
        format!("{}/{}", self.root, table.name())
    }

    /// The table at `<root>/<table>`, created empty (with `partition_by` if it has that
    /// column) when missing. An existing table must have the SQL table's columns and types.
    pub async fn open(&self, table: Table, partition_by: Option<&str>) -> Result<DeltaTable> {
        let url = self.url(table);
        let schema = table.schema();
        let parts: Vec<String> = partition_by
            .filter(|p| schema.field_with_name(p).is_ok())
            .map(|p| vec![p.to_string()])
            .unwrap_or_default();
        copy_delta::check_partition_columns(&schema, &parts)?;
        match copy_delta::prepare_destination(&self.ctx, &url, Mode::Merge).await? {
            Destination::Table(t) => {
                copy_delta::check_schema(&t, &schema)?;
                copy_delta::check_partitioning(&t, &parts)?;
                Ok(t)
            }
            Destination::Staged(staging) => {
                // Created in a staging directory and moved into place, as COPY creates tables:
                // a kill never leaves a half-made table at the destination.
                let staged = deltalake::ensure_table_uri(staging.staged_url(true))?;
                let kernel: deltalake::kernel::StructType =
                    schema.as_ref().try_into_kernel().map_err(|e| {
                        ShellError::Sync(format!("cannot map {} to Delta types: {e}", table))
                    })?;
                let created = DeltaTable::try_from_url(staged)
                    .await?
                    .create()
                    .with_columns(kernel.fields().cloned())
                    .with_partition_columns(parts)
                    .await;
                match created {
                    Ok(_) => (*staging).commit_dir().await?,
                    Err(e) => {
                        (*staging).abort().await;
                        return Err(e.into());
                    }
                }
                Ok(deltalake::open_table(deltalake::ensure_table_uri(&url)?).await?)
            }
        }
    }

    /// The table's current rows as a DataFrame (deltalake's reader).
    pub async fn read(&self, table: &DeltaTable) -> Result<DataFrame> {
        table.update_datafusion_session(&self.ctx.state())?;
        let provider = table.table_provider().await?;
        Ok(self.ctx.read_table(provider)?)
    }

    /// Commits one batch; returns the reopened table and what changed.
    pub async fn commit(
        &self,
        which: Table,
        table: DeltaTable,
        mut batch: Batch,
    ) -> Result<(DeltaTable, Counts)> {
        if let Some(written) = batch.written.take() {
            return self.commit_written(which, table, written, batch).await;
        }
        let keys: Vec<String> = datafusion_teams::primary_key(which.name())
            .unwrap_or_default()
            .iter()
            .map(|k| k.to_string())
            .collect();
        let schema: Schema = which.schema().as_ref().clone();
        let upserts = batch.upserts.clone();
        copy_delta::check_unique_keys(&upserts, &keys).await?;
        // A table with no data file yet (a first load) has nothing to update or delete.
        let empty = table.snapshot()?.log_data().num_files() == 0;
        let deletes = match &batch.delete_scope {
            Some(scope) if !empty => self.vanished(&table, scope, &upserts, &keys).await?,
            _ => None,
        };
        let before = table.version();
        let has_rows = upserts.clone().limit(0, Some(1))?.count().await? > 0;
        let props = CommitProperties::default()
            .with_metadata([("teams_sql_sync".to_string(), batch.metadata.clone())])
            .with_application_transactions(batch.txns.clone());
        let mut counts = Counts::default();
        if empty && has_rows {
            // An append writes the rows and the cursor in one commit, without the merge's
            // join against the target: most of a first load's commit time.
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            let rows = upserts.select_columns(&names)?;
            let written =
                copy_delta::append(table, rows, Arc::new(self.ctx.state()), props.clone()).await?;
            counts.inserted = written.rows_inserted.unwrap_or(0);
            counts.files_added = written.files_added;
            if written.version != before {
                counts.commits = 1;
            }
        } else if has_rows || deletes.is_some() {
            let report = copy_delta::merge(
                table,
                upserts,
                deletes,
                &schema,
                &keys,
                Arc::new(self.ctx.state()),
                props.clone(),
            )
            .await?;
            counts.inserted = report.rows_inserted.unwrap_or(0);
            counts.updated = report.rows_updated.unwrap_or(0);
            counts.deleted = report.rows_deleted.unwrap_or(0);
            counts.files_added = report.files_added;
            if report.version != before {
                counts.commits = 1;
            }
        }
        let mut table = self.reopen(which).await?;
        if counts.commits == 0 && batch.cursor_moved {
            // Nothing to merge (or nothing differed), but the cursor moves: a commit of its own
            // with the transactions only, no data file.
            let snapshot = table.snapshot()?;
            CommitBuilder::from(props)
                .build(
                    Some(snapshot),
                    table.log_store(),
                    DeltaOperation::StreamingUpdate {
                        output_mode: OutputMode::Update,
                        query_id: "teams-sql sync".to_string(),
                        epoch_id: batch.txns.first().map_or(0, |t| t.version),
                    },
                )
                .await?;
            counts.commits = 1;
            table = self.reopen(which).await?;
        }
        Ok((table, counts))
    }

    /// Adds files written during the read, with the batch's cursors, in one commit.
    async fn commit_written(
        &self,
        which: Table,
        table: DeltaTable,
        written: Written,
        batch: Batch,
    ) -> Result<(DeltaTable, Counts)> {
        let mut counts = Counts::default();
        if written.adds.is_empty() && !batch.cursor_moved {
            return Ok((table, counts));
        }
        let snapshot = table.snapshot()?;
        let partition_by: Vec<String> = snapshot.metadata().partition_columns().to_vec();
        let props = CommitProperties::default()
            .with_metadata([("teams_sql_sync".to_string(), batch.metadata)])
            .with_application_transactions(batch.txns);
        counts.inserted = written.rows;
        counts.files_added = written.adds.len() as u64;
        CommitBuilder::from(props)
            .with_actions(written.adds.into_iter().map(Action::Add).collect())
            .build(
                Some(snapshot),
                table.log_store(),
                DeltaOperation::Write {
                    mode: SaveMode::Append,
                    partition_by: (!partition_by.is_empty()).then_some(partition_by),
                    predicate: None,
                },
            )
            .await?;
        counts.commits = 1;
        Ok((self.reopen(which).await?, counts))
    }

    async fn reopen(&self, which: Table) -> Result<DeltaTable> {
        Ok(deltalake::open_table(deltalake::ensure_table_uri(self.url(which))?).await?)
    }

    /// Keys of target rows in `scope` that the upserts do not hold: what Graph no longer has.
    /// Collected (they are few: what vanished since the last run).
    async fn vanished(
        &self,
        table: &DeltaTable,
        scope: &Expr,
        upserts: &DataFrame,
        keys: &[String],
    ) -> Result<Option<DataFrame>> {
        if table.version().is_none() {
            return Ok(None);
        }
        let col = |q: &str, k: &str| Expr::Column(Column::new(Some(q), k));
        // Keys are strings; the reader may hand them out as views: compare them as Utf8.
        let key_text =
            |k: &String| cast(Expr::Column(Column::new_unqualified(k)), DataType::Utf8).alias(k);
        let target = self
            .read(table)
            .await?
            .filter(scope.clone())?
            .select(keys.iter().map(key_text))?
            .alias("t")?;
        let source = upserts
            .clone()
            .select(keys.iter().map(key_text))?
            .alias("s")?;
        let on: Vec<Expr> = keys.iter().map(|k| col("t", k).eq(col("s", k))).collect();
        let gone = target
            .join_on(source, JoinType::LeftAnti, on)?
            .select(keys.iter().map(|k| col("t", k).alias(k)))?;
        let schema = Arc::new(gone.schema().as_arrow().clone());
        let batches = gone.collect().await?;
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Ok(None);
        }
        let mem = MemTable::try_new(schema, vec![batches])?;
        Ok(Some(self.ctx.read_table(Arc::new(mem))?))
    }
}
