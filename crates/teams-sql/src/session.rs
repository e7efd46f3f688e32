//! The DataFusion session the shell runs statements in: Delta-aware planning, the `teams`
//! schema as default, and the `STORED AS DELTA` hook for COPY.

use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::delta_datafusion::DeltaTableFactory;
use deltalake::delta_datafusion::planner::DeltaPlanner;

use crate::copy_delta::DeltaFormatFactory;
use crate::url_tables;

pub const CATALOG: &str = "datafusion";

/// Rows per Parquet row group the shell writes unless the user sets
/// `datafusion.execution.parquet.max_row_group_size` (or `OPTIONS ('max_row_group_size' ...)`
/// on one COPY). DataFusion's default of 1M rows makes the writer buffer a million encoded
/// message rows before it flushes: a 1M-post COPY peaked at 351 MB against 183 MB at 100k
/// (issue 12), almost all of it that buffer; 64k rows keeps groups large enough for readers to
/// skip by statistics while the writer's memory stays flat in the size of the table.
pub const PARQUET_ROW_GROUP_ROWS: usize = 64 * 1024;

pub fn new_context() -> SessionContext {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_create_default_catalog_and_schema(true)
        // Unqualified names resolve in the Teams tables' schema.
        .with_default_catalog_and_schema(CATALOG, datafusion_teams::SCHEMA_NAME);
    config.options_mut().execution.parquet.max_row_group_size = PARQUET_ROW_GROUP_ROWS;
    // deltalake's merge and write plans contain extension nodes that only DeltaPlanner can
    // turn into physical plans; since COPY ... STORED AS DELTA hands this session to deltalake,
    // the session must plan with it (docs/architecture.md §6).
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_query_planner(DeltaPlanner::new())
        .build();
    // Lets `COPY ... STORED AS DELTA` plan; execution is intercepted in exec.rs.
    if let Err(e) = state.register_file_format(Arc::new(DeltaFormatFactory), true) {
        // Only fails on a malformed extension, which ours is not; keep going without DELTA.
        eprintln!("warning: COPY ... STORED AS DELTA unavailable: {e}");
    }
    // `CREATE EXTERNAL TABLE t STORED AS DELTA LOCATION '...'` reads a Delta table back.
    let factories = state.table_factories_mut();
    factories.insert("DELTA".to_string(), Arc::new(DeltaTableFactory {}));
    factories.insert("DELTATABLE".to_string(), Arc::new(DeltaTableFactory {}));
    url_tables::enable(SessionContext::new_with_state(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_group_rows(ctx: &SessionContext) -> usize {
        ctx.state()
            .config()
            .options()
            .execution
            .parquet
            .max_row_group_size
    }

    /// The shell's Parquet writer flushes every 64k rows by default, and a user's setting wins.
    #[tokio::test]
    async fn parquet_row_groups_are_bounded_unless_the_user_says_otherwise() {
        let ctx = new_context();
        assert_eq!(row_group_rows(&ctx), PARQUET_ROW_GROUP_ROWS);
        ctx.sql("SET datafusion.execution.parquet.max_row_group_size = 1000000")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(row_group_rows(&ctx), 1_000_000);
    }
}
