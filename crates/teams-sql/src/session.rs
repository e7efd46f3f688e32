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

pub fn new_context() -> SessionContext {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_create_default_catalog_and_schema(true)
        // Unqualified names resolve in the Teams tables' schema.
        .with_default_catalog_and_schema(CATALOG, datafusion_teams::SCHEMA_NAME);
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
