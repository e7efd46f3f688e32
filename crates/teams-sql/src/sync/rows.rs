//! Where a team's rows of one message table go while its feed is read: kept locally until the
//! batch commits (a merge needs them as a DataFrame), or, for a table with no data file yet,
//! encoded straight into Parquet files under the table so the first load's writing overlaps
//! Graph's paging. Those files join the table only in the batch's commit, with the cursors.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;
use datafusion_teams::Table;
use deltalake::DeltaTable;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};

use super::lake::Written;
use crate::copy_delta::{Materialized, Materializer};
use crate::error::{Result, ShellError};

/// Both boxed: a team read holds two, moved into its future.
pub enum TeamRows {
    Local(Box<Materializer>),
    Files(Box<FileRows>),
}

/// What a team read left for its batch.
pub enum TeamPart {
    Local(Materialized),
    Files(Written),
}

pub struct FileRows {
    table: Table,
    writer: RecordBatchWriter,
    rows: u64,
    /// Hashes of the keys written (the team's): an append must not add a key twice, which a
    /// merge would have refused. Eight bytes a row, not the rows.
    keys: HashSet<u64>,
}

impl TeamRows {
    /// Files under `table` when it is given (it holds no data file yet), else local rows.
    /// `in_memory` bounds what is kept in memory: local rows spill past it, and a Parquet file
    /// is finished and uploaded once it reaches it.
    pub fn new(
        which: Table,
        schema: SchemaRef,
        table: Option<&DeltaTable>,
        in_memory: usize,
    ) -> Result<TeamRows> {
        Ok(match table {
            Some(t) => TeamRows::Files(Box::new(FileRows {
                table: which,
                writer: RecordBatchWriter::for_table(t)?.with_target_file_size(in_memory as u64),
                rows: 0,
                keys: HashSet::new(),
            })),
            None => TeamRows::Local(Box::new(Materializer::new(schema, in_memory))),
        })
    }

    pub async fn push(&mut self, batch: RecordBatch) -> Result<()> {
        match self {
            TeamRows::Local(m) => m.push(batch),
            TeamRows::Files(f) => {
                if batch.num_rows() == 0 {
                    return Ok(());
                }
                f.check_keys(&batch)?;
                f.rows += batch.num_rows() as u64;
                Ok(f.writer.write(batch).await?)
            }
        }
    }

    pub async fn finish(self, ctx: &SessionContext) -> Result<TeamPart> {
        Ok(match self {
            TeamRows::Local(m) => TeamPart::Local((*m).finish(ctx).await?),
            TeamRows::Files(mut f) => TeamPart::Files(Written {
                adds: f.writer.flush().await?,
                rows: f.rows,
            }),
        })
    }
}

impl FileRows {
    fn check_keys(&mut self, batch: &RecordBatch) -> Result<()> {
        let columns: Vec<Vec<String>> = self
            .table
            .primary_key()
            .iter()
            .map(|k| super::run::strings(batch, k))
            .collect();
        for row in 0..batch.num_rows() {
            let mut h = DefaultHasher::new();
            for c in &columns {
                c.get(row).hash(&mut h);
            }
            if !self.keys.insert(h.finish()) {
                let key: Vec<String> = columns
                    .iter()
                    .map(|c| c.get(row).cloned().unwrap_or_default())
                    .collect();
                return Err(ShellError::Sync(format!(
                    "{}: Graph returned the row ({}) = ({}) twice in one read; nothing of the \
                     team was committed, run the sync again",
                    self.table.name(),
                    self.table.primary_key().join(", "),
                    key.join(", ")
                )));
            }
        }
        Ok(())
    }
}
