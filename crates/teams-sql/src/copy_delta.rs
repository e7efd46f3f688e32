//! `COPY ... TO 'path' STORED AS DELTA OPTIONS ('mode' ..., 'merge_keys' ..., 'partition_by' ...)`.
//!
//! DataFusion has no Delta writer, so a small file-format factory only lets the statement plan;
//! the shell then takes the planned `CopyTo` apart here and hands its input to deltalake:
//! `append` and `overwrite` are Delta writes, `merge` is an upsert by key that leaves the table
//! untouched when nothing changed (so running the same export twice is a no-op). The table is
//! created on first use; a schema that differs from the table's is an error, never a silent
//! evolution.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::catalog::Session;
use datafusion::common::{Column, DataFusionError, GetExt, ScalarValue, not_impl_err};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::options::ArrowReadOptions;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, Operator, binary_expr, lit};
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion_teams::TeamsHandle;
use deltalake::DeltaTable;
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use futures::StreamExt;
use object_store::path::Path;

use crate::catalog;
use crate::destinations;
use crate::destinations::staging::{Staging, Target};
use crate::error::{Result, ShellError};
use crate::spool;

/// Registered under the extension `delta` so that `STORED AS DELTA` plans; never executes.
#[derive(Debug)]
pub struct DeltaFormatFactory;

impl GetExt for DeltaFormatFactory {
    fn get_ext(&self) -> String {
        "delta".to_string()
    }
}

impl FileFormatFactory for DeltaFormatFactory {
    fn create(
        &self,
        _state: &dyn Session,
        _format_options: &HashMap<String, String>,
    ) -> datafusion::error::Result<Arc<dyn FileFormat>> {
        not_impl_err!(
            "STORED AS DELTA is only supported as the target of COPY ... TO in teams-sql; \
             to read a Delta table use CREATE EXTERNAL TABLE name STORED AS DELTA LOCATION '...'"
        )
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        // Required by the trait but unused by DataFusion's COPY and CREATE EXTERNAL TABLE
        // paths (those call `create`). Delta data files are Parquet, the least surprising
        // answer should anything ever ask.
        Arc::new(ParquetFormat::default())
    }
}

/// True when a planned COPY targets Delta and must be run by [`copy_to_delta`].
pub fn is_delta(copy: &CopyTo) -> bool {
    copy.file_type.get_ext().eq_ignore_ascii_case("delta")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Append,
    Overwrite,
    Merge,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Append => "append",
            Mode::Overwrite => "overwrite",
            Mode::Merge => "merge",
        }
    }
}

/// The OPTIONS of a Delta COPY, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaOptions {
    pub mode: Mode,
    pub merge_keys: Option<Vec<String>>,
    pub partition_by: Vec<String>,
    /// `overwrite` may replace the table with a partial read (children Graph refused left out).
    pub allow_partial: bool,
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl DeltaOptions {
    /// DataFusion prefixes bare option keys with `format.`; both spellings are accepted.
    pub fn parse(copy_options: &HashMap<String, String>, partition_by: &[String]) -> Result<Self> {
        let mut mode = Mode::Append;
        let mut merge_keys = None;
        let mut allow_partial = false;
        let mut parts: Vec<String> = partition_by.to_vec();
        for (key, value) in copy_options {
            let k = key.strip_prefix("format.").unwrap_or(key);
            match k {
                "mode" => {
                    mode = match value.trim().to_ascii_lowercase().as_str() {
                        "append" => Mode::Append,
                        "overwrite" => Mode::Overwrite,
                        "merge" => Mode::Merge,
                        other => {
                            return Err(ShellError::DeltaCopy(format!(
                                "unknown mode '{other}': expected 'append', 'overwrite' or 'merge'"
                            )));
                        }
                    }
                }
                "merge_keys" => merge_keys = Some(split_list(value)),
                "allow_partial" => {
                    allow_partial = match value.trim().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(ShellError::DeltaCopy(format!(
                                "'allow_partial' is 'true' or 'false', not '{other}'"
                            )));
                        }
                    }
                }
                "partition_by" => {
                    for p in split_list(value) {
                        if !parts.contains(&p) {
                            parts.push(p);
                        }
                    }
                }
                other => {
                    return Err(ShellError::DeltaCopy(format!(
                        "unknown option '{other}': Delta accepts 'mode', 'merge_keys', 'partition_by' and 'allow_partial'"
                    )));
                }
            }
        }
        if merge_keys.is_some() && mode != Mode::Merge {
            return Err(ShellError::DeltaCopy(
                "'merge_keys' only applies to 'mode' 'merge'".to_string(),
            ));
        }
        if allow_partial && mode != Mode::Overwrite {
            return Err(ShellError::DeltaCopy(
                "'allow_partial' only applies to 'mode' 'overwrite': append and merge always commit what was read and never remove rows of what was not"
                    .to_string(),
            ));
        }
        if matches!(&merge_keys, Some(k) if k.is_empty()) {
            return Err(ShellError::DeltaCopy("'merge_keys' is empty".to_string()));
        }
        Ok(DeltaOptions {
            mode,
            merge_keys,
            partition_by: parts,
            allow_partial,
        })
    }
}

/// What a Delta COPY did, printed as its result row.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaReport {
    pub table: String,
    pub mode: Mode,
    pub rows_written: u64,
    pub rows_inserted: Option<u64>,
    pub rows_updated: Option<u64>,
    /// Rows a merge deleted (only `teams-sql sync` merges delete).
    pub rows_deleted: Option<u64>,
    pub files_added: u64,
    pub files_removed: u64,
    pub version: Option<u64>,
    pub seconds: f64,
}

impl DeltaReport {
    pub fn to_batch(
        &self,
    ) -> std::result::Result<RecordBatch, datafusion::arrow::error::ArrowError> {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("table", DataType::Utf8, false),
            Field::new("mode", DataType::Utf8, false),
            Field::new("rows_written", DataType::UInt64, false),
            Field::new("rows_inserted", DataType::UInt64, true),
            Field::new("rows_updated", DataType::UInt64, true),
            Field::new("files_added", DataType::UInt64, false),
            Field::new("files_removed", DataType::UInt64, false),
            Field::new("version", DataType::UInt64, true),
            Field::new("seconds", DataType::Utf8, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![self.table.clone()])),
            Arc::new(StringArray::from(vec![self.mode.as_str()])),
            Arc::new(UInt64Array::from(vec![self.rows_written])),
            Arc::new(UInt64Array::from(vec![self.rows_inserted])),
            Arc::new(UInt64Array::from(vec![self.rows_updated])),
            Arc::new(UInt64Array::from(vec![self.files_added])),
            Arc::new(UInt64Array::from(vec![self.files_removed])),
            Arc::new(UInt64Array::from(vec![self.version])),
            Arc::new(StringArray::from(vec![format!("{:.3}", self.seconds)])),
        ];
        RecordBatch::try_new(schema, columns)
    }
}

/// Whether the COPY accepts a partial read (`'allow_partial' 'true'` on a Delta overwrite);
/// the option anywhere else is an error.
pub fn accepts_partial(copy: &CopyTo) -> Result<bool> {
    if is_delta(copy) {
        return Ok(DeltaOptions::parse(&copy.options, &copy.partition_by)?.allow_partial);
    }
    let named = copy
        .options
        .keys()
        .any(|k| k.strip_prefix("format.").unwrap_or(k) == "allow_partial");
    if named {
        return Err(ShellError::Destination(
            "'allow_partial' only applies to COPY ... STORED AS DELTA OPTIONS ('mode' 'overwrite', 'allow_partial' 'true')"
                .to_string(),
        ));
    }
    Ok(false)
}

/// Runs a planned `COPY ... STORED AS DELTA`.
///
/// Everything that can be refused is checked before the destination is touched; a new table
/// is written into a staging directory beside the destination and moved into place once
/// committed, so a failure (or a kill) never leaves data files without a `_delta_log`.
pub async fn copy_to_delta(
    ctx: &SessionContext,
    copy: &CopyTo,
    teams: Option<&TeamsHandle>,
) -> Result<DeltaReport> {
    let started = Instant::now();
    let options = DeltaOptions::parse(&copy.options, &copy.partition_by)?;
    destinations::register_for_copy(ctx, &copy.output_url)?;

    let input: LogicalPlan = copy.input.as_ref().clone();
    let source_schema: Schema = input.schema().as_arrow().clone();
    check_partition_columns(&source_schema, &options.partition_by)?;
    let keys = match options.mode {
        Mode::Merge => Some(merge_keys(&options, &input, &source_schema)?),
        _ => None,
    };

    let report = match prepare_destination(ctx, &copy.output_url, options.mode).await? {
        Destination::Table(table) => {
            write_table(ctx, table, input, &options, keys.as_deref(), true, teams).await?
        }
        Destination::Staged(staging) => {
            let url = deltalake::ensure_table_uri(staging.staged_url(true))?;
            let table = DeltaTable::try_from_url(url).await?;
            match write_table(ctx, table, input, &options, keys.as_deref(), false, teams).await {
                Ok(report) => {
                    (*staging).commit_dir().await?;
                    report
                }
                Err(e) => {
                    (*staging).abort().await;
                    return Err(e);
                }
            }
        }
    };
    Ok(DeltaReport {
        table: copy.output_url.clone(),
        seconds: started.elapsed().as_secs_f64(),
        ..report
    })
}

/// Where a Delta COPY writes: an existing table (or a directory `overwrite` may take over),
/// or a staging directory that becomes the new table.
pub(crate) enum Destination {
    Table(DeltaTable),
    Staged(Box<Staging>),
}

/// Opens the destination table, or decides how to create it. A non-empty directory that is
/// not a Delta table is refused, except under `overwrite` when it holds nothing but what a
/// COPY writes (Parquet data files and a `_delta_log`), e.g. the files of a COPY that failed
/// before committing.
pub(crate) async fn prepare_destination(
    ctx: &SessionContext,
    output_url: &str,
    mode: Mode,
) -> Result<Destination> {
    // Resolved as a directory, so that listing never matches a sibling sharing the prefix.
    let as_dir = if output_url.ends_with('/') {
        output_url.to_string()
    } else {
        format!("{output_url}/")
    };
    let target = Target::resolve(ctx, &as_dir)?;
    let depth = target.path().parts().count();
    let listed = target.list_under().await?;
    let relative = |p: &Path| -> Vec<String> {
        p.parts()
            .skip(depth)
            .map(|s| s.as_ref().to_string())
            .collect()
    };
    if listed.is_empty() {
        return Ok(Destination::Staged(Box::new(Staging::beside(&target)?)));
    }
    let has_log = listed
        .iter()
        .any(|p| relative(p).first().is_some_and(|s| s == "_delta_log"));
    if has_log {
        let url = deltalake::ensure_table_uri(output_url)?;
        let table = DeltaTable::try_from_url(url).await?;
        if table.version().is_some() {
            return Ok(Destination::Table(table));
        }
    }
    let foreign: Vec<String> = listed
        .iter()
        .map(relative)
        .filter(|rel| !written_by_copy(rel))
        .map(|rel| rel.join("/"))
        .collect();
    if mode != Mode::Overwrite || !foreign.is_empty() {
        let what = match foreign.first() {
            Some(f) => format!("holds files a COPY does not write (e.g. '{f}')"),
            None => "holds Parquet files but no Delta log".to_string(),
        };
        let how = if foreign.is_empty() {
            "use OPTIONS ('mode' 'overwrite') to replace them with a new table, or write to \
             another location"
        } else {
            "write to another location, or move those files away (or remove the directory) \
             to let COPY create the table there"
        };
        return Err(ShellError::DeltaCopy(format!(
            "'{output_url}' is a non-empty directory that is not a Delta table: it {what}; \
             nothing was written. To go ahead, {how}"
        )));
    }
    let url = deltalake::ensure_table_uri(output_url)?;
    Ok(Destination::Table(DeltaTable::try_from_url(url).await?))
}

/// Files a COPY to Delta leaves in a table directory: Parquet data files (maybe under
/// `column=value` partition directories) and the `_delta_log`.
fn written_by_copy(relative: &[String]) -> bool {
    match relative.split_last() {
        None => true,
        Some((name, dirs)) => {
            relative.first().is_some_and(|s| s == "_delta_log")
                || (name.ends_with(".parquet") && dirs.iter().all(|d| d.contains('=')))
        }
    }
}

/// Writes `input` into `table` (existing or new) in the requested mode.
async fn write_table(
    ctx: &SessionContext,
    table: DeltaTable,
    mut input: LogicalPlan,
    options: &DeltaOptions,
    keys: Option<&[String]>,
    check_existing: bool,
    teams: Option<&TeamsHandle>,
) -> Result<DeltaReport> {
    let source_schema: Schema = input.schema().as_arrow().clone();
    let exists = table.version().is_some();
    if exists && check_existing {
        let table_order = check_schema(&table, &source_schema)?;
        check_partitioning(&table, &options.partition_by)?;
        // Same columns, maybe another order: Delta writes by position, so line them up.
        let source_order: Vec<&String> = source_schema.fields().iter().map(|f| f.name()).collect();
        if source_order.iter().zip(&table_order).any(|(a, b)| *a != b) {
            input = LogicalPlanBuilder::from(input)
                .project(
                    table_order
                        .iter()
                        .map(|c| Expr::Column(Column::new_unqualified(c.clone()))),
                )?
                .build()?;
        }
    }
    // Under on_forbidden = 'skip' the read may leave children out, which is only known at its
    // end: read it all first, then refuse (overwrite) or record (append, merge) the gaps.
    let mut commit = CommitProperties::default();
    let mut _spool = None;
    if let Some(teams) = teams
        && datafusion_teams::may_skip(&input, ctx.state().config_options())
    {
        let spooled = spool::spool(ctx, input).await?;
        let read = teams.report();
        if read.is_partial() && options.mode == Mode::Overwrite && !options.allow_partial {
            return Err(ShellError::DeltaCopy(format!(
                "mode 'overwrite' would replace the whole table with a partial read, so nothing \
                 was written: {}; add OPTIONS ('allow_partial' 'true') to replace it with what \
                 is readable, or use mode 'merge' to update only what was read",
                read.lines().join("; ")
            )));
        }
        if !read.skipped.is_empty() {
            commit = commit.with_metadata(spool::commit_metadata(&read));
        }
        input = spooled.plan.clone();
        _spool = Some(spooled);
    }
    let state = Arc::new(ctx.state());

    // A merge needs its source twice (deltalake scans it for the join and again for the
    // rewrite) and the duplicate-key check once more: read Graph once into a local copy.
    let (input, materialized) = match keys {
        Some(keys) => {
            let m = materialize(ctx, input, MATERIALIZE_IN_MEMORY_BYTES).await?;
            check_unique_keys(&m.df, keys).await?;
            (m.df.logical_plan().clone(), Some(m))
        }
        None => (input, None),
    };

    match (options.mode, materialized) {
        (Mode::Merge, Some(source)) if exists => {
            let keys = keys.unwrap_or_default();
            merge(
                table,
                source.df.clone(),
                None,
                &source_schema,
                keys,
                state,
                commit,
            )
            .await
        }
        (mode, _source) => {
            let save_mode = if mode == Mode::Overwrite {
                SaveMode::Overwrite
            } else {
                SaveMode::Append
            };
            let mut builder = table
                .write(Vec::new())
                .with_input_plan(input)
                .with_save_mode(save_mode)
                .with_commit_properties(commit)
                .with_session_state(state);
            if !options.partition_by.is_empty() {
                builder = builder.with_partition_columns(options.partition_by.clone());
            }
            let table = builder.await?;
            let metrics = last_operation_metrics(&table).await?;
            Ok(DeltaReport {
                table: String::new(),
                mode,
                rows_written: metric(&metrics, "num_added_rows"),
                rows_inserted: (mode == Mode::Merge).then(|| metric(&metrics, "num_added_rows")),
                rows_updated: (mode == Mode::Merge).then_some(0),
                rows_deleted: None,
                files_added: metric(&metrics, "num_added_files"),
                files_removed: metric(&metrics, "num_removed_files"),
                version: table.version(),
                seconds: 0.0,
            })
        }
    }
}

/// The merge key: given, or the primary key of a plain scan; every key column must be in the
/// query (checked on the first run too, when the table is created).
fn merge_keys(options: &DeltaOptions, input: &LogicalPlan, schema: &Schema) -> Result<Vec<String>> {
    let keys = match &options.merge_keys {
        Some(k) => k.clone(),
        None => inferred_keys(input).ok_or_else(|| {
            ShellError::DeltaCopy(
                "mode 'merge' needs OPTIONS ('merge_keys' 'col1,col2'): the key can only be \
                 inferred when the query is a plain scan of a table with a primary key, such as \
                 the Teams tables"
                    .to_string(),
            )
        })?,
    };
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    for k in &keys {
        if !columns.contains(&k.as_str()) {
            return Err(ShellError::DeltaCopy(format!(
                "merge key '{k}' is not in the query's columns ({}); nothing was written",
                columns.join(", ")
            )));
        }
    }
    Ok(keys)
}

/// Partition values are strings in paths and in the Delta log: only a primitive column can
/// partition (object_store panics on a nested one, after a data file is already written).
pub(crate) fn check_partition_columns(schema: &Schema, partition_by: &[String]) -> Result<()> {
    for p in partition_by {
        let field = schema.field_with_name(p).map_err(|_| {
            ShellError::DeltaCopy(format!(
                "partition column '{p}' is not in the query's columns"
            ))
        })?;
        let dt = field.data_type();
        if dt.is_nested() || matches!(dt, DataType::Null | DataType::Dictionary(..)) {
            return Err(ShellError::DeltaCopy(format!(
                "cannot partition by '{p}': it is {dt}, and Delta partitions only by a column \
                 of a primitive type (string, integer, decimal, boolean, date, timestamp or \
                 binary); nothing was written. Partition by a scalar column, e.g. a field of \
                 it selected as its own column"
            )));
        }
    }
    Ok(())
}

/// Above this many bytes a merge source is spilled to a local Arrow IPC file.
pub(crate) const MATERIALIZE_IN_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// A query's rows read once and kept locally: in memory when small, else in a temporary Arrow
/// IPC file (removed on drop) written as the rows stream, so memory stays bounded.
pub(crate) struct Materialized {
    pub df: DataFrame,
    _spill: Option<tempfile::TempDir>,
}

async fn materialize(
    ctx: &SessionContext,
    input: LogicalPlan,
    in_memory: usize,
) -> Result<Materialized> {
    let mut stream = ctx
        .execute_logical_plan(input)
        .await?
        .execute_stream()
        .await?;
    let mut out = Materializer::new(stream.schema(), in_memory);
    while let Some(batch) = stream.next().await {
        out.push(batch?)?;
    }
    out.finish(ctx).await
}

/// Rows pushed batch by batch into memory, or past `in_memory` bytes into a temporary Arrow
/// IPC file, then read back as one DataFrame ([`Materialized`]).
pub(crate) struct Materializer {
    schema: SchemaRef,
    in_memory: usize,
    batches: Vec<RecordBatch>,
    bytes: usize,
    spill: Option<(
        tempfile::TempDir,
        std::path::PathBuf,
        FileWriter<std::fs::File>,
    )>,
}

impl Materializer {
    pub(crate) fn new(schema: SchemaRef, in_memory: usize) -> Self {
        Materializer {
            schema,
            in_memory,
            batches: Vec::new(),
            bytes: 0,
            spill: None,
        }
    }

    pub(crate) fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if let Some((_, _, writer)) = self.spill.as_mut() {
            writer.write(&batch).map_err(DataFusionError::from)?;
            return Ok(());
        }
        self.bytes += batch.get_array_memory_size();
        self.batches.push(batch);
        if self.bytes > self.in_memory {
            let dir = tempfile::Builder::new()
                .prefix("teams-sql-merge-")
                .tempdir()?;
            let path = dir.path().join("source.arrow");
            let mut writer = FileWriter::try_new(std::fs::File::create(&path)?, &self.schema)
                .map_err(DataFusionError::from)?;
            for b in self.batches.drain(..) {
                writer.write(&b).map_err(DataFusionError::from)?;
            }
            self.spill = Some((dir, path, writer));
        }
        Ok(())
    }

    pub(crate) async fn finish(self, ctx: &SessionContext) -> Result<Materialized> {
        let schema = self.schema;
        match self.spill {
            None => {
                let table = MemTable::try_new(Arc::clone(&schema), vec![self.batches])?;
                Ok(Materialized {
                    df: ctx.read_table(Arc::new(table))?,
                    _spill: None,
                })
            }
            Some((dir, path, mut writer)) => {
                writer.finish().map_err(DataFusionError::from)?;
                let path = path.to_str().ok_or_else(|| {
                    ShellError::DeltaCopy(format!("temporary path {} is not UTF-8", path.display()))
                })?;
                let options = ArrowReadOptions {
                    schema: Some(schema.as_ref()),
                    ..Default::default()
                };
                Ok(Materialized {
                    df: ctx.read_arrow(path, options).await?,
                    _spill: Some(dir),
                })
            }
        }
    }
}

/// The source column that marks a merge source row as a deletion.
const DELETE_FLAG: &str = "__teams_sql_delete";

/// A merge with two source rows for one key would apply one of them at random (or fail in
/// deltalake after writing files): refuse it, naming the key and one duplicate.
pub(crate) async fn check_unique_keys(source: &DataFrame, keys: &[String]) -> Result<()> {
    const N: &str = "__teams_sql_rows_per_key";
    let group: Vec<Expr> = keys
        .iter()
        .map(|k| Expr::Column(Column::new_unqualified(k.clone())))
        .collect();
    let dups = source
        .clone()
        .aggregate(group, vec![count(lit(1)).alias(N)])?
        .filter(Expr::Column(Column::new_unqualified(N)).gt(lit(1i64)))?
        .limit(0, Some(1))?
        .collect()
        .await?;
    let Some(batch) = dups.iter().find(|b| b.num_rows() > 0) else {
        return Ok(());
    };
    let mut sample = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let v = ScalarValue::try_from_array(batch.column(i), 0)?;
        sample.push(format!("{k} = {v}"));
    }
    let n = ScalarValue::try_from_array(batch.column(keys.len()), 0)?;
    Err(ShellError::DeltaCopy(format!(
        "merge key ({}) is not unique in the query's rows: {} appears {n} times; nothing was \
         written. A merge needs one source row per key: make the query return one row per key \
         (DISTINCT, GROUP BY) or name columns that identify a row in 'merge_keys'",
        keys.join(", "),
        sample.join(", ")
    )))
}

/// Upserts `source` into `table` by `keys`, and deletes the rows whose keys `deletes` holds
/// (key columns only; `teams-sql sync` removes what Graph no longer lists), in one commit.
/// Appends `rows` to `table` in one commit (the caller knows none of their keys is there yet).
pub(crate) async fn append(
    table: DeltaTable,
    rows: DataFrame,
    state: Arc<dyn Session>,
    commit: CommitProperties,
) -> Result<DeltaReport> {
    let table = table
        .write(Vec::new())
        .with_input_plan(rows.logical_plan().clone())
        .with_save_mode(SaveMode::Append)
        .with_commit_properties(commit)
        .with_session_state(state)
        .await?;
    let metrics = last_operation_metrics(&table).await?;
    Ok(DeltaReport {
        table: String::new(),
        mode: Mode::Merge,
        rows_written: metric(&metrics, "num_added_rows"),
        rows_inserted: Some(metric(&metrics, "num_added_rows")),
        rows_updated: Some(0),
        rows_deleted: Some(0),
        files_added: metric(&metrics, "num_added_files"),
        files_removed: 0,
        version: table.version(),
        seconds: 0.0,
    })
}

pub(crate) async fn merge(
    table: DeltaTable,
    source: DataFrame,
    deletes: Option<DataFrame>,
    schema: &Schema,
    keys: &[String],
    state: Arc<dyn Session>,
    commit: CommitProperties,
) -> Result<DeltaReport> {
    let qualified = |q: &str, name: &str| Expr::Column(Column::new(Some(q), name));
    let predicate = keys
        .iter()
        .map(|k| qualified("target", k).eq(qualified("source", k)))
        .reduce(Expr::and)
        .ok_or_else(|| ShellError::DeltaCopy("no merge keys".to_string()))?;
    let non_keys: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !keys.contains(n))
        .collect();
    // Only rows whose values differ are updated: an unchanged source touches no file and makes
    // no commit, which is what makes re-running an export idempotent.
    let changed = non_keys
        .iter()
        .map(|c| {
            binary_expr(
                qualified("target", c),
                Operator::IsDistinctFrom,
                qualified("source", c),
            )
        })
        .reduce(Expr::or);

    // Deletions ride in the same source, flagged, so that upserts, deletions and the commit's
    // metadata (a sync cursor) land in one commit.
    let deleting = deletes.is_some();
    let upsert = || Expr::Column(Column::new(Some("source"), DELETE_FLAG)).eq(lit(false));
    let source = match deletes {
        None => source,
        Some(deletes) => {
            let flagged = source.with_column(DELETE_FLAG, lit(false))?;
            let columns: Vec<Expr> = schema
                .fields()
                .iter()
                .map(|f| {
                    let name = f.name();
                    if keys.contains(name) {
                        datafusion::logical_expr::cast(
                            Expr::Column(Column::new_unqualified(name.clone())),
                            f.data_type().clone(),
                        )
                        .alias(name)
                    } else {
                        datafusion::logical_expr::cast(
                            lit(ScalarValue::Null),
                            f.data_type().clone(),
                        )
                        .alias(name)
                    }
                })
                .chain(std::iter::once(lit(true).alias(DELETE_FLAG)))
                .collect();
            flagged.union(deletes.select(columns)?)?
        }
    };
    let changed = match changed {
        Some(c) if deleting => Some(upsert().and(c)),
        c => c,
    };
    let mut builder = table
        .merge(source, predicate)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_commit_properties(commit)
        .with_session_state(state);
    if let Some(changed) = changed {
        let non_keys = non_keys.clone();
        builder = builder.when_matched_update(move |mut u| {
            u = u.predicate(changed);
            for c in &non_keys {
                u = u.update(Column::new_unqualified(c.clone()), qualified("source", c));
            }
            u
        })?;
    }
    if deleting {
        builder = builder.when_matched_delete(|d| {
            d.predicate(Expr::Column(Column::new(Some("source"), DELETE_FLAG)).eq(lit(true)))
        })?;
    }
    let all: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    builder = builder.when_not_matched_insert(move |mut i| {
        if deleting {
            i = i.predicate(upsert());
        }
        for c in &all {
            i = i.set(Column::new_unqualified(c.clone()), qualified("source", c));
        }
        i
    })?;
    let (table, m) = builder.await?;
    Ok(DeltaReport {
        table: String::new(),
        mode: Mode::Merge,
        rows_written: (m.num_target_rows_inserted + m.num_target_rows_updated) as u64,
        rows_inserted: Some(m.num_target_rows_inserted as u64),
        rows_updated: Some(m.num_target_rows_updated as u64),
        rows_deleted: Some(m.num_target_rows_deleted as u64),
        files_added: m.num_target_files_added as u64,
        files_removed: m.num_target_files_removed as u64,
        version: table.version(),
        seconds: 0.0,
    })
}

/// The primary key of the table the query plainly scans, as its provider declares it
/// (`TableProvider::constraints`; every Teams table has one). Projections, filters, aliases
/// and limits on top are fine as long as the key columns come through unchanged.
pub fn inferred_keys(plan: &LogicalPlan) -> Option<Vec<String>> {
    let mut node = plan;
    loop {
        match node {
            LogicalPlan::TableScan(scan) => {
                let keys = catalog::primary_key(scan.source.constraints(), &scan.source.schema())?;
                let out = plan.schema();
                return keys
                    .iter()
                    .all(|k| out.field_with_unqualified_name(k).is_ok())
                    .then_some(keys);
            }
            LogicalPlan::Projection(p) => {
                // A key column must pass through as itself, not be computed.
                if !p.expr.iter().all(|e| matches!(e, Expr::Column(_))) {
                    return None;
                }
                node = p.input.as_ref();
            }
            LogicalPlan::Filter(f) => node = f.input.as_ref(),
            LogicalPlan::SubqueryAlias(a) => node = a.input.as_ref(),
            LogicalPlan::Limit(l) => node = l.input.as_ref(),
            LogicalPlan::Sort(s) => node = s.input.as_ref(),
            _ => return None,
        }
    }
}

/// Checks that the query fits the existing table and returns the table's column order.
pub(crate) fn check_schema(table: &DeltaTable, source: &Schema) -> Result<Vec<String>> {
    let kernel = table.snapshot()?.schema();
    let target: Schema = kernel
        .as_ref()
        .try_into_arrow()
        .map_err(|e| ShellError::DeltaCopy(format!("cannot read the table's schema: {e}")))?;
    let mut problems = Vec::new();
    for f in source.fields() {
        match target.field_with_name(f.name()) {
            Err(_) => problems.push(format!("column '{}' is not in the table", f.name())),
            Ok(t) => {
                if !same_type(t.data_type(), f.data_type()) {
                    problems.push(format!(
                        "column '{}' is {} in the table but {} in the query",
                        f.name(),
                        t.data_type(),
                        f.data_type()
                    ));
                } else if !t.is_nullable() && f.is_nullable() {
                    problems.push(format!(
                        "column '{}' is NOT NULL in the table but nullable in the query",
                        f.name()
                    ));
                }
            }
        }
    }
    for t in target.fields() {
        if source.field_with_name(t.name()).is_err() {
            problems.push(format!(
                "table column '{}' is missing from the query",
                t.name()
            ));
        }
    }
    if problems.is_empty() {
        Ok(target.fields().iter().map(|f| f.name().clone()).collect())
    } else {
        Err(ShellError::DeltaCopy(format!(
            "the query's schema does not match the existing Delta table (nothing was written; \
             schemas are never evolved implicitly: write to a new location or drop the table):\n  {}",
            problems.join("\n  ")
        )))
    }
}

/// Type equality up to what Delta cannot tell apart (string and binary view/large layouts,
/// names of list item fields).
fn same_type(table: &DataType, query: &DataType) -> bool {
    use DataType::*;
    match (table, query) {
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        (Binary | LargeBinary | BinaryView, Binary | LargeBinary | BinaryView) => true,
        (List(a) | LargeList(a) | ListView(a), List(b) | LargeList(b) | ListView(b)) => {
            same_type(a.data_type(), b.data_type())
        }
        (Struct(a), Struct(b)) => {
            a.len() == b.len()
                && a.iter().all(|fa| {
                    b.iter()
                        .find(|fb| fb.name() == fa.name())
                        .is_some_and(|fb| same_type(fa.data_type(), fb.data_type()))
                })
        }
        (Map(a, _), Map(b, _)) => same_type(a.data_type(), b.data_type()),
        (Timestamp(ua, za), Timestamp(ub, zb)) => {
            ua == ub && za.as_deref().map(is_utc) == zb.as_deref().map(is_utc)
        }
        (a, b) => a == b,
    }
}

fn is_utc(tz: &str) -> bool {
    matches!(tz, "UTC" | "+00:00" | "Z" | "Etc/UTC")
}

pub(crate) fn check_partitioning(table: &DeltaTable, requested: &[String]) -> Result<()> {
    if requested.is_empty() {
        return Ok(());
    }
    let existing = table.snapshot()?.metadata().partition_columns().to_vec();
    if existing != requested {
        return Err(ShellError::DeltaCopy(format!(
            "the table is partitioned by ({}) but the COPY asks for ({}); partitioning cannot \
             change on an existing table",
            existing.join(", "),
            requested.join(", ")
        )));
    }
    Ok(())
}

async fn last_operation_metrics(table: &DeltaTable) -> Result<serde_json::Value> {
    let mut history = table.history(Some(1));
    while let Some(commit) = history.next().await {
        let commit = commit?;
        if let Some(m) = commit.info.get("operationMetrics") {
            return Ok(m.clone());
        }
    }
    Ok(serde_json::Value::Null)
}

fn metric(metrics: &serde_json::Value, name: &str) -> u64 {
    metrics.get(name).and_then(|v| v.as_u64()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_options() {
        let o = DeltaOptions::parse(
            &opts(&[
                ("format.mode", "MERGE"),
                ("format.merge_keys", "team_id, channel_id,id"),
                ("format.partition_by", "team_id"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(o.mode, Mode::Merge);
        assert_eq!(
            o.merge_keys,
            Some(vec!["team_id".into(), "channel_id".into(), "id".into()])
        );
        assert_eq!(o.partition_by, vec!["team_id".to_string()]);
        assert_eq!(
            DeltaOptions::parse(&HashMap::new(), &[]).unwrap().mode,
            Mode::Append
        );
    }

    #[test]
    fn rejects_unknown_options_and_misplaced_keys() {
        assert!(DeltaOptions::parse(&opts(&[("format.mode", "upsert")]), &[]).is_err());
        assert!(DeltaOptions::parse(&opts(&[("format.compression", "zstd")]), &[]).is_err());
        assert!(DeltaOptions::parse(&opts(&[("format.merge_keys", "id")]), &[]).is_err());
    }

    #[tokio::test]
    async fn a_large_source_spills_to_disk_and_reads_back_the_same() {
        let ctx = SessionContext::new();
        let sql =
            "SELECT v AS id, CAST(v AS VARCHAR) AS name FROM generate_series(1, 5000) AS t(v)";
        let plan = ctx.sql(sql).await.unwrap().logical_plan().clone();
        let count = |df: DataFrame| async move { df.count().await.unwrap() };
        let kept = materialize(&ctx, plan.clone(), usize::MAX).await.unwrap();
        assert!(kept._spill.is_none());
        let spilled = materialize(&ctx, plan, 0).await.unwrap();
        let dir = spilled._spill.as_ref().unwrap().path().to_path_buf();
        assert!(dir.join("source.arrow").exists());
        assert_eq!(count(spilled.df.clone()).await, 5000);
        assert_eq!(count(kept.df.clone()).await, 5000);
        check_unique_keys(&spilled.df, &["id".to_string()])
            .await
            .unwrap();
        let err = check_unique_keys(&spilled.df.clone().union(kept.df).unwrap(), &["id".into()])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("merge key (id) is not unique"), "{err}");
        assert!(err.contains("appears 2 times"), "{err}");
        drop(spilled);
        assert!(!dir.exists(), "the spill file goes with the merge");
    }

    #[test]
    fn recognises_what_a_copy_writes() {
        let rel = |s: &str| s.split('/').map(str::to_string).collect::<Vec<_>>();
        assert!(written_by_copy(&rel("part-0.parquet")));
        assert!(written_by_copy(&rel("team_id=a/part-0.parquet")));
        assert!(written_by_copy(&rel(
            "_delta_log/00000000000000000000.json"
        )));
        assert!(!written_by_copy(&rel("notes.txt")));
        assert!(!written_by_copy(&rel("backup/part-0.parquet")));
    }

    #[test]
    fn type_equality_ignores_string_layout_only() {
        assert!(same_type(&DataType::Utf8, &DataType::Utf8View));
        assert!(!same_type(&DataType::Utf8, &DataType::Int64));
        let tz = |z: &str| {
            DataType::Timestamp(
                datafusion::arrow::datatypes::TimeUnit::Microsecond,
                Some(z.into()),
            )
        };
        assert!(same_type(&tz("UTC"), &tz("+00:00")));
    }
}
